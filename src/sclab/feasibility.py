"""Whether a scenario can run at all, and on this machine, decided before any work.

Core objects:
    :func:`id_space_problem`: whether the scenario's population fits the resident-ID
        sequence numbers (500 men and 499 women per region code, birth date and sex); a
        scenario-level check, run when a scenario is validated.
    :func:`estimate_peak_bytes`: the peak resident memory a run of the scenario needs,
        from a model fitted to measured runs (fixed + per person + per tie end).
    :func:`available_memory_bytes`: what this machine can give a new process now.
    :func:`check_feasibility`: both checks, raising one-line errors; the first thing
        :func:`sclab.run.run_scenario` does.

Both questions have answers before a single person is generated. Without them a run too
large for the machine, or for the ID format, fails minutes in (a traceback when sequence
numbers run out, or the kernel killing the process at the memory ceiling).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sclab.errors import ScenarioError

if TYPE_CHECKING:
    from sclab.scenario.schema import Scenario

# --------------------------------------------------------------------------------------
# Resident-ID sequence numbers
# --------------------------------------------------------------------------------------

#: Sequence numbers per (region code, birth date, sex): GB 11643's three digits, odd for
#: men (001-999: 500) and even for women (002-998: 499; 000 is never issued).
SEQUENCE_CAPACITY = {True: 500, False: 499}

#: Refuse a scenario when the expected number of (region, birth date, sex) cells that
#: overflow reaches this: generation would then fail for about one seed in a hundred or
#: more. Below it, the rare seed that overflows still gets a one-line error (naming the
#: cell) when sequence numbers are assigned.
OVERFLOW_RISK = 0.01

# Cells whose expected count is below this cannot overflow in practice: the chance that a
# Poisson count with this mean exceeds 499 is below 1e-40, and a scenario has at most a
# few tens of millions of cells. Only cells above it are evaluated exactly.
_NEGLIGIBLE_MEAN = 250.0


@dataclass(frozen=True)
class IdCell:
    """The fullest (region code, birth date, sex) cell of a scenario's resident IDs."""

    region: int
    birth_date: dt.date
    male: bool
    expected: float  # expected number of people who need a sequence number there
    overflow_risk: float  # expected number of overflowing cells over the whole scenario
    max_population: int  # the largest population.size whose risk stays below the bound

    @property
    def capacity(self) -> int:
        return SEQUENCE_CAPACITY[self.male]


def _birth_day_mass(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(birth days, share of people born on each) as the generator draws birth days.

    Mirrors :func:`sclab.population.citizens._band_ages`: an age band by its share, then
    ``floor(age_in_years * DAYS_PER_YEAR)`` days uniformly inside it, capped two days
    below the band's upper end, subtracted from day 0 and truncated to an integer. The cap
    folds the band's last days onto one, which is then the fullest day of the band.
    """
    from sclab.population.citizens import DAYS_PER_YEAR
    from sclab.population.geography import day_number

    start = day_number(scenario.start_date)
    days: list[np.ndarray] = []
    mass: list[np.ndarray] = []
    for lo, hi_incl, share in scenario.population.demography.parsed_bands():
        hi = hi_incl + 1
        a, b = lo * DAYS_PER_YEAR, hi * DAYS_PER_YEAR
        k = np.arange(np.floor(a), np.ceil(b))  # the values floor(x) takes for x in [a, b)
        width = np.minimum(k + 1, b) - np.maximum(k, a)
        age_days = np.minimum(k, hi * DAYS_PER_YEAR - 2)
        days.append(np.trunc(start - age_days).astype(np.int64))
        mass.append(share * width / (b - a))
    all_days = np.concatenate(days)
    first = int(all_days.min())
    per_day = np.bincount(all_days - first, weights=np.concatenate(mass))
    born = np.flatnonzero(per_day) + first
    return born, per_day[born - first]


def _migrant_weight(scenario: Scenario, ages: np.ndarray) -> np.ndarray:
    """The relative weight of being a migrant at each age (``registration.age_weights``)."""
    w = np.ones(len(ages))
    for key, value in scenario.population.registration.age_weights.items():
        lo, hi = (int(x) for x in key.split("-"))
        w[(ages >= lo) & (ages <= hi)] = value
    return w


def _expected_cells(scenario: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected people per (region, birth day) cell for each sex.

    Returns:
        (region codes, birth days, expected counts of shape (2, regions, days)), women
        first. Locals take their district's code; migrants their origin's, from any
        district, in proportion to the origins' shares (as the generator draws them).
    """
    from sclab.population.geography import age_on, apportion

    pop = scenario.population
    districts = scenario.geography.districts
    sizes = apportion(pop.size, np.array([d.population for d in districts])).astype(float)
    born, mass = _birth_day_mass(scenario)
    weight = _migrant_weight(scenario, age_on(born, scenario.start_date).astype(np.int64))
    mean_weight = float(np.dot(mass, weight))
    origins = pop.registration.origins
    regions = sorted({d.code for d in districts} | set(origins))
    row = {code: i for i, code in enumerate(regions)}
    cells = np.zeros((len(regions), len(born)))
    migrants = np.zeros(len(born))
    for district, n in zip(districts, sizes, strict=True):
        share = pop.registration.migrant_share
        if district.migrant_share is not None:
            share = district.migrant_share
        p_migrant = np.clip(share * weight / mean_weight, 0.0, 1.0) if mean_weight else weight
        cells[row[district.code]] += n * mass * (1.0 - p_migrant)
        migrants += n * mass * p_migrant
    for code, share in origins.items():
        cells[row[int(code)]] += share * migrants
    male = pop.demography.male_share
    return np.array(regions), born, np.stack([(1.0 - male) * cells, male * cells])


def _overflow_risk(expected: np.ndarray, scale: float) -> float:
    """Expected number of overflowing cells when every expected count is scaled."""
    from scipy.stats import poisson

    risk = 0.0
    for sex, capacity in ((0, SEQUENCE_CAPACITY[False]), (1, SEQUENCE_CAPACITY[True])):
        lam = expected[sex] * scale
        lam = lam[lam > _NEGLIGIBLE_MEAN]
        if lam.size:
            risk += float(poisson.sf(capacity, lam).sum())
    return risk


def id_space_problem(scenario: Scenario) -> IdCell | None:
    """The fullest resident-ID cell, if the population is at risk of not fitting.

    Counts per (region code, birth date, sex) are nearly Poisson (many people, each with a
    small chance of falling in a given cell), so the expected number of cells that need
    more than their 500 (men) or 499 (women) sequence numbers is a sum of Poisson tails.
    A scenario is at risk when that sum reaches :data:`OVERFLOW_RISK`.

    Returns:
        None when the population fits; otherwise the fullest cell and the largest
        population size (same marginals) that would fit.
    """
    pop = scenario.population
    districts = scenario.geography.districts
    # A quick bound first. A cell holds at most the people whose ID may carry its region
    # code (its district's residents, and all migrants times the origin's share), times
    # the densest birth day (a band's share spread over its days; the cap in the birth-day
    # draw folds at most about three days onto one, hence 4), times the larger sex.
    total = sum(d.population for d in districts)
    region_people: dict[int, float] = {}
    for d in districts:
        region_people[d.code] = pop.size * d.population / total
    for code, share in pop.registration.origins.items():
        region_people[int(code)] = region_people.get(int(code), 0.0) + share * pop.size
    densest_day = 4 * max(share / (hi + 1 - lo) for lo, hi, share in pop.demography.parsed_bands())
    bound = max(region_people.values()) * densest_day / 365.2425
    if bound * max(pop.demography.male_share, 0.5) <= _NEGLIGIBLE_MEAN:
        return None
    regions, born, expected = _expected_cells(scenario)
    risk = _overflow_risk(expected, 1.0)
    if risk < OVERFLOW_RISK:
        return None
    sex, region, day = np.unravel_index(int(np.argmax(expected)), expected.shape)
    # The risk grows with the population size (every expected count scales with it):
    # bisect on the scale for the largest size that stays below the bound.
    lo_scale, hi_scale = 0.0, 1.0
    for _ in range(40):
        mid = (lo_scale + hi_scale) / 2
        if _overflow_risk(expected, mid) < OVERFLOW_RISK:
            lo_scale = mid
        else:
            hi_scale = mid
    return IdCell(
        region=int(regions[region]),
        birth_date=dt.date(1970, 1, 1) + dt.timedelta(days=int(born[day])),
        male=bool(sex),
        expected=float(expected[sex, region, day]),
        overflow_risk=risk,
        # A hair below the bound: district sizes are whole people at any other size.
        max_population=int(pop.size * lo_scale * 0.9999),
    )


def id_space_message(cell: IdCell, size: int) -> str:
    """One line saying why ``size`` people do not fit the resident-ID format."""
    sex = "men" if cell.male else "women"
    return (
        f"{size:,} people do not fit the resident-ID format: about {cell.expected:,.0f} {sex} "
        f"with region code {cell.region} would be born on {cell.birth_date.isoformat()}, but "
        f"a region, birth date and sex has only {cell.capacity} sequence numbers; with these "
        f"marginals at most about {cell.max_population:,} people fit (or add districts)"
    )


def sequence_overflow(group_key: np.ndarray, male: np.ndarray, size: int) -> ScenarioError | None:
    """The error for a population whose IDs overflowed although the scenario was accepted.

    :func:`id_space_problem` refuses scenarios at risk; a draw past that risk (a seed in a
    hundred or fewer) still fails when sequence numbers are assigned. This names the
    fullest cell, decoded from ``group_key`` as built by
    :func:`sclab.population.generate_population` (``region * 1e6 + birth day + 200000``).

    Returns:
        The error to raise, or None if no cell is over capacity (the failure was another).
    """
    key = np.asarray(group_key, dtype=np.int64) * 2 + np.asarray(male, dtype=np.int64)
    cells, counts = np.unique(key, return_counts=True)
    capacity = np.where(cells % 2 == 1, SEQUENCE_CAPACITY[True], SEQUENCE_CAPACITY[False])
    over = counts - capacity
    worst = int(np.argmax(over))
    if over[worst] <= 0:
        return None
    group, is_male = divmod(int(cells[worst]), 2)
    region, day = divmod(group, 1_000_000)
    born = dt.date(1970, 1, 1) + dt.timedelta(days=day - 200_000)
    return ScenarioError(
        f"{size:,} people do not fit the resident-ID format in this draw: "
        f"{int(counts[worst]):,} {'men' if is_male else 'women'} with region code {region} "
        f"were born on {born.isoformat()}, but a region, birth date and sex has only "
        f"{SEQUENCE_CAPACITY[bool(is_male)]} sequence numbers; lower the size or add districts",
        field="population.size",
    )


# --------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryModel:
    """Peak resident memory of a run: ``fixed + per_person * people + per_tie_end * ends``.

    A tie end is one of a tie's two people (the graph keeps every tie at both ends), so
    ``ends = people * mean degree``.
    """

    fixed: float  # bytes: the interpreter, NumPy, DuckDB and Arrow, DuckDB's buffer pool
    per_person: float  # bytes a person
    per_tie_end: float  # bytes a tie end

    def peak(self, people: int, mean_degree: float) -> float:
        return self.fixed + people * (self.per_person + mean_degree * self.per_tie_end)


#: Runs with any component (source, sensor, policy or behaviour): the full ``composite``
#: world (every source, sensor and behaviour, the five packs side by side), the most
#: memory any combination of built-in components takes. The fixed part and the tie ends
#: are the least-squares fit of docs/performance.md ("Memory model of the feasibility
#: check"); the bytes a person follow the measured peaks of one-year runs, which fall on
#: day 0 with the whole warm-start history in memory: 1,027 MiB at 1M people (the model:
#: 4 % more) and 734-769 B a person at 9.3M (degree 12; the model: 759 B).
WITH_COMPONENTS = MemoryModel(fixed=400e6, per_person=620.0, per_tie_end=8.0)

#: Runs that only generate and store the population (no component), fitted the same way
#: to runs at 1M people (degree 12 and 24) and 3M (degree 12).
POPULATION_ONLY = MemoryModel(fixed=214e6, per_person=81.0, per_tie_end=7.2)


def estimate_peak_bytes(scenario: Scenario) -> int:
    """The peak resident memory a run of ``scenario`` needs, in bytes (see the models)."""
    enabled = any(
        spec.enabled
        for stage in ("sources", "sensors", "policies", "behaviour")
        for spec in getattr(scenario, stage)
    )
    model = WITH_COMPONENTS if enabled else POPULATION_ONLY
    degree = scenario.social_graph.degree
    return int(model.peak(scenario.population.size, min(degree.mean, degree.max_degree)))


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None  # absent, or "max" (no limit)


def available_memory_bytes(root: Path = Path("/")) -> int | None:
    """Memory a new run can use now: the kernel's ``MemAvailable`` (free memory plus
    caches it can drop), or less if the control group has a lower limit (a container).

    Args:
        root: Where ``proc`` and ``sys`` are (tests point it at a made-up tree).

    Returns:
        Bytes, or None where neither ``/proc/meminfo`` nor ``os.sysconf`` can tell.
    """
    available: int | None = None
    try:
        for line in (root / "proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            return None
    # What is left under the control group's limit: cgroup v2, then v1 (whose "no limit"
    # is a huge number rather than "max").
    cgroup = root / "sys/fs/cgroup"
    for limit_file, usage_file in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
        limit, usage = _read_int(cgroup / limit_file), _read_int(cgroup / usage_file)
        if limit is not None and usage is not None and limit < 1 << 60:
            available = min(available, max(limit - usage, 0))
            break
    return available


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def check_feasibility(scenario: Scenario, *, memory: bool = True) -> None:
    """Refuse, before any work, a run that cannot finish: IDs that cannot be issued, or
    more memory than the machine has available.

    Args:
        scenario: A validated scenario.
        memory: Compare the estimated peak memory with what is available (the
            ``--skip-memory-check`` option turns this off, for machines with swap).

    Raises:
        ScenarioError: naming ``population.size``, the estimate and what is available.
    """
    cell = id_space_problem(scenario)
    if cell is not None:  # a scenario built without validation
        raise ScenarioError(
            id_space_message(cell, scenario.population.size), field="population.size"
        )
    if not memory:
        return
    available = available_memory_bytes()
    if available is None:
        return
    need = estimate_peak_bytes(scenario)
    if need > available:
        raise ScenarioError(
            f"a run of {scenario.population.size:,} people needs about {_gib(need)} of memory "
            f"at its peak, but this machine has {_gib(available)} available; lower the size, "
            "free memory, or pass --skip-memory-check if swap can make up the difference",
            field="population.size",
        )
