"""Run a scenario that names a component of one's own: fill the registry, then run.

Usage (from the repository's root): python run_blood_donation.py SCENARIO OUT

``sclab run`` knows sclab's own components only; a component written elsewhere registers
when its module is imported, so a scenario naming it runs from Python.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sclab.run import load_builtin_components, run_scenario
from sclab.targets import load_scenario

load_builtin_components()  # sclab's own sources, sensors, policies and behaviour
import blood_donation  # noqa: E402, F401  (registers the blood_donation source)

if __name__ == "__main__":
    scenario_path, out = sys.argv[1], Path(sys.argv[2])
    result = run_scenario(load_scenario(scenario_path), out, force=True)
    print(result.database)
