"""What a run records about itself: the ``run_info`` and ``policies`` tables.

Core objects:
    :func:`scenario_yaml`: the scenario as run, as YAML text (what ``sclab rerun`` reads).
    :func:`policy_sources`: the packs and files a scenario's policies come from (the run
        reads their texts once, then compiles from those texts).
    :func:`run_info_columns` / :func:`policies_columns`: the two tables' rows.
    :func:`dependency_versions`: sclab's installed dependencies and theirs, with versions.

With these two tables a run directory is enough to audit a run and to run it again: the
scenario after command-line overrides, the exact text of every policy that was compiled
(so a rerun does not depend on the installed packs or on files staying as they were), and
the software it ran on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata as metadata
import json
import platform
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from sclab.scenario.schema import Scenario
from sclab.version import __version__


def sha256_text(text: str) -> str:
    """SHA-256 of a text's UTF-8 bytes, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scenario_yaml(scenario: Scenario) -> str:
    """The validated scenario as YAML, every default written out; reading it back gives
    the same scenario (``tests/test_run_info.py``)."""
    return yaml.safe_dump(
        scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100
    )


def policy_sources(scenario: Scenario) -> list[str]:
    """The pack name or file path of each enabled policy, in the scenario's order."""
    return [
        str(spec.params["pack"])
        for spec in scenario.policies
        if spec.enabled and spec.use == "pack"
    ]


def dependency_versions(distribution: str = "sclab") -> dict[str, str]:
    """Installed dependencies of ``distribution`` and, recursively, theirs: name →
    version, in name order. Optional extras (``; extra == "test"``) are left out."""
    out: dict[str, str] = {}
    todo = list(_requirements(distribution))
    while todo:
        name = todo.pop()
        if name in out:
            continue
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform or Python, not installed
        todo.extend(_requirements(name))
    return dict(sorted(out.items()))


def _requirements(distribution: str) -> Iterable[str]:
    """Normalised names of a distribution's requirements, optional extras left out."""
    try:
        requires = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    names = []
    for req in requires:
        if re.search(r"\bextra\s*==", req):
            continue
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        if m:
            names.append(re.sub(r"[-_.]+", "-", m.group(1)).lower())
    return names


def run_info_columns(scenario: Scenario, created: dt.datetime) -> dict[str, list[Any]]:
    """The one row of ``run_info``, as columns."""
    text = scenario_yaml(scenario)
    row = {
        "sclab_version": __version__,
        "scenario": scenario.name,
        "seed": scenario.seed,
        "population": scenario.population.size,
        "days": scenario.days,
        "start_date": scenario.start_date,
        "scenario_yaml": text,
        "scenario_sha256": sha256_text(text),
        "python": platform.python_version(),
        "packages": json.dumps(dependency_versions(), sort_keys=True),
        "platform": platform.platform(),
        # Wall-clock time is recorded for the reader only; it never feeds randomness.
        "created_utc": created.astimezone(dt.UTC).isoformat(timespec="seconds"),
    }
    return {k: [v] for k, v in row.items()}


def policies_columns(
    scenario: Scenario, components: Iterable[tuple[str, Any]], texts: Mapping[str, str]
) -> dict[str, list[Any]]:
    """The rows of ``policies``: one per policy component of the run.

    Args:
        scenario: The scenario as run.
        components: The simulation's ``(stage, component)`` pairs (the enabled ones, in the
            scenario's order: see :meth:`sclab.engine.simulation.Simulation.assemble`).
        texts: Source → the text that was compiled (see :func:`sclab.run.read_policy_texts`).
    """
    specs = [s for s in scenario.policies if s.enabled]
    engines = [c for stage, c in components if stage == "policies"]
    cols: dict[str, list[Any]] = {
        k: [] for k in ("policy_id", "system", "component", "source", "yaml", "sha256")
    }
    for spec, engine in zip(specs, engines, strict=True):
        if spec.use != "pack":
            continue
        source = str(spec.params["pack"])
        cols["policy_id"].append(engine.policy.id)
        cols["system"].append(engine.system)
        cols["component"].append(engine.name)
        cols["source"].append(source)
        cols["yaml"].append(texts[source])
        cols["sha256"].append(sha256_text(texts[source]))
    return cols
