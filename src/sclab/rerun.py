"""Running a run again from its own directory: ``sclab rerun DIR --out NEW``.

Core objects:
    :class:`RecordedRun`: what a run directory records to run again: its manifest, the
        scenario as run (``run_info.scenario_yaml``) and the text of every policy it
        compiled (``policies.yaml``).
    :func:`read_recorded_run`: a run directory to a :class:`RecordedRun` (one-line errors).
    :func:`rerun`: run it again into a new directory and name the tables whose contents
        differ from the original's.

A rerun compiles the recorded policy texts, never the installed packs or the files the
scenario named (:func:`sclab.policy.loader.pinned_policy_texts`): a pack changed by a
newer sclab, or a policy file edited or moved since, does not change the rerun. Tables of
:data:`~sclab.store.schema.DESCRIPTIVE_TABLES` (when and on what the run was made) are not
compared.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import duckdb

from sclab.errors import OutputError, ScenarioError
from sclab.policy.loader import pinned_policy_texts
from sclab.run import Reporter, RunResult, run_scenario
from sclab.scenario.schema import Scenario
from sclab.store.description import policy_sources, sha256_text
from sclab.store.manifest import Manifest, NotARunError
from sclab.store.schema import DESCRIPTIVE_TABLES
from sclab.targets import check_components
from sclab.yamlfile import load_yaml, validate

DATABASE = "run.duckdb"


@dataclass(frozen=True)
class RecordedRun:
    """A run as its directory records it."""

    directory: Path
    manifest: Manifest
    sclab_version: str
    scenario_yaml: str
    #: Policy source (pack name or file path, as the scenario gave it) → compiled text.
    policy_texts: dict[str, str]

    @cached_property
    def scenario(self) -> Scenario:
        """The scenario as run, validated again (its policies from the recorded texts).

        Raises:
            ScenarioError: the recorded text no longer validates (e.g. a component this
                sclab does not have).
        """
        source = f"{self.directory / DATABASE} (run_info.scenario_yaml)"
        with pinned_policy_texts(self.policy_texts):
            doc = load_yaml(self.scenario_yaml, source, ScenarioError)
            scenario = validate(doc, Scenario, ScenarioError)
            check_components(scenario, doc)
            return scenario


def read_recorded_run(directory: Path) -> RecordedRun:
    """Read what ``directory`` records about its run.

    Raises:
        NotARunError: not a run directory, or one whose database lacks what a rerun needs.
    """
    directory = Path(directory)
    manifest = Manifest.read(directory)
    where = str(directory)
    path = directory / DATABASE
    if DATABASE not in manifest.files or not path.is_file():
        raise NotARunError(f"its manifest lists no {DATABASE}, or the file is gone", source=where)
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise NotARunError(f"cannot open {DATABASE} ({exc})", source=where) from None
    try:
        info = con.execute(
            "SELECT sclab_version, scenario_yaml, scenario_sha256 FROM run_info"
        ).fetchall()
        policies = con.execute("SELECT source, yaml, sha256 FROM policies").fetchall()
    except duckdb.Error:
        raise NotARunError(
            f"{DATABASE} has no run_info or policies table (made by an older sclab?); "
            "it cannot be rerun",
            source=where,
        ) from None
    finally:
        con.close()
    if len(info) != 1:
        raise NotARunError(
            f"{DATABASE}: expected one row in run_info, found {len(info)}", source=where
        )
    version, text, digest = info[0]
    if sha256_text(text) != digest:
        raise NotARunError(
            f"{DATABASE}: run_info.scenario_yaml does not match its scenario_sha256 (edited?)",
            source=where,
        )
    texts: dict[str, str] = {}
    for source, yaml_text, yaml_digest in policies:
        if sha256_text(yaml_text) != yaml_digest:
            raise NotARunError(
                f"{DATABASE}: the text of policy '{source}' does not match its sha256 (edited?)",
                source=where,
            )
        texts[source] = yaml_text
    return RecordedRun(directory, manifest, version, text, texts)


@dataclass(frozen=True)
class RerunResult:
    """A rerun and how its tables compare with the original's."""

    result: RunResult
    #: Tables whose content hashes differ (present in one run only included), sorted.
    differing: list[str]
    #: Tables compared (all but the descriptive ones), or none if the hashes were made
    #: with different DuckDB versions (see :mod:`sclab.store.hashes`).
    compared: list[str]


def same_directory(a: Path, b: Path) -> bool:
    """Whether two paths name the same directory (after symbolic links and ``..``)."""
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def rerun(
    run: RecordedRun, out: Path, *, force: bool = False, reporter: Reporter | None = None
) -> RerunResult:
    """Run a recorded run again into ``out`` and compare the tables.

    Raises:
        OutputError: ``out`` is the run's own directory, or may not be written.
        NotARunError: the run does not record the text of a policy its scenario names.
    """
    if same_directory(Path(out), run.directory):
        raise OutputError(
            f"is the run being rerun ({run.directory}); choose another --out", source=str(out)
        )
    scenario = run.scenario
    missing = [s for s in policy_sources(scenario) if s not in run.policy_texts]
    if missing:
        raise NotARunError(
            f"{DATABASE}: no recorded text for policy '{missing[0]}'", source=str(run.directory)
        )
    result = run_scenario(
        scenario, out, force=force, reporter=reporter, policy_texts=run.policy_texts
    )
    new = Manifest.read(Path(out))
    old_entry, new_entry = run.manifest.files[DATABASE], new.files[DATABASE]
    if old_entry.get("table_hash") != new_entry.get("table_hash"):
        return RerunResult(result, [], [])
    before, after = run.manifest.table_hashes(DATABASE), new.table_hashes(DATABASE)
    compared = sorted((set(before) | set(after)) - set(DESCRIPTIVE_TABLES))
    differing = [t for t in compared if before.get(t) != after.get(t)]
    return RerunResult(result, differing, compared)
