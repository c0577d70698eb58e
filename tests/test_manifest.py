"""``manifest.json`` (format, files sclab wrote, foreign files) and table content hashes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.store.hashes import table_hashes
from sclab.store.manifest import FORMAT, FORMAT_VERSION, Manifest, NotARunError


def make_db(path: Path, rows: list[tuple[int, str, float | None]], labels: list[str]) -> Path:
    """A table of (id, label as ENUM, value) rows inserted in the given order, a few per
    insert (so that the file's layout follows the order)."""
    con = duckdb.connect(str(path))
    values = ", ".join("'" + v.replace("'", "''") + "'" for v in labels)
    con.execute(f"CREATE TYPE kind AS ENUM ({values})")
    con.execute("CREATE TABLE t (id BIGINT, kind kind, value DOUBLE)")
    for start in range(0, len(rows), 3):
        con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows[start : start + 3])
        con.execute("CHECKPOINT")
    con.close()
    return path


row = st.tuples(
    st.integers(-(2**40), 2**40),
    st.sampled_from(["a", "b", "it's"]),
    st.none() | st.floats(allow_nan=False, width=32),
)


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(row, min_size=1, max_size=12), data=st.data())
def test_table_hash_ignores_row_order_layout_and_label_lists(rows: list, data) -> None:
    shuffled = data.draw(st.permutations(rows))
    changed = [(rows[0][0] + 1, *rows[0][1:]), *rows[1:]]
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        a = table_hashes(make_db(where / "a.duckdb", rows, ["a", "b", "it's"]))
        # Another order, and an ENUM with more labels in another order: the same content.
        b = table_hashes(make_db(where / "b.duckdb", shuffled, ["z", "it's", "b", "a"]))
        # One more copy of a row (a sum, unlike an XOR, counts it), or one value changed.
        c = table_hashes(make_db(where / "c.duckdb", [*rows, rows[0]], ["a", "b", "it's"]))
        d = table_hashes(make_db(where / "d.duckdb", changed, ["a", "b", "it's"]))
    assert a == b
    assert c["t"] != a["t"] and c["t"].rows == a["t"].rows + 1
    assert d["t"].sha256 != a["t"].sha256


def test_manifest_lists_what_sclab_wrote(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    make_db(run / "run.duckdb", [(1, "a", 2.0)], ["a"])
    (run / "report").mkdir()
    (run / "report" / "index.html").write_text("<html/>")
    (run / "audit.txt").write_text("audit")
    manifest = Manifest(run, info={"seed": 3})
    manifest.add_file(run / "run.duckdb", "database")
    manifest.add_file(run / "report", "report")
    manifest.add_file(run / "audit.txt", "audit", checks=2)
    manifest.write()
    data = json.loads((run / "manifest.json").read_text())
    assert (data["format"], data["format_version"]) == (FORMAT, FORMAT_VERSION)
    assert set(data["files"]) == {"run.duckdb", "report", "audit.txt", "manifest.json"}
    assert data["files"]["audit.txt"]["checks"] == 2
    assert data["files"]["audit.txt"]["bytes"] == 5
    assert set(data["files"]["report"]["files"]) == {"index.html"}
    assert data["seed"] == 3
    again = Manifest.read(run)
    assert again.files == data["files"] and again.info == {"seed": 3}
    assert again.table_hashes() == {"t": table_hashes(run / "run.duckdb")["t"].sha256}
    assert again.foreign_paths() == []
    (run / "notes.ipynb").write_text("{}")
    (run / "report" / "draft.md").write_text("mine")
    (run / "data" / "raw").mkdir(parents=True)
    assert again.foreign_paths() == ["data/", "notes.ipynb", "report/draft.md"]


def test_registering_a_file_outside_the_run_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "elsewhere.txt").write_text("x")
    manifest = Manifest(tmp_path / "run")
    with pytest.raises(ValueError, match="not inside the run directory"):
        manifest.add_file(tmp_path / "elsewhere.txt", "other")
    with pytest.raises(FileNotFoundError):
        manifest.add_file(tmp_path / "run" / "later.txt", "other")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (None, "no manifest.json"),
        ("{not json", "not valid JSON"),
        ('{"seed": 1}', "not an sclab run manifest"),
        (json.dumps({"format": FORMAT, "format_version": 99, "files": {}}), "format_version 99"),
        (json.dumps({"format": FORMAT, "format_version": 1, "files": []}), '"files"'),
    ],
)
def test_unreadable_manifests_are_one_line_errors(
    tmp_path: Path, text: str | None, needle: str
) -> None:
    if text is not None:
        (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(NotARunError) as err:
        Manifest.read(tmp_path)
    line = err.value.one_line()
    assert needle in line and str(tmp_path) in line and "\n" not in line


def test_an_empty_label_set_and_null_labels_hash() -> None:
    con = duckdb.connect()
    con.execute("CREATE TYPE none_declared AS ENUM ()")
    con.execute("CREATE TYPE k AS ENUM ('a', 'b')")
    con.execute("CREATE TABLE t (x none_declared, y k, z INTEGER)")
    con.execute("INSERT INTO t VALUES (NULL, NULL, 1), (NULL, 'a', 2)")
    first = table_hashes(con)["t"]
    con.execute("UPDATE t SET y = 'b' WHERE z = 2")
    assert first.rows == 2 and table_hashes(con)["t"] != first
    con.close()
