"""Redress: how many list entries were corrected, how fast, and against which deadlines.

Core objects:
    :func:`compute`: the ``redress_*`` tables: every blacklist entry with how it ended
        (``redress_entries``), and, per system and list, wrongful and rightful entries by
        how they ended with the days it took against the policy's deadline
        (``redress_by_reason``) and the overview of wrongful entries corrected, expired
        uncorrected and never corrected by the run's end (``redress_overview``).
    :data:`CORRECTIONS`: the end reasons that count as a correction.

An entry is corrected when due process removed it (objection or appeal upheld, credit
repair) or it was deleted on performance. The deadlines are the policy's own, read from
its stored text: an objection is decided ``notice_delay_days + review_days`` after the
entry, an appeal ``appeal_days`` after that, a deletion on performance within
``deletion_delay_working_days`` working days (Monday to Friday) of the performance
record. Credit repair has no deadline (``repair_after_days`` is the earliest day).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from sclab.audit.policies import register_facts
from sclab.audit.storage import Query

#: End reasons that correct an entry (the others: ``expired``, still listed).
CORRECTIONS = ("objection_upheld", "appeal_upheld", "repaired", "performed")

ENTRIES_SQL = """
WITH bounds AS (
    SELECT least(min(start_day), 0) - 7 AS lo,
           greatest(max(coalesce(end_day, 0)), (SELECT days FROM run_info)) + 7 AS hi
    FROM list_entries
),
calendar AS (
    -- Working days (Monday to Friday) up to each day, counted from the first day.
    SELECT d AS day,
           sum(CASE WHEN isodow((SELECT start_date FROM run_info) + d::INTEGER) <= 5
                    THEN 1 ELSE 0 END) OVER (ORDER BY d)::INTEGER AS working
    FROM bounds, range(bounds.lo, bounds.hi) t(d)
),
entries AS (
    SELECT e.entry_id, e.system::VARCHAR AS system, e.list::VARCHAR AS list,
           e.entity_type::VARCHAR AS entity_type, e.entity_id AS entity, e.wrongful,
           e.start_day, e.end_day,
           CASE WHEN e.end_day IS NULL OR e.end_reason = 'still_listed' THEN 'still_listed'
                ELSE e.end_reason::VARCHAR END AS end_reason,
           l.notice_delay_days, l.review_days, l.appeal_days, l.deletion_delay_working_days
    FROM list_entries e
    JOIN audit_lists l ON l.system = e.system::VARCHAR AND l.list = e.list::VARCHAR
    WHERE NOT l.redlist
),
deleting AS (
    -- Records that delete an entry of their list (e.g. a judgment performed).
    SELECT l.system, l.list, ev.entity_type::VARCHAR AS entity_type,
           ev.attributed_to AS entity, ev.recorded_day
    FROM (SELECT system, list, unnest(delete_on) AS kind FROM audit_lists) l
    JOIN events ev ON ev.kind::VARCHAR = l.kind
    WHERE ev.attributed_to IS NOT NULL
),
performed AS (
    SELECT p.entry_id, d.recorded_day AS performance_day
    FROM (SELECT * FROM entries WHERE end_reason = 'performed') p
    ASOF JOIN deleting d
        ON d.system = p.system AND d.list = p.list AND d.entity_type = p.entity_type
        AND d.entity = p.entity AND d.recorded_day <= p.end_day
)
SELECT e.entry_id, e.system, e.list, e.entity_type, e.entity, e.wrongful,
       e.start_day, e.end_day, e.end_reason,
       e.end_reason IN ({corrections}) AS corrected,
       e.end_day - e.start_day AS days_listed,
       p.performance_day,
       CASE e.end_reason
           WHEN 'performed' THEN ce.working - cp.working
           WHEN 'objection_upheld' THEN e.end_day - e.start_day
           WHEN 'appeal_upheld' THEN e.end_day - e.start_day
       END AS delay,
       CASE e.end_reason
           WHEN 'performed' THEN 'working days from the performance record'
           WHEN 'objection_upheld' THEN 'days from the entry'
           WHEN 'appeal_upheld' THEN 'days from the entry'
       END AS delay_unit,
       CASE e.end_reason
           WHEN 'performed' THEN e.deletion_delay_working_days
           WHEN 'objection_upheld' THEN e.notice_delay_days + e.review_days
           WHEN 'appeal_upheld' THEN e.notice_delay_days + e.review_days + e.appeal_days
       END AS deadline
FROM entries e
LEFT JOIN performed p USING (entry_id)
LEFT JOIN calendar ce ON ce.day = e.end_day
LEFT JOIN calendar cp ON cp.day = p.performance_day
"""


def compute(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table | Query]:
    """The redress tables of the run read through ``con``.

    ``redress_entries`` (a :class:`Query`: DuckDB writes it): one row per blacklist entry:
    how it ended (``end_reason``; ``still_listed`` when open at the run's end), whether that
    corrected it, the days it lasted, and for a correction with a deadline the ``delay`` (in
    ``delay_unit``) and the ``deadline`` (``within_deadline``). ``redress_by_reason``: per
    system, list, ``wrongful`` and end reason, entries, days listed (median, mean, max), and
    how many were corrected within and after the deadline. ``redress_overview``: per system
    and list, entries and wrongful entries, wrongful entries corrected (and their share, and
    the median days to correction), expired uncorrected and still listed at the end; the
    same for rightful entries, to compare.
    """
    register_facts(con)
    corrections = ", ".join(f"'{c}'" for c in CORRECTIONS)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE audit_redress AS SELECT *, delay <= deadline "
        f"AS within_deadline FROM ({ENTRIES_SQL.format(corrections=corrections)})"
    )
    out: dict[str, pa.Table | Query] = {
        "redress_entries": Query("SELECT * FROM audit_redress ORDER BY entry_id")
    }
    out["redress_by_reason"] = con.sql(
        """
        SELECT system, list, wrongful, end_reason, any_value(corrected) AS corrected,
               count(*) AS entries,
               median(days_listed) AS median_days, round(avg(days_listed), 3) AS mean_days,
               max(days_listed) AS max_days,
               any_value(delay_unit) AS delay_unit, max(deadline) AS deadline,
               max(delay) AS max_delay,
               count(*) FILTER (WHERE within_deadline) AS within_deadline,
               count(*) FILTER (WHERE NOT within_deadline) AS late
        FROM audit_redress GROUP BY ALL ORDER BY ALL
        """
    ).to_arrow_table()
    parts = []
    for label, cond in (("wrongful", "wrongful"), ("rightful", "NOT wrongful")):
        parts += [
            f"count(*) FILTER (WHERE {cond}) AS {label}_entries",
            f"count(*) FILTER (WHERE {cond} AND corrected) AS {label}_corrected",
            f"round(count(*) FILTER (WHERE {cond} AND corrected) / "
            f"greatest(1, count(*) FILTER (WHERE {cond})), 6) AS {label}_corrected_share",
            f"median(days_listed) FILTER (WHERE {cond} AND corrected) "
            f"AS {label}_median_days_to_correction",
            f"count(*) FILTER (WHERE {cond} AND end_reason = 'expired') AS {label}_expired",
            f"count(*) FILTER (WHERE {cond} AND end_reason = 'still_listed') "
            f"AS {label}_still_listed",
            f"count(*) FILTER (WHERE {cond} AND NOT within_deadline) AS {label}_late",
        ]
    out["redress_overview"] = con.sql(
        f"SELECT system, list, count(*) AS entries, {', '.join(parts)} "
        "FROM audit_redress GROUP BY ALL ORDER BY ALL"
    ).to_arrow_table()
    return out
