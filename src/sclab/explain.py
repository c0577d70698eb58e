"""One person's (or company's) story in a run: ``sclab explain DIR --person ID``.

Core objects:
    :func:`explain`: a run directory and a person (person id or resident ID) or company
        (company id or USCC) to a :class:`Story`.
    :class:`Story`: the entity's attributes and one timeline of :class:`StoryRow`: its true
        acts, what the system recorded of them and in their name (and where the record is
        wrong), every score change, list entry and exit, sanction and reward with its rule
        and the events it rests on, its resource moments, and the harm class of each
        decision.
    :func:`reproduce`: the entity's true acts and resource moments, from a rerun in memory.
    :func:`harm_classes`: the harm class of each of the entity's adverse decisions, from
        the audit's classification (:func:`sclab.audit.harm.classify_sql`).

True acts are not stored (they live for one day in ``sim.acts``). Explain reproduces them
by running the recorded scenario again, with the recorded policy texts
(:mod:`sclab.rerun`), in memory: no database is written, and an observer
(``Simulation.run(before_day_ends=...)``) keeps each day the acts and moments of the one
entity before the day's acts are dropped. Same seed and scenario give the same draws, so
these are the run's own acts; :attr:`Story.unmatched` lists the entity's recorded events
that no reproduced act explains (a run made by another sclab may differ), and is empty for
a faithful reproduction. Streams kept only as per-person totals (posts, purchases,
crossings) have no days: they are shown as totals from the ``aggregates`` table.

Everything else comes from the run's tables: ``events`` (``attributed_to`` beside
``true_actor`` and ``error``), ``score_changes``, ``list_entries``, ``sanctions``,
``decision_events``, ``aggregates``, ``kinds`` and ``policies`` (for the joint measures'
``applies_to``). Harm classes are the audit's (one definition, in ``docs/audit.md``): its
classification is run on the same read-only connection, restricted to the entity.
Decisions the audit does not classify (rewards, score rises, redlist entries: none of them
adverse) carry :data:`NOT_ADVERSE`. Cost: one rerun of the whole scenario (the time and
memory of the run itself) plus a few indexed reads and the audit's classification query.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np

from sclab.audit.harm import CLASSES, classify_sql
from sclab.audit.policies import register_facts
from sclab.engine.acts import OUTCOMES
from sclab.engine.simulation import Simulation
from sclab.errors import SclabError
from sclab.feasibility import check_feasibility
from sclab.policy.loader import PolicyError, pinned_policy_texts
from sclab.policy.schema import Policy
from sclab.population import generate_population
from sclab.rerun import DATABASE, RecordedRun, read_recorded_run
from sclab.run import load_builtin_components
from sclab.store.description import policy_sources
from sclab.store.manifest import NotARunError
from sclab.yamlfile import load_yaml, validate

EntityType = Literal["person", "company"]

#: The harm class of a decision the audit does not classify because it penalises nobody
#: (a reward, a score rise, a redlist entry): shown as such rather than left empty, so
#: every decision row says what it is.
NOT_ADVERSE = "not adverse"
#: What a decision row's ``harm`` can be: the audit's classes, in their order of
#: precedence, then :data:`NOT_ADVERSE`.
HARM_CLASSES = (*CLASSES, NOT_ADVERSE)

#: Sanction kinds a joint measure writes for a resource moment it decides.
MOMENT_SANCTIONS = frozenset({"blocked", "priced_up", "reward"})

#: The order of rows within a day: the act, its records, the decisions, the attempts.
_ORDER = {
    "act": 0,
    "record": 1,
    "record elsewhere": 2,
    "score change": 3,
    "list entry": 4,
    "list exit": 5,
    "sanction": 6,
    "attempt": 7,
    "totals": 8,
}

_RESIDENT_ID = re.compile(r"^\d{17}[\dXx]$")
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")


#: Entity type → its table, id column, code column and the code's form.
_NAMES: dict[str, tuple[str, str, str, re.Pattern[str]]] = {
    "person": ("citizens", "person_id", "resident_id", _RESIDENT_ID),
    "company": ("companies", "company_id", "uscc", _USCC),
}


class UnknownEntityError(SclabError):
    """A person or company the run does not have."""


@dataclass(frozen=True)
class StoryRow:
    """One line of the timeline.

    Attributes:
        day: Simulation day (< 0: before the run); None for run totals.
        date: Calendar date of ``day``.
        what: act, record, record elsewhere (their act recorded in another's name),
            score change, list entry, list exit, sanction, attempt (a resource moment)
            or totals.
        kind: The act, event or moment kind, the score, the list or the sanction kind.
        detail: What happened, in words.
        rule: ``system:rule_id`` behind a decision.
        events: Recorded events (``events.event_id``) the row is or rests on.
        wrong: A record attributed to someone other than its true actor or with an error;
            a decision flagged ``wrongful``; None where it does not apply (acts).
        harm: Harm class of a decision: the audit's class of an adverse one, else
            :data:`NOT_ADVERSE` (:data:`HARM_CLASSES`); None for other rows.
    """

    day: int | None
    date: dt.date | None
    what: str
    kind: str
    detail: str
    rule: str | None = None
    events: tuple[int, ...] = ()
    wrong: bool | None = None
    harm: str | None = None


@dataclass(frozen=True)
class TrueAct:
    """One reproduced true act of the entity (``day``: its true day)."""

    day: int
    kind: str
    source: str
    details: dict[str, float | int | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Attempt:
    """One reproduced resource moment of (or for) the entity, with its decided outcome."""

    day: int
    kind: str
    source: str
    role: str  # actor, or beneficiary (a child's school place applied for by a parent)
    outcome: str
    price_factor: float


@dataclass(frozen=True)
class Story:
    """One entity's story in a run."""

    run_dir: Path
    entity_type: EntityType
    entity_id: int
    #: The entity's row in ``citizens`` or ``companies``.
    attributes: dict[str, Any]
    rows: list[StoryRow]
    acts: list[TrueAct]
    attempts: list[Attempt]
    #: Recorded events whose true actor is the entity and which no reproduced act of the
    #: same day and kind explains: (event_id, day, kind). Empty when faithful.
    unmatched: list[tuple[int, int, str]]

    @property
    def faithful(self) -> bool:
        return not self.unmatched

    def decisions(self) -> list[StoryRow]:
        """The rows that are decisions about the entity (those with a harm class)."""
        return [r for r in self.rows if r.harm is not None]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary (dates as ISO text)."""

        def plain(value: Any) -> Any:
            if isinstance(value, dt.date):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            if isinstance(value, np.generic):
                return value.item()
            return value

        return {
            "run_dir": str(self.run_dir),
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "attributes": plain(self.attributes),
            "faithful": self.faithful,
            "unmatched": [list(u) for u in self.unmatched],
            "rows": [plain(asdict(r)) for r in self.rows],
            "acts": [plain(asdict(a)) for a in self.acts],
            "attempts": [plain(asdict(a)) for a in self.attempts],
        }


# -- harm classes -------------------------------------------------------------------------


def harm_classes(
    con: duckdb.DuckDBPyConnection, entity_type: str, entity_id: int
) -> dict[tuple[str, int], str]:
    """(decision table, decision key) → harm class of each adverse decision naming the
    entity, by the audit's classification (:func:`sclab.audit.harm.classify_sql`, the one
    definition of the classes); decisions it does not list are not adverse.

    The classification is the audit's whole query filtered on the entity: DuckDB pushes
    the filter into the decisions it scans, and the run is opened read-only (the policy
    facts it joins are registered on the connection, not written).
    """
    register_facts(con)
    return {
        (str(t), int(k)): str(c)
        for t, k, c in con.execute(
            f"SELECT decision_table, decision_key, class FROM ({classify_sql()}) "
            "WHERE entity_type = ? AND entity = ?",
            [entity_type, entity_id],
        ).fetchall()
    }


# -- reproducing true acts ----------------------------------------------------------------


@dataclass
class _Observer:
    """Keeps one entity's acts and moments each day, before the day's acts are dropped."""

    entity_type: str
    entity_id: int
    acts: list[TrueAct] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)

    def __call__(self, sim: Simulation) -> None:
        for batch in sim.acts.today:
            if batch.entity_type != self.entity_type or not len(batch):
                continue
            for i in np.flatnonzero(batch.actor == self.entity_id):
                extra = {k: v[i].item() for k, v in batch.extra.items() if len(v) == len(batch)}
                # Acts from before the run (a warm start) carry their true past day.
                day = int(extra.pop("occurred_day", batch.day))
                self.acts.append(TrueAct(day, batch.kind, batch.source, extra))
        for m in sim.moments.today:
            if m.entity_type != self.entity_type or not len(m):
                continue
            for role, who in (("actor", m.actor), ("beneficiary", m.beneficiary)):
                if who is None:
                    continue
                for i in np.flatnonzero(who == self.entity_id):
                    self.attempts.append(
                        Attempt(
                            m.day,
                            m.kind,
                            m.source,
                            role,
                            OUTCOMES[int(m.outcome[i])],
                            float(m.price_factor[i]),
                        )
                    )


def reproduce(
    recorded: RecordedRun, entity_type: EntityType, entity_id: int
) -> tuple[list[TrueAct], list[Attempt]]:
    """The entity's true acts and resource moments, by running the recorded scenario again
    in memory (the recorded policy texts compiled; nothing written).

    Raises:
        NotARunError: the run does not record the text of a policy its scenario names.
    """
    load_builtin_components()
    scenario = recorded.scenario
    missing = [s for s in policy_sources(scenario) if s not in recorded.policy_texts]
    if missing:
        raise NotARunError(
            f"{DATABASE}: no recorded text for policy '{missing[0]}'",
            source=str(recorded.directory),
        )
    check_feasibility(scenario)  # the rerun needs the run's memory: refuse what cannot fit
    streams = scenario.streams()
    population = generate_population(scenario, streams)
    observer = _Observer(entity_type, entity_id)
    # No sinks: the events, decisions and moments are numbered and decided as in the run,
    # and dropped at the end of each day.
    with pinned_policy_texts(recorded.policy_texts):
        sim = Simulation.assemble(scenario, streams, population)
        sim.setup()
        sim.run(finish=False, before_day_ends=observer)
    return observer.acts, observer.attempts


# -- reading the run ----------------------------------------------------------------------


def _rows(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def resolve_entity(
    con: duckdb.DuckDBPyConnection, person: str | None, company: str | None, where: str
) -> tuple[EntityType, int, dict[str, Any]]:
    """The entity named by ``person`` (person id or resident ID) or ``company`` (company id
    or USCC), with its row.

    Raises:
        UnknownEntityError: neither or both given, or no such entity in the run.
    """
    if (person is None) == (company is None):
        raise UnknownEntityError("give one of --person ID|RESIDENT_ID or --company ID|USCC")
    entity: EntityType = "person" if person is not None else "company"
    text = str(person if person is not None else company).strip()
    table, key, code, pattern = _NAMES[entity]
    option = f"--{entity}"
    if pattern.match(text.upper()):
        found = _rows(con, f"SELECT * FROM {table} WHERE {code} = ?", text.upper())
    elif text.isdigit():
        # Row indices fit in 32 bits (docs/database.md); a longer number names nobody.
        found = (
            _rows(con, f"SELECT * FROM {table} WHERE {key} = ?", int(text))
            if len(text) < 12
            else []
        )
    else:
        raise UnknownEntityError(
            f"expected a {key} (a number) or an 18-character {code} (got '{text}')",
            source=option,
        )
    if not found:
        raise UnknownEntityError(f"no {entity} '{text}' in this run", source=where, field=option)
    return entity, int(found[0][key]), found[0]


def _joint_applies_to(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[str]]:
    """(system, joint measure id) → its ``applies_to``, from the compiled policy texts."""
    out: dict[tuple[str, str], list[str]] = {}
    for source, text in con.execute("SELECT source, yaml FROM policies").fetchall():
        policy = validate(load_yaml(text, f"{source} (recorded)", PolicyError), Policy, PolicyError)
        for j in policy.joint:
            out[(policy.system_name, j.id)] = list(j.applies_to)
    return out


def explain(
    run_dir: Path | str,
    person: str | int | None = None,
    company: str | int | None = None,
    *,
    reproduce_acts: bool = True,
) -> Story:
    """The story of one person or company in the run at ``run_dir``.

    Args:
        run_dir: A run directory (``sclab run --out``).
        person: A person id or resident ID.
        company: A company id or USCC.
        reproduce_acts: Rerun the scenario to reproduce the true acts (the cost of the
            run itself); False tells the story from the tables alone (no acts, no
            attempts of kinds the run does not store, no faithfulness check).

    Raises:
        NotARunError: ``run_dir`` is not a run (or lacks what a rerun needs).
        UnknownEntityError: no such person or company in the run.
    """
    directory = Path(run_dir)
    recorded = read_recorded_run(directory)
    con = duckdb.connect(str(directory / DATABASE), read_only=True)
    try:
        entity_type, entity_id, attributes = resolve_entity(
            con,
            None if person is None else str(person),
            None if company is None else str(company),
            str(directory),
        )
        start = con.execute("SELECT start_date FROM run_info").fetchall()[0][0]
        acts, attempts = reproduce(recorded, entity_type, entity_id) if reproduce_acts else ([], [])
        tables = _Tables(con, entity_type, entity_id, start)
        rows = tables.story_rows(acts, attempts, stored_attempts=not reproduce_acts)
        unmatched = tables.unmatched(acts) if reproduce_acts else []
    finally:
        con.close()
    return Story(directory, entity_type, entity_id, attributes, rows, acts, attempts, unmatched)


class _Tables:
    """The run's tables, read for one entity."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, entity_type: str, entity_id: int, start: dt.date
    ) -> None:
        self.con = con
        self.type = entity_type
        self.id = entity_id
        self.start = start
        kinds = _rows(con, "SELECT name, category, of_act FROM kinds")
        self.of_act = {k["name"]: k["of_act"] for k in kinds if k["category"] == "event"}
        #: (day, moment kind) → the joint measures' decisions on the entity's moments
        #: (rule, events, wrongful), filled by decision_rows.
        self.moment_decisions: dict[tuple[int, str], list[tuple[str, list[int], bool]]] = {}

    def date(self, day: int | None) -> dt.date | None:
        return None if day is None else self.start + dt.timedelta(days=int(day))

    def row(self, day: int | None, what: str, kind: str, detail: str, **more: Any) -> StoryRow:
        return StoryRow(day, self.date(day), what, kind, detail, **more)

    # -- records --------------------------------------------------------------------------

    def own_events(self) -> list[dict[str, Any]]:
        """Events attributed to the entity or whose true actor it is."""
        return _rows(
            self.con,
            "SELECT event_id, day, recorded_day, kind::VARCHAR AS kind, true_actor, "
            "attributed_to, error::VARCHAR AS error, amount, ground, place_id, match_score, "
            "records, last_day FROM events WHERE entity_type = ? "
            "AND (attributed_to = ? OR true_actor = ?) ORDER BY event_id",
            self.type,
            self.id,
            self.id,
        )

    def record_rows(self) -> list[StoryRow]:
        out = []
        for e in self.own_events():
            mine = e["attributed_to"] == self.id
            truth = e["true_actor"]
            wrong = truth != e["attributed_to"] or e["error"] is not None
            facts = [f"recorded on day {e['recorded_day']}"]
            if (e["records"] or 1) > 1:
                # A bundle: several records from before the run that no policy tells apart.
                facts = [
                    f"{e['records']} records of acts from day {e['day']} to day "
                    f"{e['last_day']}, the first recorded on day {e['recorded_day']}"
                ]
            for name in ("amount", "ground", "place_id", "match_score"):
                if e[name] is not None:
                    value = e[name]
                    facts.append(
                        f"{name} {value:.2f}" if isinstance(value, float) else f"{name} {value}"
                    )
            if mine:
                who = (
                    "their own act"
                    if truth == self.id
                    else "nobody's act"
                    if truth is None
                    else f"the act of {self.type} {truth}"
                )
                what = "record"
            else:
                to = e["attributed_to"]
                who = "recorded as nobody's" if to is None else f"recorded in the name of {to}"
                what = "record elsewhere"
            error = f"; error {e['error']}" if e["error"] else ""
            detail = f"{who}; {', '.join(facts)}{error}"
            out.append(
                self.row(
                    e["day"], what, e["kind"], detail, events=(int(e["event_id"]),), wrong=wrong
                )
            )
        return out

    def unmatched(self, acts: Iterable[TrueAct]) -> list[tuple[int, int, str]]:
        """The entity's true records (``true_actor`` = entity) no reproduced act explains."""
        have = {(a.day, a.kind) for a in acts}
        out = []
        for e in self.own_events():
            if e["true_actor"] != self.id:
                continue
            candidates = {e["kind"], self.of_act.get(e["kind"]) or e["kind"]}
            # A bundle's first and last records are of acts on its first and last days.
            days = {e["day"]} if e["last_day"] is None else {e["day"], e["last_day"]}
            if not all(any((d, k) in have for k in candidates) for d in days):
                out.append((int(e["event_id"]), int(e["day"]), e["kind"]))
        return out

    # -- decisions ------------------------------------------------------------------------

    def _links(self, table: str) -> dict[int, list[int]]:
        key = {"score_changes": "change_id", "list_entries": "entry_id", "sanctions": "sanction_id"}
        out: dict[int, list[int]] = {}
        for k, ev in self.con.execute(
            f"SELECT d.decision_key, d.event_id FROM decision_events d JOIN {table} t "
            f"ON d.decision_table = ? AND d.decision_key = t.{key[table]} "
            "WHERE t.entity_type = ? AND t.entity_id = ?",
            [table, self.type, self.id],
        ).fetchall():
            out.setdefault(int(k), []).append(int(ev))
        return out

    def decision_rows(self) -> list[StoryRow]:
        applies_to = _joint_applies_to(self.con)
        found: list[tuple[str, dict[str, Any], list[int]]] = []
        for table, sql in (
            (
                "score_changes",
                "SELECT change_id AS key, day, system::VARCHAR AS system, score::VARCHAR AS score, "
                "delta, value, rule_id::VARCHAR AS rule_id, event_id, wrongful FROM score_changes",
            ),
            (
                "list_entries",
                "SELECT entry_id AS key, start_day AS day, end_day, end_reason::VARCHAR AS "
                "end_reason, system::VARCHAR AS system, list::VARCHAR AS list, "
                "rule_id::VARCHAR AS rule_id, event_id, wrongful FROM list_entries",
            ),
            (
                "sanctions",
                "SELECT sanction_id AS key, day, system::VARCHAR AS system, domain::VARCHAR AS "
                "domain, kind::VARCHAR AS kind, rule_id::VARCHAR AS rule_id, event_id, wrongful "
                "FROM sanctions",
            ),
        ):
            links = self._links(table)
            for r in _rows(
                self.con, f"{sql} WHERE entity_type = ? AND entity_id = ?", self.type, self.id
            ):
                events = set(links.get(int(r["key"]), []))
                if r["event_id"] is not None:
                    events.add(int(r["event_id"]))
                found.append((table, r, sorted(events)))
        classes = harm_classes(self.con, self.type, self.id)
        out = []
        for table, r, evs in found:
            rule = f"{r['system']}:{r['rule_id']}"
            wrongful = bool(r["wrongful"])
            if table == "score_changes":
                kind, what = f"{r['system']}:{r['score']}", "score change"
                detail = f"{r['delta']:+g} to {r['value']:g}"
            elif table == "list_entries":
                kind, what = f"{r['system']}:{r['list']}", "list entry"
                detail = "listed" + (
                    " (still listed at the end)"
                    if r["end_day"] is None
                    else f" until day {r['end_day']} ({r['end_reason']})"
                )
            else:
                if r["kind"] in MOMENT_SANCTIONS:
                    at = self.moment_decisions.setdefault((int(r["day"]), r["domain"]), [])
                    at.append((rule, evs, wrongful))
                kind, what = r["kind"], "sanction"
                detail = f"{r['kind']} at {r['domain']}"
                joint = applies_to.get((r["system"], r["rule_id"]))
                if joint is not None:
                    detail += f" (joint measure for {', '.join(joint)})"
            harm = classes.get((table, int(r["key"])), NOT_ADVERSE)
            row = self.row(
                r["day"],
                what,
                kind,
                detail,
                rule=rule,
                events=tuple(evs),
                wrong=wrongful,
                harm=harm,
            )
            out.append(row)
            if table == "list_entries" and r["end_day"] is not None:
                out.append(
                    self.row(
                        r["end_day"],
                        "list exit",
                        kind,
                        f"removed ({r['end_reason']})",
                        rule=rule,
                        events=tuple(evs),
                        wrong=wrongful,
                    )
                )
        return out

    # -- acts, attempts, totals -----------------------------------------------------------

    def act_rows(self, acts: Sequence[TrueAct]) -> list[StoryRow]:
        out = []
        for a in acts:
            facts = ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in a.details.items()
            )
            detail = f"true act ({a.source})" + (f": {facts}" if facts else "")
            out.append(self.row(a.day, "act", a.kind, detail))
        return out

    def attempt_rows(self, attempts: Sequence[Attempt], stored: bool) -> list[StoryRow]:
        if stored:  # the table's moments (kinds the run keeps one by one)
            found = _rows(
                self.con,
                "SELECT day, kind::VARCHAR AS kind, actor, beneficiary, outcome::VARCHAR AS "
                "outcome, price_factor FROM resource_moments WHERE entity_type = ? "
                "AND (actor = ? OR beneficiary = ?) ORDER BY moment_id",
                self.type,
                self.id,
                self.id,
            )
            attempts = [
                Attempt(
                    r["day"],
                    r["kind"],
                    "resource_moments",
                    "actor" if r["actor"] == self.id else "beneficiary",
                    r["outcome"],
                    float(r["price_factor"]),
                )
                for r in found
            ]
        out = []
        for m in attempts:
            price = f", price x{m.price_factor:g}" if m.price_factor != 1 else ""
            role = "" if m.role == "actor" else " (applied for them by another)"
            detail = f"{m.outcome}{price}{role}"
            # The sanction rows of the same day and kind say which measures decided it
            # (sanctions and moments share no key: a day's moments of one kind for one
            # entity are decided alike).
            decided = (
                self.moment_decisions.get((m.day, m.kind), []) if m.outcome != "allowed" else []
            )
            rules = ", ".join(sorted({rule for rule, _, _ in decided})) or None
            events = tuple(sorted({e for _, evs, _ in decided for e in evs}))
            wrong = any(w for _, _, w in decided) if decided else None
            out.append(
                self.row(m.day, "attempt", m.kind, detail, rule=rules, events=events, wrong=wrong)
            )
        return out

    def total_rows(self, acts: Sequence[TrueAct]) -> list[StoryRow]:
        shown: dict[str, int] = {}
        for a in acts:
            shown[a.kind] = shown.get(a.kind, 0) + 1
        out = []
        for kind, count, amount in self.con.execute(
            "SELECT kind::VARCHAR, count, amount FROM aggregates WHERE entity_type = ? "
            "AND entity_id = ? ORDER BY kind",
            [self.type, self.id],
        ).fetchall():
            money = f", {amount:,.2f} yuan" if amount else ""
            note = (
                f"the {shown[kind]} kept one by one are also rows above, the others' days "
                "are not kept"
                if shown.get(kind)
                else "their days are not kept"
            )
            detail = f"{count} acts over the run{money} (a total: {note})"
            out.append(self.row(None, "totals", kind, detail))
        return out

    def story_rows(
        self, acts: Sequence[TrueAct], attempts: Sequence[Attempt], stored_attempts: bool
    ) -> list[StoryRow]:
        rows = [*self.act_rows(acts), *self.record_rows(), *self.decision_rows()]
        rows += self.attempt_rows(attempts, stored_attempts)  # after the decisions they cite
        rows.sort(key=lambda r: (r.day, _ORDER[r.what], r.events, r.kind))
        return rows + self.total_rows(acts)


def summary(story: Story) -> str:
    """One line: how many acts, records (wrong ones) and decisions per harm class."""
    count = {w: sum(r.what == w for r in story.rows) for w in _ORDER}
    wrong = sum(bool(r.wrong) for r in story.rows if r.what in ("record", "record elsewhere"))
    harms = [r.harm for r in story.decisions()]
    by_class = ", ".join(f"{harms.count(h)} {h}" for h in HARM_CLASSES if h in harms)
    return (
        f"{count['act']} true acts, {count['record'] + count['record elsewhere']} records "
        f"({wrong} wrong), {len(harms)} decisions" + (f" ({by_class})" if by_class else "")
    )
