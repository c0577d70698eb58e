"""A sweep's grid file: parameter paths to lists of values, read and checked before any run.

Core objects:
    :class:`Grid`: the paths in file order, each with its values and the line of each
        value, so that a refusal names ``FILE:LINE``.
    :func:`read_grid`: a YAML file to a :class:`Grid`, every path checked against the
        scenario (:func:`sclab.api.overrides.locate`).
    :func:`plan`: the scenario at every grid point and replicate (each point's overrides
        applied and validated, :func:`sclab.api.overrides.apply_paths`), in the order the
        runs are numbered: points in the grid's order (the last path varying fastest),
        replicates within a point.
    :class:`GridError`: the one-line refusal of a grid file.

A grid file is a mapping of override paths (the paths of :mod:`sclab.api.overrides`:
``cameras.capture_preset``, ``population.size``, ``cameras.matcher.preset``...) to lists
of values; the sweep runs their Cartesian product, each point ``K`` times::

    cameras.capture_preset: [futian-busiest, shenzhen-first-day]
    cameras.matcher.preset: [field-south-wales-2017, mugshot-grade]

Replicate ``r`` (1 to K) of a point runs seed ``seed + r - 1``, the rule of
``sclab run --replicates`` (:meth:`sclab.api.Scenario.run`); ``seed`` itself is therefore
not a grid path. Cost: one validation of the scenario and its components per grid point,
all before the first run (a few hundredths of a second each).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sclab.api.overrides import OverrideError, apply_paths, locate
from sclab.errors import ScenarioError
from sclab.scenario.schema import Scenario as ScenarioSpec
from sclab.yamlfile import read_yaml

#: A grid value: what a column of the sweep's tables can hold.
Value = bool | int | float | str | None


class GridError(ScenarioError):
    """A grid file that is not a mapping of known paths to lists of acceptable values."""


@dataclass(frozen=True)
class Grid:
    """A checked grid file.

    Attributes:
        source: The file, for messages.
        paths: The parameter paths, in the file's order.
        values: Each path's values, in the file's order.
        lines: ``(path, i)`` → the line of the ``i``-th value of ``path``; ``(path,)`` →
            the line of the path.
    """

    source: str
    paths: tuple[str, ...]
    values: dict[str, tuple[Value, ...]]
    lines: dict[tuple[str, ...] | tuple[str, int], int]

    @property
    def points(self) -> list[dict[str, Value]]:
        """Every combination of values, the last path varying fastest."""
        combos = itertools.product(*(self.values[p] for p in self.paths))
        return [dict(zip(self.paths, combo, strict=True)) for combo in combos]

    def to_json(self) -> list[list[Any]]:
        """``[[path, [values...]], ...]`` in the file's order (dates as ISO text)."""
        return [[p, [_plain(v) for v in self.values[p]]] for p in self.paths]


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: a grid point and a replicate.

    Attributes:
        index: 1-based, in the order of :func:`plan`.
        point: Path → value at this grid point.
        replicate: 1 to K.
        spec: The validated scenario of the run (its seed: the replicate's).
        name: The run's directory under ``DIR/runs``: ``INDEX-KEY``, the key made of the
            point's values and the replicate (``003-futian-busiest_mugshot-grade_r1``).
    """

    index: int
    point: dict[str, Value]
    replicate: int
    spec: ScenarioSpec
    name: str

    @property
    def seed(self) -> int:
        """The seed of the run."""
        return self.spec.seed


def read_grid(path: str | Path, scenario: ScenarioSpec) -> Grid:
    """The grid in ``path``, each path checked against ``scenario``.

    Raises:
        GridError: not a mapping, a path that names nothing, a value that is not a list of
            numbers, strings, booleans or nulls, an empty list or a value listed twice
            (one line: file, line, path, what was expected).
    """
    doc = read_yaml(Path(path), GridError)
    source = doc.source
    data = doc.data
    if not isinstance(data, dict):
        raise GridError(
            f"expected a mapping of parameter paths to lists of values (got {_kind(data)})",
            source=source,
            line=1,
        )
    if not data:
        raise GridError(
            "expected at least one parameter path with a list of values", source=source, line=1
        )
    lines: dict[tuple[str, ...] | tuple[str, int], int] = {}
    values: dict[str, tuple[Value, ...]] = {}
    for key, listed in data.items():
        line = doc.line_of((key,))
        if not isinstance(key, str):
            raise GridError(
                f"expected a dotted parameter path such as cameras.capture (got {key!r})",
                source=source,
                line=line,
            )
        if key == "seed":
            raise GridError(
                "seeds are not a grid parameter; give --seed S and --replicates K "
                "(replicate r runs seed S + r - 1)",
                source=source,
                line=line,
                field=key,
            )
        try:
            locate(scenario, key)
        except OverrideError as exc:
            raise GridError(exc.message, source=source, line=line, field=key) from None
        if not isinstance(listed, list):
            raise GridError(
                f"expected a list of values, e.g. [{_plain(listed)}] for one (got {_kind(listed)})",
                source=source,
                line=line,
                field=key,
            )
        if not listed:
            raise GridError(
                "expected at least one value (got an empty list)",
                source=source,
                line=line,
                field=key,
            )
        seen: list[Value] = []
        for i, value in enumerate(listed):
            where = doc.line_of((key, i))
            if isinstance(value, dt.date):
                value = value.isoformat()
            if not (value is None or isinstance(value, bool | int | float | str)):
                raise GridError(
                    f"expected a number, a string, true, false or null (got {_kind(value)})",
                    source=source,
                    line=where,
                    field=key,
                )
            if any(type(s) is type(value) and s == value for s in seen):
                raise GridError(
                    f"value {value!r} is listed twice; list each value once "
                    "(replicates come from --replicates)",
                    source=source,
                    line=where,
                    field=key,
                )
            seen.append(value)
            lines[(key, i)] = where or line or 1
        lines[(key,)] = line or 1
        values[key] = tuple(seen)
    return Grid(source=source, paths=tuple(values), values=values, lines=lines)


def plan(grid: Grid, scenario: ScenarioSpec, replicates: int) -> list[PlannedRun]:
    """Every run of the sweep: each grid point's scenario built and validated (all of
    them, before any run starts), then its replicates.

    Raises:
        GridError: a value a point's scenario refuses, at the value's line (a refusal
            across several values names the point).
    """
    if replicates < 1:
        raise ScenarioError(f"expected at least 1 (got {replicates})", field="--replicates")
    points = grid.points
    width = len(str(len(points) * replicates))
    runs: list[PlannedRun] = []
    for point in points:
        try:
            spec = apply_paths(scenario, point)
        except OverrideError as exc:
            raise _located(exc, grid, point) from None
        key = "_".join(_slug(v) for v in point.values())
        for r in range(1, replicates + 1):
            index = len(runs) + 1
            one = spec.model_copy(update={"seed": scenario.seed + r - 1})
            name = f"{index:0{width}d}-{key[:80]}_r{r}"
            runs.append(PlannedRun(index, dict(point), r, one, name))
    return runs


def _located(exc: OverrideError, grid: Grid, point: dict[str, Value]) -> GridError:
    """A point's refusal said of the grid file: at the refused value's line."""
    path = exc.field or ""
    if path in point:
        i = grid.values[path].index(point[path])
        return GridError(exc.message, source=grid.source, line=grid.lines[(path, i)], field=path)
    shown = ", ".join(f"{p}={_plain(v)}" for p, v in point.items())
    return GridError(
        f"at the grid point {shown}: {exc.one_line()}", source=grid.source, field=exc.field
    )


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(_plain(value))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _slug(value: Value) -> str:
    """A value as a piece of a directory name: letters, digits, ``.`` and ``-``."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-.")[:24] or "x"
