"""Scenarios: the YAML files that say what to simulate (see :mod:`sclab.scenario.schema`)."""

from sclab.scenario.loader import builtin_scenarios, read_scenario
from sclab.scenario.schema import Scenario

__all__ = ["Scenario", "builtin_scenarios", "read_scenario"]
