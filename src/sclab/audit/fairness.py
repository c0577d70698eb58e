"""Fairness by group: who receives each decision, and who receives it without the act.

Core objects:
    :class:`Decision`: one kind of decision on people: a sanction ``(system, kind, domain)``
        or a listing ``(system, 'listed', list)``.
    :func:`compute`: the ``fairness_*`` tables of a finished run (read from ``run.duckdb``).
    :func:`metric_frame`: a Fairlearn ``MetricFrame`` for one decision and one grouping,
        built from weighted cells (for notebooks).
    :func:`person_arrays`: the same data as one row per person (the full arrays), which
        the weighted cells must reproduce exactly.
    :func:`wilson_interval`, :func:`newcombe_difference`, :func:`ratio_interval`: the
        intervals.

Definitions (``docs/fairness.md`` says the same at more length):

- Population: every person of the ``citizens`` table, decision or not.
- Decision (``y_pred``): for a person and a :class:`Decision`, whether the person received
  it at least once in the run (a ``sanctions`` row, or a ``list_entries`` row, naming the
  person; rows on companies are left out: groups are groups of people).
- The events a decision row rests on: its own ``event_id``, its ``decision_events`` rows,
  and, for a sanction of a list measure (joint punishment), the events of the list entry
  it carries (the entry of the same system with the same ``event_id``, and that entry's
  ``decision_events``). The decision's *acts* are the event kinds its rows rest on.
- Truth (``y_true``), whether the person committed the act the decision rests on:
  a person who received the decision committed it if at least one of their rows rests on
  an event whose ``true_actor`` is that person; a person who received it only through
  records naming them wrongly (``attributed_to`` is not ``true_actor``), or for someone
  else's conduct (a parent's listing, a represented company's record), did not. A person
  who did not receive it committed it if they are the ``true_actor`` of a recorded event
  of one of the decision's act kinds (any day, warm start included). A stale record
  names its true actor, so its person did commit the act. Acts never recorded are not
  in the store: their actors count as not having committed the act.
- A decision whose rows rest on no recorded event (a score or grade threshold with no
  event behind it) has no truth: its false-positive rate is NULL.
- Rate (Fairlearn's ``selection_rate``): share of the group who received the decision.
  False-positive rate (Fairlearn's ``false_positive_rate``): among the group's people who
  did not commit the act, the share who received the decision; :func:`compute` takes it
  as the selection rate among those people, the same number.
- Groups: sex, ethnic group, age band (completed years at the run's start date, from the
  birth date; bands :data:`AGE_BANDS`), district, migrant status, income decile, and every
  intersection of two of them. Only groups with at least one person exist.
- Best-off group: for an adverse decision, the group with the lowest rate (for a reward,
  the highest), among the groups large enough to judge (among all if none is). Differences
  are ``group - best``, ratios ``group / best`` (NULL when the best-off rate is 0).
- Small groups (:data:`MIN_GROUP_SIZE`, :data:`MIN_EXPECTED`): a rate is flagged, never
  dropped, when its denominator is under 30 people, or when the expected number of
  recipients or of non-recipients at the decision's overall rate is under 5.

Intervals (95%, :data:`CONFIDENCE`): Wilson score intervals for rates; Newcombe's hybrid
score interval (from the two Wilson intervals) for a difference; for a ratio, the quotient
of the two groups' 97.5% Wilson limits (``[low1/high2, high1/low2]``), which covers with
at least 95% when both intervals do (independent groups). They cover the sampling
variation of a binomial model (people of a group independent, with a common chance); not
the uncertainty of the model's assumptions, nor dependence between people.

Weighted cells: each grouping is fed to ``MetricFrame`` (one for the rate, one for the
false-positive rate over the non-doers' cells) as one row per (decision, group, truth,
received) cell weighted by its number of people, with the decision as a control feature.
Every metric here is a weighted sum over people (rate, false-positive rate, counts), so
the cells give exactly what one row per person gives; the tests check it.

Cost: in DuckDB, one pass over the decision rows and their events into a temporary table
of flags (a decision's code, a person id, two booleans: a row per person who received a
decision or committed its act), then one ``GROUPING SETS`` pass over the flags joined to
the people's attributes (enums, small integers, an age band's index) for all 21 groupings,
and one over the people for the groups' sizes. Python receives only the cells, turned into
text, and runs two ``MetricFrame`` per grouping over at most 4 cells per (decision,
group): its memory and time grow with decisions × groups (Fairlearn spends a millisecond
or two per group and metric), not with the population. Only :func:`people` and
:func:`person_arrays` (notebooks, tests) build a row per person.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from sclab.policy.schema import BENEFICIAL_SANCTION_KINDS

if TYPE_CHECKING:
    from fairlearn.metrics import MetricFrame

#: Attributes of ``citizens`` that define groups, in the order of the tables.
GROUP_ATTRIBUTES: tuple[str, ...] = (
    "sex",
    "ethnic_group",
    "age_band",
    "district",
    "migrant",
    "income_decile",
)

#: Age bands in completed years at the run's start (lower, upper inclusive or None, label).
#: Assumption: the census's adult bands grouped by ten years from 25, with minors and young
#: adults (18-24: students, first jobs, first loans) apart; 65+ is past retirement age.
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 17, "0-17"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, None, "65+"),
)

#: People per slice of the per-person passes (the flags, and the flags joined to the
#: people's attributes): each slice's joins and aggregates hold about this many people's
#: rows, so that their hash tables stay within DuckDB's memory limit (a join's table
#: cannot spill all of itself). Measured: the composite year's audit at 1M people runs
#: within the least limit, 256 MiB (BENCHMARKS.md); 9.3M people are 10 slices.
PEOPLE_PER_SLICE = 1_000_000

#: A rate whose denominator has fewer people is flagged as too small to judge.
#: Assumption: the usual rule of thumb for a normal approximation (range 20-50).
MIN_GROUP_SIZE = 30
#: A rate is also flagged when the expected number of recipients (or of non-recipients)
#: at the decision's overall rate is under this: the classic n·p ≥ 5 rule (Cochran 1954).
MIN_EXPECTED = 5.0
#: Coverage of every interval.
CONFIDENCE = 0.95
#: Sanction kinds that benefit the person: the best-off group has the highest rate.
BENEFICIAL_KINDS = BENEFICIAL_SANCTION_KINDS

_Z = 1.959963984540054  # standard normal quantile at 0.975 (two-sided 95%)
_Z_RATIO = 2.241402727604947  # at 0.9875: each group's 97.5% interval for the ratio


@dataclass(frozen=True, order=True)
class Decision:
    """One kind of decision on people.

    Attributes:
        table: ``sanctions`` or ``list_entries``.
        system: The system that decided.
        kind: The sanction kind (``blocked``, ``reward``...) or ``listed``.
        domain: The sanction's domain, or the list's name.
    """

    table: str
    system: str
    kind: str
    domain: str

    @property
    def label(self) -> str:
        """``system/kind/domain``, as in the tables' ``decision`` column."""
        return f"{self.system}/{self.kind}/{self.domain}"

    @property
    def beneficial(self) -> bool:
        """Whether receiving it is good for the person (then more is better off)."""
        return self.kind in BENEFICIAL_KINDS


# The rows of decisions on people, and for each the events it rests on.
_DECISION_ROWS = """
    sanction_rows AS (
        SELECT 'sanctions' AS decision_table, system::VARCHAR AS system,
               kind::VARCHAR AS kind, domain::VARCHAR AS domain,
               sanction_id AS decision_key, entity_id AS person_id, event_id
        FROM sanctions WHERE entity_type = 'person'),
    list_rows AS (
        SELECT 'list_entries' AS decision_table, system::VARCHAR AS system,
               'listed' AS kind, list::VARCHAR AS domain,
               entry_id AS decision_key, entity_id AS person_id, event_id
        FROM list_entries WHERE entity_type = 'person'),
    decision_rows AS (SELECT * FROM sanction_rows UNION ALL SELECT * FROM list_rows),
    rests_on AS (
        SELECT decision_table, decision_key, event_id AS rest_event
        FROM decision_rows WHERE event_id IS NOT NULL
        UNION
        SELECT r.decision_table, r.decision_key, d.event_id
        FROM decision_rows r JOIN decision_events d
          ON d.decision_table::VARCHAR = r.decision_table AND d.decision_key = r.decision_key
        UNION
        SELECT r.decision_table, r.decision_key, d.event_id
        FROM sanction_rows r
        JOIN list_entries l ON l.system::VARCHAR = r.system AND l.event_id = r.event_id
        JOIN decision_events d
          ON d.decision_table = 'list_entries' AND d.decision_key = l.entry_id),
    row_truth AS (
        SELECT r.decision_table, r.system, r.kind, r.domain, r.decision_key, r.person_id,
               coalesce(bool_or(e.entity_type = 'person' AND e.true_actor = r.person_id),
                        false) AS own_act
        FROM decision_rows r
        LEFT JOIN rests_on o USING (decision_table, decision_key)
        LEFT JOIN events e ON e.event_id = o.rest_event
        GROUP BY ALL),
    decision_acts AS (
        SELECT DISTINCT r.decision_table, r.system, r.kind, r.domain, e.kind::VARCHAR AS act
        FROM decision_rows r
        JOIN rests_on o USING (decision_table, decision_key)
        JOIN events e ON e.event_id = o.rest_event)
"""


def decisions(con: duckdb.DuckDBPyConnection) -> list[Decision]:
    """Every decision on people that the run made at least once, in sorted order."""
    rows = con.execute(
        f"WITH {_DECISION_ROWS} SELECT DISTINCT decision_table, system, kind, domain "
        "FROM decision_rows ORDER BY ALL"
    ).fetchall()
    return [Decision(*r) for r in rows]


def _age_band_sql(age: str = "age") -> str:
    """The band label of ``age`` (text, as the tables show it)."""
    cases = " ".join(
        f"WHEN {age} BETWEEN {lo} AND {hi} THEN '{label}'"
        if hi is not None
        else f"WHEN {age} >= {lo} THEN '{label}'"
        for lo, hi, label in AGE_BANDS
    )
    return f"CASE {cases} END"


def _age_band_index_sql(age: str) -> str:
    """The band's index in :data:`AGE_BANDS` (a compact value to group by)."""
    cases = " ".join(
        f"WHEN {age} BETWEEN {lo} AND {hi} THEN {i}"
        if hi is not None
        else f"WHEN {age} >= {lo} THEN {i}"
        for i, (lo, hi, _) in enumerate(AGE_BANDS)
    )
    return f"(CASE {cases} END)::TINYINT"


#: Completed years at the run's start date.
_AGE = "date_sub('year', c.birth_date, (SELECT start_date FROM run_info))"

#: Each group attribute as a compact value of ``citizens`` (an enum, a small integer, a
#: boolean, an age band's index): what the per-person join and grouping carry.
_ATTRIBUTE_VALUES: dict[str, str] = {
    "sex": "c.sex",
    "ethnic_group": "c.ethnic_group",
    "age_band": _age_band_index_sql(_AGE),
    "district": "c.district_code",
    "migrant": "c.migrant",
    "income_decile": "c.income_decile",
}

#: Each attribute's value as the text the tables show, applied to grouped rows only.
_ATTRIBUTE_TEXT: dict[str, str] = {
    "sex": "sex::VARCHAR",
    "ethnic_group": "ethnic_group::VARCHAR",
    "age_band": "CASE age_band "
    + " ".join(f"WHEN {i} THEN '{label}'" for i, (_, _, label) in enumerate(AGE_BANDS))
    + " END",
    "district": "district::VARCHAR",
    "migrant": "CASE WHEN migrant THEN 'migrant' ELSE 'local' END",
    "income_decile": "income_decile::VARCHAR",
}

#: One row per person with the attributes' compact values.
_PEOPLE_VALUES = (
    "SELECT c.person_id, "
    + ", ".join(f"{v} AS {a}" for a, v in _ATTRIBUTE_VALUES.items())
    + " FROM citizens c"
)


def people(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per person: ``person_id`` and the group attributes, as text (for
    notebooks and :func:`person_arrays`; the tables never build it)."""
    text = ", ".join(f"{_ATTRIBUTE_TEXT[a]} AS {a}" for a in GROUP_ATTRIBUTES)
    df: pd.DataFrame = con.execute(
        f"SELECT person_id, {text} FROM ({_PEOPLE_VALUES}) ORDER BY person_id"
    ).df()
    for a in GROUP_ATTRIBUTES:
        df[a] = df[a].astype(str)
    return df


#: Per decision (its code), the people of one slice (``{slice:column}``: a condition on
#: a person id, :func:`_slices`) who received it or committed its act: the definitions of
#: the module's docstring over compact keys (a decision's code, a row's table as a
#: boolean and its key), so that the joins and aggregates carry ids and codes, not text.
_FLAGS = """
    WITH codes AS (SELECT * FROM audit_fairness_decisions),
    decision_rows AS (
        SELECT k.decision, true AS sanction, s.sanction_id AS decision_key,
               s.entity_id AS person_id, s.event_id
        FROM sanctions s JOIN codes k
          ON k.decision_table = 'sanctions'
         AND k.system IS NOT DISTINCT FROM s.system::VARCHAR
         AND k.kind IS NOT DISTINCT FROM s.kind::VARCHAR
         AND k.domain IS NOT DISTINCT FROM s.domain::VARCHAR
        WHERE s.entity_type = 'person' AND {slice:s.entity_id}
        UNION ALL
        SELECT k.decision, false, l.entry_id, l.entity_id, l.event_id
        FROM list_entries l JOIN codes k
          ON k.decision_table = 'list_entries'
         AND k.system IS NOT DISTINCT FROM l.system::VARCHAR
         AND k.kind = 'listed' AND k.domain IS NOT DISTINCT FROM l.list::VARCHAR
        WHERE l.entity_type = 'person' AND {slice:l.entity_id}),
    links AS (
        SELECT decision_table::VARCHAR = 'sanctions' AS sanction, decision_key, event_id
        FROM decision_events
        WHERE decision_table::VARCHAR IN ('sanctions', 'list_entries')),
    rests_on AS (
        SELECT sanction, decision_key, event_id AS rest_event
        FROM decision_rows WHERE event_id IS NOT NULL
        UNION
        SELECT r.sanction, r.decision_key, d.event_id
        FROM decision_rows r JOIN links d USING (sanction, decision_key)
        UNION
        SELECT true, s.sanction_id, d.event_id
        FROM sanctions s
        JOIN list_entries l ON l.system::VARCHAR = s.system::VARCHAR AND l.event_id = s.event_id
        JOIN decision_events d
          ON d.decision_table = 'list_entries' AND d.decision_key = l.entry_id
        WHERE s.entity_type = 'person' AND {slice:s.entity_id}),
    recipients AS (
        SELECT r.decision, r.person_id,
               coalesce(bool_or(e.entity_type = 'person' AND e.true_actor = r.person_id),
                        false) AS truth
        FROM decision_rows r
        LEFT JOIN rests_on o USING (sanction, decision_key)
        LEFT JOIN events e ON e.event_id = o.rest_event
        GROUP BY r.decision, r.person_id),
    doers AS (
        SELECT DISTINCT a.decision, e.true_actor AS person_id
        FROM audit_fairness_acts a JOIN events e ON e.kind::VARCHAR = a.act
        WHERE e.entity_type = 'person' AND e.true_actor IS NOT NULL
          AND {slice:e.true_actor})
    SELECT decision, person_id, r.person_id IS NOT NULL AS received,
           coalesce(r.truth, true) AS truth
    FROM recipients r FULL JOIN doers d USING (decision, person_id)
"""


def _slices(con: duckdb.DuckDBPyConnection) -> list[Callable[[str], str]]:
    """Slices of consecutive person ids of about :data:`PEOPLE_PER_SLICE` people each,
    as functions of a column to an SQL condition; together they hold every id once
    (those outside ``citizens``' range and NULL in the first or last slice)."""
    lo, hi = con.execute("SELECT min(person_id), max(person_id) FROM citizens").fetchall()[0]
    n = 1 if lo is None else max(1, math.ceil((hi - lo + 1) / PEOPLE_PER_SLICE))
    if n == 1:
        return [lambda column: "true"]
    cuts = [lo + i * PEOPLE_PER_SLICE for i in range(1, n)]

    def between(low: int | None, high: int | None) -> Callable[[str], str]:
        def condition(column: str) -> str:
            if low is None:
                return f"{column} < {high}"
            if high is None:
                return f"({column} >= {low} OR {column} IS NULL)"
            return f"{column} >= {low} AND {column} < {high}"

        return condition

    edges: list[int | None] = [None, *cuts, None]
    return [between(a, b) for a, b in itertools.pairwise(edges)]


def _in_slice(sql: str, person_in: Callable[[str], str]) -> str:
    """``sql`` with each ``{slice:column}`` replaced by the slice's condition on it."""
    return re.sub(r"\{slice:([a-z_.]+)\}", lambda m: person_in(m[1]), sql)


def _prepare(con: duckdb.DuckDBPyConnection) -> list[Decision]:
    """Create, once per connection, the temporary tables the tables are counted from, and
    return the decisions in the order of their codes (:func:`decisions`' order).

    ``audit_fairness_decisions``: ``decision`` (a code) and the decision's four fields.
    ``audit_fairness_acts``: ``decision`` and ``act``, the event kinds it rests on.
    ``audit_fairness_flags``: per decision, the people who received it or committed its
    act (all others did neither): ``decision, person_id, received, truth``. Rows of codes,
    ids and booleans: DuckDB holds them (and spills them under its memory limit), Python
    never does."""
    present = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'audit_fairness_flags'"
    ).fetchall()[0][0]
    if not present:
        listed = decisions(con)
        code = {d.label: i for i, d in enumerate(listed)}
        acts = [(code[label], act) for label, kinds in _acts(con).items() for act in kinds]
        small = {
            "audit_fairness_decisions": pa.table(
                {
                    "decision": pa.array(range(len(listed)), pa.uint16()),
                    "decision_table": pa.array([d.table for d in listed], pa.string()),
                    "system": pa.array([d.system for d in listed], pa.string()),
                    "kind": pa.array([d.kind for d in listed], pa.string()),
                    "domain": pa.array([d.domain for d in listed], pa.string()),
                }
            ),
            "audit_fairness_acts": pa.table(
                {
                    "decision": pa.array([c for c, _ in acts], pa.uint16()),
                    "act": pa.array([a for _, a in acts], pa.string()),
                }
            ),
        }
        for name, table in small.items():
            con.register("audit_fairness_small", table)
            try:
                con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM audit_fairness_small")
            finally:
                con.unregister("audit_fairness_small")
        for i, person_in in enumerate(_slices(con)):
            sql = _in_slice(_FLAGS, person_in)
            con.execute(
                f"CREATE TEMP TABLE audit_fairness_flags AS {sql}"
                if i == 0
                else f"INSERT INTO audit_fairness_flags {sql}"
            )
    rows = con.execute(
        "SELECT decision_table, system, kind, domain FROM audit_fairness_decisions "
        "ORDER BY decision"
    ).fetchall()
    return [Decision(*r) for r in rows]


def _acts(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Per decision label, the act kinds its rows rest on (empty: no truth)."""
    rows = con.execute(
        f"WITH {_DECISION_ROWS} SELECT decision_table, system, kind, domain, act "
        "FROM decision_acts ORDER BY ALL"
    ).fetchall()
    acts: dict[str, list[str]] = {}
    for *d, act in rows:
        acts.setdefault(Decision(*d).label, []).append(act)
    return acts


def _grouping_id(cols: Sequence[str], used: Sequence[str]) -> int:
    """DuckDB's ``GROUPING(used...)`` for a grouping by ``cols``: a bit per attribute of
    ``used``, the first the highest, set when the attribute is not grouped by."""
    n = len(used)
    return sum(1 << (n - 1 - i) for i, a in enumerate(used) if a not in cols)


def _grouped(
    con: duckdb.DuckDBPyConnection, source: str, keys: Sequence[str], sets: list[tuple[str, ...]]
) -> dict[tuple[str, ...], pd.DataFrame]:
    """Counts of ``source`` (rows with the attributes' compact values and ``keys``) for
    every grouping of ``sets``, in one pass: per grouping, ``keys``, its attributes as text
    and ``count``."""
    used = [a for a in GROUP_ATTRIBUTES if any(a in s for s in sets)]
    grouping_sets = ", ".join("(" + ", ".join([*keys, *cols]) + ")" for cols in sets)
    head = "".join(f"{k}, " for k in keys)
    sql = f"""
        SELECT {head}{", ".join(f"{_ATTRIBUTE_TEXT[a]} AS {a}" for a in used)},
               grouping_id, count
        FROM (SELECT {head}{", ".join(used)}, GROUPING({", ".join(used)}) AS grouping_id,
                     count(*) AS count
              FROM ({source}) GROUP BY GROUPING SETS ({grouping_sets}))
    """
    df: pd.DataFrame = con.execute(sql).df()
    ids = df["grouping_id"].to_numpy()
    return {cols: df.loc[ids == _grouping_id(cols, used), [*keys, *cols, "count"]] for cols in sets}


def _all_cells(
    con: duckdb.DuckDBPyConnection, sets: list[tuple[str, ...]], only: Sequence[Decision]
) -> dict[tuple[str, ...], pd.DataFrame]:
    """:func:`cells` of every grouping of ``sets``: two grouped passes in DuckDB (the
    people, and the flagged people joined to their attributes), then per grouping a few
    rows per (decision, group) in pandas."""
    codes = _prepare(con)
    wanted = [i for i, d in enumerate(codes) if d in set(only)]
    sizes_all = _grouped(con, _PEOPLE_VALUES, [], sets)
    keys = ["decision", "truth", "received"]
    sliced = [
        _grouped(
            con,
            f"SELECT f.decision, f.truth, f.received, p.* EXCLUDE (person_id) "
            f"FROM audit_fairness_flags f "
            f"JOIN ({_PEOPLE_VALUES} WHERE {person_in('c.person_id')}) p USING (person_id) "
            f"WHERE f.decision IN ({', '.join(map(str, wanted)) or 'NULL'}) "
            f"AND {person_in('f.person_id')}",
            keys,
            sets,
        )
        for person_in in _slices(con)
    ]
    # Counts of people add up over the slices (each person is in one).
    marked_all = {
        cols: sliced[0][cols]
        if len(sliced) == 1
        else pd.concat([s[cols] for s in sliced])
        .groupby([*keys, *cols], dropna=False, sort=False)["count"]
        .sum()
        .reset_index()
        for cols in sets
    }
    labels = [codes[i].label for i in wanted]
    out = {}
    for cols in sets:
        sizes, marked = sizes_all[cols], marked_all[cols]
        marked = pd.DataFrame(
            {
                "decision": [codes[i].label for i in marked["decision"]],
                **{a: marked[a].astype(str) for a in cols},
                "truth": marked["truth"].to_numpy(bool),
                "received": marked["received"].to_numpy(bool),
                "count": marked["count"].to_numpy(np.int64),
            }
        )
        sizes = pd.DataFrame(
            {
                **{a: sizes[a].astype(str) for a in cols},
                "people": sizes["count"].to_numpy(np.int64),
            }
        ).sort_values(list(cols))
        out[cols] = _assemble(marked, sizes.reset_index(drop=True), labels, list(cols))
    return out


def _assemble(
    marked: pd.DataFrame, sizes: pd.DataFrame, labels: list[str], cols: list[str]
) -> pd.DataFrame:
    """The cells of one grouping from the flagged people's cells (``marked``) and the
    groups' sizes: everyone not flagged for a decision neither received it nor committed
    its act."""
    per_group = marked.groupby(["decision", *cols], observed=True)["count"].sum()
    rest = pd.MultiIndex.from_product([labels, range(len(sizes))]).to_frame(
        index=False, name=["decision", "_g"]
    )
    rest = rest.join(sizes, on="_g").drop(columns="_g")
    rest = rest.join(per_group.rename("flagged"), on=["decision", *cols])
    rest["count"] = rest["people"] - rest["flagged"].fillna(0).astype(np.int64)
    rest["truth"] = False
    rest["received"] = False
    out = pd.concat([marked, rest[["decision", *cols, "truth", "received", "count"]]])
    out = out[out["count"] > 0].sort_values(["decision", *cols, "truth", "received"])
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class PersonArrays:
    """One row per person for one decision: what Fairlearn calls the full arrays.

    Attributes:
        y_true: Whether each person committed the act the decision rests on.
        y_pred: Whether each person received the decision at least once.
        sensitive_features: The grouping's attributes, one column each, as text.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    sensitive_features: pd.DataFrame


def _grouping(by: str | Sequence[str]) -> tuple[str, ...]:
    cols = (by,) if isinstance(by, str) else tuple(by)
    unknown = [c for c in cols if c not in GROUP_ATTRIBUTES]
    if not cols or unknown or len(set(cols)) != len(cols):
        raise ValueError(
            f"grouping {list(cols)}: expected one or two distinct attributes of "
            f"{', '.join(GROUP_ATTRIBUTES)}"
        )
    return cols


def person_arrays(
    con: duckdb.DuckDBPyConnection, decision: Decision, by: str | Sequence[str]
) -> PersonArrays:
    """The full arrays (one row per person, in ``person_id`` order) of one decision: for
    notebooks and the tests, which check the weighted cells against them (it grows with
    the population; the tables never build it)."""
    cols = _grouping(by)
    codes = _prepare(con)
    ppl = people(con)
    y_true = np.zeros(len(ppl), bool)
    y_pred = np.zeros(len(ppl), bool)
    if decision in codes:
        mine = con.execute(
            "SELECT f.person_id, f.truth, f.received FROM audit_fairness_flags f "
            "SEMI JOIN citizens c USING (person_id) WHERE f.decision = ?",
            [codes.index(decision)],
        ).fetchnumpy()
        at = ppl["person_id"].searchsorted(mine["person_id"])
        y_true[at] = np.asarray(mine["truth"], bool)
        y_pred[at] = np.asarray(mine["received"], bool)
    return PersonArrays(y_true, y_pred, ppl[list(cols)].reset_index(drop=True))


def cells(
    con: duckdb.DuckDBPyConnection,
    by: str | Sequence[str],
    only: Sequence[Decision] | None = None,
) -> pd.DataFrame:
    """Weighted cells: one row per (decision, group, truth, received) that holds people.

    Columns: ``decision``, the grouping's attributes, ``truth``, ``received``, ``count``.
    """
    cols = _grouping(by)
    return _all_cells(con, [cols], _prepare(con) if only is None else only)[cols]


def _count(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    return float(np.sum(sample_weight))


def _recipients(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    return float(np.sum(sample_weight * np.asarray(y_pred, bool)))


def _non_doers(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    return float(np.sum(sample_weight * ~np.asarray(y_true, bool)))


def _false_positives(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    wrong = np.asarray(y_pred, bool) & ~np.asarray(y_true, bool)
    return float(np.sum(sample_weight * wrong))


def notebook_metrics() -> dict[str, Callable[..., float]]:
    """The notebook MetricFrame's metrics: the two rates, from Fairlearn (what the tables
    report and compare), and the weighted counts behind them. Fairlearn (and
    scikit-learn under it) is imported here, when an audit runs, not when the command
    line starts."""
    from fairlearn.metrics import false_positive_rate, selection_rate

    return {
        "rate": selection_rate,
        "fpr": false_positive_rate,
        "people": _count,
        "recipients": _recipients,
        "non_doers": _non_doers,
        "false_positives": _false_positives,
    }


def _frame(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    sensitive: pd.DataFrame,
    weight: np.ndarray,
    control: pd.Series | None = None,
    metrics: dict[str, Callable[..., float]] | None = None,
) -> MetricFrame:
    from fairlearn.metrics import MetricFrame

    metrics = notebook_metrics() if metrics is None else metrics
    w = np.asarray(weight, float)
    return MetricFrame(
        metrics=metrics,
        y_true=np.asarray(y_true, int),
        y_pred=np.asarray(y_pred, int),
        sensitive_features=sensitive,
        control_features=control,
        sample_params={m: {"sample_weight": w} for m in metrics},
    )


def metric_frame(
    con: duckdb.DuckDBPyConnection, decision: Decision, by: str | Sequence[str]
) -> MetricFrame:
    """A Fairlearn ``MetricFrame`` of one decision by one grouping, from weighted cells.

    Metrics: ``rate`` (selection rate), ``fpr`` (false-positive rate), and the weighted
    counts ``people``, ``recipients``, ``non_doers`` and ``false_positives``. A group
    with no ``non_doers`` shows ``fpr`` 0 (Fairlearn's convention); the tables say NULL.

    Args:
        con: A connection to a run's ``run.duckdb``.
        decision: One of :func:`decisions`.
        by: One attribute of :data:`GROUP_ATTRIBUTES`, or two for their intersection.
    """
    cols = list(_grouping(by))
    if decision not in decisions(con):
        raise ValueError(f"no decision {decision.label} in this run")
    c = cells(con, cols, [decision])
    return _frame(c["truth"].to_numpy(), c["received"].to_numpy(), c[cols], c["count"].to_numpy())


def groupings() -> list[tuple[str, ...]]:
    """Every grouping the tables hold: each attribute, then each pair."""
    return [(a,) for a in GROUP_ATTRIBUTES] + list(itertools.combinations(GROUP_ATTRIBUTES, 2))


# -- intervals ---------------------------------------------------------------------------


def wilson_interval(
    successes: np.ndarray, trials: np.ndarray, z: float = _Z
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (Wilson 1927) for binomial proportions; NaN where trials = 0."""
    k = np.asarray(successes, float)
    n = np.asarray(trials, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = np.clip(centre - half, 0.0, 1.0)
    hi = np.clip(centre + half, 0.0, 1.0)
    # Exact at the edges (rounding would put them a hair inside).
    lo = np.where(k == 0, 0.0, lo)
    hi = np.where(k == n, 1.0, hi)
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def newcombe_difference(
    k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference p1 - p2 of independent proportions and Newcombe's hybrid score interval
    (Newcombe 1998, method 10), built from the two 95% Wilson intervals."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p1 = np.asarray(k1, float) / np.asarray(n1, float)
        p2 = np.asarray(k2, float) / np.asarray(n2, float)
    l1, u1 = wilson_interval(k1, n1)
    l2, u2 = wilson_interval(k2, n2)
    d = p1 - p2
    lo = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, lo, hi


def ratio_interval(
    k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio p1 / p2 of independent proportions with ``[low1/high2, high1/low2]`` from
    97.5% Wilson intervals: it covers when both intervals do, so with at least
    0.975² ≈ 95%. Ratio NaN where p2 = 0; upper limit inf where low2 = 0 (unbounded)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p1 = np.asarray(k1, float) / np.asarray(n1, float)
        p2 = np.asarray(k2, float) / np.asarray(n2, float)
        l1, u1 = wilson_interval(k1, n1, _Z_RATIO)
        l2, u2 = wilson_interval(k2, n2, _Z_RATIO)
        r = np.where(p2 > 0, p1 / p2, np.nan)
        lo = l1 / u2
        hi = np.where(l2 > 0, u1 / l2, np.inf)
    return r, lo, hi


# -- the tables --------------------------------------------------------------------------

_DECISION_COLUMNS = [
    ("decision", pa.string(), "system/kind/domain"),
    ("decision_table", pa.string(), "sanctions or list_entries"),
    ("system", pa.string(), "system that decided"),
    ("kind", pa.string(), "sanction kind, or 'listed'"),
    ("domain", pa.string(), "sanction domain, or the list's name"),
]


def _metric_columns(prefix: str, what: str, denom: str) -> list[tuple[str, pa.DataType, str]]:
    return [
        (f"{prefix}", pa.float64(), f"{what}: share of {denom} who received the decision"),
        (f"{prefix}_lower", pa.float64(), "95% Wilson interval, lower limit"),
        (f"{prefix}_upper", pa.float64(), "95% Wilson interval, upper limit"),
        (f"{prefix}_best_off", pa.bool_(), "this group is the best-off group"),
        (f"{prefix}_difference", pa.float64(), "group minus best-off group"),
        (f"{prefix}_difference_lower", pa.float64(), "95% Newcombe interval, lower limit"),
        (f"{prefix}_difference_upper", pa.float64(), "95% Newcombe interval, upper limit"),
        (f"{prefix}_ratio", pa.float64(), "group / best-off group; NULL if best-off is 0"),
        (f"{prefix}_ratio_lower", pa.float64(), ">=95% Wilson-quotient interval, lower"),
        (
            f"{prefix}_ratio_upper",
            pa.float64(),
            ">=95% Wilson-quotient interval, upper; NULL: unbounded",
        ),
        (f"{prefix}_small", pa.bool_(), "too small to judge (docs/fairness.md)"),
        (f"{prefix}_small_reason", pa.string(), "why it is flagged, else NULL"),
    ]


GROUP_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("grouping", pa.string(), "attribute, or two joined by ' x '"),
    ("attribute_1", pa.string(), "first attribute"),
    ("group_1", pa.string(), "its value"),
    ("attribute_2", pa.string(), "second attribute (intersections), else NULL"),
    ("group_2", pa.string(), "its value, else NULL"),
    *_DECISION_COLUMNS,
    ("people", pa.int64(), "people in the group"),
    ("recipients", pa.int64(), "of them, people who received the decision at least once"),
    *_metric_columns("rate", "selection rate", "the group"),
    ("non_doers", pa.int64(), "people of the group who did not commit the act"),
    ("false_positives", pa.int64(), "of them, people who received the decision"),
    *_metric_columns("fpr", "false-positive rate", "the group's non-doers"),
]

SUMMARY_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("grouping", pa.string(), "attribute, or two joined by ' x '"),
    *_DECISION_COLUMNS,
    ("groups", pa.int64(), "groups holding people"),
    ("small_groups", pa.int64(), "groups whose rate is flagged too small to judge"),
    ("overall_rate", pa.float64(), "selection rate of the whole population"),
    ("overall_fpr", pa.float64(), "false-positive rate of the whole population"),
    ("rate_best_off_group", pa.string(), "best-off group for the rate"),
    ("rate_difference_max", pa.float64(), "Fairlearn difference(): largest minus smallest"),
    ("rate_ratio_min", pa.float64(), "Fairlearn ratio(): smallest / largest"),
    ("fpr_best_off_group", pa.string(), "best-off group for the false-positive rate"),
    ("fpr_difference_max", pa.float64(), "Fairlearn difference() of the FPR"),
    ("fpr_ratio_min", pa.float64(), "Fairlearn ratio() of the FPR"),
]

DECISION_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    *_DECISION_COLUMNS,
    ("beneficial", pa.bool_(), "receiving it is good for the person (a reward)"),
    ("acts", pa.string(), "event kinds its rows rest on, comma-separated; NULL: none"),
    ("population", pa.int64(), "people in the run"),
    ("recipients", pa.int64(), "people who received it at least once"),
    ("wrongly_received", pa.int64(), "recipients who did not commit the act (NULL: no act)"),
    ("doers", pa.int64(), "people who committed the act (NULL when it rests on no act)"),
]

RULE_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("name", pa.string(), "parameter"),
    ("value", pa.string(), "its value"),
    ("meaning", pa.string(), "what it does and where it comes from"),
]


def _schema(columns: list[tuple[str, pa.DataType, str]]) -> pa.Schema:
    return pa.schema(
        [pa.field(n, t, metadata={"comment": c}) for n, t, c in columns],
    )


def _table(df: pd.DataFrame, columns: list[tuple[str, pa.DataType, str]]) -> pa.Table:
    schema = _schema(columns)
    data = {}
    for name, typ, _ in columns:
        values = df[name].tolist() if name in df else [None] * len(df)
        clean = [
            None if isinstance(v, float) and (math.isnan(v) or math.isinf(v)) else v for v in values
        ]
        data[name] = pa.array(clean, type=typ)
    return pa.Table.from_pydict(data, schema=schema)


def _small(n: np.ndarray, overall: float) -> tuple[np.ndarray, list[str | None]]:
    expected = np.minimum(n * overall, n * (1 - overall))
    small = (n < MIN_GROUP_SIZE) | (expected < MIN_EXPECTED)
    reasons: list[str | None] = []
    for ni, ei in zip(n, expected, strict=True):
        why = []
        if ni < MIN_GROUP_SIZE:
            why.append(f"{int(ni)} people < {MIN_GROUP_SIZE}")
        if ei < MIN_EXPECTED:
            why.append(f"expected count {ei:.2f} < {MIN_EXPECTED:g}")
        reasons.append("; ".join(why) if why else None)
    return small, reasons


def _compare(
    df: pd.DataFrame, prefix: str, k: str, n: str, overall: float, beneficial: bool
) -> str | None:
    """Fill one decision's rate (or FPR) columns for its groups; return the best-off."""
    kk = df[k].to_numpy(float)
    nn = df[n].to_numpy(float)
    lo, hi = wilson_interval(kk, nn)
    df[f"{prefix}_lower"], df[f"{prefix}_upper"] = lo, hi
    small, reasons = _small(nn, overall)
    df[f"{prefix}_small"] = small
    df[f"{prefix}_small_reason"] = reasons
    value = df[prefix].to_numpy(float)
    usable = ~np.isnan(value) & (nn > 0)
    pool = usable & ~small if (usable & ~small).any() else usable
    df[f"{prefix}_best_off"] = False
    if not pool.any():
        return None
    order = np.flatnonzero(pool)
    pick = order[np.argmax(value[order])] if beneficial else order[np.argmin(value[order])]
    df.iloc[pick, df.columns.get_loc(f"{prefix}_best_off")] = True
    kb = np.full(len(df), kk[pick])
    nb = np.full(len(df), nn[pick])
    d, dlo, dhi = newcombe_difference(kk, nn, kb, nb)
    r, rlo, rhi = ratio_interval(kk, nn, kb, nb)
    # The best-off group compared with itself: exactly 0 and 1.
    d[pick], dlo[pick], dhi[pick] = 0.0, 0.0, 0.0
    if kk[pick] > 0:
        r[pick], rlo[pick], rhi[pick] = 1.0, 1.0, 1.0
    df[f"{prefix}_difference"], df[f"{prefix}_difference_lower"] = d, dlo
    df[f"{prefix}_difference_upper"] = dhi
    df[f"{prefix}_ratio"], df[f"{prefix}_ratio_lower"], df[f"{prefix}_ratio_upper"] = r, rlo, rhi
    return str(df["_group"].iloc[pick])


def _grouping_tables(
    c: pd.DataFrame, cols: list[str], by_label: dict[str, Decision], acts: dict[str, list[str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from fairlearn.metrics import selection_rate

    rate_mf = _frame(
        c["truth"].to_numpy(),
        c["received"].to_numpy(),
        c[cols],
        c["count"].to_numpy(),
        control=c["decision"],
        metrics={"rate": selection_rate},
    )
    # The false-positive rate is the selection rate among the people who did not commit
    # the act: the same number as Fairlearn's false_positive_rate (the tests check it) at
    # half its cost per group, which builds no confusion matrix. Decisions with no act
    # have no non-doers to speak of, and groups with no non-doers no rate.
    neg = c[~c["truth"].to_numpy(bool) & c["decision"].isin(list(acts)).to_numpy(bool)]
    keys = ["decision", *cols]
    frames = [rate_mf]
    if len(neg):
        frames.append(
            _frame(
                neg["truth"].to_numpy(),
                neg["received"].to_numpy(),
                neg[cols],
                neg["count"].to_numpy(),
                control=neg["decision"],
                metrics={"fpr": selection_rate},
            )
        )
    by_group = pd.concat([f.by_group for f in frames], axis=1)
    overall = pd.concat([f.overall for f in frames], axis=1)
    diff = pd.concat([f.difference() for f in frames], axis=1)
    ratio = pd.concat([f.ratio() for f in frames], axis=1)
    for table in (by_group, overall, diff, ratio):
        if "fpr" not in table:
            table["fpr"] = np.nan
    # The counts behind the rates (for the intervals): sums of the cells' weights; the
    # tests check them against the notebook MetricFrame's weighted counts.
    received = c["received"].to_numpy(bool)
    doer = c["truth"].to_numpy(bool)
    counts = pd.DataFrame(
        {
            **{k: c[k] for k in keys},
            "people": c["count"],
            "recipients": c["count"] * received,
            "non_doers": c["count"] * ~doer,
            "false_positives": c["count"] * (received & ~doer),
        }
    )
    counts = counts.groupby(keys, observed=True, sort=False).sum()
    groups = by_group.join(counts, how="inner").reset_index()
    groups = groups[groups["people"] > 0].copy()
    name = " x ".join(cols)
    out_groups, out_summary = [], []
    for label, g in groups.groupby("decision", sort=True):
        d = by_label[str(label)]
        g = g.copy()
        g["_group"] = g[cols].astype(str).agg(" / ".join, axis=1)
        for col in ("people", "recipients", "non_doers", "false_positives"):
            g[col] = g[col].round().astype(np.int64)
        truth = bool(acts.get(d.label))
        if not truth:
            g["fpr"] = np.nan
        g.loc[g["non_doers"] == 0, "fpr"] = np.nan
        o_rate = float(overall.loc[label, "rate"])
        o_fpr = float(overall.loc[label, "fpr"]) if truth else math.nan
        best_rate = _compare(g, "rate", "recipients", "people", o_rate, d.beneficial)
        best_fpr = (
            _compare(g, "fpr", "false_positives", "non_doers", o_fpr, d.beneficial)
            if truth
            else None
        )
        if not truth:
            # Without an act there are no non-doers to count, only people.
            for col in ("non_doers", "false_positives", "fpr_small"):
                g[col] = None
        g["grouping"] = name
        g["attribute_1"], g["group_1"] = cols[0], g[cols[0]]
        g["attribute_2"] = cols[1] if len(cols) > 1 else None
        g["group_2"] = g[cols[1]] if len(cols) > 1 else None
        for field in ("decision_table", "system", "kind", "domain"):
            g[field] = getattr(d, "table" if field == "decision_table" else field)
        out_groups.append(g)
        out_summary.append(
            {
                "grouping": name,
                "decision": d.label,
                "decision_table": d.table,
                "system": d.system,
                "kind": d.kind,
                "domain": d.domain,
                "groups": len(g),
                "small_groups": int(g["rate_small"].sum()),
                "overall_rate": o_rate,
                "overall_fpr": o_fpr,
                "rate_best_off_group": best_rate,
                "rate_difference_max": float(diff.loc[label, "rate"]),
                "rate_ratio_min": float(ratio.loc[label, "rate"]),
                "fpr_best_off_group": best_fpr,
                "fpr_difference_max": float(diff.loc[label, "fpr"]) if truth else None,
                "fpr_ratio_min": float(ratio.loc[label, "fpr"]) if truth else None,
            }
        )
    return pd.concat(out_groups), pd.DataFrame(out_summary)


def _rules() -> pd.DataFrame:
    bands = ", ".join(label for _, _, label in AGE_BANDS)
    rows = [
        ("min_group_size", str(MIN_GROUP_SIZE), "a rate over fewer people is flagged small"),
        (
            "min_expected",
            f"{MIN_EXPECTED:g}",
            "flagged small when people x overall rate, or people x (1 - rate), is under it",
        ),
        ("confidence", f"{CONFIDENCE:g}", "coverage of every interval"),
        ("rate_interval", "Wilson score", "rates and false-positive rates"),
        ("difference_interval", "Newcombe hybrid score", "group minus best-off group"),
        ("ratio_interval", "quotient of 97.5% Wilson limits", "group / best-off group"),
        ("age_bands", bands, "completed years at the run's start date, from birth_date"),
        ("weights", "people per (decision, group, truth, received) cell", "exact for all"),
    ]
    return pd.DataFrame(rows, columns=["name", "value", "meaning"])


def compute(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """The fairness tables of a finished run.

    Returns:
        ``fairness_groups`` (one row per grouping, group and decision),
        ``fairness_summary`` (one row per grouping and decision, with Fairlearn's
        between-group difference and ratio), ``fairness_decisions`` (one row per
        decision: its acts and counts) and ``fairness_rules`` (the rules applied).
    """
    all_decisions = _prepare(con)
    acts = _acts(con)
    by_label = {d.label: d for d in all_decisions}
    population = int(con.execute("SELECT count(*) FROM citizens").fetchall()[0][0])
    group_frames, summary_frames = [], []
    # Groups are groups of people: a run without citizens (or decisions) has none.
    if all_decisions and population:
        for cols, c in _all_cells(con, groupings(), all_decisions).items():
            g, s = _grouping_tables(c, list(cols), by_label, acts)
            group_frames.append(g)
            summary_frames.append(s)
    groups = pd.concat(group_frames) if group_frames else pd.DataFrame()
    summary = pd.concat(summary_frames) if summary_frames else pd.DataFrame()
    counts = {
        code: (recipients, wrongly, doers)
        for code, recipients, wrongly, doers in con.execute(
            "SELECT decision, count(*) FILTER (WHERE received), "
            "count(*) FILTER (WHERE received AND NOT truth), count(*) FILTER (WHERE truth) "
            "FROM audit_fairness_flags GROUP BY decision"
        ).fetchall()
    }
    dec_rows = []
    for code, d in enumerate(all_decisions):
        recipients, wrongly, doers = counts.get(code, (0, 0, 0))
        kinds = acts.get(d.label)
        dec_rows.append(
            {
                "decision": d.label,
                "decision_table": d.table,
                "system": d.system,
                "kind": d.kind,
                "domain": d.domain,
                "beneficial": d.beneficial,
                "acts": ",".join(kinds) if kinds else None,
                "population": population,
                "recipients": int(recipients),
                "wrongly_received": int(wrongly) if kinds else None,
                "doers": int(doers) if kinds else None,
            }
        )
    return {
        "fairness_groups": _table(groups, GROUP_COLUMNS),
        "fairness_summary": _table(summary, SUMMARY_COLUMNS),
        "fairness_decisions": _table(pd.DataFrame(dec_rows), DECISION_COLUMNS),
        "fairness_rules": _table(_rules(), RULE_COLUMNS),
    }
