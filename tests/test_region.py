"""Regions of several cities: the region file, each city's scenario, the links across
cities and what the cities tell one another at day boundaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.engine.feedback import SystemView
from sclab.errors import ScenarioError
from sclab.population import NO_REPRESENTATIVE, generate_population
from sclab.population.regional import representatives_here, represented_elsewhere
from sclab.region.cities import city_scenarios, read_region
from sclab.region.exchange import Outbox, deliver, outbox, route
from sclab.scenario.schema import CityKey, RegionMember


@pytest.fixture(scope="module")
def jiangsu():
    region, doc = read_region("jiangsu")
    return region, doc, city_scenarios(region, doc, population=40_000)


def test_cities_share_the_people_by_census_population_and_keep_their_own_streams(jiangsu):
    region, _, cities = jiangsu
    assert [c.city.code for c in cities] == [c.code for c in region.cities]
    assert sum(c.population.size for c in cities) == 40_000
    weights = np.array([c.population for c in region.cities], float)
    sizes = np.array([c.population.size for c in cities])
    assert np.abs(sizes - 40_000 * weights / weights.sum()).max() < 1  # largest remainder
    # Offsets make ids unique across the region; every city sees every city alike.
    assert [c.city.person_offset for c in cities] == list(np.r_[0, np.cumsum(sizes)[:-1]])
    assert all(c.city.cities == cities[0].city.cities for c in cities)
    # National policies first, in every city; Nanjing's own rule in Nanjing alone.
    packs = [[p.params["pack"] for p in c.policies] for c in cities]
    assert all(p[:3] == ["court-defaulters", "corporate", "sesame"] for p in packs)
    assert packs[0][3:] == ["nanjing"] and all(len(p) == 3 for p in packs[1:])
    assert len(cities[0].geography.districts) == 11  # Nanjing's districts
    assert [d.code for d in cities[4].geography.districts] == [320500]  # Suzhou as one
    seeds = {c.streams().get("x").random() for c in cities}
    assert len(seeds) == len(cities)  # each city draws from its own streams


def _key(people: list[int], companies: list[int], index: int, share: float) -> CityKey:
    members = [
        RegionMember(code=320100 + 100 * i, people=p, companies=c)
        for i, (p, c) in enumerate(zip(people, companies, strict=True))
    ]
    return CityKey(region="r", index=index, cities=members, represented_elsewhere=share)


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(50, 3000), min_size=2, max_size=5),
    share=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**32),
)
def test_every_city_draws_the_same_links_and_each_company_has_one_representative(
    sizes: list[int], share: float, seed: int
) -> None:
    companies = [s // 10 for s in sizes]
    keys = [_key(sizes, companies, i, share) for i in range(len(sizes))]
    links = [represented_elsewhere(k, seed) for k in keys]
    for other in links[1:]:  # whichever city asks
        for a, b in zip(links[0], other, strict=True):
            assert np.array_equal(a.company, b.company) and np.array_equal(a.u, b.u)
    found: list[np.ndarray] = []
    for i, key in enumerate(keys):
        eligible = np.arange(0, sizes[i], 2)
        person, company = representatives_here(key, links[0], eligible)
        assert np.isin(person, eligible).all()
        assert (np.diff(company) > 0).all()  # by company, each once
        found.append(company)
    # Every company represented elsewhere has its one representative in one other city.
    expected = np.concatenate(
        [link.company + key.company_offset for link, key in zip(links[0], keys, strict=True)]
    )
    got = np.sort(np.concatenate(found))
    assert np.array_equal(got, np.sort(expected))
    for i, link in enumerate(links[0]):
        assert (link.home != i).all()


def test_the_share_of_companies_represented_elsewhere_is_the_regions() -> None:
    # 20 cities of 20,000 companies: 400,000 Bernoulli(0.05) draws, sd 138; 5 sd = 690.
    keys = _key([200_000] * 20, [20_000] * 20, 0, 0.05)
    n = sum(len(link.company) for link in represented_elsewhere(keys, 7))
    assert abs(n - 20_000) < 690


def test_a_company_represented_elsewhere_has_nobody_here(jiangsu):
    _, _, cities = jiangsu
    wuxi = cities[1]
    population = generate_population(wuxi, wuxi.streams())
    links = represented_elsewhere(wuxi.city, wuxi.seed)
    mine = links[1].company
    assert len(mine) and (population.companies.legal_rep[mine] == NO_REPRESENTATIVE).all()
    others = np.setdiff1d(np.arange(len(population.companies)), mine)
    assert (population.companies.legal_rep[others] >= 0).all()
    assert population.representing is not None


def test_a_listing_in_one_city_reaches_the_representative_in_another() -> None:
    keys = [_key([1000, 1000], [100, 100], i, 0.3) for i in (0, 1)]
    links = represented_elsewhere(keys[0], 3)
    abroad = links[0].company  # city 0's companies represented from city 1
    assert len(abroad)
    listed = np.zeros(100, bool)
    listed[abroad[:2]] = True
    since = np.full(100, -1, np.int32)
    since[abroad[:2]] = [-40, 5]
    event = np.arange(100, dtype=np.int64) + 10_000
    view = SystemView(1000)
    view.publish_company_list(
        "court-defaulters.dishonest", listed, since,
        lambda c: (event[c], c == abroad[0]),
    )  # fmt: skip
    box = outbox(keys[0], view, abroad, links[0].home)
    assert box.size == 2
    # Routed, the news goes to the city where the representatives live, and only there.
    shares = route([box, Outbox(1)])
    assert [sum(b.size for b in share) for share in shares] == [0, 2]
    representing = representatives_here(keys[1], links, np.arange(1000))
    got = deliver(keys[1], representing, [box])["court-defaulters.dishonest"]
    assert sorted(got.company.tolist()) == sorted(abroad[:2].tolist())  # offset 0: city 0
    assert sorted(got.since.tolist()) == [-40, 5]
    assert got.wrongful.sum() == 1 and set(got.event.tolist()) == set(event[abroad[:2]])
    # Nobody in city 0 hears its own news.
    assert deliver(keys[0], representatives_here(keys[0], links, np.arange(1000)), [box]) == {}
    # Received, the listing makes the representative one of the listed representatives.
    here = SystemView(1000)
    here.receive_listed_elsewhere("court-defaulters.dishonest", got)
    reps, first = here.listed_representatives(np.full(100, NO_REPRESENTATIVE, np.int64))
    assert np.array_equal(reps, np.unique(got.person)) and first.min() == -40


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cities: []\n", "cities"),
        ("cities:\n  - {code: 320150, name: A, population: 5}\n", "ending in 00"),
        (
            "cities:\n  - {code: 320100, name: A, population: 5}\n"
            "  - {code: 320100, name: B, population: 5}\n",
            "listed twice",
        ),
    ],
)
def test_a_bad_region_file_is_one_line_with_its_line(tmp_path: Path, text: str, message: str):
    path = tmp_path / "r.yaml"
    path.write_text("name: r\nseed: 1\npopulation: 1000\nworld: demo\n" + text)
    with pytest.raises(ScenarioError) as err:
        read_region(str(path))
    line = err.value.one_line()
    assert message in line and str(path) in line and "\n" not in line


def test_a_city_whose_districts_are_another_citys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "name: r\nseed: 1\npopulation: 1000\nworld: demo\ncities:\n"
        "  - {code: 320500, name: Suzhou, population: 5, districts_from: demo}\n"
    )
    region, doc = read_region(str(path))
    with pytest.raises(ScenarioError, match="not in city 320500") as err:
        city_scenarios(region, doc)
    assert err.value.line == 6
