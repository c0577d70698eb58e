"""The run database: inserts on the writer thread keep their order, and failures surface."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from sclab.columns import constant_labels
from sclab.store.database import RunDatabase, categorical

LABELS = {"act_kind": ["x"]}


def test_buffered_appends_land_in_order_whatever_the_flushes(tmp_path: Path) -> None:
    db = RunDatabase(tmp_path / "run.duckdb", LABELS)
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
    db = RunDatabase(tmp_path / "run.duckdb", LABELS)
    # A day that is not a number cannot be cast to INTEGER: DuckDB refuses the insert on
    # the writer thread; the error must reach the caller, not vanish with the thread.
    db.append("events", {"event_id": np.arange(3), "day": np.array(["a", "b", "c"])})
    with pytest.raises(duckdb.Error):
        db.wait()
    db.abort()


def test_a_held_batch_that_cannot_be_joined_is_raised_in_the_caller(tmp_path: Path) -> None:
    import pyarrow as pa

    db = RunDatabase(tmp_path / "run.duckdb", LABELS)
    # Held batches are joined on the writer thread: a column given as numbers in one batch
    # and as text in the next fails there, and the error must still reach the caller.
    db.append("events", {"event_id": np.arange(2), "day": [1, 2]}, buffered=True)
    db.append("events", {"event_id": np.arange(2, 4), "day": ["a", "b"]}, buffered=True)
    with pytest.raises(pa.ArrowInvalid):
        db.flush()
    db.abort()


def test_thread_setting_applies_in_queue_order(tmp_path: Path) -> None:
    db = RunDatabase(tmp_path / "run.duckdb", LABELS)
    db.set_threads(1)
    db.wait()
    assert db.con.execute("SELECT current_setting('threads')").fetchone()[0] == 1
    db.set_threads(2)
    db.close()


def test_memory_limit_applies_in_queue_order(tmp_path: Path) -> None:
    db = RunDatabase(tmp_path / "run.duckdb", LABELS)
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


def test_label_columns_are_enums_of_the_declared_labels(tmp_path: Path) -> None:
    db = RunDatabase(tmp_path / "run.duckdb", {"act_kind": ["b", "a"], "source": ["s"]})
    db.append("events", {"event_id": [1, 2], "kind": ["a", "b"], "source": ["s", "s"]})
    # An undeclared label is refused in the caller, naming the column and the label set.
    with pytest.raises(ValueError, match=r"events.kind: label 'c' .* label set 'act_kind'"):
        db.append("events", {"event_id": [3], "kind": ["c"]})
    # ... whatever form the column takes: one label, or an Arrow dictionary.
    with pytest.raises(ValueError, match=r"label 'd' .* 'act_kind'"):
        db.append("events", {"event_id": [3], "kind": constant_labels("d", 1)}, buffered=True)
    with pytest.raises(ValueError, match=r"label 'e' .* 'act_kind'"):
        db.append("events", {"event_id": [3, 4], "kind": categorical([0, 1], ["a", "e"])})
    db.close()
    con = duckdb.connect(str(tmp_path / "run.duckdb"), read_only=True)
    assert con.execute("SELECT enum_range(NULL::act_kind)").fetchone()[0] == ["a", "b"]
    # Sets without declared labels exist, empty; fixed sets hold their fixed labels.
    assert con.execute("SELECT enum_range(NULL::moment_kind)").fetchone()[0] == []
    assert con.execute("SELECT enum_range(NULL::entity_type)").fetchone()[0] == [
        "company",
        "person",
    ]
    # Labels read and compare as text.
    assert con.execute("SELECT event_id FROM events WHERE kind = 'b'").fetchall() == [(2,)]
    assert con.execute("SELECT kind || '!' FROM events ORDER BY kind").fetchall() == [
        ("a!",),
        ("b!",),
    ]


def test_unknown_or_changed_label_sets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown label set 'kinds'"):
        RunDatabase(tmp_path / "a.duckdb", {"kinds": ["x"]})
    with pytest.raises(ValueError, match="label set 'entity_type' is fixed"):
        RunDatabase(tmp_path / "b.duckdb", {"entity_type": ["robot"]})


def test_many_inserts_commit_together_and_all_land(tmp_path: Path) -> None:
    db = RunDatabase(tmp_path / "run.duckdb", LABELS)
    db.COMMIT_ROWS = 10  # commits inside a burst of queued inserts, and at the end
    for k in range(50):
        db.append("true_act_totals", {"kind": ["x"] * 3, "acts": [k, k, k]})
    db.close()
    con = duckdb.connect(str(tmp_path / "run.duckdb"), read_only=True)
    acts = con.execute("SELECT acts FROM true_act_totals").fetchnumpy()["acts"]
    np.testing.assert_array_equal(acts, np.repeat(np.arange(50), 3))


def test_commits_come_at_waits_and_at_the_row_bound_only(tmp_path: Path) -> None:
    # A commit syncs the log (and may compress the rows again): not one per insert, not
    # one whenever the writer catches up; one when someone waits, and one per bound.
    db = RunDatabase(tmp_path / "run.duckdb", LABELS)
    commits: list[int] = []
    commit = db._commit

    def counted() -> None:
        if db._in_transaction:
            commits.append(db._uncommitted)
        commit()

    db._commit = counted  # type: ignore[method-assign]
    for k in range(20):
        db.append("true_act_totals", {"kind": ["x"] * 3, "acts": [k, k, k]})
        db._queue.join()  # the writer catches up after every insert
    assert commits == []
    db.flush()  # waits: everything is committed
    assert commits == [60]
    db.COMMIT_ROWS = 9
    for k in range(6):
        db.append("true_act_totals", {"kind": ["x"] * 3, "acts": [k, k, k]})
    db._queue.join()
    assert commits == [60, 9, 9]
    db.close()
    assert commits == [60, 9, 9]  # the close's flush had nothing left to commit
    con = duckdb.connect(str(tmp_path / "run.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM true_act_totals").fetchone() == (78,)


def test_held_batches_of_mixed_kinds_join_column_by_column(tmp_path: Path) -> None:
    """Held batches may give a column as NumPy, Arrow (with NULLs) or not at all, and a
    label column as a dictionary (with NULLs), as text or not at all: rows land as given."""
    import pyarrow as pa

    db = RunDatabase(tmp_path / "run.duckdb", {"act_kind": ["a", "b", "c"], "source": ["s"]})
    db.append(
        "events",
        {
            "event_id": np.array([1, 2], np.int64),
            "kind": pa.DictionaryArray.from_arrays(
                pa.array([1, None], pa.int32()), pa.array(["c", "a"])
            ),
            "amount": pa.array([1.5, 0.0], mask=np.array([False, True])),
        },
        buffered=True,
    )
    db.append(
        "events",
        {"event_id": np.array([3], np.int32), "kind": ["b"], "source": np.array(["s"])},
        buffered=True,
    )
    db.append("events", {"event_id": np.array([4]), "amount": np.array([2.0])}, buffered=True)
    db.close()
    con = duckdb.connect(str(tmp_path / "run.duckdb"), read_only=True)
    rows = con.execute("SELECT event_id, kind, source, amount FROM events").fetchall()
    assert rows == [
        (1, "a", None, 1.5),
        (2, None, None, None),
        (3, "b", "s", None),
        (4, None, None, 2.0),
    ]


@pytest.mark.parametrize("buffered", [True, False])
def test_dictionary_labels_with_nulls_land_as_given(tmp_path: Path, buffered: bool) -> None:
    """A dictionary label column of narrow indices with some NULLs, or only NULLs, lands
    as given, held or inserted as it is."""
    import pyarrow as pa

    db = RunDatabase(tmp_path / "run.duckdb", {"record_error": ["id_typo", "same_name", "stale"]})
    labels = pa.array(["stale", "same_name", "id_typo"])
    for ids, indices in (([1, 2, 3], [1, None, 0]), ([4, 5], [None, None])):
        error = pa.DictionaryArray.from_arrays(pa.array(indices, pa.int8()), labels)
        db.append("events", {"event_id": np.array(ids), "error": error}, buffered=buffered)
    db.close()
    con = duckdb.connect(str(tmp_path / "run.duckdb"), read_only=True)
    rows = con.execute("SELECT event_id, error FROM events ORDER BY event_id").fetchall()
    assert rows == [(1, "same_name"), (2, None), (3, "stale"), (4, None), (5, None)]


def test_large_inserts_go_in_slices_in_order(tmp_path: Path) -> None:
    """Inserts larger than a slice are cut into slices: every row lands once, in order,
    for flushes of held rows and for batches inserted as given, whether or not the slice
    size divides them."""
    db = RunDatabase(tmp_path / "run.duckdb", {"act_kind": ["a", "b"]})
    db.FLUSH_ROWS = 40
    db.INSERT_SLICE_ROWS = 7
    db.set_threads(1)  # slices are for the writer beside the simulation (one thread)
    rng = np.random.default_rng(5)
    expected = []
    next_id = 0
    for batch in range(60):
        n = int(rng.choice([0, 1, 7, 14, 23, 50]))
        ids = np.arange(next_id, next_id + n, dtype=np.int64)
        next_id += n
        actor = rng.integers(0, 100, n)
        expected += [(int(i), "ab"[batch % 2], int(a)) for i, a in zip(ids, actor, strict=True)]
        columns = {
            "event_id": ids,
            "kind": constant_labels("ab"[batch % 2], n),
            "true_actor": actor,
        }
        if batch == 30:
            db.flush()  # held rows first: unbuffered inserts do not wait for them
        db.append("events", columns, buffered=batch < 30)
    db.close()
    con = duckdb.connect(str(tmp_path / "run.duckdb"), read_only=True)
    rows = con.execute("SELECT event_id, kind, true_actor FROM events").fetchall()
    assert rows == expected


def test_reused_buffers_carry_nothing_over_between_flushes(tmp_path: Path) -> None:
    """Buffers of inserted flushes are reused: NULLs, values and labels of one flush must
    never show through in the next, whichever form (plain, masked, missing) comes first.
    Every seventh batch is as large as a flush and goes in as it is, after the held rows."""
    db = RunDatabase(tmp_path / "run.duckdb", {"act_kind": ["a", "b"], "source": ["s"]})
    db.FLUSH_ROWS = 10
    rng = np.random.default_rng(3)
    expected = []
    next_id = 0
    for batch in range(300):
        n = int(rng.integers(1, 8)) if batch % 7 else int(rng.integers(10, 15))
        ids = np.arange(next_id, next_id + n, dtype=np.int64)
        next_id += n
        form = batch % 3
        actor = rng.integers(0, 100, n)
        columns = {"event_id": ids, "kind": constant_labels("ab"[batch % 2], n)}
        if form == 0:
            columns["true_actor"] = actor
            got = actor.tolist()
        elif form == 1:
            masked = np.ma.MaskedArray(actor, mask=actor < 50)
            columns["true_actor"] = masked
            got = [None if m else int(a) for a, m in zip(actor, actor < 50, strict=True)]
        else:
            got = [None] * n
        if batch % 5 == 0:
            columns["source"] = constant_labels("s", n)
        source = "s" if batch % 5 == 0 else None
        expected += [(int(i), "ab"[batch % 2], source, g) for i, g in zip(ids, got, strict=True)]
        db.append("events", columns, buffered=True)
    db.close()
    con = duckdb.connect(str(tmp_path / "run.duckdb"), read_only=True)
    rows = con.execute("SELECT event_id, kind, source, true_actor FROM events").fetchall()
    assert rows == expected
