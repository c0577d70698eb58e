"""Writing the generated population into the run database.

Core objects:
    :func:`write_population`: districts, citizens, companies and ties, in batches so that
        peak memory stays near the size of the in-memory arrays even at 9.3 million people.
    :func:`population_labels`: the labels of the population's label columns (sex, ethnic
        group, education, occupation, sector, company size), for the database's ENUMs.

Resident IDs and USCCs are formatted here, at write time, from compact arrays (region code,
birth date, sequence): holding 9.3 million 18-character strings during the run would cost
more than the rest of a citizen's state.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sclab.ids import ids_to_arrow, make_resident_ids
from sclab.population import Population
from sclab.population.citizens import EDUCATION, OCCUPATIONS
from sclab.population.companies import SIZES
from sclab.population.names import SURNAMES
from sclab.scenario.schema import Scenario
from sclab.store.database import RunDatabase, categorical, dates

BATCH_ROWS = 1_000_000
TIE_BATCH = 4_000_000


SEXES = ("male", "female")  # codes 0 and 1 of the sex column


def population_labels(scenario: Scenario) -> dict[str, tuple[str, ...]]:
    """Label set → labels, for the population's label columns in this scenario."""
    return {
        "sex": SEXES,
        "ethnic_group": tuple(scenario.population.demography.ethnic_groups),
        "education": tuple(EDUCATION),
        "occupation": tuple(OCCUPATIONS),
        "sector": tuple(scenario.companies.sectors),
        "company_size": tuple(SIZES),
    }


def write_population(
    db: RunDatabase,
    scenario: Scenario,
    population: Population,
    progress: Callable[[str, float], None] | None = None,
) -> None:
    """Write districts, citizens, companies and (if enabled) ties."""
    report = progress or (lambda stage, done: None)
    districts = scenario.geography.districts
    codes = np.array([d.code for d in districts], dtype=np.int32)
    reg = scenario.population.registration
    db.append(
        "districts",
        {
            "district_code": codes,
            "name": np.array([d.name for d in districts], dtype=object),
            "published_population": np.array([d.population for d in districts], dtype=np.int64),
            "population": population.district_sizes,
            "urban_share": np.array([d.urban_share for d in districts]),
            "migrant_share": np.array(
                [
                    reg.migrant_share if d.migrant_share is None else d.migrant_share
                    for d in districts
                ]
            ),
        },
    )

    c = population.citizens
    n = len(c)
    labels = population_labels(scenario)
    age = c.age(scenario.start_date)
    for lo in range(0, n, BATCH_ROWS):
        s = slice(lo, min(n, lo + BATCH_ROWS))
        ids = make_resident_ids(
            c.id_region[s], c.birth_day[s].astype("datetime64[D]"), c.id_sequence[s]
        )
        db.append(
            "citizens",
            {
                "person_id": np.arange(s.start, s.stop, dtype=np.int32),
                "resident_id": ids_to_arrow(ids),
                "surname": categorical(c.surname[s], SURNAMES),
                "given_name_id": c.given_name[s].astype(np.int32),
                "sex": categorical(np.where(c.male[s], 0, 1), labels["sex"]),
                "birth_date": dates(c.birth_day[s]),
                "age": age[s],
                "ethnic_group": categorical(c.ethnic_group[s], labels["ethnic_group"]),
                "district_code": codes[c.district[s]],
                "migrant": c.migrant[s],
                "residence_permit": c.residence_permit[s],
                "id_region_code": c.id_region[s],
                "urban": c.urban[s],
                "income_decile": (c.income_decile[s] + 1).astype(np.int8),
                "education": categorical(c.education[s], labels["education"]),
                "occupation": categorical(c.occupation[s], labels["occupation"]),
                "smartphone": c.smartphone[s],
                "payment_app": c.payment_app[s],
                "social_media": c.social_media[s],
                "driver_licence": c.driver_licence[s],
                "in_id_photo_db": c.in_id_photo_db[s],
                "in_driver_db": c.in_driver_db[s],
            },
        )
        report("citizens", s.stop / max(n, 1))

    co = population.companies
    for lo in range(0, len(co), BATCH_ROWS):
        s = slice(lo, min(len(co), lo + BATCH_ROWS))
        db.append(
            "companies",
            {
                "company_id": np.arange(s.start, s.stop, dtype=np.int32),
                "uscc": ids_to_arrow(co.uscc[s]),
                "sector": categorical(co.sector[s], labels["sector"]),
                "size": categorical(co.size[s], labels["company_size"]),
                "employees": co.employees[s],
                "district_code": codes[co.district[s]],
                # NULL for a company represented from another city of a region.
                "legal_rep_person_id": np.ma.masked_less(co.legal_rep[s], 0),
                "founded_date": dates(co.founded_day[s]),
            },
        )
    report("companies", 1.0)

    if scenario.output.ties:
        g = population.graph
        # One row per tie (a < b), read straight from the CSR without materialising all
        # edges at once: take a block of people, keep their higher-numbered neighbours.
        people_per_batch = max(1, int(TIE_BATCH / max(1.0, g.indices.size / max(n, 1))))
        for lo in range(0, n, people_per_batch):
            hi = min(n, lo + people_per_batch)
            a0, a1 = int(g.indptr[lo]), int(g.indptr[hi])
            owner = np.repeat(
                np.arange(lo, hi, dtype=np.int32), np.diff(g.indptr[lo : hi + 1]).astype(np.int64)
            )
            other = g.indices[a0:a1]
            keep = other > owner
            db.append(
                "ties",
                {"person_a": owner[keep], "person_b": other[keep], "online": g.online[a0:a1][keep]},
            )
            report("ties", hi / n)
