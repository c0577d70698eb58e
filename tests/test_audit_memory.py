"""The audit within memory: the same tables whatever DuckDB's memory limit (spilling to
disk under a tiny one), the limit's rule, the staging directory, and the harm counts'
two-step distinct counts against ``count(DISTINCT ...)``."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import run_cli

from sclab.audit import audit, harm
from sclab.audit.storage import (
    BYTES_PER_PERSON,
    MAX_MEMORY_LIMIT,
    MIN_MEMORY_LIMIT,
    Query,
    Staging,
    StoredTables,
    memory_limit_bytes,
    open_run,
)
from sclab.store.hashes import table_hashes
from sclab.store.manifest import Manifest
from sclab.store.output import HOST

#: A memory limit under which the audit of the run below spills (measured: about 1.4 MB
#: of DuckDB's temporary files) yet runs (about 48 MB is the least it runs in).
TINY = 64 * 2**20


@pytest.fixture(scope="module")
def composite_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("memory") / "composite"
    proc = run_cli("run", "composite", "--population", "20000", "--days", "60", "--out", out,
                   "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def audited(composite_run: Path) -> dict[str, Any]:
    """The run's audit tables' hashes, audited once with the default memory limit (the
    audit is deterministic: every audit of this run must give these)."""
    audit(composite_run).save()
    return table_hashes(composite_run / "audit.duckdb")


def _partials(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".audit.duckdb."))


def test_tables_are_the_same_when_duckdb_spills_to_disk(
    composite_run: Path, audited: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    unlimited = audited

    spilled: list[int] = []
    put = Staging.put

    def put_and_measure(
        self: Staging, con: duckdb.DuckDBPyConnection, name: str, table: pa.Table | Query
    ) -> None:
        put(self, con, name, table)
        spilled.append(
            con.execute(
                "SELECT coalesce(sum(temporary_storage_bytes), 0) FROM duckdb_memory()"
            ).fetchall()[0][0]
        )
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        assert limit == "64.0 MiB"

    monkeypatch.setattr(Staging, "put", put_and_measure)
    audit(composite_run, memory_limit=TINY).save()
    assert max(spilled) > 0  # DuckDB did spill
    assert table_hashes(composite_run / "audit.duckdb") == unlimited
    assert Manifest.read(composite_run).table_hashes("audit.duckdb") == {
        t: h.sha256 for t, h in unlimited.items()
    }
    assert _partials(composite_run) == []


def test_the_staging_directory_goes_with_an_unsaved_audit(composite_run: Path) -> None:
    a = audit(composite_run)
    assert isinstance(a.tables, StoredTables)
    assert len(_partials(composite_run)) == 1
    assert a.tables["harm_decisions"].num_rows == sum(a.harm.to_pydict()["decisions"])
    del a
    gc.collect()
    assert _partials(composite_run) == []


def test_saving_moves_the_audit_into_place_and_clears_staging_left_by_dead_audits(
    composite_run: Path,
) -> None:
    # A process that has ended, as a killed audit's would have, and one still alive.
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = composite_run / f".audit.duckdb.partial-{int(done.stdout)}@{HOST}-abcd1234"
    (dead / "spill").mkdir(parents=True)
    (dead / "audit.duckdb").write_bytes(b"half written")
    alive = composite_run / f".audit.duckdb.partial-{os.getppid()}@{HOST}-abcd1234"
    alive.mkdir()
    try:
        a = audit(composite_run)
        path = a.save()
        assert not dead.exists() and alive.exists()
        assert a.save() == path  # saving again: already in place
        assert Manifest.read(composite_run).foreign_paths() == [alive.name + "/"]
        assert a.tables["audit_info"].num_rows == 1  # read from the saved database
    finally:
        alive.rmdir()
    assert Manifest.read(composite_run).foreign_paths() == []


@given(
    st.integers(min_value=0, max_value=10**8),
    st.integers(min_value=0, max_value=2**44),
    st.integers(min_value=0, max_value=2**44),
)
def test_the_memory_limit_grows_with_people_within_the_memory_available(
    people: int, a: int, b: int
) -> None:
    la, lb = memory_limit_bytes(people, a), memory_limit_bytes(people, b)
    assert MIN_MEMORY_LIMIT <= la <= MAX_MEMORY_LIMIT
    assert la == MIN_MEMORY_LIMIT or la <= a / 4  # never more than a quarter of it
    if a <= b:
        assert la <= lb  # more available never gives less
        assert memory_limit_bytes(people, a) <= memory_limit_bytes(people + 1000, a)
    if MIN_MEMORY_LIMIT <= people * BYTES_PER_PERSON <= min(a / 4, MAX_MEMORY_LIMIT):
        assert la == people * BYTES_PER_PERSON


def test_the_default_limit_follows_the_run_and_the_memory_available(
    composite_run: Path,
) -> None:
    con = open_run(composite_run)
    staging = Staging(composite_run)
    try:
        staging.attach(con)
        got = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    finally:
        con.close()
        staging.remove()
    # 20,000 people want 10 MB: the least limit.
    assert memory_limit_bytes(20000) == MIN_MEMORY_LIMIT
    assert got == "256.0 MiB"
    assert memory_limit_bytes(10**6, available=16 * 2**30) == 512 * 10**6
    assert memory_limit_bytes(10**7, available=16 * 2**30) == MAX_MEMORY_LIMIT
    assert memory_limit_bytes(10**7, available=2 * 2**30) == 2**29  # a quarter of it


@pytest.mark.parametrize("by", [["system"], ["system", "decision_table", "kind"], ["domain"]])
def test_harm_counts_equal_count_distinct(composite_run: Path, by: list[str]) -> None:
    con = open_run(composite_run)
    try:
        harm._materialise(con)
        got = con.execute(harm._counts(by)).fetchall()
        group = ", ".join(by)
        distinct = ", ".join(
            f"count(DISTINCT entity) FILTER (WHERE entity_type = '{who}'{cond})"
            for who in ("person", "company")
            for cond in ("", *(f" AND class = '{c}'" for c in harm.CLASSES))
        )
        want = con.execute(
            f"SELECT {group}, count(*), "
            + ", ".join(f"count(*) FILTER (WHERE class = '{c}')" for c in harm.CLASSES)
            + ", count(*) FILTER (WHERE class = 'other_conduct' AND erroneous_flag)"
            ", count(*) FILTER (WHERE class = 'error' AND spillover), "
            f"{distinct}, "
            "round(count(*) FILTER (WHERE class = 'error') / count(*), 6), "
            "round(count(*) FILTER (WHERE class <> 'rightful') / count(*), 6) "
            f"FROM audit_harm_decisions GROUP BY {group} ORDER BY {group}"
        ).fetchall()
    finally:
        con.close()
    assert got == want
    assert len(got) > 1


def test_a_run_directory_that_cannot_be_written_is_audited_elsewhere(
    composite_run: Path, audited: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    want = audited
    mkdtemp = tempfile.mkdtemp

    def refuse_the_run_directory(prefix: str, dir: str | Path | None = None) -> str:
        if dir is not None and Path(dir) == composite_run:
            raise PermissionError(13, "Permission denied")
        return mkdtemp(prefix=prefix, dir=dir)

    monkeypatch.setattr(tempfile, "mkdtemp", refuse_the_run_directory)
    a = audit(composite_run)
    assert isinstance(a.tables, StoredTables)
    assert a.tables.path.parent.parent == Path(tempfile.gettempdir())
    assert _partials(composite_run) == []
    monkeypatch.undo()
    a.save()  # writable after all: copied into place
    assert table_hashes(composite_run / "audit.duckdb") == want
    assert Manifest.read(composite_run).foreign_paths() == []
