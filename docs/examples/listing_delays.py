"""Days from a wrongful listing to its correction, by system, list and district.

Core object:
    :func:`compute`: ``compute(con) -> {"listing_delays": table}``, read from a run's
        ``run.duckdb`` alone (``list_entries``, ``citizens``, ``companies``, ``districts``).

A listing is wrongful when it rests on an erroneous record (``list_entries.wrongful``, the
but-for definition of docs/policies.md). It is corrected when the system itself says it
was wrong: an objection or an appeal upheld (``end_reason``). Any other end (its term
expired, the debt was performed, credit repair, a lift) leaves the error uncorrected, and
an entry still open at the end of the run has no end yet: its delay is censored at the
last day, so the mean and median are over corrected entries only, beside how many there
were and how many are still listed.

The district is where the listed person lives, or where the listed company is registered.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

LISTING_DELAYS = """
WITH wrongful AS (
    SELECT e.system, e.list, e.entity_type, e.start_day, e.end_day, e.end_reason,
           coalesce(c.district_code, k.district_code) AS district_code
    FROM list_entries e
    LEFT JOIN citizens c ON e.entity_type = 'person' AND c.person_id = e.entity_id
    LEFT JOIN companies k ON e.entity_type = 'company' AND k.company_id = e.entity_id
    WHERE e.wrongful
)
SELECT w.system::VARCHAR AS system,
       w.list::VARCHAR AS list,
       w.entity_type::VARCHAR AS entity_type,
       w.district_code,
       d.name AS district,
       count(*) AS wrongful_entries,
       count(*) FILTER (WHERE w.end_reason IN ('objection_upheld', 'appeal_upheld'))
           AS corrected,
       count(*) FILTER (WHERE w.end_day IS NULL) AS still_listed,
       avg(w.end_day - w.start_day)
           FILTER (WHERE w.end_reason IN ('objection_upheld', 'appeal_upheld'))
           AS mean_days_to_correction,
       median(w.end_day - w.start_day)
           FILTER (WHERE w.end_reason IN ('objection_upheld', 'appeal_upheld'))
           AS median_days_to_correction
FROM wrongful w
JOIN districts d USING (district_code)
GROUP BY ALL
ORDER BY system, list, entity_type, district_code
"""


def compute(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """The table ``listing_delays``: one row per system, list, entity type and district
    with wrongful entries (none: an empty table with the same columns)."""
    return {"listing_delays": con.sql(LISTING_DELAYS).to_arrow_table()}
