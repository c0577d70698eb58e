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


def run_cli(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``sclab`` in a subprocess, as a user would (``env``: its whole environment;
    default this process's)."""
    return subprocess.run(
        [sys.executable, "-m", "sclab.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
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


#: Markup in a policy's title, a rule's description and a scenario's description: the
#: report must show it as text and never run it (tests/test_report*.py).
HOSTILE_TITLE = (
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">Nanjing & co'
)
HOSTILE_RULE = "</table></details><b>rule</b> <!-- not a comment -->"
HOSTILE_SCENARIO = '<iframe src="https://example.com/"></iframe> "quoted" & more'


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A small run of the default scenario's systems, with its twin (no policy), in which
    a policy's title, a rule's description and the scenario's description carry markup,
    reported with ``sclab report`` (which audits it first and compares it with its
    twin). Returns the run directory and the report command's completed process."""
    from sclab.policy.loader import pack_text
    from sclab.scenario import read_scenario

    base = tmp_path_factory.mktemp("hostile")
    policy = yaml.safe_load(pack_text("nanjing"))
    policy["title"] = HOSTILE_TITLE
    policy["rules"][0]["description"] = HOSTILE_RULE
    policy_path = base / "nanjing-hostile.yaml"
    policy_path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    doc = read_scenario("demo")[0].model_dump(mode="json")
    doc.update(name="hostile", description=HOSTILE_SCENARIO, days=20)
    doc["population"]["size"] = 3000
    for p in doc["policies"]:
        if p["params"]["pack"] == "nanjing":
            p["params"]["pack"] = str(policy_path)
    scenario_path = base / "hostile.yaml"
    scenario_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    out = base / "run"
    proc = run_cli("run", scenario_path, "--out", out, "--quiet", "--twin", "none")
    assert proc.returncode == 0, proc.stderr
    reported = run_cli("report", out)
    assert reported.returncode == 0, reported.stderr
    return out, reported
