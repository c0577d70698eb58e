"""Summaries a run stores for its readers: ``daily_stats``.

Core objects:
    :func:`write_daily_stats`: per day, system and measure, counts computed with SQL from
        the recorded tables once the days are over (the audit reads the store; nothing is
        counted inside a simulated day).

The monthly ``score_histograms`` cannot be rebuilt from the tables (see
:mod:`sclab.policy.histograms`); the run takes them from the policies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sclab.store.database import RunDatabase


def write_daily_stats(db: RunDatabase, days: int) -> None:
    """Fill ``daily_stats`` from the recorded tables (see ``docs/database.md``)."""
    last = int(days) - 1
    db.execute(f"""
        INSERT INTO daily_stats
        WITH days AS (SELECT CAST(range AS INTEGER) AS day FROM range({last + 1})),
        flows AS (
            SELECT recorded_day AS day, NULL::"system" AS system,
                'events_recorded' AS measure, CAST(kind AS VARCHAR) AS item,
                count(*) AS n, count(*) FILTER (WHERE error IS NOT NULL) AS w
            FROM events WHERE recorded_day BETWEEN 0 AND {last} GROUP BY ALL
            UNION ALL
            SELECT day, system, 'score_changes', CAST(score AS VARCHAR),
                count(*), count(*) FILTER (WHERE wrongful)
            FROM score_changes WHERE day BETWEEN 0 AND {last} GROUP BY ALL
            UNION ALL
            SELECT start_day, system, 'list_entries', CAST(list AS VARCHAR),
                count(*), count(*) FILTER (WHERE wrongful)
            FROM list_entries WHERE start_day BETWEEN 0 AND {last} GROUP BY ALL
            UNION ALL
            SELECT end_day, system, 'list_exits', CAST(list AS VARCHAR),
                count(*), count(*) FILTER (WHERE wrongful)
            FROM list_entries WHERE end_day BETWEEN 0 AND {last} GROUP BY ALL
            UNION ALL
            SELECT day, system, 'sanctions', CAST(kind AS VARCHAR),
                count(*), count(*) FILTER (WHERE wrongful)
            FROM sanctions WHERE day BETWEEN 0 AND {last} GROUP BY ALL
        ),
        -- Listed at the end of day d: start_day <= d and (end_day IS NULL or end_day > d);
        -- entries made before the run count from day 0.
        stock_changes AS (
            SELECT system, item, day, sum(n) AS n, sum(w) AS w FROM (
                SELECT system, CAST(list AS VARCHAR) AS item, greatest(start_day, 0) AS day,
                    count(*) AS n, count(*) FILTER (WHERE wrongful) AS w
                FROM list_entries WHERE start_day <= {last} GROUP BY ALL
                UNION ALL
                SELECT system, CAST(list AS VARCHAR), greatest(end_day, 0),
                    -count(*), -count(*) FILTER (WHERE wrongful)
                FROM list_entries WHERE end_day <= {last} GROUP BY ALL
            ) GROUP BY ALL
        ),
        series AS (SELECT DISTINCT system, measure, item FROM flows),
        lists AS (SELECT DISTINCT system, item FROM stock_changes)
        SELECT d.day, s.system, s.measure, s.item, coalesce(f.n, 0), coalesce(f.w, 0)
        FROM series s CROSS JOIN days d
        LEFT JOIN flows f ON f.system IS NOT DISTINCT FROM s.system
            AND f.measure = s.measure AND f.item = s.item AND f.day = d.day
        UNION ALL
        SELECT d.day, l.system, 'listed', l.item,
            sum(coalesce(c.n, 0)) OVER running, sum(coalesce(c.w, 0)) OVER running
        FROM lists l CROSS JOIN days d
        LEFT JOIN stock_changes c ON c.system = l.system AND c.item = l.item AND c.day = d.day
        WINDOW running AS (PARTITION BY l.system, l.item ORDER BY d.day)
    """)
