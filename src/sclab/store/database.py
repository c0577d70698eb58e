"""The run's DuckDB database.

Core objects:
    :class:`RunDatabase`: creates every table of :mod:`sclab.store.schema` and appends
        columnar batches (NumPy or Arrow) to them.

The directory around it is :class:`sclab.store.output.OutputDirectory`.

Why Arrow between NumPy and DuckDB: DuckDB scans Arrow buffers without copying them row
by row, which keeps writing 9.3 million citizens and 50 million ties to seconds.

Why a writer thread: inserted inline, a run's daily rows (events, decisions, resource
moments) would put DuckDB's work on the simulation's critical path. DuckDB releases
the GIL while it executes, so one background thread inserts while the simulation computes
the next day, using the machine's second core. Inserts keep their order (one thread, one
queue), so the database is identical whatever the timing; an insert that fails is raised
in the simulation's thread at the next append, flush or close.
"""

from __future__ import annotations

import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sclab.columns import ConstantLabels
from sclab.parallel import IDLE
from sclab.store.schema import FIXED_LABELS, TABLES, create_statements, label_columns


def categorical(codes: np.ndarray, labels: tuple[str, ...] | list[str]) -> pa.DictionaryArray:
    """An Arrow dictionary column: small integer codes plus their labels."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), pa.array(list(labels), type=pa.string())
    )


def dates(day_numbers: np.ndarray) -> pa.Array:
    """Days since 1970-01-01 as an Arrow date column."""
    return pa.array(np.asarray(day_numbers, dtype=np.int32), type=pa.date32())


class _RepeatedCode(NamedTuple):
    """A label column of ``n`` rows holding one label's code (filled in when joined)."""

    code: int
    n: int


#: Per table, (column name, its label set or None), in the schema's order.
_COLUMNS = {t: tuple((c.name, c.labels) for c in cols) for t, cols in TABLES.items()}
_CODES = np.dtype(np.int16)  # label codes (-1: NULL)
#: Per table, its column names, and (name, label set) of its label columns.
_NAMES = {t: frozenset(name for name, _ in cols) for t, cols in _COLUMNS.items()}
_LABELS = {
    t: tuple((name, labels) for name, labels in cols if labels) for t, cols in _COLUMNS.items()
}


class _HeldTable:
    """One table's held rows: plain NumPy columns copied into growing buffers as they come,
    anything else kept as given.

    Why buffers: joining a day's hundred small batches into whole columns is array copies
    that hold the GIL. Done on the writer thread, every copy stalled the simulation's
    thread for its length; done at flush time on the simulation's thread it cost as
    much. Copied at append time, each batch costs a
    slice assignment per column, and a flush hands DuckDB the buffers as they are.

    A column given once as something other than a NumPy number array (a list, an Arrow
    array, text) keeps its batches as given from then on, joined as before
    (:meth:`RunDatabase._table`). Label columns always arrive as codes
    (:meth:`RunDatabase._label_codes`) and are always buffered.

    Args:
        table: The table's name (its columns come from the schema).
        capacity: Rows to make room for at first (a little more than the last flush's
            rows: no growth in a steady run).
        spare: Arrays of an earlier flush, already inserted, to reuse as buffers (their
            pages are mapped: fresh arrays of a year's rows cost 2-3 GB of page faults).
    """

    def __init__(self, table: str, capacity: int, spare: list[np.ndarray] | None = None) -> None:
        self.table = table
        self.rows = 0
        self.capacity = max(capacity, 1024)
        self._spare = [a for a in spare or () if len(a) >= self.capacity]
        if self._spare:  # the spare arrays are all as long: use all of their room
            self.capacity = min(len(a) for a in self._spare)
        #: Buffered columns: values of rows [0, rows) (the rest is room).
        self.buffers: dict[str, np.ndarray] = {}
        #: Per buffered column with NULL rows: False where NULL.
        self.valid: dict[str, np.ndarray] = {}
        #: Per label column: whether some row is NULL (code -1).
        self.null_labels: set[str] = set()
        #: Columns kept as given: (value or None for NULL, rows) per batch, from row 0.
        self.parts: dict[str, list[tuple[Any, int]]] = {}

    def add(self, held: Mapping[str, Any], n: int) -> None:
        """Hold one batch of ``n`` rows (label columns already as codes)."""
        start, stop = self.rows, self.rows + n
        if stop > self.capacity:
            self._grow(max(2 * self.capacity, stop))
        for name, labels in _COLUMNS[self.table]:
            value = held.get(name)
            if labels:
                codes = self._buffer(name, _CODES)
                if value is None:
                    codes[start:stop] = -1
                    self.null_labels.add(name)
                elif isinstance(value, _RepeatedCode):
                    codes[start:stop] = value.code
                    if value.code < 0:
                        self.null_labels.add(name)
                else:
                    codes[start:stop] = value
                    if name not in self.null_labels and value.min() < 0:
                        self.null_labels.add(name)
            elif name in self.parts:
                self.parts[name].append((value, n))
            elif value is None:
                if name in self.buffers:  # (a column without values yet is NULL so far)
                    self._validity(name)[start:stop] = False
            elif type(value) is np.ndarray and value.dtype is getattr(
                self.buffers.get(name), "dtype", None
            ):
                # The common case, first and cheapest: more values of a buffered column.
                self.buffers[name][start:stop] = value
                if name in self.valid:
                    self.valid[name][start:stop] = True
            elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
                nulls = np.ma.getmask(value)  # a masked array's NULL rows (nomask: none)
                value = np.ma.getdata(value)
                buf = self.buffers.get(name)
                if buf is not None and not np.can_cast(value.dtype, buf.dtype, "safe"):
                    if np.can_cast(buf.dtype, value.dtype, "safe"):
                        buf = self.buffers[name] = buf.astype(value.dtype)  # widened
                    else:  # e.g. int64 after uint64: joined as Arrow, as given
                        self._to_parts(name)
                        self.parts[name].append((held[name], n))
                        continue
                if buf is None and start:
                    self._validity(name)  # its first values: the rows before are NULL
                self._buffer(name, value.dtype)[start:stop] = value
                if nulls is not np.ma.nomask:
                    np.logical_not(nulls, out=self._validity(name)[start:stop])
                elif name in self.valid:
                    self.valid[name][start:stop] = True
            else:
                self._to_parts(name)
                self.parts[name].append((value, n))
        self.rows = stop

    def _buffer(self, name: str, dtype: np.dtype) -> np.ndarray:
        buf = self.buffers.get(name)
        if buf is None:
            buf = self.buffers[name] = self._new(dtype)
        return buf

    def _validity(self, name: str) -> np.ndarray:
        valid = self.valid.get(name)
        if valid is None:
            valid = self.valid[name] = self._new(np.dtype(bool))
            # Rows held so far are valid if the column has values, NULL if it has none.
            valid[: self.rows] = name in self.buffers
        return valid

    def _new(self, dtype: np.dtype) -> np.ndarray:
        """An array of ``capacity`` values (contents undefined): a spare one if any fits."""
        for i, a in enumerate(self._spare):
            if a.dtype == dtype and len(a) >= self.capacity:
                return self._spare.pop(i)[: self.capacity]
        return np.empty(self.capacity, dtype)

    def arrays(self) -> list[np.ndarray]:
        """Every buffer, for reuse once the rows are inserted."""
        return [*self.buffers.values(), *self.valid.values()]

    def _grow(self, capacity: int) -> None:
        for store in (self.buffers, self.valid):
            for name, old in store.items():
                new = np.empty(capacity, old.dtype)
                new[: self.rows] = old[: self.rows]
                store[name] = new
        self.capacity = capacity

    def _to_parts(self, name: str) -> None:
        """Keep column ``name`` as given from now on; its buffered rows become one part."""
        if name in self.parts:
            return
        parts: list[tuple[Any, int]] = []
        buf, valid = self.buffers.pop(name, None), self.valid.pop(name, None)
        if self.rows:
            if buf is None:
                parts.append((None, self.rows))
            else:
                mask = None if valid is None else ~valid[: self.rows]
                parts.append((pa.array(buf[: self.rows], mask=mask), self.rows))
        self.parts[name] = parts

    def arrow(self, label_arrays: Mapping[str, pa.Array]) -> pa.Table:
        """The held rows as one Arrow table (buffered columns without copies)."""
        n = self.rows
        arrays = []
        for col in TABLES[self.table]:
            name = col.name
            if col.labels:
                codes = self.buffers[name][:n]
                nulls = name in self.null_labels
                arrays.append(_label_column(codes, label_arrays[col.labels], nulls))
            elif name in self.parts:
                arrays.append(_joined(self.parts[name], col.type))
            elif name in self.buffers:
                valid = self.valid.get(name)
                mask = None if valid is None else ~valid[:n]
                arrays.append(pa.array(self.buffers[name][:n], mask=mask))
            else:
                arrays.append(pa.nulls(n, ARROW_TYPES[col.type]))
        return pa.Table.from_arrays(arrays, names=[c.name for c in TABLES[self.table]])

    @property
    def joined_later(self) -> bool:
        """Whether some column is kept as given (its join is left to the writer thread)."""
        return bool(self.parts)


class RunDatabase:
    """A ``run.duckdb`` file with the sclab schema.

    Args:
        path: Where to create the database; it must not exist yet.
        labels: The run's labels per label set (see :func:`sclab.store.schema.label_columns`;
            :data:`~sclab.store.schema.FIXED_LABELS` are added). Every label a label column
            will hold must be declared here: :meth:`append` refuses others.
        existing: Open a database this class created before (a run resumed from a
            checkpoint, :mod:`sclab.store.checkpoint`) instead of creating one; its
            tables are kept as they are.
    """

    #: Held rows, summed over all tables, at which every table's batches are inserted.
    #: Counted over all tables (not per table) because what costs memory is how long
    #: batches are held: a table that fills slowly (events: a few thousand rows a day)
    #: would otherwise keep hundreds of small NumPy-backed batches alive for months, and
    #: the long-lived small blocks scattered among the simulation's short-lived arrays
    #: keep the allocator from returning freed pages, so resident memory grew by 1-2
    #: bytes per person per simulated day. 400,000 rows is about two days of a city-scale
    #: composite run; larger flushes cost less per row (each insert has a fixed cost, and
    #: DuckDB compresses larger batches faster) without raising the peak
    #: (docs/performance.md).
    FLUSH_ROWS = 400_000
    #: Cap on DuckDB's buffer pool while the population is written (see ``__init__``).
    MEMORY_LIMIT = "1GB"
    #: Cap while the simulation's days run (see :meth:`set_memory_limit`): the daily
    #: inserts are small, written blocks are on disk and evictable, so a small cap costs
    #: the days no speed and leaves the simulation's arrays the room.
    RUN_MEMORY_LIMIT = "64MB"
    #: Cap for the end-of-run inserts (the aggregates), once the days' state is released:
    #: a 64MB pool slows these large inserts. Smaller populations insert fewer rows and
    #: get less (see :meth:`end_memory_limit`), so that the pool never makes the end of a
    #: small run its peak.
    END_MEMORY_LIMIT = "256MB"
    #: Bytes per person of the end-of-run cap below :attr:`END_MEMORY_LIMIT`.
    END_MEMORY_PER_PERSON = 28
    #: Queued inserts before ``append`` blocks. A flush queues one insert per table (a
    #: dozen), so the queue holds a few dozen flushes, each at most :attr:`FLUSH_ROWS`
    #: rows. The writer falls that far behind only after a large insert (a month's
    #: reassessed scores at city scale), which it slices around the simulation's
    #: parallel passes; a shallower queue then stops the simulation until the writer
    #: catches up, leaving a core idle, where a deeper one lets it catch up during the
    #: serial work of the next days (BENCHMARKS.md).
    QUEUE_DEPTH = 512
    #: Rows the writer inserts in one transaction at most; the transaction is also
    #: committed when someone waits for the rows (:meth:`wait`, :meth:`flush`, ``close``),
    #: never merely because the queue ran empty. Every commit syncs DuckDB's write-ahead
    #: log to disk and, once the log passes DuckDB's checkpoint threshold, compresses the
    #: rows it holds into the database file a second time, so committing each flush would
    #: cost the writer much more CPU than committing every 2M rows. Uncommitted rows are
    #: held by DuckDB's buffer pool under its memory cap, so the bound keeps transactions,
    #: not memory, in check.
    COMMIT_ROWS = 2_000_000
    #: Longest the writer waits for a parallel pass of the simulation to end before it
    #: inserts anyway (see :data:`sclab.parallel.IDLE`).
    YIELD_SECONDS = 1.0
    #: Rows per insert statement while the writer runs on one thread beside the
    #: simulation (see :meth:`set_threads`): DuckDB's row group. Slices of this size cost
    #: no more CPU than whole batches; smaller ones do (each insert has a fixed cost).
    INSERT_SLICE_ROWS = 122_880

    def __init__(
        self, path: Path, labels: Mapping[str, Iterable[str]], existing: bool = False
    ) -> None:
        self.path = path
        self.labels = run_labels(labels)
        self._label_index = {k: {x: i for i, x in enumerate(v)} for k, v in self.labels.items()}
        self._label_arrays = {k: pa.array(v, type=pa.string()) for k, v in self.labels.items()}
        # Held rows per table (see _HeldTable), their sum, and each table's rows at its
        # last flush (the next buffers' size).
        self._held: dict[str, _HeldTable] = {}
        self._held_rows = 0
        self._last_rows: dict[str, int] = {}
        # Per table, the buffers of inserted flushes, handed back by the writer thread
        # for the next flushes (deque: appends and pops are atomic between threads).
        self._spare: dict[str, deque[list[np.ndarray]]] = {t: deque() for t in TABLES}
        self.con = duckdb.connect(str(path))
        # Two threads: the machine budget is two cores, shared with the simulation.
        self.con.execute("SET threads TO 2")
        self.con.execute("SET preserve_insertion_order = true")
        # DuckDB's buffer pool defaults to 80 % of the machine's memory and keeps written
        # blocks cached up to it, which inflates a run's peak resident memory; written
        # blocks are evictable (they are on disk), so a fixed cap costs little time.
        self.con.execute(f"SET memory_limit = '{self.MEMORY_LIMIT}'")
        # The writer thread's open transaction and the rows inserted in it.
        self._in_transaction = False
        self._uncommitted = 0
        # Rows per insert statement, or None for whole batches (see set_threads).
        self._slice_rows: int | None = None
        for stmt in () if existing else create_statements(self.labels):
            self.con.execute(stmt)
        # Work for the writer thread, in order: inserts and settings; None stops it.
        self._queue: queue.Queue[Callable[[], object] | None] = queue.Queue(self.QUEUE_DEPTH)
        self._failure: BaseException | None = None
        self._aborting = False
        self._writer = threading.Thread(target=self._write_loop, name="sclab-db", daemon=True)
        self._writer.start()

    def append(self, table: str, columns: Mapping[str, Any], *, buffered: bool = False) -> int:
        """Append one batch of rows; columns not given are NULL. Returns rows written.

        Columns are NumPy arrays (a masked array is NULL where masked), Arrow arrays or
        lists; label columns may also be Arrow dictionary arrays (see :func:`categorical`).

        With ``buffered``, small daily batches are held and inserted together (once
        :attr:`FLUSH_ROWS` rows are held over all tables, and at :meth:`flush`): one
        INSERT costs milliseconds whatever its size, so a few hundred tiny inserts a day
        would dominate a run. Each table's rows keep their order, so the database is the
        same whenever the flushes happen. A held batch is copied into its table's column
        buffers (label columns as codes), which a flush hands to the writer as they are:
        a run appends about a hundred small batches a day, and making an Arrow table of
        each cost more than the rows did. A batch of :attr:`FLUSH_ROWS` rows or more is
        inserted as it is, after the rows its table holds; its arrays must not change
        after the call.

        Raises:
            KeyError: A column the table does not have.
            ValueError: Columns of different lengths, or a label the run did not declare.
        """
        if not _NAMES[table].issuperset(columns):
            unknown = set(columns) - _NAMES[table]
            raise KeyError(f"table {table} has no column(s) {sorted(unknown)}")
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"columns for {table} differ in length: {sorted(lengths)}")
        n = lengths.pop()
        if n == 0:
            return 0
        held = dict(columns)
        for name, labels in _LABELS[table]:
            if held.get(name) is not None:
                held[name] = self._label_codes(table, name, labels, held[name])
        if not buffered or n >= self.FLUSH_ROWS:
            if buffered:
                # As large as a flush (a reassessed score's changes, the final scores): as
                # it is, behind the table's held rows: copying it into the buffers first
                # would be a whole extra copy of a large batch. Its arrays are the
                # caller's: batches are built for the database and not changed afterwards.
                self._send_held(table)
            self._insert(table, self._table(table, held, n))
            if not buffered and n >= self.FLUSH_ROWS:
                # A large batch (population, end-of-run totals) is often built from
                # temporaries: let it land before the caller builds the next one, so at
                # most one such batch is alive at a time.
                self.wait()
            return n
        rows = self._held.get(table)
        if rows is None:
            # A quarter more than last time: room for a flush a little larger, no growth.
            room = max(n, self._last_rows.get(table, 0) * 5 // 4)
            spare = self._spare[table].popleft() if self._spare[table] else None
            rows = self._held[table] = _HeldTable(table, room, spare)
        rows.add(held, n)
        self._held_rows += n
        if self._held_rows >= self.FLUSH_ROWS:
            self._send_held()
        return n

    def _label_codes(
        self, table: str, column: str, labels: str, values: Any
    ) -> np.ndarray | _RepeatedCode:
        """Positions of ``values`` in the label set (int16, -1 for NULL); one label repeated
        (:class:`ConstantLabels`), or a dictionary column of NULLs only, stays a
        :class:`_RepeatedCode` until the batch is joined.

        Raises:
            ValueError: A label the run did not declare (DuckDB would fail later, in the
                writer thread).
        """
        index = self._label_index[labels]

        def refuse(unknown: list[Any]) -> None:
            raise ValueError(
                f"{table}.{column}: label {sorted(unknown)[0]!r} is not in the run's label "
                f"set '{labels}'; the component that writes it must declare it in labels()"
            )

        if isinstance(values, ConstantLabels):
            if values.value not in index:
                refuse([values.value])
            return _RepeatedCode(index[values.value], values.n)  # filled when joined
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if isinstance(values, pa.DictionaryArray):
            # A few labels whatever the rows: map the dictionary, then its indices.
            used = values.dictionary.to_pylist()
            unknown = [u for u in used if u is not None and u not in index]
            if unknown:
                refuse(unknown)
            if values.null_count == len(values):  # all NULL (most batches' record errors)
                return _RepeatedCode(-1, len(values))
            # The last entry, -1, is for NULL rows.
            lookup = np.array([-1 if u is None else index[u] for u in used] + [-1], _CODES)
            indices = values.indices
            if indices.null_count:
                # NULL rows point at the last entry (-1 from the end fits any signed index
                # type), filled in Arrow: the indices keep their integer type, where NumPy
                # would make floats 8 bytes wide with NaN for NULL.
                signed = pa.types.is_signed_integer(indices.type)
                indices = pc.fill_null(indices, -1 if signed else len(used))
            return lookup[indices.to_numpy()]
        arr = values if isinstance(values, pa.Array) else pa.array(_plain(values))
        pos = pc.index_in(arr, value_set=self._label_arrays[labels])
        bad = pc.and_(pc.is_null(pos), pc.is_valid(arr))
        if pc.any(bad).as_py():
            refuse(arr.filter(bad).to_pylist())
        return pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(_CODES)

    def _table(self, table: str, columns: Mapping[str, Any], n: int) -> pa.Table:
        """One batch of ``n`` rows (label columns as codes) as an Arrow table, NumPy
        columns without copies."""
        arrays = []
        for col in TABLES[table]:
            value = columns.get(col.name)
            if col.labels:
                nulls = True
                if value is None or isinstance(value, _RepeatedCode):
                    code = -1 if value is None else value.code
                    value = np.full(n, code, _CODES)
                    nulls = code < 0  # one label: no search for NULL rows
                arrays.append(_label_column(value, self._label_arrays[col.labels], nulls))
            else:
                arrays.append(_joined([(value, n)], col.type))
        return pa.Table.from_arrays(arrays, names=[c.name for c in TABLES[table]])

    def flush(self, table: str | None = None) -> None:
        """Insert held batches (of one table, or of all) and wait until they are in."""
        self._send_held(table)
        self.wait()

    def execute(self, statement: str) -> None:
        """Run one SQL statement after every row appended so far is in (for summaries
        computed from the recorded tables, see :mod:`sclab.store.summaries`)."""
        self.flush()
        self.con.execute(statement)

    def _send_held(self, table: str | None = None) -> None:
        """Hand held batches to the writer thread without waiting for them."""
        for name in [table] if table else list(self._held):
            rows = self._held.pop(name, None)
            if rows is None or not rows.rows:
                continue
            self._held_rows -= rows.rows
            self._last_rows[name] = rows.rows
            if rows.joined_later:
                # Columns kept as given are joined by the writer thread (rare: lists, Arrow
                # arrays, text); an error there reaches the caller at the next wait.
                self._queue_insert(name, partial(rows.arrow, self._label_arrays))
            else:  # buffers as they are: a few microseconds per column, no copies
                self._insert(name, rows.arrow(self._label_arrays), rows.arrays())

    def _insert(self, table: str, batch: pa.Table, spare: list[np.ndarray] | None = None) -> None:
        """Queue one insert for the writer thread (blocks while the queue is full); the
        arrays ``spare`` are handed back as in :meth:`_queue_insert`."""
        self._queue_insert(table, lambda: batch, spare)

    def _queue_insert(
        self, table: str, build: Callable[[], pa.Table], spare: list[np.ndarray] | None = None
    ) -> None:
        """Queue an insert of the batch ``build`` makes, in the writer thread; the arrays
        ``spare`` (which the batch views) are handed back for reuse once it is in."""
        self._raise_failure()

        def insert() -> None:
            self._execute_insert(table, build())
            # DuckDB copied the rows into its own storage: the buffers are free again. One
            # set per table at most: the next flush of the table takes it.
            if spare and not self._spare[table]:
                self._spare[table].append(spare)

        self._queue.put(insert)

    def set_threads(self, n: int) -> None:
        """DuckDB's threads for the inserts queued after this call.

        Two for bulk writes (the population, the end-of-run totals), when the simulation
        is not running; one while it runs, so that the writer and the simulation share
        the machine's two cores instead of three threads contending for them. With one
        thread, large inserts also go in row-group slices (see :attr:`INSERT_SLICE_ROWS`);
        with more, DuckDB spreads one insert over its threads, and slices would undo that.
        """
        slice_rows = self.INSERT_SLICE_ROWS if int(n) == 1 else None

        def slices() -> None:
            self._slice_rows = slice_rows

        self._setting(f"SET threads TO {int(n)}", then=slices)

    @classmethod
    def end_memory_limit(cls, people: int) -> str:
        """The end-of-run cap for ``people``: 28 B each, between the days' cap and 256MB."""
        low, high = (_megabytes(x) for x in (cls.RUN_MEMORY_LIMIT, cls.END_MEMORY_LIMIT))
        scaled = cls.END_MEMORY_PER_PERSON * people // 2**20
        return f"{min(high, max(low, scaled))}MB"

    def set_memory_limit(self, limit: str) -> None:
        """Cap DuckDB's buffer pool for the inserts queued after this call (e.g. "256MB").

        Written blocks are on disk and evictable, so a small cap costs little while the
        simulation runs; bulk writes of the population are faster with a larger one, and
        happen before the simulation's own state takes its memory.
        """
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", limit):
            raise ValueError(f"memory limit must look like '256MB' or '1GB', got {limit!r}")
        self._setting(f"SET memory_limit = '{limit}'")

    def _setting(self, statement: str, then: Callable[[], None] | None = None) -> None:
        """Queue a setting behind the inserts already queued (applied in order), and
        ``then``, a change of the writer's own state that goes with it."""
        self._raise_failure()

        def apply() -> None:
            self.con.execute(statement)
            if then is not None:
                then()

        self._queue.put(apply)

    def wait(self) -> None:
        """Block until every queued insert is committed to the database; raise a writer
        failure."""
        self._raise_failure()
        self._queue.put(self._commit)
        self._queue.join()
        # The writer is idle: the reusable buffers go (a wait ends the days' inserts, and
        # the end of a run's bulk inserts should not sit on top of them).
        for spare in self._spare.values():
            spare.clear()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    break
                # After a failure or an abort, drop the rest: the run is not kept.
                if self._failure is None and not self._aborting:
                    # Leave both cores to a parallel pass of the simulation; a bounded
                    # wait, so that an insert never starves.
                    IDLE.wait(timeout=self.YIELD_SECONDS)
                    item()
                    if self._uncommitted >= self.COMMIT_ROWS:
                        self._commit()
            except BaseException as exc:  # handed to the simulation's thread
                self._failure = exc
            finally:
                self._queue.task_done()
        # Stopped: keep what was inserted, unless an insert failed or the run aborts.
        if self._failure is None and not self._aborting:
            try:
                self._commit()
            except BaseException as exc:
                self._failure = exc

    def _commit(self) -> None:
        if self._in_transaction:
            self.con.commit()
            self._in_transaction = False
        self._uncommitted = 0

    def _execute_insert(self, table: str, batch: pa.Table) -> None:
        if not self._in_transaction:
            self.con.begin()
            self._in_transaction = True
        self._uncommitted += batch.num_rows
        # Columns come in the table's order and DuckDB casts each to its column's type.
        # A relation skips the statement's parsing and a temporary view: about 1 ms less
        # per insert, and a year's run makes thousands. Large batches go in slices of a
        # DuckDB row group, waiting between slices for a parallel pass of the simulation
        # to end: a pass that starts during an insert then shares a core with it for one
        # slice, not the whole batch.
        step = self._slice_rows or max(batch.num_rows, 1)
        for start in range(0, batch.num_rows, step):
            if start:
                IDLE.wait(timeout=self.YIELD_SECONDS)
            self.con.from_arrow(batch.slice(start, step)).insert_into(table)

    def row_counts(self) -> dict[str, int]:
        """Rows per table (after inserting any held batches)."""
        self.flush()
        return {
            t: int(self.con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0]) for t in TABLES
        }

    def close(self) -> None:
        """Checkpoint and close (the file is complete after this)."""
        self.flush()
        self._stop()
        self._raise_failure()
        self.con.execute("CHECKPOINT")
        self.con.close()

    def abort(self) -> None:
        """Stop the writer without raising and close the connection (the run failed or
        was interrupted). Queued inserts are dropped: the database will be deleted, and a
        SIGTERM should not wait for seconds of inserts."""
        self._failure = None
        self._aborting = True
        self._stop()
        self.con.close()

    def _stop(self) -> None:
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join()


def run_labels(declared: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """Every label set of the schema with its labels, sorted: an ENUM orders by its list,
    so ``ORDER BY`` sorts labels as text, and the list does not depend on the order
    components were declared in. Undeclared sets are empty.

    Raises:
        ValueError: A declared set is not a label set of the schema, or changes a fixed one.
    """
    known = set(label_columns())
    unknown = sorted(set(declared) - known)
    if unknown:
        raise ValueError(
            f"unknown label set '{unknown[0]}'; the schema's label sets are "
            + ", ".join(sorted(known))
        )
    out = {name: tuple(sorted(set(declared.get(name, ())))) for name in sorted(known)}
    for name, fixed in FIXED_LABELS.items():
        extra = sorted(set(out[name]) - set(fixed))
        if extra:
            raise ValueError(f"label set '{name}' is fixed to {', '.join(fixed)}; got {extra[0]!r}")
        out[name] = tuple(sorted(fixed))
    return out


def _megabytes(limit: str) -> int:
    """``"64MB"`` -> 64 (the caps above are written in MB)."""
    if not limit.endswith("MB"):
        raise ValueError(f"memory limit {limit!r} must be given in MB, e.g. '64MB'")
    return int(limit.removesuffix("MB"))


#: Arrow types of the schema's DuckDB types (held batches are joined in these).
ARROW_TYPES = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "SMALLINT": pa.int16(),
    "TINYINT": pa.int8(),
    "DOUBLE": pa.float64(),
    "REAL": pa.float32(),
    "BOOLEAN": pa.bool_(),
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
}


def _plain(value: Any) -> Any:
    """A list or NumPy array, with byte strings decoded."""
    arr = np.asarray(value)
    return arr.astype(str) if arr.dtype.kind == "S" else arr


def _to_arrow(value: Any) -> pa.Array:
    if isinstance(value, np.ma.MaskedArray):  # NULL where masked
        return pa.array(value.data, mask=np.ma.getmaskarray(value))
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks()
    if isinstance(value, pa.Array):
        return value
    if hasattr(value, "__arrow_array__"):  # e.g. ConstantLabels
        return pa.array(value)
    return pa.array(_plain(value))


def _label_column(codes: np.ndarray, labels: pa.Array, nulls: bool = True) -> pa.DictionaryArray:
    """A label column from its codes (-1: NULL, looked for only if ``nulls``)."""
    indices = pa.array(codes, mask=codes < 0 if nulls else None)
    return pa.DictionaryArray.from_arrays(indices, labels)


def _joined(values: list[tuple[Any, int]], column_type: str) -> pa.Array:
    """One Arrow column from batches of ``(value, rows)`` (value None: NULL rows)."""
    if all(type(v) is np.ndarray and v.dtype.kind in "biuf" for v, _ in values):
        # Plain NumPy columns (most of them): one concatenation (none for one batch).
        return pa.array(
            values[0][0] if len(values) == 1 else np.concatenate([v for v, _ in values])
        )
    if len(values) == 1:  # as given: DuckDB casts it to the column's type
        v, n = values[0]
        return pa.nulls(n) if v is None else _to_arrow(v)
    # Batches of different kinds: joined in the column's Arrow type.
    given = [None if v is None else _to_arrow(v) for v, _ in values]
    types = {c.type for c in given if c is not None}
    kind = types.pop() if len(types) == 1 else ARROW_TYPES[column_type]
    chunks = [
        pa.nulls(n, kind) if c is None else c if c.type == kind else c.cast(kind)
        for c, (_, n) in zip(given, values, strict=True)
    ]
    return pa.concat_arrays(chunks)  # DuckDB casts it to the column's type
