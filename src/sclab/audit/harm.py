"""Harm accounting: every adverse decision of a run in one of three harm classes, or rightful.

Core objects:
    :func:`classify`: one row per adverse decision (a sanction other than a reward or a lift, an
        entry on a blacklist, a score change that lowers a score) with its system, rule,
        kind, reader-facing domain, entity, day, harm class and flags.
    :func:`compute`: the ``harm_*`` tables: the decisions, and their counts (decisions,
        distinct people and companies) by class, by system, by sanction kind and by
        domain, with person-days on lists by class.
    :data:`DOMAINS`: the stored ``sanctions.domain`` labels → the domains a reader sees.
    :data:`CLASSES`: the harm classes, in their order of precedence, then ``rightful``.

The classes (``docs/audit.md``): ``error``, the decision rests on an erroneous record (the
run's but-for ``wrongful`` flag); ``other_conduct``, the decision names someone other than
the entity whose record, listing or score triggered it (a child for a parent, a legal
representative for a company, a person for a tie); ``design``, the decision rests on a
correct record of lawful conduct (the catalogue's ``lawful`` fact of the record's kind),
or on a factor score's platform totals, attributes and ties alone; ``rightful``, the rest.
A decision that fits two classes is counted once, in the first of them.

All the work is SQL over the stored tables: the audit must take minutes on a city-sized
year, and the decisions are millions of rows.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from sclab.audit.policies import register_facts
from sclab.audit.storage import Query
from sclab.policy.schema import BENEFICIAL_SANCTION_KINDS

#: Harm classes in order of precedence, then the remainder.
CLASSES = ("error", "other_conduct", "design", "rightful")

#: Stored domain label (``sanctions.domain``: a moment kind for joint measures, the rule's
#: domain for rules' sanctions) → the domain a reader sees. Labels not listed here fall
#: back on the sanction's kind (:data:`KIND_DOMAINS`), then ``other``.
DOMAINS: dict[str, str] = {
    "roadside_screen": "display",
    "honour_board": "display",
    "sms": "SMS",
    "flight_ticket": "flights",
    "rail_ticket": "rail",
    "hotel_booking": "hotels",
    "luxury_hotel": "hotels",
    "school_place": "school places",
    "travel_abroad": "travel abroad",
    "exit_restriction": "travel abroad",
    "visa_fast_track": "travel abroad",
    "lending": "loans",
    "loan_application": "loans",
    "job_application": "jobs",
    "employment": "jobs",
    "insurance": "insurance",
    "insurance_purchase": "insurance",
    "social_credit": "grade and score losses",
    "credit_notice": "notices",
    "court_decision": "notices",
    "bike_rental": "rentals",
    "car_rental": "rentals",
}
#: Sanction kind → reader domain, for a stored domain :data:`DOMAINS` does not list.
KIND_DOMAINS: dict[str, str] = {
    "public_display": "display",
    "notice": "notices",
    "warning": "notices",
    "downgrade": "grade and score losses",
}
#: The reader domains of decisions that are not sanctions.
LIST_DOMAIN = "list entries"
SCORE_DOMAIN = "grade and score losses"


def _case(column: str, mapping: dict[str, str], otherwise: str) -> str:
    arms = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in sorted(mapping.items()))
    return f"CASE {column} {arms} ELSE {otherwise} END"


#: The beneficial sanction kinds as an SQL list: every other sanction is adverse.
_BENEFICIAL = ", ".join(f"'{k}'" for k in sorted(BENEFICIAL_SANCTION_KINDS))


def classify_sql() -> str:
    """The SELECT of :func:`classify` (the run's tables and the policy facts registered by
    :func:`sclab.audit.policies.register_facts`)."""
    domain = _case("stored_domain", DOMAINS, _case("kind", KIND_DOMAINS, "'other'"))
    return f"""
    WITH ev AS (
        SELECT e.event_id, e.attributed_to, e.entity_type::VARCHAR AS entity_type,
               (e.attributed_to IS DISTINCT FROM e.true_actor) OR e.true_actor IS NULL
                   OR e.error IS NOT NULL AS erroneous,
               coalesce(k.lawful, false) AS lawful
        FROM events e LEFT JOIN kinds k ON k.name = e.kind::VARCHAR AND k.category = 'event'
    ),
    links AS (
        SELECT d.decision_table::VARCHAR AS decision_table, d.decision_key,
               bool_or(ev.erroneous) AS any_erroneous, bool_or(NOT ev.lawful) AS any_unlawful
        FROM decision_events d JOIN ev USING (event_id)
        GROUP BY ALL
    ),
    grade_of AS (
        SELECT c.change_id,
               min(g.rank) FILTER (WHERE g.min IS NULL OR c.value >= g.min) AS after,
               min(g.rank) FILTER (WHERE g.min IS NULL OR c.value - c.delta >= g.min) AS before
        FROM score_changes c
        JOIN audit_grades g ON g.system = c.system::VARCHAR AND g.score = c.score::VARCHAR
        WHERE c.delta < 0
        GROUP BY c.change_id
    ),
    adverse AS (
        SELECT 'sanctions' AS decision_table, sanction_id AS decision_key,
               system::VARCHAR AS system, rule_id::VARCHAR AS rule_id, kind::VARCHAR AS kind,
               domain::VARCHAR AS stored_domain, entity_type::VARCHAR AS entity_type,
               entity_id AS entity, day, event_id, wrongful
        FROM sanctions WHERE kind::VARCHAR NOT IN ({_BENEFICIAL})
        UNION ALL
        SELECT 'list_entries', e.entry_id, e.system::VARCHAR, e.rule_id::VARCHAR, 'listed',
               e.list::VARCHAR, e.entity_type::VARCHAR, e.entity_id, e.start_day, e.event_id,
               e.wrongful
        FROM list_entries e
        LEFT JOIN audit_lists l ON l.system = e.system::VARCHAR AND l.list = e.list::VARCHAR
        WHERE NOT coalesce(l.redlist, false)
        UNION ALL
        SELECT 'score_changes', c.change_id, c.system::VARCHAR, c.rule_id::VARCHAR,
               CASE WHEN g.after > g.before THEN 'grade_downgrade' ELSE 'score_loss' END,
               c.score::VARCHAR, c.entity_type::VARCHAR, c.entity_id, c.day, c.event_id,
               c.wrongful
        FROM score_changes c LEFT JOIN grade_of g USING (change_id)
        WHERE c.delta < 0
    ),
    assessments AS (
        -- Factor-score assessments, and whether an unlawful record fed them.
        SELECT c.system::VARCHAR AS system, c.entity_type::VARCHAR AS entity_type,
               c.entity_id AS entity, c.day, coalesce(l.any_unlawful, false) AS unlawful
        FROM score_changes c
        LEFT JOIN links l ON l.decision_table = 'score_changes' AND l.decision_key = c.change_id
        WHERE c.rule_id::VARCHAR LIKE '%:assessment'
    ),
    unrecorded AS (
        -- Sanctions and entries resting on no record: triggered by a factor score. They
        -- rest on the entity's last assessment before them.
        SELECT a.decision_table, a.decision_key, s.unlawful
        FROM (SELECT * FROM adverse WHERE event_id IS NULL AND decision_table <> 'score_changes') a
        ASOF JOIN assessments s
            ON s.system = a.system AND s.entity_type = a.entity_type AND s.entity = a.entity
            AND s.day <= a.day
    ),
    facts AS (
        SELECT a.*,
            CASE WHEN m.measure IS NULL THEN false
                 WHEN ev.event_id IS NOT NULL THEN ev.attributed_to IS DISTINCT FROM a.entity
                     OR ev.entity_type <> a.entity_type
                 ELSE NOT m.self END AS spillover,
            a.wrongful OR coalesce(ev.erroneous, false) OR coalesce(l.any_erroneous, false)
                AS erroneous_flag,
            CASE WHEN l.decision_key IS NOT NULL THEN l.any_unlawful
                 WHEN ev.event_id IS NOT NULL THEN NOT ev.lawful
                 WHEN a.decision_table = 'score_changes' THEN false
                 ELSE coalesce(u.unlawful, false) END AS unlawful_basis
        FROM adverse a
        LEFT JOIN ev ON ev.event_id = a.event_id
        LEFT JOIN links l
            ON l.decision_table = a.decision_table AND l.decision_key = a.decision_key
        LEFT JOIN audit_measures m
            ON a.decision_table = 'sanctions' AND m.system = a.system AND m.measure = a.rule_id
        LEFT JOIN unrecorded u
            ON u.decision_table = a.decision_table AND u.decision_key = a.decision_key
    )
    SELECT decision_table, decision_key, system, rule_id, kind,
           CASE decision_table WHEN 'list_entries' THEN '{LIST_DOMAIN}'
                WHEN 'score_changes' THEN '{SCORE_DOMAIN}' ELSE {domain} END AS domain,
           stored_domain AS label, entity_type, entity, day,
           CASE WHEN wrongful THEN 'error' WHEN spillover THEN 'other_conduct'
                WHEN NOT unlawful_basis THEN 'design' ELSE 'rightful' END AS class,
           erroneous_flag, spillover, NOT unlawful_basis AS lawful_basis
    FROM facts
    """


def _materialise(con: duckdb.DuckDBPyConnection) -> None:
    """Create the temporary table ``audit_harm_decisions`` on ``con`` (once)."""
    register_facts(con)
    if con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'audit_harm_decisions'"
    ).fetchall()[0][0]:
        return
    con.execute(f"CREATE TEMP TABLE audit_harm_decisions AS {classify_sql()}")


#: The decisions classified, in order (``_materialise`` first).
_CLASSIFIED = "SELECT * FROM audit_harm_decisions ORDER BY decision_table, decision_key"


def classify(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """One row per adverse decision of the run read through ``con``.

    Columns: ``decision_table`` and ``decision_key`` (the row: ``sanctions.sanction_id``,
    ``list_entries.entry_id`` or ``score_changes.change_id``), ``system``, ``rule_id``,
    ``kind`` (the sanction kind; ``listed``; ``score_loss`` or ``grade_downgrade``),
    ``domain`` (reader-facing, :data:`DOMAINS`), ``label`` (the stored domain, list or
    score), ``entity_type``, ``entity``, ``day``, ``class`` (:data:`CLASSES`),
    ``erroneous_flag`` (an erroneous record is among those it rests on, whatever its
    class), ``spillover`` (it names someone other than the one whose record triggered it)
    and ``lawful_basis`` (no record of unlawful conduct is among those it rests on).
    """
    _materialise(con)
    return con.sql(_CLASSIFIED).to_arrow_table()


def _counts(by: list[str]) -> str:
    """Counts of ``audit_harm_decisions`` grouped by ``by``: decisions, people and
    companies per class, and the shares of errors and of harm.

    Distinct entities are counted in two steps, first per (group, entity), then per
    group: one hash aggregate DuckDB can spill, where ten ``count(DISTINCT ...)`` would
    each keep a set of entities per group in memory."""
    group = ", ".join(by)
    inner = ["count(*) AS decisions"]
    inner += [f"count(*) FILTER (WHERE class = '{c}') AS {c}" for c in CLASSES]
    inner.append(
        "count(*) FILTER (WHERE class = 'other_conduct' AND erroneous_flag) "
        "AS other_conduct_erroneous"
    )
    inner.append("count(*) FILTER (WHERE class = 'error' AND spillover) AS error_spillover")
    sums = ["decisions", *CLASSES, "other_conduct_erroneous", "error_spillover"]
    cols = [f"sum({s})::BIGINT AS {s}" for s in sums]
    for who in ("person", "company"):
        name = "people" if who == "person" else "companies"
        cols.append(f"count(entity) FILTER (WHERE entity_type = '{who}') AS {name}")
        cols += [
            f"count(entity) FILTER (WHERE entity_type = '{who}' AND {c} > 0) AS {name}_{c}"
            for c in CLASSES
        ]
    cols.append("round(sum(error)::BIGINT / sum(decisions)::BIGINT, 6) AS error_share")
    cols.append(
        "round(sum(decisions - rightful)::BIGINT / sum(decisions)::BIGINT, 6) AS harm_share"
    )
    return (
        f"SELECT {group}, {', '.join(cols)} "
        f"FROM (SELECT {group}, entity_type, entity, {', '.join(inner)} "
        f"      FROM audit_harm_decisions GROUP BY {group}, entity_type, entity) "
        f"GROUP BY {group} ORDER BY {group}"
    )


def compute(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table | Query]:
    """The harm tables of the run read through ``con``.

    ``harm_decisions``: :func:`classify`, as a :class:`Query` (a row per adverse decision:
    DuckDB writes it, Python never holds it). ``harm_by_class``: per class, decisions,
    distinct people and companies and the class's share of all adverse decisions.
    ``harm_by_system``, ``harm_by_kind`` (per system, decision table and kind) and
    ``harm_by_domain``: per group, decisions and distinct people and companies in each
    class, ``error_share`` (errors / decisions) and ``harm_share`` (not rightful /
    decisions). ``harm_list_days``: per system, list and class, entries, entities and
    days listed within the run (entries from before day 0 counted from day 0, open
    entries to the last day).
    """
    _materialise(con)
    out: dict[str, pa.Table | Query] = {"harm_decisions": Query(_CLASSIFIED)}
    classes = ", ".join(f"('{c}', {i})" for i, c in enumerate(CLASSES))
    out["harm_by_class"] = con.sql(
        f"""
        SELECT c.class, coalesce(sum(d.decisions), 0)::BIGINT AS decisions,
               count(d.entity) FILTER (WHERE d.entity_type = 'person') AS people,
               count(d.entity) FILTER (WHERE d.entity_type = 'company') AS companies,
               round(coalesce(sum(d.decisions), 0)::BIGINT
                     / greatest(1, (SELECT count(*) FROM audit_harm_decisions)), 6) AS share
        FROM (VALUES {classes}) c(class, o)
        LEFT JOIN (SELECT class, entity_type, entity, count(*) AS decisions
                   FROM audit_harm_decisions GROUP BY ALL) d ON d.class = c.class
        GROUP BY c.class, c.o ORDER BY c.o
        """
    ).to_arrow_table()
    out["harm_by_system"] = con.sql(_counts(["system"])).to_arrow_table()
    out["harm_by_kind"] = con.sql(_counts(["system", "decision_table", "kind"])).to_arrow_table()
    out["harm_by_domain"] = con.sql(_counts(["domain"])).to_arrow_table()
    out["harm_list_days"] = con.sql(
        """
        SELECT d.system, d.label AS list, d.entity_type, d.class,
               count(*) AS entries, count(DISTINCT d.entity) AS entities,
               sum(greatest(0, least(coalesce(e.end_day, r.days), r.days)
                               - greatest(e.start_day, 0)))::BIGINT AS days_listed
        FROM audit_harm_decisions d
        JOIN list_entries e ON d.decision_table = 'list_entries' AND e.entry_id = d.decision_key
        CROSS JOIN (SELECT days FROM run_info) r
        GROUP BY ALL ORDER BY ALL
        """
    ).to_arrow_table()
    return out
