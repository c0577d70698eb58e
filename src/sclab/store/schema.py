"""The master database schema: every table of ``run.duckdb`` and its columns.

Core objects:
    :data:`TABLES`: table name → list of :class:`Column` (name, DuckDB type, meaning).
    :data:`FIXED_LABELS`: the label sets that are the same in every run.
    :func:`label_columns`: which label set each label column takes its values from.

Tables exist in every run even while no stage fills them yet, so queries and notebooks
written today keep working as stages are switched on. Column meanings are also stored in
the database itself (``COMMENT ON COLUMN``) so that ``duckdb_columns()`` documents a run.

Label columns (kinds, systems, rule ids, outcomes...) are DuckDB ENUM types, one per label
set, made when the run starts from the labels its components declare (see
:meth:`sclab.engine.simulation.Simulation.labels`). They read and compare as text
(``WHERE kind = 'flight_ticket'``), and ``SELECT enum_range(NULL::moment_kind)`` lists a
set. Why: a run writes tens of millions of such values; DuckDB stores a VARCHAR value as
a string and an ENUM value as one byte, which makes the file smaller and the inserts
cheaper (``docs/performance.md``).
"""

from __future__ import annotations

from typing import NamedTuple


class Column(NamedTuple):
    name: str
    type: str
    doc: str
    labels: str | None = None  # the ENUM's label set, for a label column

    @property
    def sql_type(self) -> str:
        """The DuckDB type: the label set's ENUM (quoted) for a label column."""
        return f'"{self.labels}"' if self.labels else self.type


C = Column


def L(name: str, labels: str, doc: str) -> Column:
    """A label column: text from the label set ``labels``, stored as a DuckDB ENUM."""
    return Column(name, "VARCHAR", doc, labels)


TABLES: dict[str, list[Column]] = {
    "run_info": [
        C("sclab_version", "VARCHAR", "version of sclab that made the run"),
        C("scenario", "VARCHAR", "scenario name"),
        C("seed", "BIGINT", "scenario seed"),
        C("population", "BIGINT", "synthetic citizens (population.size)"),
        C("days", "INTEGER", "simulated days"),
        C("start_date", "DATE", "date of day 0"),
        C(
            "scenario_yaml",
            "VARCHAR",
            "the scenario as run (after command-line overrides), as YAML; `sclab rerun` runs it",
        ),
        C("scenario_sha256", "VARCHAR", "SHA-256 of scenario_yaml (UTF-8), in hex"),
        C("python", "VARCHAR", "Python version"),
        C(
            "packages",
            "VARCHAR",
            "JSON object: sclab's installed dependencies (and theirs) to their versions; "
            "read one with packages->>'numpy'",
        ),
        C("platform", "VARCHAR", "operating system and machine"),
        C(
            "created_utc",
            "VARCHAR",
            "when the run started (ISO 8601, UTC); for the reader only, the model never reads it",
        ),
    ],
    "policies": [
        C("policy_id", "VARCHAR", "the policy's id"),
        L("system", "system", "system name its decisions carry"),
        C("component", "VARCHAR", "engine component that ran it (the source of its rows)"),
        C("source", "VARCHAR", "built-in pack name or policy file path, as the scenario gave it"),
        C("yaml", "VARCHAR", "the policy text that was compiled; `sclab rerun` compiles it again"),
        C("sha256", "VARCHAR", "SHA-256 of yaml (UTF-8), in hex"),
    ],
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
        L("sex", "sex", "'male' or 'female'"),
        C("birth_date", "DATE", "date of birth"),
        C("age", "SMALLINT", "completed years on day 0"),
        L("ethnic_group", "ethnic_group", "ethnic group"),
        C("district_code", "INTEGER", "district of residence (GB/T 2260)"),
        C("migrant", "BOOLEAN", "household registered outside the city"),
        C("residence_permit", "BOOLEAN", "migrant holding a local residence permit"),
        C("id_region_code", "INTEGER", "region code inside the resident ID"),
        C("urban", "BOOLEAN", "lives in an urban area"),
        C("income_decile", "TINYINT", "1 (lowest) to 10 (highest), within the district"),
        L("education", "education", "highest level attended"),
        L("occupation", "occupation", "occupation on day 0"),
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
        L("sector", "sector", "economic sector"),
        L("size", "company_size", "micro, small, medium or large"),
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
        L("source", "source", "component that produced the record"),
        L("kind", "act_kind", "what was recorded, e.g. 'jaywalk_identified'"),
        L("entity_type", "entity_type", "'person' or 'company'"),
        C("true_actor", "BIGINT", "who really acted (NULL: nobody, e.g. a face on a bus)"),
        C("attributed_to", "BIGINT", "whom the system recorded (NULL: unidentified)"),
        C("match_score", "DOUBLE", "linkage or face-match confidence, if any"),
        C("district_code", "INTEGER", "where it happened"),
        C("place_id", "INTEGER", "intersection, camera or court, if any"),
        C("amount", "DOUBLE", "money involved (yuan), if any"),
        C("ground", "TINYINT", "court ground of non-performance (2017 provisions art. 1: 1-6)"),
        L("error", "record_error", "record error type when attribution is wrong, else NULL"),
        C(
            "records",
            "INTEGER",
            "records the row stands for: 1, or a bundle's number of records (a person's "
            "records of one kind from before the run that no policy tells apart during it: "
            "day is the first act's day, last_day the last's, recorded_day the earliest, "
            "amount the total, match_score the lowest)",
        ),
        C("last_day", "INTEGER", "a bundle's last act day (NULL for a single record)"),
    ],
    "score_changes": [
        C("change_id", "BIGINT", "unique per run (key for decision_events)"),
        C("entity_id", "BIGINT", "person_id or company_id"),
        L("entity_type", "entity_type", "'person' or 'company'"),
        L("system", "system", "policy pack that keeps the score"),
        L("score", "score", "score name within the system"),
        C("day", "INTEGER", "simulation day"),
        C("delta", "DOUBLE", "change"),
        C("value", "DOUBLE", "value after the change"),
        L("rule_id", "rule_id", "rule that made the change"),
        C("event_id", "BIGINT", "triggering recorded event (see decision_events if several)"),
        C("wrongful", "BOOLEAN", "rests on a misattributed or erroneous record"),
    ],
    "list_entries": [
        C("entry_id", "BIGINT", "unique per run (key for decision_events)"),
        C("entity_id", "BIGINT", "person_id or company_id"),
        L("entity_type", "entity_type", "'person' or 'company'"),
        L("system", "system", "policy pack that keeps the list"),
        L("list", "list_name", "list name, e.g. 'dishonest_debtors'"),
        C("start_day", "INTEGER", "day of entry (< 0: listed before the run, see the warm start)"),
        C("end_day", "INTEGER", "day of removal (NULL: still listed at the end)"),
        L("end_reason", "end_reason", "expired, performed, objection_upheld, repaired..."),
        L("rule_id", "rule_id", "rule that listed the entity"),
        C("event_id", "BIGINT", "triggering recorded event"),
        C("wrongful", "BOOLEAN", "rests on a misattributed or erroneous record"),
    ],
    "sanctions": [
        C("sanction_id", "BIGINT", "unique"),
        C("entity_id", "BIGINT", "person_id or company_id"),
        L("entity_type", "entity_type", "'person' or 'company'"),
        L("system", "system", "policy pack"),
        C("day", "INTEGER", "simulation day"),
        L(
            "domain",
            "domain",
            "flight_ticket, rail_ticket, school_place, lending, roadside_screen...",
        ),
        L("kind", "sanction_kind", "blocked, priced_up, public_display, notice, reward..."),
        L("rule_id", "rule_id", "rule behind the sanction"),
        C("event_id", "BIGINT", "triggering recorded event"),
        C("wrongful", "BOOLEAN", "rests on a misattributed or erroneous record"),
    ],
    "resource_moments": [
        C("moment_id", "BIGINT", "unique, in order of attempt (every attempt is numbered)"),
        C("day", "INTEGER", "simulation day"),
        L("kind", "moment_kind", "flight_ticket, rail_ticket, hotel_booking, school_place..."),
        L("entity_type", "entity_type", "'person' or 'company'"),
        C("actor", "BIGINT", "who tried"),
        C("beneficiary", "BIGINT", "whom it was for (the child, for a school place)"),
        L("outcome", "moment_outcome", "allowed, blocked, priced_up or favoured"),
        C("price_factor", "REAL", "price relative to the normal price"),
        L(
            "class",
            "moment_class",
            "the class attempted (rail_ticket: the train and seat class, e.g. g_second, "
            "d_first, ordinary_hard); NULL for a kind without classes (kinds.classes)",
        ),
    ],
    "moment_counts": [
        C("day", "INTEGER", "simulation day"),
        L("kind", "moment_kind", "flight_ticket, rail_ticket, hotel_booking, school_place..."),
        L("class", "moment_class", "the class attempted; NULL for a kind without classes"),
        L("entity_type", "entity_type", "'person' or 'company'"),
        L("outcome", "moment_outcome", "allowed, blocked, priced_up or favoured"),
        C("attempts", "BIGINT", "attempts that day of that kind, class and outcome"),
    ],
    "aggregates": [
        C("entity_id", "BIGINT", "person_id or company_id"),
        L("entity_type", "entity_type", "'person' or 'company'"),
        L("kind", "act_kind", "high-volume act kind, e.g. 'post_critical', 'purchase_books'"),
        C("count", "BIGINT", "number of true acts over the run"),
        C("amount", "DOUBLE", "total money involved (yuan), if any"),
    ],
    "true_act_totals": [
        L("kind", "act_kind", "act kind"),
        C("acts", "BIGINT", "true acts over the run (ground truth, recorded or not)"),
    ],
    "identifications": [
        C("event_id", "BIGINT", "the identification event in events (kind 'jaywalk_identified')"),
        C("day", "INTEGER", "simulation day"),
        C("place_id", "INTEGER", "camera intersection"),
        C("district_code", "INTEGER", "district of the intersection"),
        L(
            "probe_subject",
            "probe_subject",
            "resident, non_resident or non_person (a printed face)",
        ),
        C("subject_in_gallery", "BOOLEAN", "the true subject is in the face database"),
        C("night", "BOOLEAN", "captured at night"),
        C("helmet", "BOOLEAN", "subject wore a helmet"),
        C("sunglasses", "BOOLEAN", "subject wore sunglasses"),
        C("mask", "BOOLEAN", "subject wore a mask"),
        L("outcome", "identification_outcome", "correct, false_match (wrong person named) or miss"),
        C("match_score", "DOUBLE", "similarity score of the returned candidate"),
        C("gallery_size", "BIGINT", "people in the gallery searched"),
    ],
    "final_scores": [
        C("entity_id", "BIGINT", "person_id or company_id (participants only)"),
        L("entity_type", "entity_type", "'person' or 'company'"),
        L("system", "system", "policy pack that keeps the score"),
        L("score", "score", "score name within the system"),
        C("value", "DOUBLE", "value on the last day"),
        L("grade", "grade", "grade band on the last day, if the score has grades"),
        C("affected_by_errors", "BOOLEAN", "erroneous records moved this score"),
    ],
    "decision_events": [
        L("decision_table", "decision_table", "score_changes, list_entries or sanctions"),
        C("decision_key", "BIGINT", "entry_id, sanction_id or change_id of the row in that table"),
        C("event_id", "BIGINT", "one of the events the decision rests on"),
    ],
    "kinds": [
        C("name", "VARCHAR", "the kind, as in events, aggregates and resource_moments"),
        C("category", "VARCHAR", "act (true conduct), event (a record) or moment (an attempt)"),
        L("entity", "entity_type", "'person' or 'company'"),
        C("domain", "VARCHAR", "area of life: finance, speech, traffic... (docs/catalogue.md)"),
        C("lawful", "BOOLEAN", "the conduct breaks no legal duty (breaches of contract do)"),
        C("biometric", "BOOLEAN", "the record rests on biometric identification"),
        C("realtime", "BOOLEAN", "that identification is made as the act happens"),
        C("of_act", "VARCHAR", "the act the kind stands for (NULL for moments)"),
        C("kept", "VARCHAR", "acts: each (one by one), totals (per person only) or both"),
        C("produced_by", "VARCHAR", "stage:component that produces it in this run"),
        C("meaning", "VARCHAR", "what one such act, record or attempt is"),
        C("classes", "VARCHAR", "moments: the classes an attempt may be of, comma-separated"),
    ],
    "daily_stats": [
        C("day", "INTEGER", "simulation day (0 to days - 1)"),
        L("system", "system", "policy system; NULL for recorded events, which no system owns"),
        L("measure", "daily_measure", "what is counted (see the list below the table)"),
        C("item", "VARCHAR", "act kind, score id, list name or sanction kind (see measure)"),
        C("count", "BIGINT", "rows counted that day (listed: entities listed at the day's end)"),
        C("wrongful", "BIGINT", "of these, the ones resting on erroneous records"),
    ],
    "score_histograms": [
        C("month", "DATE", "first day of the calendar month"),
        C("day", "INTEGER", "simulation day of the snapshot: the month's last simulated day"),
        L("system", "system", "policy system that keeps the score"),
        L("score", "score", "score id within the system"),
        L("entity_type", "entity_type", "'person' or 'company'"),
        C("lower", "DOUBLE", "lower edge of the bin (included)"),
        C("upper", "DOUBLE", "upper edge of the bin (excluded)"),
        C("count", "BIGINT", "entities scored in the bin at the end of the snapshot day"),
    ],
    "inert": [
        C(
            "component",
            "VARCHAR",
            "stage:name of a source or sensor, or the component of a policy (policy:ID)",
        ),
        C("item_type", "VARCHAR", "component, rule or joint_measure"),
        C("item", "VARCHAR", "the component itself, or the id of the rule or joint measure"),
        C("detail", "VARCHAR", "what was looked for and not found"),
    ],
}


#: The measures of ``daily_stats``: what each counts and what its ``item`` names.
DAILY_MEASURES: dict[str, str] = {
    "events_recorded": "events recorded that day (by recorded_day), per act kind; wrongful: "
    "records with an error",
    "score_changes": "score changes, per score id; wrongful: changes resting on erroneous records",
    "list_entries": "entries onto a list, per list name; wrongful: wrongful entries",
    "list_exits": "entries that ended that day, per list name; wrongful: ends of wrongful entries",
    "listed": "entities listed at the end of the day (entries made before the run "
    "included), per list name; wrongful: those listed by a wrongful entry",
    "sanctions": "sanctions, per sanction kind; wrongful: sanctions resting on erroneous records",
}

#: Paragraphs the reference prints below a table's columns.
TABLE_NOTES: dict[str, str] = {
    "resource_moments": "One row per attempt that a measure decided (blocked, priced up or "
    "favoured) or watched (the measure's condition held for the person, e.g. a listed "
    "debtor buying a seat the measure permits); the other attempts, which went ahead as "
    "for anyone, are counted in `moment_counts` only (tens of millions a year at city "
    "scale). `sclab explain` runs the scenario again and shows a person's every attempt.",
    "moment_counts": "Every attempt, decided or not, counted per day, kind, class, entity "
    "type and outcome: the denominators of `resource_moments`.",
    "run_info": "One row. With `policies`, it makes a run directory enough to audit and to "
    "reproduce the run: `sclab rerun DIR --out NEW` runs `scenario_yaml` again, compiling "
    "the recorded policy texts.",
    "policies": "One row per policy that ran (a scenario's `policies` entries with `use: pack`).",
    "daily_stats": "Computed from the recorded tables once the days are over. Every day of "
    "the run has a row for each (system, measure, item) that occurs at least once in the "
    "run, zero counts included.",
    "score_histograms": "The scores of every scored entity at the end of each calendar month "
    "(and of the run's last day), counted in bins of a fixed width per score: the score's "
    "range / 500 for a factor score, its smallest points change for a points score, each "
    "rounded down to 1, 2 or 5 times a power of ten (Assumption: fine enough that a report "
    "can merge bins as it likes; 100 to 1,000 bins over a factor score's range would "
    "serve). Only bins that hold someone have a row. Taken from the policies' state at the "
    "month's end: the recorded tables do not hold every score on every day (factor-score "
    "changes under 10 points are not recorded).",
    "inert": "Switched-on mechanisms that produced nothing over the run, found in the "
    "recorded tables once they are written (`sclab.calibration.inert`): a source with no "
    "act of its kinds (in `true_act_totals` or `aggregates`), a sensor with no record of its "
    "kinds (cameras: no identification named anyone), a source of moments with no moment, "
    "a policy rule whose id is on no score change, list entry or sanction of its system, "
    "a joint measure that decided none of its moments. Behaviour is not checked. The end "
    'of `sclab run` prints them as "Never fired".',
}

#: Tables that describe how and when a run was made rather than what it produced; a rerun
#: reproduces every other table exactly.
DESCRIPTIVE_TABLES = ("run_info",)


#: Label sets whose labels are fixed by the schema itself; the others come from the run.
FIXED_LABELS: dict[str, tuple[str, ...]] = {
    "entity_type": ("person", "company"),
    "decision_table": ("score_changes", "list_entries", "sanctions"),
    "daily_measure": tuple(DAILY_MEASURES),
}


def label_columns() -> dict[str, list[tuple[str, str]]]:
    """Label set → the (table, column) pairs that take their values from it."""
    out: dict[str, list[tuple[str, str]]] = {}
    for table, cols in TABLES.items():
        for c in cols:
            if c.labels:
                out.setdefault(c.labels, []).append((table, c.name))
    return out


def create_statements(labels: dict[str, tuple[str, ...]]) -> list[str]:
    """CREATE TYPE, CREATE TABLE and COMMENT statements for every table.

    Args:
        labels: The labels of every label set of :func:`label_columns` (the run's, and
            :data:`FIXED_LABELS`), in the order the ENUM should list them.

    Raises:
        KeyError: A label set is missing.
    """
    missing = sorted(set(label_columns()) - set(labels))
    if missing:
        raise KeyError(f"no labels given for the label set(s) {', '.join(missing)}")
    out = []
    for name in sorted(label_columns()):
        values = ", ".join("'" + v.replace("'", "''") + "'" for v in labels[name])
        out.append(f'CREATE TYPE "{name}" AS ENUM ({values})')
    for table, cols in TABLES.items():
        body = ", ".join(f'"{c.name}" {c.sql_type}' for c in cols)
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
        "Label columns hold text from a fixed set of labels and are stored as DuckDB ENUM",
        "types, one per label set (named in brackets). They read and compare as text",
        "(`WHERE kind = 'flight_ticket'`); the labels a run declared are listed by",
        "`SELECT enum_range(NULL::moment_kind)` (or any other set's name). Comparing label",
        "columns of different sets, or of two runs, compares their text. A label outside",
        "its set matches nothing, silently: the exact labels of the built-in components are",
        "listed at the end of this page.",
        "",
        "Beside it, `manifest.json` marks the directory as a run (`format`: `sclab-run`,",
        "`format_version`) and lists every file sclab wrote there; for `run.duckdb` it",
        "holds each table's row count and content hash (the same for the same rows in any",
        "order or file layout), which is how `sclab rerun` checks that a rerun came out",
        "the same.",
        "",
    ]
    for table, cols in TABLES.items():
        out += [f"## `{table}`", "", "| column | type | meaning |", "| --- | --- | --- |"]
        out += [
            f"| `{c.name}` | {f'label (`{c.labels}`)' if c.labels else c.type} | {c.doc} |"
            for c in cols
        ]
        out.append("")
        if table == "daily_stats":
            out += [f"- `{name}`: {doc}" for name, doc in DAILY_MEASURES.items()]
            out.append("")
        if table in TABLE_NOTES:
            out += [TABLE_NOTES[table], ""]
    return "\n".join(out) + "\n"
