"""The camera network in the report: identifications, misses and false matches, and the
false-match rate a matcher of the run's operating point is expected to give.

Core objects:
    :class:`MatcherFacts`: the matcher's resolved settings as plain numbers (the
        per-comparison false-match rate of a reference gallery member, the miss rate,
        the demographic and condition multipliers, the preset and its source). The report
        does not import the sensors; ``sclab report`` resolves them from the scenario as
        run and passes them in.
    :func:`expected_fpir`: ``1 - (1 - FMR x m)^N``, the chance that a search of someone
        not enrolled names somebody among N gallery members (the closed form of
        :mod:`sclab.sensors.face_recognition`, repeated here over plain numbers).
    :func:`gallery_mix`: the gallery's members and the probes by lookalike cell (sex and
        10-year age band), with each cell's mean demographic FMR multiplier.
    :func:`expected_vs_simulated`: per gallery size, the non-mated searches, their false
        matches with a Wilson interval, and the expected rate for their capture
        conditions.
    :func:`wilson`: the Wilson score interval of a proportion.

The expected rate averages the closed form over the probes' lookalike cells, weighted as
the residents the cameras identified (the only probes whose sex and age the run
records; non-residents are drawn like resident jaywalkers, printed faces like the adult
gallery), and over their recorded capture conditions.

COST MODEL: three GROUP BY queries in DuckDB (the gallery by sex, age band and ethnic
group over ``citizens``; the identified residents by sex and age band; the searches of
people not enrolled by conditions): O(rows) scans, a few dozen rows back whatever the
population, then closed forms over those rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from sclab.report.data import RunData

#: The capture conditions recorded per identification, in the table's column order.
CONDITIONS = ("night", "helmet", "sunglasses", "mask")
#: 10-year age bands of the matcher's lookalike cells (as the matcher names them).
AGE_BANDS = (*(f"{10 * b}-{10 * b + 9}" for b in range(9)), "90+")


@dataclass(frozen=True)
class MatcherFacts:
    """A matcher's operating point and multipliers (see the module's docstring)."""

    preset: str
    fmr: float
    fnir: float
    female_fmr: float = 1.0
    age_fmr: dict[str, float] = field(default_factory=dict)
    ethnic_fmr: dict[str, float] = field(default_factory=dict)
    other_ethnic_fmr: float = 1.0
    condition_fmr: dict[str, float] = field(default_factory=dict)
    source: str = ""


def expected_fpir(fmr: float, gallery_size: float, multiplier: float = 1.0) -> float:
    """``1 - (1 - fmr x multiplier)^N``, exact for tiny rates and huge galleries."""
    p = min(max(fmr * multiplier, 0.0), 1.0)
    if gallery_size <= 0:
        return 0.0
    if p >= 1.0:
        return 1.0
    return -math.expm1(gallery_size * math.log1p(-p))


#: The standard normal quantile of a two-sided 95% interval.
Z95 = NormalDist().inv_cdf(0.975)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The 95% Wilson score interval of ``successes / n`` (None, None without trials)."""
    if n <= 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Exact at the edges, as the fairness audit's intervals (rounding would put them a
    # hair inside).
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == n else min(1.0, centre + half)
    return lower, upper


@dataclass(frozen=True)
class GalleryMix:
    """The gallery and the probes by lookalike cell (sex, 10-year age band).

    Attributes:
        size: Gallery members (citizens in the ID-card or driving-licence database).
        mean_multiplier: Their mean demographic FMR multiplier.
        cells: (share of probes, mean multiplier of the cell's gallery members) per cell
            with members; the probes' shares are those of the residents the cameras
            identified (sex and age of the true pedestrian), non-residents being drawn
            like resident jaywalkers.
    """

    size: int
    mean_multiplier: float
    cells: list[tuple[float, float]]

    def fpir(self, m: MatcherFacts, gallery_size: float, condition: float) -> float:
        """Expected FPIR of a search of someone not enrolled, over the probes' cells."""
        return sum(
            w * expected_fpir(m.fmr, gallery_size, mbar * condition) for w, mbar in self.cells
        )


def gallery_mix(data: RunData, m: MatcherFacts) -> GalleryMix:
    """The run's gallery and probe mix (see :class:`GalleryMix`)."""
    rows = data.rows(
        "SELECT sex::VARCHAR AS sex, least(age // 10, 9)::INTEGER AS band, "
        "ethnic_group::VARCHAR AS ethnic_group, count(*) AS n FROM citizens "
        "WHERE in_id_photo_db OR in_driver_db GROUP BY ALL"
    )
    size = sum(int(r["n"]) for r in rows)
    if not size:
        return GalleryMix(0, 1.0, [])
    members: dict[tuple[str, int], float] = {}
    weight: dict[tuple[str, int], float] = {}
    for r in rows:
        mult = (m.female_fmr if r["sex"] == "female" else 1.0) * m.age_fmr.get(
            AGE_BANDS[r["band"]], 1.0
        )
        mult *= m.ethnic_fmr.get(r["ethnic_group"], m.other_ethnic_fmr)
        key = (r["sex"], int(r["band"]))
        members[key] = members.get(key, 0.0) + r["n"]
        weight[key] = weight.get(key, 0.0) + r["n"] * mult
    probes = {
        (r["sex"], int(r["band"])): float(r["n"])
        for r in data.rows(
            "SELECT c.sex::VARCHAR AS sex, least(c.age // 10, 9)::INTEGER AS band, "
            "count(*) AS n FROM identifications i JOIN events e USING (event_id) "
            "JOIN citizens c ON c.person_id = e.true_actor "
            "WHERE i.probe_subject = 'resident' AND e.entity_type = 'person' GROUP BY ALL"
        )
    } or dict(members)  # nobody identified: probes like the gallery
    total = sum(probes.values())
    cells = [
        (n / total, weight[k] / members[k]) for k, n in probes.items() if members.get(k)
    ]  # a probe without lookalikes in the gallery is never falsely matched: FPIR 0
    return GalleryMix(size, sum(weight.values()) / size, cells)


def _condition_multiplier(m: MatcherFacts, row: dict[str, Any]) -> float:
    out = 1.0
    for c in CONDITIONS:
        if row.get(c):
            out *= m.condition_fmr.get(c, 1.0)
    return out


def expected_vs_simulated(data: RunData, m: MatcherFacts) -> list[dict[str, Any]]:
    """Per gallery size: non-mated searches, false matches, the simulated rate with its
    interval, and the expected rate for their recorded capture conditions."""
    mix = gallery_mix(data, m)
    by_conditions = data.rows(
        f"SELECT gallery_size, {', '.join(CONDITIONS)}, count(*) AS searches, "
        "count(*) FILTER (WHERE outcome = 'false_match') AS false_matches "
        "FROM identifications WHERE NOT subject_in_gallery GROUP BY ALL ORDER BY ALL"
    )
    out: dict[int, dict[str, Any]] = {}
    for r in by_conditions:
        size = int(r["gallery_size"])
        row = out.setdefault(
            size, {"gallery_size": size, "searches": 0, "false_matches": 0, "expected_sum": 0.0}
        )
        row["searches"] += r["searches"]
        row["false_matches"] += r["false_matches"]
        row["expected_sum"] += r["searches"] * mix.fpir(m, size, _condition_multiplier(m, r))
    rows = []
    for size in sorted(out):
        row = out[size]
        n, k = row["searches"], row["false_matches"]
        lower, upper = wilson(k, n)
        rows.append(
            {
                "gallery_size": size,
                "searches": n,
                "false_matches": k,
                "rate": k / n if n else None,
                "lower": lower,
                "upper": upper,
                "expected": row["expected_sum"] / n if n else None,
            }
        )
    return rows


def condition_mix(data: RunData, m: MatcherFacts) -> list[tuple[float, float]]:
    """(share of non-mated searches, FMR multiplier) per combination of conditions."""
    rows = data.rows(
        f"SELECT {', '.join(CONDITIONS)}, count(*) AS n FROM identifications "
        "WHERE NOT subject_in_gallery GROUP BY ALL"
    )
    total = sum(r["n"] for r in rows)
    return [(r["n"] / total, _condition_multiplier(m, r)) for r in rows] if total else []


def curve(
    m: MatcherFacts, gallery: GalleryMix, mix: list[tuple[float, float]], largest: float
) -> list[dict[str, Any]]:
    """Expected false-match rate per search at gallery sizes from 1,000 to past
    ``largest`` (log-spaced): for a reference member in good conditions, and for the
    run's gallery and capture conditions."""
    top = max(8.0, math.ceil(math.log10(max(largest, 1.0))) + 1)
    sizes = [10 ** (3 + i * (top - 3) / 40) for i in range(41)]
    rows = []
    for n in sizes:
        rows.append(
            {
                "gallery_size": round(n),
                "series": "reference member, good conditions",
                "rate": expected_fpir(m.fmr, n),
            }
        )
        if mix:
            rate = sum(w * gallery.fpir(m, n, c) for w, c in mix)
            rows.append(
                {
                    "gallery_size": round(n),
                    "series": "this run's gallery and conditions",
                    "rate": rate,
                }
            )
    return rows
