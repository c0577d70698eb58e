"""Shared helpers: small scenarios on disk and running the real command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sclab.run import load_builtin_components

# Scenarios in the tests name sclab's own components, and some tests build a Simulation
# directly (without run_scenario, which fills the registry itself).
load_builtin_components()

SMALL_DISTRICTS = [
    {"code": 320106, "name": "Gulou", "population": 940387, "urban_share": 1.0},
    {"code": 320115, "name": "Jiangning", "population": 1926117, "urban_share": 0.7432},
    {"code": 320118, "name": "Gaochun", "population": 429363, "urban_share": 0.6122},
]


def small_scenario(**overrides: Any) -> dict[str, Any]:
    """A valid scenario as a dict, with top-level fields overridden."""
    doc: dict[str, Any] = {
        "name": "small",
        "seed": 7,
        "days": 5,
        "geography": {"name": "test", "districts": SMALL_DISTRICTS},
        "population": {"size": 3000},
    }
    doc.update(overrides)
    return doc


@pytest.fixture
def write_scenario(tmp_path: Path):
    """Write a scenario dict (or raw text) to a YAML file and return its path."""

    def _write(doc: dict[str, Any] | str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``sclab`` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "sclab.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=600,
    )


def build_simulation(scenario_path: Path):
    """A Simulation (population generated, components set up) for a scenario file."""
    from sclab.engine.simulation import Simulation
    from sclab.population import generate_population
    from sclab.rng import Streams
    from sclab.targets import load_scenario

    scenario = load_scenario(str(scenario_path))
    streams = Streams(scenario.seed)
    return Simulation.build(scenario, streams, generate_population(scenario, streams))


def run_keeping_acts(sim) -> list:
    """Run every day and keep the true acts (the act log forgets them at the end of each day)."""
    kept: list = []
    end_day = sim.acts.end_day

    def keep_then_end() -> None:
        kept.extend(sim.acts.today)
        end_day()

    sim.acts.end_day = keep_then_end
    sim.run()
    return kept
