"""Runs that cannot finish are refused before any work: resident IDs and memory.

The resident-ID check predicts, from the scenario's marginals alone, how many people the
generator puts in each (region code, birth date, sex) cell; these tests hold the
prediction against populations actually generated, check that the largest size it
accepts does fit and that a larger one does overflow (with a one-line error naming the
cell), and check the memory estimate and the reading of available memory.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import small_scenario

from sclab.errors import ScenarioError
from sclab.feasibility import (
    POPULATION_ONLY,
    SEQUENCE_CAPACITY,
    WITH_COMPONENTS,
    _expected_cells,
    available_memory_bytes,
    check_feasibility,
    estimate_peak_bytes,
    id_space_problem,
    sequence_overflow,
)
from sclab.ids import assign_sequence_numbers
from sclab.population.citizens import concat, generate_district
from sclab.population.geography import apportion, day_number
from sclab.scenario.schema import Scenario
from sclab.targets import load_scenario

# Half the people born in the last year: the cells of that year fill 50 times faster than
# the others, so a few hundred thousand people reach the ID format's limit.
DENSE = {
    "demography": {"age_bands": {"0-0": 0.5, "1-99": 0.5}},
    "registration": {"migrant_share": 0.3, "origins": {341221: 0.6, 320115: 0.4}},
}


def dense_scenario(size: int) -> Scenario:
    """The dense scenario at any size, validated at a small one (a size past the ID
    format's limit would not validate)."""
    small = Scenario.model_validate(small_scenario(population={"size": 1000, **DENSE}))
    return small.model_copy(
        update={"population": small.population.model_copy(update={"size": size})}
    )


def generate_ids_input(scenario: Scenario, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Citizens of every district, as the population generator draws them, and the
    (region, birth date) group key the resident-ID step uses."""
    districts = scenario.geography.districts
    sizes = apportion(scenario.population.size, np.array([d.population for d in districts]))
    root = np.random.SeedSequence(seed)
    parts = [
        generate_district(
            i, d, int(n), scenario.population, scenario.start_date, np.random.default_rng(s)
        )
        for i, (d, n, s) in enumerate(
            zip(districts, sizes, root.spawn(len(districts)), strict=True)
        )
    ]
    citizens = concat(parts)
    group = citizens.id_region.astype(np.int64) * 1_000_000 + (citizens.birth_day + 200_000)
    return group, citizens.male


def test_predicted_cells_match_generated_populations() -> None:
    """Per (region, birth day, sex) cell, generated counts are Poisson around the
    prediction: z-scores over the cells with at least 50 expected people have mean square
    1 (within 0.2, about four standard errors) and none beyond 5.5."""
    scenario = dense_scenario(400_000)
    regions, born, expected = _expected_cells(scenario)
    group, male = generate_ids_input(scenario, seed=11)
    region_of = {int(code): i for i, code in enumerate(regions)}
    day_of = {int(day): j for j, day in enumerate(born)}
    observed = np.zeros_like(expected)
    keys, counts = np.unique(group * 2 + male, return_counts=True)
    for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
        g, sex = divmod(key, 2)
        region, day = divmod(g, 1_000_000)
        observed[sex, region_of[region], day_of[day - 200_000]] = count
    assert observed.sum() == expected.sum() == pytest.approx(400_000)
    big = expected >= 50
    assert big.sum() > 1000
    z = (observed[big] - expected[big]) / np.sqrt(expected[big])
    assert abs(float(np.mean(z**2)) - 1.0) < 0.2
    assert float(np.abs(z).max()) < 5.5
    # The fullest predicted day is where the birth-day draw folds the band's last days
    # (a year before day 0), a quarter fuller than the band's other days; the z-scores
    # above hold there too.
    sex, region, day = np.unravel_index(int(np.argmax(expected)), expected.shape)
    fold = dt.date(1970, 1, 1) + dt.timedelta(days=int(born[day]))
    assert fold == scenario.start_date - dt.timedelta(days=364)
    assert expected[sex, region, day] == pytest.approx(1.2425 * expected[sex, region, day + 1])


def test_the_largest_accepted_size_fits_and_a_larger_one_overflows() -> None:
    refused = id_space_problem(dense_scenario(2_000_000))
    assert refused is not None
    assert refused.region == 320115 and refused.male
    assert refused.expected > SEQUENCE_CAPACITY[True]
    largest = refused.max_population
    assert 500_000 < largest < 2_000_000
    assert id_space_problem(dense_scenario(largest)) is None
    assert id_space_problem(dense_scenario(int(largest * 1.02))) is not None

    group, male = generate_ids_input(dense_scenario(largest), seed=3)
    seq = assign_sequence_numbers(group, male, np.random.default_rng(0))
    assert seq.min() >= 1 and seq.max() <= 999

    size = int(largest * 1.5)
    group, male = generate_ids_input(dense_scenario(size), seed=3)
    with pytest.raises(ValueError, match="exhausted"):
        assign_sequence_numbers(group, male, np.random.default_rng(0))
    error = sequence_overflow(group, male, size)
    assert isinstance(error, ScenarioError)
    text = error.one_line()
    assert text.startswith("population.size: ")
    assert "sequence numbers" in text and str(refused.region) in text
    # The cell it names does hold more people than the format allows.
    born = dt.date.fromisoformat(text.split("born on ")[1][:10])
    key = refused.region * 1_000_000 + day_number(born) + 200_000
    is_male = "men with" in text and "women" not in text
    in_cell = int(((group == key) & (male == is_male)).sum())
    assert in_cell > SEQUENCE_CAPACITY[is_male]


def test_no_overflow_means_no_id_error() -> None:
    group = np.array([1, 1, 2], dtype=np.int64) * 1_000_000 + 200_000
    assert sequence_overflow(group, np.array([True, False, True]), 3) is None


def test_the_built_in_scenarios_fit() -> None:
    for name in ("demo", "nanjing"):
        assert id_space_problem(load_scenario(name)) is None


def test_memory_estimate_follows_the_measured_runs() -> None:
    """The composite year at 9.3M people measured 734-769 B a person (BENCHMARKS.md);
    the model follows it within 5 %, and grows with size and degree."""
    nanjing = load_scenario("nanjing")
    per_person = estimate_peak_bytes(nanjing) / nanjing.population.size
    assert 700 <= per_person <= 800
    assert WITH_COMPONENTS.peak(10**6, 24) > WITH_COMPONENTS.peak(10**6, 12)
    assert POPULATION_ONLY.peak(10**6, 12) < WITH_COMPONENTS.peak(10**6, 12)
    bare = Scenario.model_validate(small_scenario(population={"size": 10**6}))
    assert estimate_peak_bytes(bare) == int(POPULATION_ONLY.peak(10**6, 12.0))


def test_the_memory_check_refuses_and_can_be_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    import sclab.feasibility

    scenario = load_scenario("demo")
    monkeypatch.setattr(sclab.feasibility, "available_memory_bytes", lambda: 2**20)
    with pytest.raises(ScenarioError) as caught:
        check_feasibility(scenario)
    text = caught.value.one_line()
    assert text.startswith("population.size: ") and "0.0 GiB available" in text
    check_feasibility(scenario, memory=False)
    monkeypatch.setattr(sclab.feasibility, "available_memory_bytes", lambda: None)
    check_feasibility(scenario)  # nothing known about the machine: no refusal


def _fake_machine(root: Path, available_kib: int, cgroup: dict[str, str]) -> Path:
    (root / "proc").mkdir(parents=True)
    (root / "proc/meminfo").write_text(
        f"MemTotal: 99999999 kB\nMemFree: 1 kB\nMemAvailable: {available_kib} kB\n"
    )
    for name, text in cgroup.items():
        path = root / "sys/fs/cgroup" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    ("cgroup", "expected_gib"),
    [
        ({}, 8.0),
        ({"memory.max": "max\n", "memory.current": "123\n"}, 8.0),
        ({"memory.max": f"{2 * 2**30}\n", "memory.current": f"{2**29}\n"}, 1.5),
        (
            {
                "memory/memory.limit_in_bytes": f"{4 * 2**30}\n",
                "memory/memory.usage_in_bytes": f"{2**30}\n",
            },
            3.0,
        ),
        (
            {
                "memory/memory.limit_in_bytes": "9223372036854771712\n",
                "memory/memory.usage_in_bytes": "5\n",
            },
            8.0,
        ),
    ],
)
def test_available_memory_reads_meminfo_and_the_cgroup_limit(
    tmp_path: Path, cgroup: dict[str, str], expected_gib: float
) -> None:
    root = _fake_machine(tmp_path, 8 * 2**20, cgroup)
    assert available_memory_bytes(root) == int(expected_gib * 2**30)
