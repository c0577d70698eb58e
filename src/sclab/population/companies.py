"""Synthetic companies, each with a Unified Social Credit Code and a legal representative.

Core objects:
    :class:`Companies`: struct-of-arrays state (index = company_id).
    :func:`generate_district_companies`: the companies registered in one district.

Legal representatives are drawn from the district's adult citizens with weights rising
with income decile (owners are better off on average), with replacement: one person may
represent several companies, which is what makes corporate sanctions spill over onto
people in the policy engine.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sclab.ids import make_usccs
from sclab.population.names import draw_categorical
from sclab.scenario.schema import CompanySpec

SIZES = ("micro", "small", "medium", "large")
# Employee ranges per size class (inclusive lower, exclusive upper), after the 2017 SME
# classification's typical thresholds.
_EMPLOYEES = {"micro": (1, 10), "small": (10, 100), "medium": (100, 1000), "large": (1000, 20000)}
_FOUNDING_WINDOW_DAYS = 30 * 365


@dataclass
class Companies:
    """All synthetic companies of a run."""

    district: np.ndarray  # uint8
    sector: np.ndarray  # uint8, index into CompanySpec.sectors
    size: np.ndarray  # uint8, index into SIZES
    employees: np.ndarray  # int32
    legal_rep: np.ndarray  # int32, person_id
    founded_day: np.ndarray  # int32, days since 1970-01-01
    uscc: np.ndarray  # S18

    def __len__(self) -> int:
        return int(self.district.shape[0])

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))


def generate_district_companies(
    index: int,
    region_code: int,
    n: int,
    spec: CompanySpec,
    person_offset: int,
    age: np.ndarray,
    income_decile: np.ndarray,
    start_day: int,
    rng: np.random.Generator,
) -> Companies:
    """The ``n`` companies of one district.

    Args:
        index: District position in the scenario.
        region_code: GB/T 2260 code, embedded in each USCC.
        n: Number of companies.
        spec: Company marginals.
        person_offset: person_id of the district's first citizen.
        age: Ages of the district's citizens on day 0.
        income_decile: Their income deciles.
        start_day: Day 0 as days since 1970-01-01.
        rng: The district's company stream.
    """
    sector = draw_categorical(np.array(list(spec.sectors.values())), n, rng).astype(np.uint8)
    size_p = np.array([spec.sizes.get(s, 0.0) for s in SIZES])
    size = draw_categorical(size_p, n, rng).astype(np.uint8)
    lo = np.array([_EMPLOYEES[s][0] for s in SIZES])[size]
    hi = np.array([_EMPLOYEES[s][1] for s in SIZES])[size]
    # Log-uniform within the class: small firms are far more common than large ones.
    employees = np.floor(np.exp(np.log(lo) + (np.log(hi) - np.log(lo)) * rng.random(n)))
    eligible = np.flatnonzero((age >= spec.legal_rep_min_age) & (age <= spec.legal_rep_max_age))
    if n and len(eligible) == 0:
        raise ValueError(
            f"district {region_code} has companies but no citizen aged "
            f"{spec.legal_rep_min_age}-{spec.legal_rep_max_age} to represent them; "
            "increase the population or set companies.per_1000_people to 0"
        )
    weights = (income_decile[eligible].astype(float) + 1.0) ** 1.5
    reps = eligible[draw_categorical(weights / weights.sum(), n, rng)] if n else eligible[:0]
    founded = start_day - rng.integers(1, _FOUNDING_WINDOW_DAYS, n)
    uscc = make_usccs(np.full(n, region_code, dtype=np.int64), rng)
    return Companies(
        district=np.full(n, index, dtype=np.uint8),
        sector=sector,
        size=size,
        employees=np.minimum(employees, hi - 1).astype(np.int32),
        legal_rep=(reps + person_offset).astype(np.int32),
        founded_day=founded.astype(np.int32),
        uscc=uscc,
    )


def concat(parts: list[Companies]) -> Companies:
    """Join per-district companies (company ids follow the order)."""
    return Companies(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Companies)}
    )
