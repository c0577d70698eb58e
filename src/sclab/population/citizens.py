"""Synthetic citizens, drawn vectorised from aggregate marginals.

Core objects:
    :class:`Citizens`: struct-of-arrays state, one compact array per attribute (about 30
        bytes per person; see :meth:`Citizens.nbytes`).
    :func:`generate_district`: the citizens of one district, from that district's own
        random stream, so a district comes out the same whichever worker builds it.
    :func:`concat`: join districts into one population, person ids in district order.

How attributes hang together (all from the scenario, no per-person input):
    * sex, age band and ethnic group: independent draws from their marginals;
    * migrant status: the district's migrant share, shaped by age weights (migrants are
      mostly of working age) and renormalised so the share holds exactly in expectation;
    * education, income and occupation: a Gaussian-copula construction around one latent
      socio-economic factor. Each attribute is a noisy reading of the factor, and people
      are cut into categories by rank within their district at the scenario's shares, so
      the marginals hold exactly while education, income and occupation correlate;
    * phones, apps and licences: age-, sex- and phone-dependent shares;
    * face-database membership: ID-card photos for people old enough to hold an ID card
      who are locals or migrants with a residence permit; the driver database for licence
      holders. Unregistered migrants are in neither unless they drive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import numpy as np

from sclab.population.geography import age_on, day_number
from sclab.population.names import (
    draw_categorical,
    given_name_probabilities,
    surname_probabilities,
)
from sclab.scenario.schema import (
    EDUCATION_LEVELS,
    OCCUPATIONS_WORKING,
    District,
    PopulationSpec,
)

EDUCATION = ("none", *EDUCATION_LEVELS)
OCCUPATIONS = ("child", "student", "retired", *OCCUPATIONS_WORKING)
DAYS_PER_YEAR = 365.2425


@dataclass
class Citizens:
    """All synthetic people of a run, one array per attribute (index = person_id)."""

    district: np.ndarray  # uint8, index into the scenario's districts
    male: np.ndarray  # bool
    birth_day: np.ndarray  # int32, days since 1970-01-01
    ethnic_group: np.ndarray  # uint8, index into demography.ethnic_groups
    migrant: np.ndarray  # bool: household registered elsewhere
    residence_permit: np.ndarray  # bool: migrant registered with the local police
    urban: np.ndarray  # bool
    income_decile: np.ndarray  # uint8, 0 (lowest) .. 9
    education: np.ndarray  # uint8, index into EDUCATION
    occupation: np.ndarray  # uint8, index into OCCUPATIONS
    smartphone: np.ndarray  # bool
    payment_app: np.ndarray  # bool
    social_media: np.ndarray  # bool
    driver_licence: np.ndarray  # bool
    in_id_photo_db: np.ndarray  # bool: in the ID-card photo gallery
    in_driver_db: np.ndarray  # bool: in the driver-licence photo gallery
    surname: np.ndarray  # uint16, index into names.SURNAMES
    given_name: np.ndarray  # uint16, index into the given-name pool
    id_region: np.ndarray  # int32, GB/T 2260 code in the resident ID
    id_sequence: np.ndarray  # uint16, 1..999; set for the whole population by assign_ids

    def __len__(self) -> int:
        return int(self.male.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the attribute arrays."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    def age(self, on: dt.date) -> np.ndarray:
        """Completed years of age on a date."""
        return age_on(self.birth_day, on)


def _band_ages(
    spec: PopulationSpec, n: int, start: dt.date, rng: np.random.Generator
) -> np.ndarray:
    """Birth days for n people: an age band by its share, then a uniform age within it."""
    bands = spec.demography.parsed_bands()
    shares = np.array([b[2] for b in bands])
    band = draw_categorical(shares, n, rng)
    lo = np.array([b[0] for b in bands], dtype=float)[band]
    hi = np.array([b[1] + 1 for b in bands], dtype=float)[band]
    age_days = np.floor((lo + (hi - lo) * rng.random(n)) * DAYS_PER_YEAR)
    # Stay strictly inside the band so nobody turns hi+1 on day 0.
    age_days = np.minimum(age_days, hi * DAYS_PER_YEAR - 2)
    return (day_number(start) - age_days).astype(np.int32)


def _rank_cut(score: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Category by rank of ``score``: the lowest shares[0] get 0, the next shares[1] get 1..."""
    n = len(score)
    out = np.empty(n, dtype=np.uint8)
    if n == 0:
        return out
    order = np.argsort(score, kind="stable")
    bounds = np.round(np.cumsum(shares) * n).astype(np.int64)
    bounds[-1] = n
    cat = np.searchsorted(bounds, np.arange(n), side="right")
    out[order] = cat
    return out


def _age_weights(weights: dict[str, float], age: np.ndarray) -> np.ndarray:
    w = np.ones(len(age))
    for key, value in weights.items():
        lo, hi = (int(x) for x in key.split("-"))
        w[(age >= lo) & (age <= hi)] = value
    return w


def generate_district(
    index: int,
    district: District,
    n: int,
    spec: PopulationSpec,
    start: dt.date,
    rng: np.random.Generator,
) -> Citizens:
    """The ``n`` citizens of one district.

    Args:
        index: The district's position in the scenario (stored in ``Citizens.district``).
        district: Its scenario entry (code, urban share, optional migrant share).
        n: How many people live there.
        spec: The population marginals.
        start: Day 0 of the simulation; ages are ages on this date.
        rng: The district's own stream (see :class:`sclab.rng.Streams`).
    """
    demo, reg, soc, dev, gal = (
        spec.demography,
        spec.registration,
        spec.socioeconomics,
        spec.devices,
        spec.galleries,
    )
    male = rng.random(n) < demo.male_share
    birth_day = _band_ages(spec, n, start, rng)
    age = age_on(birth_day, start).astype(np.int64)
    ethnic = draw_categorical(np.array(list(demo.ethnic_groups.values())), n, rng)

    migrant_share = reg.migrant_share if district.migrant_share is None else district.migrant_share
    w = _age_weights(reg.age_weights, age)
    p_migrant = np.clip(migrant_share * w / w.mean(), 0.0, 1.0) if n else w
    migrant = rng.random(n) < p_migrant
    permit = migrant & (rng.random(n) < reg.residence_permit_share)
    urban = rng.random(n) < district.urban_share

    # One latent socio-economic factor; each attribute reads it with its own noise.
    latent = rng.standard_normal(n)
    adult = age >= 15
    edu_score = (
        soc.education_loading * latent
        + np.sqrt(1 - soc.education_loading**2) * rng.standard_normal(n)
        - soc.cohort_education_shift * (age - 40) / 30.0
        + 0.3 * urban
    )
    education = np.zeros(n, dtype=np.uint8)  # "none" for under-6s
    education[(age >= 6) & (age < 12)] = EDUCATION.index("primary_or_less")
    education[(age >= 12) & (age < 15)] = EDUCATION.index("junior_middle")
    shares = np.array([soc.education[k] for k in EDUCATION_LEVELS])
    education[adult] = _rank_cut(edu_score[adult], shares) + 1

    income_score = (
        soc.income_loading * latent
        + np.sqrt(1 - soc.income_loading**2) * rng.standard_normal(n)
        + soc.urban_income_shift * urban
    )
    income_decile = _rank_cut(income_score, np.full(10, 0.1))

    occupation = np.full(n, OCCUPATIONS.index("child"), dtype=np.uint8)
    occupation[age >= 6] = OCCUPATIONS.index("student")
    retire_age = np.where(male, soc.retirement_age_male, soc.retirement_age_female)
    retired = age >= retire_age
    uni_student = (age >= 18) & (age <= 22) & (rng.random(n) < soc.student_share_18_22)
    working = (age >= 18) & ~retired & ~uni_student
    occupation[retired] = OCCUPATIONS.index("retired")
    # Working-age categories are ordered from lowest to highest latent status.
    work_score = 0.6 * latent + 0.8 * rng.standard_normal(n)
    occ_shares = np.array([soc.occupations[k] for k in OCCUPATIONS_WORKING])
    order = np.array([OCCUPATIONS_WORKING.index(k) for k in _STATUS_ORDER])
    cut = _rank_cut(work_score[working], occ_shares[order])
    occupation[working] = OCCUPATIONS.index(OCCUPATIONS_WORKING[0]) + order[cut]

    ages = np.array(list(dev.smartphone_by_age.keys()))
    phone_p = np.array(list(dev.smartphone_by_age.values()))
    smartphone = rng.random(n) < phone_p[np.searchsorted(ages, age, side="right") - 1]
    payment_app = smartphone & (rng.random(n) < dev.payment_app_share)
    social_media = smartphone & (rng.random(n) < dev.social_media_share)
    licence_p = np.where(male, dev.driver_licence_share_male, dev.driver_licence_share_female)
    driver = (age >= 18) & (age <= 70) & (rng.random(n) < licence_p)

    registered_here = ~migrant | permit
    in_id = (age >= gal.id_card_min_age) & registered_here & (rng.random(n) < gal.id_photo_coverage)
    in_driver = driver & (rng.random(n) < gal.driver_db_coverage)

    surname = draw_categorical(surname_probabilities(), n, rng).astype(np.uint16)
    names = spec.names
    given_p = given_name_probabilities(
        names.given_name_pool, names.given_name_offset, names.given_name_exponent
    )
    given = draw_categorical(given_p, n, rng).astype(np.uint16)
    origin_codes = np.array(list(reg.origins.keys()), dtype=np.int32)
    origin = origin_codes[draw_categorical(np.array(list(reg.origins.values())), n, rng)]
    id_region = np.where(migrant, origin, np.int32(district.code)).astype(np.int32)

    return Citizens(
        district=np.full(n, index, dtype=np.uint8),
        male=male,
        birth_day=birth_day,
        ethnic_group=ethnic.astype(np.uint8),
        migrant=migrant,
        residence_permit=permit,
        urban=urban,
        income_decile=income_decile,
        education=education,
        occupation=occupation,
        smartphone=smartphone,
        payment_app=payment_app,
        social_media=social_media,
        driver_licence=driver,
        in_id_photo_db=in_id,
        in_driver_db=in_driver,
        surname=surname,
        given_name=given,
        id_region=id_region,
        id_sequence=np.zeros(n, dtype=np.uint16),
    )


# Lowest to highest latent status among working-age occupations (assumption, documented in
# docs/scenarios.md): the rank cut hands the highest-status jobs to the highest scores.
_STATUS_ORDER = ("unemployed", "self_employed", "private", "state_enterprise", "civil_servant")


def concat(parts: list[Citizens]) -> Citizens:
    """Join per-district citizens into one population (person ids follow the order)."""
    return Citizens(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Citizens)}
    )
