"""The simulated counterparts of published figures: named SQL queries over a run's tables.

Core objects:
    :class:`Metric`: a name, what it counts, one SQL query giving one number, and the
        mechanisms the run must have for the number to mean anything (:class:`Needs`).
    :data:`METRICS`: every metric a figure of ``figures.yaml`` can name.
    :func:`measure`: a metric's value in a run, or the reason it is not comparable.

The queries read only the recorded tables (``docs/database.md``); they never run the
model. A metric needs a mechanism when the run could lack it: the court list's figures
mean nothing in a run without the court-defaulters policy, the cameras' without cameras.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Needs:
    """What a run must contain for a metric to be comparable.

    Attributes:
        system: A policy system (``policies.system``) that must have run.
        component: A component (``stage:name`` as in ``kinds.produced_by``) that must have
            run.
    """

    system: str | None = None
    component: str | None = None

    def missing(self, con: duckdb.DuckDBPyConnection) -> str | None:
        """Why the run in ``con`` lacks the mechanism, or None if it has it."""
        if self.system is not None:
            found = con.execute(
                "SELECT count(*) FROM policies WHERE system::VARCHAR = ?", [self.system]
            ).fetchall()[0][0]
            if not found:
                return f"the run has no '{self.system}' policy"
        if self.component is not None:
            found = con.execute(
                "SELECT count(*) FROM kinds WHERE produced_by = ?", [self.component]
            ).fetchall()[0][0]
            if not found:
                return f"the run has no '{self.component}' component"
        return None


@dataclass(frozen=True)
class Metric:
    """One number computed from a run's tables."""

    name: str
    meaning: str
    sql: str
    needs: Needs

    def value(self, con: duckdb.DuckDBPyConnection) -> float | None:
        """The metric in the run; None when the query has no answer (e.g. no cameras)."""
        row = con.execute(self.sql).fetchall()
        if not row or row[0][0] is None:
            return None
        return float(row[0][0])


_COURT = Needs(system="court-defaulters")
_CAMERAS = Needs(component="sensors:cameras")
_NANJING = Needs(system="nanjing", component="sensors:cameras")

# Cameras are counted as the intersections where a probe was captured over the run
# (the camera network's size is not a table of its own); over a year every camera
# intersection captures some. Cameras that captured nobody identified nobody: the rate
# is then 0, whatever their number.
_CAMERA_COUNT = "(SELECT nullif(count(DISTINCT place_id), 0) FROM identifications)"

METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric(
            "court_flight_blocks",
            "flight-ticket purchases blocked by the court list's joint measures (listed "
            "people and the legal representatives of listed companies)",
            "SELECT count(*) FROM sanctions WHERE system = 'court-defaulters' "
            "AND domain = 'flight_ticket' AND kind = 'blocked'",
            _COURT,
        ),
        Metric(
            "court_rail_blocks",
            "rail-ticket purchases blocked by the court list's joint measures (G-series "
            "seats, first class on D/C trains, soft sleepers; listed people and the legal "
            "representatives of listed companies)",
            "SELECT count(*) FROM sanctions WHERE system = 'court-defaulters' "
            "AND domain = 'rail_ticket' AND kind = 'blocked'",
            _COURT,
        ),
        Metric(
            "court_flight_to_rail_blocks",
            "blocked flight-ticket purchases per blocked rail-ticket purchase (court list)",
            "SELECT count(*) FILTER (WHERE domain = 'flight_ticket') / "
            "nullif(count(*) FILTER (WHERE domain = 'rail_ticket'), 0) FROM sanctions "
            "WHERE system = 'court-defaulters' AND kind = 'blocked'",
            _COURT,
        ),
        Metric(
            "court_new_listings",
            "entries onto the court list of dishonest debtors during the run (people and "
            "companies)",
            "SELECT count(*) FROM list_entries WHERE system = 'court-defaulters' "
            "AND list IN ('dishonest_debtors', 'dishonest_companies') AND start_day >= 0",
            _COURT,
        ),
        Metric(
            "court_listings_performed",
            "court-list entries ended during the run because the debtor performed",
            "SELECT count(*) FROM list_entries WHERE system = 'court-defaulters' "
            "AND list = 'dishonest_debtors' AND end_reason = 'performed' AND end_day >= 0",
            _COURT,
        ),
        Metric(
            "court_listed_at_start",
            "people on the court list when the run starts (the warm start's stock)",
            "SELECT count(DISTINCT entity_id) FROM list_entries "
            "WHERE system = 'court-defaulters' AND list = 'dishonest_debtors' "
            "AND start_day < 0 AND (end_day IS NULL OR end_day >= 0)",
            _COURT,
        ),
        Metric(
            "camera_identifications_first_day",
            "identifications (a face matched to someone) per camera on the run's first day",
            "SELECT coalesce(count(*) / " + _CAMERA_COUNT + ", 0) FROM events "
            "WHERE kind = 'jaywalk_identified' AND day = 0",
            _CAMERAS,
        ),
        Metric(
            "camera_identifications_per_camera_day",
            "identifications (each shown on the roadside screen) per camera per day",
            "SELECT coalesce(count(*) / " + _CAMERA_COUNT + " / (SELECT days FROM run_info), 0) "
            "FROM events WHERE kind = 'jaywalk_identified'",
            _CAMERAS,
        ),
        Metric(
            "camera_identifications_busiest_camera_day",
            "identifications per day at the camera intersection that identified the most",
            "SELECT coalesce(max(n), 0) / (SELECT days FROM run_info) FROM (SELECT place_id, "
            "count(*) AS n FROM events WHERE kind = 'jaywalk_identified' GROUP BY place_id)",
            _CAMERAS,
        ),
        Metric(
            "nanjing_discredited",
            "people listed as discredited under Nanjing's rule (more than five identified "
            "jaywalks in a year) during the run",
            "SELECT count(DISTINCT entity_id) FROM list_entries WHERE system = 'nanjing' "
            "AND list = 'discredited' AND start_day >= 0",
            _NANJING,
        ),
        Metric(
            "nanjing_discredited_wrongly_identified",
            "of the people discredited under Nanjing's rule, those named at least once by a "
            "false match (an identification of somebody else's jaywalk, or of a face on an "
            "advert)",
            "SELECT count(DISTINCT l.entity_id) FROM list_entries l WHERE l.system = "
            "'nanjing' AND l.list = 'discredited' AND l.start_day >= 0 AND EXISTS (SELECT 1 "
            "FROM events e WHERE e.kind = 'jaywalk_identified' AND e.attributed_to = "
            "l.entity_id AND e.error IS NOT NULL)",
            _NANJING,
        ),
    ]
}


def measure(metric: Metric, con: duckdb.DuckDBPyConnection) -> tuple[float | None, str]:
    """The metric's value in the run of ``con``, or None and why it is not comparable."""
    missing = metric.needs.missing(con)
    if missing is not None:
        return None, missing
    value = metric.value(con)
    if value is None:
        return None, f"{metric.name}: the run recorded nothing to compute it from"
    return value, ""
