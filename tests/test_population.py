"""A generated population matches its scenario's marginals within stated tolerances.

Tolerances: for a share p estimated from n independent draws the standard error is
sqrt(p(1-p)/n); we allow 5 standard errors (a false alarm about once in 1.7 million test
runs). Attributes cut by rank (education, income deciles, occupations) match their shares
to within one person per category, and are checked to that.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sclab.ids import decode, is_valid_resident_id, is_valid_uscc, make_resident_ids
from sclab.population import generate_population
from sclab.population.citizens import EDUCATION, OCCUPATIONS
from sclab.population.geography import age_on, apportion, day_number
from sclab.population.names import surname_probabilities
from sclab.rng import Streams
from sclab.targets import load_scenario

N = 120_000


def five_se(p: float, n: int) -> float:
    return 5 * np.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("demo", {"--population": N})


@pytest.fixture(scope="module")
def pop(scenario):
    return generate_population(scenario, Streams(scenario.seed))


def test_district_sizes_are_apportioned_exactly(scenario, pop) -> None:
    weights = np.array([d.population for d in scenario.geography.districts], dtype=float)
    assert pop.district_sizes.sum() == N
    assert np.all(np.abs(pop.district_sizes - N * weights / weights.sum()) < 1)
    assert np.array_equal(np.bincount(pop.citizens.district), pop.district_sizes)
    # person ids are contiguous blocks in district order
    assert np.all(np.diff(pop.citizens.district.astype(int)) >= 0)


def test_sex_age_ethnic_marginals(scenario, pop) -> None:
    c = pop.citizens
    demo = scenario.population.demography
    assert abs(c.male.mean() - demo.male_share) < five_se(demo.male_share, N)
    age = c.age(scenario.start_date)
    for lo, hi, share in demo.parsed_bands():
        got = ((age >= lo) & (age <= hi)).mean()
        assert abs(got - share) < five_se(share, N), (lo, hi, got, share)
    for k, share in enumerate(demo.ethnic_groups.values()):
        got = (c.ethnic_group == k).mean()
        assert abs(got - share) < five_se(share, N)


def test_migrants_by_district_and_age(scenario, pop) -> None:
    c = pop.citizens
    reg = scenario.population.registration
    for i, n in enumerate(pop.district_sizes):
        got = c.migrant[c.district == i].mean()
        assert abs(got - reg.migrant_share) < five_se(reg.migrant_share, int(n))
    age = c.age(scenario.start_date)
    working = (age >= 18) & (age <= 44)
    assert c.migrant[working].mean() > 1.5 * c.migrant[age >= 60].mean() * 1.5
    permit = c.residence_permit[c.migrant].mean()
    assert abs(permit - reg.residence_permit_share) < five_se(
        reg.residence_permit_share, c.migrant.sum()
    )
    assert not c.residence_permit[~c.migrant].any()
    # locals carry their district's code in the ID, migrants an origin code
    codes = np.array([d.code for d in scenario.geography.districts])
    assert np.array_equal(c.id_region[~c.migrant], codes[c.district[~c.migrant]])
    assert np.isin(c.id_region[c.migrant], list(reg.origins)).all()


def test_urban_share_by_district(scenario, pop) -> None:
    c = pop.citizens
    for i, d in enumerate(scenario.geography.districts):
        got = c.urban[c.district == i].mean()
        if d.urban_share in (0.0, 1.0):
            assert got == d.urban_share
        else:
            assert abs(got - d.urban_share) < five_se(d.urban_share, int(pop.district_sizes[i]))


def test_rank_cut_attributes_hit_their_shares(scenario, pop) -> None:
    c = pop.citizens
    soc = scenario.population.socioeconomics
    age = c.age(scenario.start_date)
    for i in range(len(pop.district_sizes)):
        here = c.district == i
        deciles = np.bincount(c.income_decile[here], minlength=10)
        assert deciles.max() - deciles.min() <= 2
        adults = here & (age >= 15)
        for level, share in soc.education.items():
            got = (c.education[adults] == EDUCATION.index(level)).sum()
            assert abs(got - share * adults.sum()) <= 1.5
    # education and income are correlated through the latent factor
    adults = age >= 25
    r = np.corrcoef(c.education[adults], c.income_decile[adults])[0, 1]
    assert r > 0.25


def test_occupations_follow_age_rules(scenario, pop) -> None:
    c = pop.citizens
    soc = scenario.population.socioeconomics
    age = c.age(scenario.start_date)
    occ = np.array(OCCUPATIONS)[c.occupation]
    assert (occ[age < 6] == "child").all()
    assert (occ[(age >= 6) & (age < 18)] == "student").all()
    assert (occ[c.male & (age >= soc.retirement_age_male)] == "retired").all()
    assert (occ[~c.male & (age >= soc.retirement_age_female)] == "retired").all()
    working = np.isin(occ, list(soc.occupations))
    for name, share in soc.occupations.items():
        got = (occ[working] == name).mean()
        assert abs(got - share) < 0.001


def test_devices_and_galleries(scenario, pop) -> None:
    c = pop.citizens
    dev, gal = scenario.population.devices, scenario.population.galleries
    age = c.age(scenario.start_date)
    assert not (c.payment_app & ~c.smartphone).any()
    assert not (c.social_media & ~c.smartphone).any()
    assert not c.driver_licence[(age < 18) | (age > 70)].any()
    share = c.payment_app[c.smartphone].mean()
    assert abs(share - dev.payment_app_share) < five_se(dev.payment_app_share, c.smartphone.sum())
    # The ID-photo gallery holds exactly registered people old enough for an ID card.
    unregistered = c.migrant & ~c.residence_permit
    assert not c.in_id_photo_db[unregistered].any()
    assert not c.in_id_photo_db[age < gal.id_card_min_age].any()
    eligible = (age >= gal.id_card_min_age) & ~unregistered
    got = c.in_id_photo_db[eligible].mean()
    assert abs(got - gal.id_photo_coverage) < five_se(gal.id_photo_coverage, eligible.sum())
    assert np.array_equal(c.in_driver_db, c.driver_licence)  # coverage 1.0 by default


def test_surnames_are_concentrated(pop) -> None:
    counts = np.bincount(pop.citizens.surname, minlength=len(surname_probabilities()))
    shares = counts / counts.sum()
    assert abs(shares[:3].sum() - surname_probabilities()[:3].sum()) < 0.01
    assert abs(np.sort(shares)[::-1][:100].sum() - 0.85) < 0.01


def test_resident_ids_valid_unique_and_consistent(scenario, pop) -> None:
    c = pop.citizens
    ids = make_resident_ids(c.id_region, c.birth_day.astype("datetime64[D]"), c.id_sequence)
    assert len(np.unique(ids)) == len(ids)
    sample = decode(ids[:: max(1, len(ids) // 5000)])
    assert all(is_valid_resident_id(s) for s in sample)
    # sequence parity encodes sex (odd = male)
    assert np.array_equal(c.id_sequence % 2 == 1, c.male)


def test_companies(scenario, pop) -> None:
    co = pop.companies
    c = pop.citizens
    expected = round(N * scenario.companies.per_1000_people / 1000)
    assert len(co) == expected
    assert len(np.unique(co.uscc)) == len(co)
    assert all(is_valid_uscc(s) for s in decode(co.uscc[:2000]))
    age = c.age(scenario.start_date)[co.legal_rep]
    assert (age >= scenario.companies.legal_rep_min_age).all()
    assert (age <= scenario.companies.legal_rep_max_age).all()
    assert np.array_equal(c.district[co.legal_rep], co.district)
    for k, share in enumerate(scenario.companies.sectors.values()):
        assert abs((co.sector == k).mean() - share) < five_se(share, len(co))


def test_districts_do_not_depend_on_each_other(write_scenario) -> None:
    """A district's people are the same whether or not another district is in the run."""
    from tests.conftest import small_scenario

    two = small_scenario(
        geography={"name": "g", "districts": [
            {"code": 320106, "name": "a", "population": 1000},
            {"code": 320115, "name": "b", "population": 1000},
        ]},
        population={"size": 2000},
    )  # fmt: skip
    three = small_scenario(
        geography={"name": "g", "districts": [*two["geography"]["districts"],
                   {"code": 320118, "name": "c", "population": 1000}]},
        population={"size": 3000},
    )  # fmt: skip
    a = load_scenario(str(write_scenario(two, "two.yaml")))
    b = load_scenario(str(write_scenario(three, "three.yaml")))
    pa_, pb = (generate_population(s, Streams(s.seed)) for s in (a, b))
    first = slice(0, 2000)
    for name in ("male", "birth_day", "migrant", "income_decile", "surname", "occupation"):
        assert np.array_equal(getattr(pa_.citizens, name), getattr(pb.citizens, name)[first])


@given(total=st.integers(0, 10**8), weights=st.lists(st.floats(0.01, 1e7), min_size=1, max_size=30))
def test_apportion_is_exact_and_fair(total: int, weights: list[float]) -> None:
    w = np.array(weights)
    counts = apportion(total, w)
    assert counts.sum() == total
    assert np.all(np.abs(counts - total * w / w.sum()) < 1 + 1e-9)


@given(
    birth=st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)),
    on=st.dates(dt.date(1950, 1, 1), dt.date(2040, 12, 31)),
)
def test_age_on_matches_calendar_arithmetic(birth: dt.date, on: dt.date) -> None:
    expected = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    assert age_on(np.array([day_number(birth)]), on)[0] == expected


@given(
    st.lists(st.integers(-45_000, 20_000), min_size=1, max_size=300),
    st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31)),
)
def test_age_on_by_table_is_calendar_age(births: list[int], date: dt.date) -> None:
    # Looked up from a table of the birth days' range (many people) or computed directly
    # (few): either way the completed years of the calendar.
    born = np.array(births * 50, dtype=np.int64)
    expected = []
    for b in born[: len(births)]:
        birth = dt.date(1970, 1, 1) + dt.timedelta(days=int(b))
        had = (date.month, date.day) >= (birth.month, birth.day)
        expected.append(date.year - birth.year - (not had))
    assert age_on(born, date).tolist() == expected * 50
    assert age_on(born[: len(births)], date).tolist() == expected
