"""Resource moments: attempts (a ticket, a school place...) where a scoring system can bite.

Core objects:
    :class:`MomentRate`: the rate of one kind of attempt and how it varies with age, income,
        urban or rural residence, migrant status, unemployment and driving licence.
    :class:`ResourcesParams`: one :class:`MomentRate` per kind plus the school-place rules.
    :class:`Resources`: the ``("sources", "resources")`` component.
    :func:`check_age_keys`, :func:`age_band`, :func:`income_multiplier`: small helpers
        shared with :mod:`sclab.world.streets`.

People are grouped by rate class (:class:`sclab.world.sampling.RateClasses`), so that a
kind's attempts are drawn per class as a count and then who.

Kinds (``sim.moments`` kind names): ``flight_ticket``, ``rail_ticket`` (every rail trip),
``hotel_booking``, ``luxury_hotel``, ``travel_abroad``, ``loan_application``,
``job_application``, ``insurance_purchase``, ``bike_rental``, ``car_rental`` and
``school_place``. Each attempt is one moment with the attempting person as actor; the policy
stage may block or price it up. Bike and car rentals are very frequent, so by default
(``record_rentals: false``) they go to ``sim.aggregates`` as per-person counts instead;
then only their totals exist, and a sum of independent Poisson counts is Poisson with the
summed rate, so a day only adds to their exposure
(:class:`~sclab.world.sampling.LazyPoisson`) and the totals are drawn when the aggregates
are read (same law as daily draws).

How a person's rate is built: a kind's ``per_year`` is the mean over the scenario's
population; each person's share of it is the product of their multipliers (age band,
income decile, rural, migrant, unemployed, licence), renormalised so the population mean
equals ``per_year``. The national per-capita figures used as defaults therefore describe the
average synthetic resident; a richer city should raise them. Rates are per day
(``per_year / 365``), uniform over the year (no seasonality: Assumption), and multiplied by
``propensity(kind)`` per person when a behaviour component adjusts that kind (people may
stop trying once blocked).

Rail tickets have a class (``Moments.cls``, the catalogue's ``classes`` of the kind:
:data:`RAIL_CLASSES`), because the 2015 SPC Provisions bar some trains and seats only
(every seat of a G-series train, first class and above on D/C trains, soft sleepers). Each
attempt has a purpose (business, family visit, leisure) drawn by the traveller's income
decile, then a train and a seat (:class:`RailChoice`: published shares of trips on EMU
trains and of first-class seats, income gradients and purposes' odds as Assumptions). A
person who has learnt what they are barred from (:mod:`sclab.engine.avoidance`, written
by behaviour) takes a class among the others, in proportion to their usual shares; an
attempt of a kind without classes is given up when the person avoids the kind (bit 0).

School places: each child aged 6 or 12 (school entry ages, configurable) on the yearly
application day may have a private-school application filed by a parent. The parent is an
adult aged 25-50 of the child's district drawn in ``setup`` (synthetic populations have no
households; Assumption) and published as :attr:`Resources.parent_of_child`.

Cost model: ages, classes and parents are computed once in ``setup`` (O(n)). A day costs,
per recorded kind, one Poisson draw per rate class (1,280 classes) plus O(k log k) for its
k attempts (sorted); rail attempts add O(k) for their purpose and class (a table
lookup, see :class:`~sclab.world.sampling.BucketedSearch`), and
looking up who avoids what costs O(k) once someone does; when a behaviour adjusts a
kind, one O(n) maximum over its propensity array bounds the thinning. Aggregated rentals
cost O(1) a day (one float32 O(n) add while a multiplier exists) and O(n) per kind when
read. School applications cost O(children of entry age) once a year.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sclab.arrays import union_sorted
from sclab.engine.ages import ages
from sclab.engine.avoidance import avoided
from sclab.engine.catalogue import Kind
from sclab.engine.propensity import propensity, propensity_key
from sclab.engine.registry import register
from sclab.engine.simulation import DAYS_PER_YEAR
from sclab.population.citizens import OCCUPATIONS
from sclab.population.geography import age_on
from sclab.world.base import SourceParams
from sclab.world.sampling import BucketedSearch, IdSorter, LazyPoisson, RateClasses

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

# Age bands (inclusive) for resource rates; "70+" has no upper bound.
AGE_BANDS = ("0-5", "6-17", "18-24", "25-34", "35-49", "50-59", "60-69", "70+")
_AGE_LOWER = np.array([0, 6, 18, 25, 35, 50, 60, 70])

# National population at the end of 2019: 1,400.05 million (NBS, 2019 Statistical Communiqué).
CHINA_POPULATION_2019 = 1_400.05e6

RENTAL_KINDS = ("bike_rental", "car_rental")
SCHOOL_PLACE = "school_place"
_MOMENTS = {
    "flight_ticket": ("travel", "buying an air ticket"),
    "rail_ticket": ("travel", "buying a rail ticket, of a train and seat class"),
    "hotel_booking": ("travel", "booking a hotel room"),
    "luxury_hotel": ("travel", "booking a room in a star-rated luxury hotel"),
    "travel_abroad": ("travel", "leaving the country on an outbound trip"),
    "loan_application": ("finance", "applying for a loan"),
    "job_application": ("employment", "applying for a job"),
    "insurance_purchase": ("finance", "buying insurance"),
    "bike_rental": ("travel", "renting a shared bike"),
    "car_rental": ("travel", "renting a car"),
    SCHOOL_PLACE: ("education", "a parent applying for a private school place for a child"),
}
#: The kinds drawn at a rate each (school places follow their own rules).
KINDS = tuple(k for k in _MOMENTS if k != SCHOOL_PLACE)
#: The moment kinds, and the rentals as acts (per-person counts, see Resources.kinds).
#: The classes of a rail ticket, in code order: the train (G-series high-speed; D- or
#: C-series bullet train; ordinary train) and the seat (business or first class and above;
#: second class; soft sleeper; hard seat or hard sleeper), as the 2015 SPC Provisions
#: Art. 3 distinguish them.
RAIL_CLASSES = ("g_first", "g_second", "dc_first", "dc_second", "soft_sleeper", "hard_seat_sleeper")
RAIL = "rail_ticket"
#: Why a trip is made: the purpose shifts the train and seat chosen.
PURPOSES = ("business", "family", "leisure")
_CLASSES = {RAIL: RAIL_CLASSES}
MOMENT_KINDS = tuple(
    Kind.moment(k, domain, meaning, classes=_CLASSES.get(k, ()))
    for k, (domain, meaning) in _MOMENTS.items()
)
RENTAL_ACTS = tuple(
    Kind.act(k, "travel", True, _MOMENTS[k][1], kept="totals") for k in RENTAL_KINDS
)


def check_age_keys(value: dict[str, float], bands: tuple[str, ...]) -> dict[str, float]:
    """Reject unknown age-band labels and negative or huge multipliers."""
    unknown = sorted(set(value) - set(bands))
    if unknown:
        raise ValueError(f"unknown age bands {unknown}; expected some of {', '.join(bands)}")
    bad = {k: v for k, v in value.items() if not 0.0 <= v <= 100.0}
    if bad:
        raise ValueError(f"age multipliers must be in [0, 100], got {bad}")
    return value


def age_band(age: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Index of the band whose lower bound is the largest not above ``age``."""
    return (np.searchsorted(lower, age, side="right") - 1).astype(np.int64)


def income_multiplier(decile: np.ndarray, ratio: float) -> np.ndarray:
    """Log-linear in the decile: 1/sqrt(ratio) at decile 0, sqrt(ratio) at decile 9."""
    return np.power(float(ratio), (np.asarray(decile, dtype=np.float64) - 4.5) / 9.0)


class MomentRate(BaseModel):
    """Rate of one kind of attempt and its shape over the population."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    per_year: float = Field(
        ge=0,
        le=10_000,
        description="Attempts per person-year, averaged over the scenario's population.",
    )
    age: dict[str, float] = Field(
        default_factory=dict,
        description=f"Multiplier by age band ({', '.join(AGE_BANDS)}); unnamed bands 1, 0 = never.",
    )
    income_ratio: float = Field(
        1.0, gt=0, le=1000, description="Rate of the top income decile over the bottom one."
    )
    rural: float = Field(1.0, ge=0, le=100, description="Multiplier for rural residents.")
    migrant: float = Field(1.0, ge=0, le=100, description="Multiplier for migrants.")
    unemployed: float = Field(1.0, ge=0, le=100, description="Multiplier for the unemployed.")
    drivers_only: bool = Field(False, description="Only driving-licence holders attempt it.")

    @field_validator("age")
    @classmethod
    def _age_keys(cls, v: dict[str, float]) -> dict[str, float]:
        return check_age_keys(v, AGE_BANDS)


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


class RailChoice(BaseModel):
    """Which train and seat class a rail ticket is for.

    Each attempt has a purpose (business, family, leisure), drawn by the traveller's
    income decile; then a train (high-speed EMU or ordinary; among EMUs a G-series or a
    D/C-series train) and a seat (first class and above or second class on an EMU; soft
    sleeper or hard seat/sleeper on an ordinary train), each a logistic choice whose log
    odds move linearly with the income decile (``*_income_ratio``: odds of the top decile
    over the bottom one) and by the purpose's odds multiplier. The shares are those of the
    population's attempts: the intercepts are solved in ``setup`` so that, over the run's
    rail attempts, the EMU share is ``emu_share`` and so on.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    emu_share: float = Field(
        2.29 / 3.57,
        gt=0,
        lt=1,
        description="Share of rail trips on EMU (bullet) trains: 2.29 of 3.57 billion in "
        "2019 (China State Railway Group, January 2020) = 0.641; 2018: over three fifths "
        "(China Railway, May 2019).",
    )
    g_share_of_emu: float = Field(
        0.6,
        gt=0,
        lt=1,
        description="Assumption (0.5-0.75): share of EMU trips on G-series trains (the "
        "rest D- and C-series); no published split by train series was found.",
    )
    first_share_of_emu: float = Field(
        38 / 556,
        gt=0,
        lt=1,
        description="Share of EMU trips in first class or above: the seats of a CR400AF "
        "(8 cars: 10 business, 28 first, 518 second; Railway Journal, 2017) = 0.068, "
        "taking trips to fill seats alike (Assumption: 0.04-0.12).",
    )
    soft_sleeper_share: float = Field(
        0.03,
        gt=0,
        lt=1,
        description="Assumption (0.01-0.06): share of ordinary-train trips in a soft "
        "sleeper (few cars of a long-distance train; most ordinary trips are short, seated).",
    )
    business_share: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="Assumption (0.15-0.35): share of rail trips made on business; the "
        "rest are family visits (family_share of them) and leisure.",
    )
    family_share_of_private: float = Field(
        0.6,
        gt=0,
        lt=1,
        description="Assumption (0.4-0.75): share of private rail trips that visit family "
        "(the rest: leisure and travel).",
    )
    business_income_ratio: float = Field(
        4.0,
        gt=0,
        le=1000,
        description="Assumption (2-8): odds of a business trip, top decile / bottom.",
    )
    emu_income_ratio: float = Field(
        6.0,
        gt=0,
        le=1000,
        description="Assumption (3-12): odds of an EMU train, top decile / bottom.",
    )
    g_income_ratio: float = Field(
        2.0,
        gt=0,
        le=1000,
        description="Assumption (1-4): odds of a G train among EMUs, top / bottom.",
    )
    first_income_ratio: float = Field(
        8.0,
        gt=0,
        le=1000,
        description="Assumption (4-20): odds of first class, top decile / bottom (the fare "
        "is about 1.6 times second class).",
    )
    soft_sleeper_income_ratio: float = Field(
        4.0, gt=0, le=1000, description="Assumption (2-8): odds of a soft sleeper, top / bottom."
    )
    business_odds: dict[str, float] = Field(
        default_factory=lambda: {"emu": 2.0, "g": 1.5, "first": 3.0, "soft_sleeper": 2.0},
        description="Assumption: odds multipliers of a business trip for an EMU, a G train, "
        "first class and a soft sleeper (employers pay for speed and comfort; 1-4 each).",
    )
    leisure_odds: dict[str, float] = Field(
        default_factory=lambda: {"emu": 1.2, "g": 1.0, "first": 1.2, "soft_sleeper": 1.2},
        description="Assumption: the same for a leisure trip (family visits: 1).",
    )

    @field_validator("business_odds", "leisure_odds")
    @classmethod
    def _odds_keys(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(_CHOICES))
        if unknown:
            expected = ", ".join(_CHOICES)
            raise ValueError(f"unknown choice '{unknown[0]}'; expected some of {expected}")
        if any(not 0 < x <= 100 for x in v.values()):
            raise ValueError("odds multipliers must be in (0, 100]")
        return v

    def table(self, weight: np.ndarray) -> np.ndarray:
        """P(purpose, class | income decile): shape (10, purposes, classes).

        ``weight`` is each decile's share of the run's rail attempts: the intercepts are
        solved so that the attempts' shares are the published ones.
        """
        d = (np.arange(10) - 4.5) / 9.0
        p_business = _solve(self.business_share, np.log(self.business_income_ratio) * d, weight)
        private = 1.0 - p_business
        purpose = np.stack(
            [p_business, private * self.family_share_of_private,
             private * (1 - self.family_share_of_private)], axis=1,
        )  # fmt: skip
        odds = np.ones((len(PURPOSES), len(_CHOICES)))
        for i, given in ((0, self.business_odds), (2, self.leisure_odds)):
            for name, x in given.items():
                odds[i, _CHOICES.index(name)] = x
        log_odds = np.log(odds)  # (purpose, choice)

        def choice(share: float, ratio: float, c: int, w: np.ndarray) -> np.ndarray:
            slope = np.log(ratio) * d[:, None] + log_odds[None, :, c]  # (decile, purpose)
            return _solve(share, slope, w)

        w_dp = weight[:, None] * purpose  # attempts by decile and purpose
        emu = choice(self.emu_share, self.emu_income_ratio, 0, w_dp)
        g = choice(self.g_share_of_emu, self.g_income_ratio, 1, w_dp * emu)
        first = choice(self.first_share_of_emu, self.first_income_ratio, 2, w_dp * emu)
        soft = choice(self.soft_sleeper_share, self.soft_sleeper_income_ratio, 3, w_dp * (1 - emu))
        classes = np.stack(
            [emu * g * first, emu * g * (1 - first), emu * (1 - g) * first,
             emu * (1 - g) * (1 - first), (1 - emu) * soft, (1 - emu) * (1 - soft)], axis=2,
        )  # fmt: skip
        return purpose[:, :, None] * classes


#: The choices whose odds a purpose moves.
_CHOICES = ("emu", "g", "first", "soft_sleeper")


def _solve(share: float, slope: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``logistic(a + slope)`` with the intercept ``a`` such that its mean weighted by
    ``weight`` (same shape) is ``share`` (bisection on the log odds)."""
    total = float(weight.sum())
    if total <= 0:
        return _logistic(_logit(share) + slope)
    lo, hi = -50.0, 50.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if float((weight * _logistic(mid + slope)).sum()) / total < share:
            lo = mid
        else:
            hi = mid
    return _logistic((lo + hi) / 2 + slope)


def _by_age(*multipliers: float) -> dict[str, float]:
    """Age multipliers in the order of :data:`AGE_BANDS`."""
    return dict(zip(AGE_BANDS, multipliers, strict=True))


# Every shape below (age, income, rural, migrant multipliers) is an Assumption; the
# per_year figures are cited in each field's description.
_DEFAULTS: dict[str, MomentRate] = {
    "flight_ticket": MomentRate(
        per_year=659.93e6 / CHINA_POPULATION_2019,
        age=_by_age(0.3, 0.5, 0.9, 1.5, 1.4, 1.0, 0.6, 0.3),
        income_ratio=10.0,
        rural=0.3,
        migrant=0.7,
    ),
    "rail_ticket": MomentRate(
        per_year=3.57e9 / CHINA_POPULATION_2019,
        age=_by_age(0.4, 0.7, 1.4, 1.3, 1.1, 0.9, 0.7, 0.4),
        income_ratio=2.0,
        rural=0.5,
        migrant=1.5,
    ),
    "hotel_booking": MomentRate(
        per_year=1.0,
        age=_by_age(0.0, 0.0, 1.0, 1.4, 1.3, 1.0, 0.6, 0.3),
        income_ratio=6.0,
        rural=0.4,
    ),
    "luxury_hotel": MomentRate(
        per_year=0.03,
        age=_by_age(0.0, 0.0, 0.5, 1.2, 1.5, 1.2, 0.6, 0.2),
        income_ratio=100.0,
        rural=0.2,
    ),
    "travel_abroad": MomentRate(
        per_year=155e6 / CHINA_POPULATION_2019,
        age=_by_age(0.3, 0.6, 1.0, 1.4, 1.3, 1.1, 0.8, 0.3),
        income_ratio=30.0,
        rural=0.2,
        migrant=0.5,
    ),
    "loan_application": MomentRate(
        per_year=0.3,
        age=_by_age(0.0, 0.0, 0.8, 1.5, 1.3, 0.8, 0.3, 0.1),
        income_ratio=2.0,
        rural=0.8,
    ),
    "job_application": MomentRate(
        per_year=1.0,
        age=_by_age(0.0, 0.0, 3.0, 1.5, 0.8, 0.4, 0.1, 0.0),
        income_ratio=0.7,
        rural=0.6,
        migrant=1.5,
        unemployed=8.0,
    ),
    "insurance_purchase": MomentRate(
        per_year=0.5,
        age=_by_age(0.0, 0.0, 0.6, 1.3, 1.3, 1.0, 0.5, 0.2),
        income_ratio=5.0,
        rural=0.6,
        migrant=0.7,
    ),
    "bike_rental": MomentRate(
        per_year=45e6 * DAYS_PER_YEAR / CHINA_POPULATION_2019,
        age=_by_age(0.0, 0.3, 2.0, 1.8, 1.0, 0.5, 0.2, 0.05),
        income_ratio=1.0,
        rural=0.1,
        migrant=1.2,
    ),
    "car_rental": MomentRate(
        per_year=0.1,
        age=_by_age(0.0, 0.0, 1.5, 1.5, 1.0, 0.6, 0.3, 0.1),
        income_ratio=3.0,
        rural=0.5,
        drivers_only=True,
    ),
}


def _rate_field(kind: str, description: str) -> Any:
    return Field(_DEFAULTS[kind], description=description)


class ResourcesParams(SourceParams):
    """Rates of resource moments per kind, and who applies for school places.

    A kind given as a partial mapping in the scenario (``flight_ticket: {per_year: 0.8}``)
    keeps the default for every field it does not name.
    """

    flight_ticket: MomentRate = _rate_field(
        "flight_ticket",
        "per_year: 659.93 million air passenger trips in 2019 (CAAC, 2019 civil aviation "
        "statistical bulletin; domestic and international) / 1,400.05 million residents "
        "(NBS) = 0.471, one ticket per one-way trip. Shape: Assumption.",
    )
    rail_ticket: MomentRate = _rate_field(
        "rail_ticket",
        "Every rail trip, of any train and class (rail_classes chooses them). per_year: "
        "3.57 billion rail passenger trips in 2019 (China State Railway Group, 2019 "
        "results, January 2020) / 1,400.05 million = 2.550. income_ratio 2 (Assumption: "
        "1.5-4; the train and class chosen carry the rest of the income gradient). Shape: "
        "Assumption.",
    )
    rail_classes: RailChoice = Field(
        default_factory=lambda: RailChoice(),
        description="Which train and seat class a rail ticket is for, by income and "
        "purpose (see RailChoice).",
    )
    hotel_booking: MomentRate = _rate_field(
        "hotel_booking",
        "Assumption: 1 booking per person-year, below the 4.3 domestic tourist trips per "
        "person of 2019 (MCT: 6.006 billion trips) since many trips are day trips or stays "
        "with family. Shape: Assumption.",
    )
    luxury_hotel: MomentRate = _rate_field(
        "luxury_hotel",
        "Assumption: 0.03 stays in star-rated luxury hotels per person-year, concentrated "
        "in the top income deciles.",
    )
    travel_abroad: MomentRate = _rate_field(
        "travel_abroad",
        "per_year: 155 million outbound trips by mainland residents in 2019 (China Tourism "
        "Academy) / 1,400.05 million = 0.111. Shape: Assumption.",
    )
    loan_application: MomentRate = _rate_field(
        "loan_application", "Assumption: 0.3 loan applications per person-year, adults only."
    )
    job_application: MomentRate = _rate_field(
        "job_application",
        "Assumption: 1 job application per person-year, mostly the young and the unemployed (8x).",
    )
    insurance_purchase: MomentRate = _rate_field(
        "insurance_purchase", "Assumption: 0.5 insurance purchases per person-year, adults."
    )
    bike_rental: MomentRate = _rate_field(
        "bike_rental",
        "per_year: about 45 million shared-bike rides a day in 2019 (Ministry of Transport, "
        "State Council Information Office press conference, Dec 2020) x 365 / 1,400.05 "
        "million = 11.7; under-12s may not ride (hence low 6-17). Shape: Assumption.",
    )
    car_rental: MomentRate = _rate_field(
        "car_rental", "Assumption: 0.1 car rentals per person-year, licence holders only."
    )
    record_rentals: bool = Field(
        False,
        description="Bike and car rentals as one moment each (policies can block them) "
        "instead of per-person counts in the aggregates table.",
    )
    school_apply_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Assumption: share of children at a school entry age whose parent "
        "applies for a private school place, about the private share of compulsory "
        "schooling.",
    )
    school_income_ratio: float = Field(
        4.0,
        gt=0,
        le=1000,
        description="Assumption: application rate of the top parental income decile over "
        "the bottom one.",
    )
    school_entry_ages: tuple[int, ...] = Field(
        (6, 12),
        min_length=1,
        description="Ages at which children enter primary (6) and junior middle (12) school.",
    )
    school_application_day_of_year: int = Field(
        130,
        ge=1,
        le=365,
        description="Assumption: day of the year applications are filed (130: about 10 May, "
        "private-school registration season).",
    )
    parent_age_min: int = Field(25, ge=15, le=80, description="Assumption: youngest parent.")
    parent_age_max: int = Field(50, ge=15, le=90, description="Assumption: oldest parent.")

    @model_validator(mode="before")
    @classmethod
    def _merge_partial_kinds(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for kind in KINDS:
                value = data.get(kind)
                if isinstance(value, dict):
                    data[kind] = {**_DEFAULTS[kind].model_dump(), **value}
        return data

    @field_validator("school_entry_ages")
    @classmethod
    def _entry_ages(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 <= a <= 25 for a in v):
            raise ValueError(f"school entry ages must be in 0..25, got {v}")
        return tuple(sorted(set(v)))

    @model_validator(mode="after")
    def _parent_ages(self) -> ResourcesParams:
        if self.parent_age_min > self.parent_age_max:
            raise ValueError("parent_age_min must not exceed parent_age_max")
        return self


# Class axes: age band, income decile, urban, migrant, driving licence, unemployed.
_SHAPE = (len(AGE_BANDS), 10, 2, 2, 2, 2)


@register("sources", "resources", ResourcesParams)
class Resources:
    """Resource moments: tickets, bookings, applications, purchases and rentals (attempts).

    Attributes:
        parent_of_child: Per person, the person_id of the parent who files their school
            application, or -1 (int32; set for every child reaching a school entry age on an
            application day of the run).
        rates: Per kind, the base rate per class and day (before propensity), after
            renormalisation.
    """

    def __init__(self, name: str, params: ResourcesParams) -> None:
        self.name, self.params = name, params

    def kinds(self) -> tuple[Kind, ...]:
        """Resource moment kinds, and the rentals kept as per-person totals unless
        ``record_rentals``.

        Rentals are declared as moments either way (as the database's labels always
        were): with ``record_rentals`` false (the default) no single rental is a moment,
        so a measure on rentals decides nothing.
        """
        return MOMENT_KINDS if self.params.record_rentals else (*MOMENT_KINDS, *RENTAL_ACTS)

    def setup(self, sim: Simulation) -> None:
        p = self.params
        c = sim.population.citizens
        n = len(c)
        age = ages(sim)
        band = age_band(age, _AGE_LOWER)
        unemployed = c.occupation == OCCUPATIONS.index("unemployed")
        class_of = np.ravel_multi_index(
            (band, c.income_decile.astype(np.int64), c.urban.astype(np.int64),
             c.migrant.astype(np.int64), c.driver_licence.astype(np.int64),
             unemployed.astype(np.int64)),
            _SHAPE,
        )  # fmt: skip
        self.classes = RateClasses.of(class_of, int(np.prod(_SHAPE)))
        self._sort = IdSorter(n)
        axes = np.unravel_index(np.arange(self.classes.n_classes), _SHAPE)
        self.rates: dict[str, np.ndarray] = {}
        for kind in KINDS:
            self.rates[kind] = self._class_rates(getattr(p, kind), axes, n)
        self._setup_rail(sim, axes)
        # Aggregated rentals are only ever per-person totals: accrue, draw when read.
        self._lazy: dict[str, LazyPoisson] = {}
        if not p.record_rentals:
            for kind in RENTAL_KINDS:
                self._lazy[kind] = LazyPoisson(
                    self.classes, self.rates[kind], sim.stream_key(self.name, kind)
                )
                self._lazy[kind].follow(sim.state, propensity_key(kind))
                sim.aggregates.defer([kind], partial(self._settle, sim, kind))
        self._setup_school(sim, age)

    def _class_rates(self, rate: MomentRate, axes: tuple[np.ndarray, ...], n: int) -> np.ndarray:
        band, decile, urban, migrant, licence, unemployed = axes
        age_mult = np.array([rate.age.get(b, 1.0) for b in AGE_BANDS])
        mult = (
            age_mult[band]
            * income_multiplier(decile, rate.income_ratio)
            * np.where(urban == 1, 1.0, rate.rural)
            * np.where(migrant == 1, rate.migrant, 1.0)
            * np.where(unemployed == 1, rate.unemployed, 1.0)
        )
        if rate.drivers_only:
            mult = mult * (licence == 1)
        mean = float((self.classes.size * mult).sum()) / n if n else 0.0
        if mean <= 0.0:
            return np.zeros(self.classes.n_classes)
        per_day = rate.per_year * self.params.rate_multiplier / DAYS_PER_YEAR
        return per_day * mult / mean

    def _setup_rail(self, sim: Simulation, axes: tuple[np.ndarray, ...]) -> None:
        """The rail tickets' P(purpose, class | income decile), from the run's attempts."""
        weight = np.bincount(axes[1], weights=self.classes.size * self.rates[RAIL], minlength=10)
        #: P(purpose, class | decile): shape (10, purposes, classes).
        self.rail_table = self.params.rail_classes.table(weight)
        # One draw per attempt picks its (purpose, class) cell: decile d's cells cover
        # [d, d + 1) in a single increasing table, searched at d + u.
        cells = np.cumsum(self.rail_table.reshape(10, -1), axis=1)
        cells[:, -1] = 1.0  # no rounding gap at the end of a decile
        self._rail_cells = (np.arange(10)[:, None] + cells).ravel()
        self._rail_search = BucketedSearch(self._rail_cells, 0.0, 10.0)

    def _setup_school(self, sim: Simulation, age: np.ndarray) -> None:
        p = self.params
        c = sim.population.citizens
        n = len(c)
        self.parent_of_child = np.full(n, -1, dtype=np.int32)
        self._applicants: dict[int, np.ndarray] = {}
        start = sim.scenario.start_date
        days = sim.scenario.days
        for year in range(start.year, (start + dt.timedelta(days=days)).year + 1):
            when = dt.date(year, 1, 1) + dt.timedelta(days=p.school_application_day_of_year - 1)
            day = (when - start).days
            if 0 <= day < days:
                age_then = age_on(c.birth_day, when)
                self._applicants[day] = np.flatnonzero(
                    np.isin(age_then, np.array(p.school_entry_ages))
                )
        if not self._applicants:
            return
        children = union_sorted(*self._applicants.values())
        eligible = (age >= p.parent_age_min) & (age <= p.parent_age_max)
        rng = sim.rng(f"{self.name}/parents")
        for d in range(len(sim.scenario.geography.districts)):
            kids = children[c.district[children] == d]
            adults = np.flatnonzero(eligible & (c.district == d))
            if len(kids) and len(adults):
                # Uniform over the district's adults of parenting age, with replacement:
                # some parents file for several children (Assumption: no household data).
                self.parent_of_child[kids] = adults[rng.integers(0, len(adults), len(kids))]

    def step(self, sim: Simulation, day: int) -> None:
        for kind in KINDS:
            lazy = self._lazy.get(kind)
            if lazy is not None:
                lazy.accrue(propensity(sim, kind))
                continue
            rng = sim.rng(f"{self.name}/{kind}", day)
            who = self._draw(sim, rng, kind)
            if kind == RAIL:
                who, cls = self._rail_classes(sim, rng, who)
                if len(who):
                    sim.moments.add(day, self.name, kind, who, cls=cls, classes=RAIL_CLASSES)
                continue
            gave_up = avoided(sim, kind)
            if gave_up is not None and len(who):
                # A kind without classes: bit 0 set = the person no longer tries it.
                who = who[(gave_up[who] & 1) == 0]
            if len(who):
                sim.moments.add(day, self.name, kind, who)
        if day in self._applicants:
            self._school_day(sim, day)

    def _draw(self, sim: Simulation, rng: np.random.Generator, kind: str) -> np.ndarray:
        """Today's attempts of ``kind`` (sorted actors, repeats = several attempts)."""
        who, _ = self.classes.events(rng, self.rates[kind], propensity(sim, kind))
        return self._sort(who)

    def _rail_classes(
        self, sim: Simulation, rng: np.random.Generator, who: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each rail attempt's purpose and class (uint8 codes into RAIL_CLASSES).

        A person who avoids some classes (:mod:`sclab.engine.avoidance`) keeps the purpose
        drawn and takes a class among the others, in proportion to their usual shares;
        with every class avoided the attempt is given up (and dropped).
        """
        if not len(who):
            return who, np.empty(0, np.uint8)
        decile = sim.population.citizens.income_decile[who].astype(np.intp)
        n_cells = len(PURPOSES) * len(RAIL_CLASSES)
        cell = self._rail_search(decile + rng.random(len(who)))
        cell = np.minimum(cell - decile * n_cells, n_cells - 1)
        cls = cell % len(RAIL_CLASSES)
        bits = avoided(sim, RAIL)
        if bits is not None:
            mine = bits[who]
            at = np.flatnonzero(mine)
            if len(at):
                # Same purpose; a class among those still attempted, in proportion to the
                # usual shares (given up when none is left).
                purpose = cell[at] // len(RAIL_CLASSES)
                allowed = (mine[at, None] >> np.arange(len(RAIL_CLASSES), dtype=np.uint8)) & 1
                cum = np.cumsum(self.rail_table[decile[at], purpose] * (allowed == 0), axis=1)
                total = cum[:, -1]
                u = rng.random(len(at))
                cls[at] = (u[:, None] * total[:, None] > cum).sum(axis=1)
                keep = np.ones(len(who), bool)
                keep[at] = total > 0
                who, cls = who[keep], cls[keep]
        return who, np.minimum(cls, len(RAIL_CLASSES) - 1).astype(np.uint8)

    def _settle(self, sim: Simulation, kind: str) -> None:
        """Draw a rental kind's per-person totals accrued since the last settle."""
        lazy = self._lazy[kind]
        if not lazy.pending:
            return
        sim.aggregates.add_counts(kind, lazy.draw())

    def _school_day(self, sim: Simulation, day: int) -> None:
        p = self.params
        children = self._applicants[day]
        children = children[self.parent_of_child[children] >= 0]
        parents = self.parent_of_child[children].astype(np.int64)
        deciles = sim.population.citizens.income_decile[parents]
        norm = float(income_multiplier(np.arange(10), p.school_income_ratio).mean())
        prob = p.school_apply_share * income_multiplier(deciles, p.school_income_ratio) / norm
        mult = propensity(sim, SCHOOL_PLACE)
        if mult is not None:
            prob = prob * mult[parents]
        prob = np.clip(prob * p.rate_multiplier, 0.0, 1.0)
        rng = sim.rng(f"{self.name}/{SCHOOL_PLACE}", day)
        keep = rng.random(len(children)) < prob
        if keep.any():
            sim.moments.add(day, self.name, SCHOOL_PLACE, parents[keep], beneficiary=children[keep])

    def finish(self, sim: Simulation) -> None:
        """Draw the aggregated rentals still pending (reading them would do it too)."""
        for kind in self._lazy:
            self._settle(sim, kind)
