"""The run database: inserts on the writer thread keep their order, and failures surface."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from sclab.store.database import RunDatabase


def test_buffered_appends_land_in_order_whatever_the_flushes(tmp_path: Path) -> None:
    db = RunDatabase(tmp_path / "run.duckdb")
    db.FLUSH_ROWS = 7  # many small flushes through the writer thread
    ids = []
    for day in range(40):
        first = day * 5
        rows = np.arange(first, first + 5, dtype=np.int64)
        ids.append(rows)
        db.append("events", {"event_id": rows, "day": np.full(5, day, np.int32)}, buffered=True)
        db.append("true_act_totals", {"kind": ["x"], "acts": [day]}, buffered=True)
    db.close()
    con = duckdb.connect(str(tmp_path / "run.duckdb"), read_only=True)
    got = con.execute("SELECT event_id FROM events").fetchnumpy()["event_id"]
    np.testing.assert_array_equal(got, np.concatenate(ids))
    acts = con.execute("SELECT acts FROM true_act_totals").fetchnumpy()["acts"]
    np.testing.assert_array_equal(acts, np.arange(40))


def test_a_failed_insert_is_raised_in_the_caller(tmp_path: Path) -> None:
    db = RunDatabase(tmp_path / "run.duckdb")
    # A day that is not a number cannot be cast to INTEGER: DuckDB refuses the insert on
    # the writer thread; the error must reach the caller, not vanish with the thread.
    db.append("events", {"event_id": np.arange(3), "day": np.array(["a", "b", "c"])})
    with pytest.raises(duckdb.Error):
        db.wait()
    db.abort()


def test_thread_setting_applies_in_queue_order(tmp_path: Path) -> None:
    db = RunDatabase(tmp_path / "run.duckdb")
    db.set_threads(1)
    db.wait()
    assert db.con.execute("SELECT current_setting('threads')").fetchone()[0] == 1
    db.set_threads(2)
    db.close()


def test_memory_limit_applies_in_queue_order(tmp_path: Path) -> None:
    db = RunDatabase(tmp_path / "run.duckdb")
    db.set_memory_limit("256MB")
    db.wait()
    limit = db.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit == "244.1 MiB"  # DuckDB reports the cap in binary units
    with pytest.raises(ValueError, match="256MB"):
        db.set_memory_limit("256; DROP TABLE events")
    db.close()


def test_end_of_run_cap_scales_with_the_population() -> None:
    # 28 bytes per person, never below the days' cap nor above 256MB.
    assert RunDatabase.end_memory_limit(1_000) == RunDatabase.RUN_MEMORY_LIMIT == "64MB"
    assert RunDatabase.end_memory_limit(1_000_000) == "64MB"
    assert RunDatabase.end_memory_limit(5_000_000) == "133MB"
    assert RunDatabase.end_memory_limit(9_314_700) == "248MB"
    assert RunDatabase.end_memory_limit(50_000_000) == RunDatabase.END_MEMORY_LIMIT
