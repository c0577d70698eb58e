"""The master database schema (DESIGN 4.2): every table of ``run.duckdb`` and its columns.

Core object:
    :data:`TABLES`: table name → list of :class:`Column` (name, DuckDB type, meaning).

Tables exist in every run even while no stage fills them yet, so queries and notebooks
written today keep working as stages are switched on. Column meanings are also stored in
the database itself (``COMMENT ON COLUMN``) so that ``duckdb_columns()`` documents a run.
"""

from __future__ import annotations

from typing import NamedTuple


class Column(NamedTuple):
    name: str
    type: str
    doc: str


C = Column

TABLES: dict[str, list[Column]] = {
    "districts": [
        C("district_code", "INTEGER", "GB/T 2260 region code"),
        C("name", "VARCHAR", "district name"),
        C("published_population", "BIGINT", "published resident count used as weight"),
        C("population", "BIGINT", "synthetic residents in this run"),
        C("urban_share", "DOUBLE", "configured share of urban residents"),
        C("migrant_share", "DOUBLE", "configured share of migrants"),
    ],
    "citizens": [
        C("person_id", "INTEGER", "row index of the person in every array of the run"),
        C("resident_id", "VARCHAR", "18-character resident ID (GB 11643-1999), synthetic"),
        C("surname", "VARCHAR", "family name (frequency-weighted)"),
        C("given_name_id", "INTEGER", "index of the given name in the pool"),
        C("sex", "VARCHAR", "'male' or 'female'"),
        C("birth_date", "DATE", "date of birth"),
        C("age", "SMALLINT", "completed years on day 0"),
        C("ethnic_group", "VARCHAR", "ethnic group"),
        C("district_code", "INTEGER", "district of residence (GB/T 2260)"),
        C("migrant", "BOOLEAN", "household registered outside the city"),
        C("residence_permit", "BOOLEAN", "migrant holding a local residence permit"),
        C("id_region_code", "INTEGER", "region code inside the resident ID"),
        C("urban", "BOOLEAN", "lives in an urban area"),
        C("income_decile", "TINYINT", "1 (lowest) to 10 (highest), within the district"),
        C("education", "VARCHAR", "highest level attended"),
        C("occupation", "VARCHAR", "occupation on day 0"),
        C("smartphone", "BOOLEAN", "has a smartphone"),
        C("payment_app", "BOOLEAN", "uses a mobile payment app"),
        C("social_media", "BOOLEAN", "uses social media"),
        C("driver_licence", "BOOLEAN", "holds a driving licence"),
        C("in_id_photo_db", "BOOLEAN", "ID-card photo is in the local face database"),
        C("in_driver_db", "BOOLEAN", "photo is in the driver-licence face database"),
    ],
    "companies": [
        C("company_id", "INTEGER", "row index of the company"),
        C("uscc", "VARCHAR", "18-character Unified Social Credit Code (GB 32100-2015)"),
        C("sector", "VARCHAR", "economic sector"),
        C("size", "VARCHAR", "micro, small, medium or large"),
        C("employees", "INTEGER", "number of employees"),
        C("district_code", "INTEGER", "district of registration"),
        C("legal_rep_person_id", "INTEGER", "person_id of the legal representative"),
        C("founded_date", "DATE", "date of registration"),
    ],
    "ties": [
        C("person_a", "INTEGER", "lower person_id of the tie"),
        C("person_b", "INTEGER", "higher person_id of the tie"),
        C("online", "BOOLEAN", "the tie is kept online (visible to platforms)"),
    ],
    "events": [
        C("event_id", "BIGINT", "unique, in order of recording"),
        C("day", "INTEGER", "day the act happened (0 = start_date; < 0: before the run)"),
        C("recorded_day", "INTEGER", "day the system recorded it (after delays; < 0: before)"),
        C("source", "VARCHAR", "component that produced the record"),
        C("kind", "VARCHAR", "what was recorded, e.g. 'jaywalk_identified'"),
        C("entity_type", "VARCHAR", "'person' or 'company'"),
        C("true_actor", "BIGINT", "who really acted (NULL: nobody, e.g. a face on a bus)"),
        C("attributed_to", "BIGINT", "whom the system recorded (NULL: unidentified)"),
        C("match_score", "DOUBLE", "linkage or face-match confidence, if any"),
        C("district_code", "INTEGER", "where it happened"),
        C("place_id", "INTEGER", "intersection, camera or court, if any"),
        C("amount", "DOUBLE", "money involved (yuan), if any"),
        C("ground", "TINYINT", "court ground of non-performance (2017 provisions art. 1: 1-6)"),
        C("error", "VARCHAR", "record error type when attribution is wrong, else NULL"),
    ],
    "score_changes": [
        C("change_id", "BIGINT", "unique per run (key for decision_events)"),
        C("entity_id", "BIGINT", "person_id or company_id"),
        C("entity_type", "VARCHAR", "'person' or 'company'"),
        C("system", "VARCHAR", "policy pack that keeps the score"),
        C("score", "VARCHAR", "score name within the system"),
        C("day", "INTEGER", "simulation day"),
        C("delta", "DOUBLE", "change"),
        C("value", "DOUBLE", "value after the change"),
        C("rule_id", "VARCHAR", "rule that made the change"),
        C("event_id", "BIGINT", "triggering recorded event (see decision_events if several)"),
        C("wrongful", "BOOLEAN", "rests on a misattributed or erroneous record"),
    ],
    "list_entries": [
        C("entry_id", "BIGINT", "unique per run (key for decision_events)"),
        C("entity_id", "BIGINT", "person_id or company_id"),
        C("entity_type", "VARCHAR", "'person' or 'company'"),
        C("system", "VARCHAR", "policy pack that keeps the list"),
        C("list", "VARCHAR", "list name, e.g. 'defaulters'"),
        C("start_day", "INTEGER", "day of entry (< 0: listed before the run, see the warm start)"),
        C("end_day", "INTEGER", "day of removal (NULL: still listed at the end)"),
        C("end_reason", "VARCHAR", "expired, performed, objection upheld, repaired..."),
        C("rule_id", "VARCHAR", "rule that listed the entity"),
        C("event_id", "BIGINT", "triggering recorded event"),
        C("wrongful", "BOOLEAN", "rests on a misattributed or erroneous record"),
    ],
    "sanctions": [
        C("sanction_id", "BIGINT", "unique"),
        C("entity_id", "BIGINT", "person_id or company_id"),
        C("entity_type", "VARCHAR", "'person' or 'company'"),
        C("system", "VARCHAR", "policy pack"),
        C("day", "INTEGER", "simulation day"),
        C("domain", "VARCHAR", "flights, rail, school, loans, display..."),
        C("kind", "VARCHAR", "blocked, priced_up, public_display, notice, reward..."),
        C("rule_id", "VARCHAR", "rule behind the sanction"),
        C("event_id", "BIGINT", "triggering recorded event"),
        C("wrongful", "BOOLEAN", "rests on a misattributed or erroneous record"),
    ],
    "resource_moments": [
        C("moment_id", "BIGINT", "unique, in order of attempt"),
        C("day", "INTEGER", "simulation day"),
        C("kind", "VARCHAR", "flight_ticket, rail_ticket, hotel, school_place, loan..."),
        C("entity_type", "VARCHAR", "'person' or 'company'"),
        C("actor", "BIGINT", "who tried"),
        C("beneficiary", "BIGINT", "whom it was for (the child, for a school place)"),
        C("outcome", "VARCHAR", "allowed, blocked, priced_up or favoured"),
        C("price_factor", "REAL", "price relative to the normal price"),
    ],
    "aggregates": [
        C("entity_id", "BIGINT", "person_id or company_id"),
        C("entity_type", "VARCHAR", "'person' or 'company'"),
        C("kind", "VARCHAR", "high-volume act kind, e.g. 'post_critical', 'purchase_books'"),
        C("count", "BIGINT", "number of true acts over the run"),
        C("amount", "DOUBLE", "total money involved (yuan), if any"),
    ],
    "true_act_totals": [
        C("kind", "VARCHAR", "act kind"),
        C("acts", "BIGINT", "true acts over the run (ground truth, recorded or not)"),
    ],
    "identifications": [
        C("event_id", "BIGINT", "the identification event in events (kind 'jaywalk_identified')"),
        C("day", "INTEGER", "simulation day"),
        C("place_id", "INTEGER", "camera intersection"),
        C("district_code", "INTEGER", "district of the intersection"),
        C("probe_subject", "VARCHAR", "resident, non_resident or non_person (a printed face)"),
        C("subject_in_gallery", "BOOLEAN", "the true subject is in the face database"),
        C("night", "BOOLEAN", "captured at night"),
        C("helmet", "BOOLEAN", "subject wore a helmet"),
        C("sunglasses", "BOOLEAN", "subject wore sunglasses"),
        C("mask", "BOOLEAN", "subject wore a mask"),
        C("outcome", "VARCHAR", "correct, false_match (wrong person named) or miss"),
        C("match_score", "DOUBLE", "similarity score of the returned candidate"),
        C("gallery_size", "BIGINT", "people in the gallery searched"),
    ],
    "final_scores": [
        C("entity_id", "BIGINT", "person_id or company_id (participants only)"),
        C("entity_type", "VARCHAR", "'person' or 'company'"),
        C("system", "VARCHAR", "policy pack that keeps the score"),
        C("score", "VARCHAR", "score name within the system"),
        C("value", "DOUBLE", "value on the last day"),
        C("grade", "VARCHAR", "grade band on the last day, if the score has grades"),
        C("affected_by_errors", "BOOLEAN", "erroneous records moved this score"),
    ],
    "decision_events": [
        C("decision_table", "VARCHAR", "score_changes, list_entries or sanctions"),
        C("decision_key", "BIGINT", "entry_id, sanction_id or change_id of the row in that table"),
        C("event_id", "BIGINT", "one of the events the decision rests on"),
    ],
    "daily_stats": [
        C("day", "INTEGER", "simulation day"),
        C("stage", "VARCHAR", "engine stage"),
        C("component", "VARCHAR", "component name"),
        C("events", "BIGINT", "events recorded by the component that day"),
    ],
}


def create_statements() -> list[str]:
    """CREATE TABLE and COMMENT statements for every table."""
    out = []
    for table, cols in TABLES.items():
        body = ", ".join(f'"{c.name}" {c.type}' for c in cols)
        out.append(f'CREATE TABLE "{table}" ({body})')
        for c in cols:
            doc = c.doc.replace("'", "''")
            out.append(f'COMMENT ON COLUMN "{table}"."{c.name}" IS \'{doc}\'')
    return out


def markdown() -> str:
    """The schema as Markdown (``docs/database.md`` is this text; a test keeps them equal)."""
    out = [
        "# The master database: `run.duckdb`",
        "",
        "Every run writes these tables (tables without rows yet still exist with their",
        "columns). Column meanings are also stored in the database: "
        "`SELECT table_name, column_name, comment FROM duckdb_columns()`.",
        "Entity ids (`person_id`, `company_id`, `true_actor`, `attributed_to`, `entity_id`)",
        "are row indices within the run.",
        "",
    ]
    for table, cols in TABLES.items():
        out += [f"## `{table}`", "", "| column | type | meaning |", "| --- | --- | --- |"]
        out += [f"| `{c.name}` | {c.type} | {c.doc} |" for c in cols]
        out.append("")
    return "\n".join(out)
