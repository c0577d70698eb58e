"""What a run records about itself: ``run_info`` and ``policies``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab import __version__
from sclab.policy.loader import pack_text, pinned_policy_texts, policy_text
from sclab.run import run_scenario
from sclab.scenario.schema import Scenario
from sclab.store.description import dependency_versions, scenario_yaml
from sclab.targets import load_run_target


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Scenario]:
    scenario = load_run_target("demo", {"--population": 2000, "--days": 3, "--seed": 11})
    out = tmp_path_factory.mktemp("runs") / "demo"
    run_scenario(scenario, out)
    return out, scenario


def rows(out: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(out / "run.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_run_info_records_the_scenario_as_run(run: tuple[Path, Scenario]) -> None:
    out, scenario = run
    [(version, name, seed, population, days, text, digest, python, packages)] = rows(
        out,
        "SELECT sclab_version, scenario, seed, population, days, scenario_yaml, "
        "scenario_sha256, python, packages FROM run_info",
    )
    assert (version, name, seed, population, days) == (__version__, "demo", 11, 2000, 3)
    assert Scenario.model_validate(yaml.safe_load(text)) == scenario  # overrides included
    assert digest == hashlib.sha256(text.encode()).hexdigest()
    assert python.count(".") == 2
    versions = json.loads(packages)
    assert versions["numpy"] == np.__version__ and versions["duckdb"] == duckdb.__version__
    # Queryable in SQL.
    assert rows(out, "SELECT packages->>'numpy' FROM run_info") == [(np.__version__,)]


def test_policies_hold_the_compiled_texts(run: tuple[Path, Scenario]) -> None:
    out, scenario = run
    got = rows(out, "SELECT policy_id, system, component, source, yaml, sha256 FROM policies")
    packs = [s.params["pack"] for s in scenario.policies if s.enabled]
    assert sorted(r[3] for r in got) == sorted(packs) and len(got) == len(packs)
    manifest = json.loads((out / "manifest.json").read_text())
    for policy_id, system, component, source, text, digest in got:
        assert text == pack_text(source)
        assert digest == hashlib.sha256(text.encode()).hexdigest()
        assert yaml.safe_load(text)["id"] == policy_id
        assert f"policies:{component}" in manifest["components"]
        assert system in component


def test_pinned_texts_are_what_policies_compile(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("on disk", encoding="utf-8")
    assert policy_text(str(path)) == "on disk"
    with pinned_policy_texts({str(path): "recorded", "sesame": "recorded pack"}):
        assert policy_text(str(path)) == "recorded"
        assert policy_text("sesame") == "recorded pack"
        path.unlink()
        assert policy_text(str(path)) == "recorded"
    assert policy_text("sesame") == pack_text("sesame")


def test_dependencies_are_listed_recursively_without_test_extras() -> None:
    versions = dependency_versions()
    assert {"numpy", "duckdb", "pyarrow", "pydantic", "pyyaml", "typer", "rich"} <= set(versions)
    assert "pydantic-core" in versions  # a dependency of a dependency
    assert "pytest" not in versions and "hypothesis" not in versions  # the test extra
    assert list(versions) == sorted(versions)


@settings(max_examples=15, deadline=None)
@given(
    name=st.sampled_from(["demo", "nanjing", "composite", "court-defaulters"]),
    # Up to 10M: the demo geography's resident-ID space holds about 18.7M people.
    population=st.integers(1, 10**7),
    days=st.integers(1, 3650),
    seed=st.integers(0, 2**63 - 1),
)
def test_the_scenario_text_reads_back_to_the_same_scenario(
    name: str, population: int, days: int, seed: int
) -> None:
    scenario = load_run_target(name, {"--population": population, "--days": days, "--seed": seed})
    text = scenario_yaml(scenario)
    again = Scenario.model_validate(yaml.safe_load(text))
    assert again == scenario
    assert scenario_yaml(again) == text
