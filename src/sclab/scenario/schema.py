"""The scenario schema: everything a run needs, validated before anything is generated.

Core objects:
    :class:`Scenario`: the root model, one YAML file.
    :class:`Geography` / :class:`District`: where the synthetic people live (GB/T 2260 codes).
    :class:`PopulationSpec`: size and aggregate marginals; no per-person input exists.
    :class:`CompanySpec`, :class:`SocialGraphSpec`: the other entities and the tie graph.
    :class:`ComponentSpec`: a source, sensor, behaviour or policy pack to plug into the engine.

Defaults describe Nanjing in 2020 where a published figure exists; each default that is an
assumption rather than a published figure says so in its description, so that a user can
see which knobs carry evidence and which carry judgement. ``docs/scenarios.md`` lists them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from sclab.rng import Streams

Share = Annotated[float, Field(ge=0.0, le=1.0)]
#: The most people one scenario (one city: one partition of a region) may hold: what a
#: worker of 128 GiB holds at a year's peak of about 770 bytes a person (77 GB; measured
#: at 9.3M, BENCHMARKS.md), with room to spare. A region of many cities is bounded by its
#: partitions, not by its total (docs/scale.md).
MAX_POPULATION = 100_000_000
SHARE_TOLERANCE = 1e-3

#: A component parameter whose name ends so is a mapping keyed by the GB/T 2260 codes of
#: the scenario's districts (``camera_share_by_district: {320115: 0.2}``). The scenario
#: checks the keys against its geography, since a component's own schema cannot see it.
DISTRICT_KEYED_SUFFIX = "_by_district"
COMPONENT_STAGES = ("sources", "sensors", "behaviour", "policies")

_AGE_BAND = re.compile(r"^\s*(\d{1,3})\s*-\s*(\d{1,3})\s*$")

EDUCATION_LEVELS = ("primary_or_less", "junior_middle", "senior_high", "college")
OCCUPATIONS_WORKING = (
    "civil_servant",
    "state_enterprise",
    "private",
    "self_employed",
    "unemployed",
)


class Strict(BaseModel):
    """Base for every scenario model: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_shares(values: dict[Any, float], what: str) -> dict[Any, float]:
    if not values:
        raise ValueError(f"expected at least one {what}")
    bad = {k: v for k, v in values.items() if not 0.0 <= float(v) <= 1.0}
    if bad:
        k, v = next(iter(bad.items()))
        raise ValueError(f"expected shares between 0 and 1; '{k}' is {v}")
    total = sum(values.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"expected {what} shares summing to 1, got {total:.4f}")
    return {k: v / total for k, v in values.items()}


def _check_fixed_keys(values: dict[str, float], keys: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(values) - set(keys))
    if unknown:
        raise ValueError(f"unknown {what} '{unknown[0]}'; expected some of: {', '.join(keys)}")


class District(Strict):
    """One district of the geography."""

    code: int = Field(ge=110000, le=829999, description="GB/T 2260 six-digit region code.")
    name: str = Field(min_length=1)
    population: int = Field(gt=0, description="Published resident count; used as a weight.")
    urban_share: Share = Field(1.0, description="Share of residents in urban areas.")
    migrant_share: Share | None = Field(
        None, description="Overrides population.registration.migrant_share for this district."
    )


class Geography(Strict):
    """The districts people live in and where their figures come from."""

    name: str = Field(description="Name of the area.")
    source: str = Field("", description="Citation for the district figures.")
    districts: list[District] = Field(
        min_length=1, max_length=255, description="1-255 districts (see District entries)."
    )

    @field_validator("districts")
    @classmethod
    def _unique_codes(cls, districts: list[District]) -> list[District]:
        seen: set[int] = set()
        for d in districts:
            if d.code in seen:
                raise ValueError(f"district code {d.code} appears twice; codes must be unique")
            seen.add(d.code)
        return districts


class Demography(Strict):
    """Sex, age and ethnic marginals."""

    male_share: Share = Field(0.51, description="Nanjing 2020 census, approximately.")
    # Five-year bands matched to the Nanjing 2020 census broad groups:
    # 0-14: 13.70 %, 15-59: 67.24 %, 60+: 19.06 %, 65+: 13.40 %.
    age_bands: dict[str, float] = Field(
        default_factory=lambda: {
            "0-4": 0.043, "5-9": 0.050, "10-14": 0.044, "15-19": 0.045, "20-24": 0.068,
            "25-29": 0.080, "30-34": 0.095, "35-39": 0.080, "40-44": 0.072, "45-49": 0.076,
            "50-54": 0.080, "55-59": 0.0764, "60-64": 0.0566, "65-69": 0.050, "70-74": 0.037,
            "75-79": 0.022, "80-84": 0.015, "85-99": 0.010,
        }
    )  # fmt: skip
    ethnic_groups: dict[str, float] = Field(
        default_factory=lambda: {"han": 0.985, "hui": 0.0085, "other_minority": 0.0065},
        description="Approximate: Han about 98.5 % in Nanjing; Hui the largest minority.",
    )

    @field_validator("age_bands")
    @classmethod
    def _bands(cls, bands: dict[str, float]) -> dict[str, float]:
        parsed = []
        for key in bands:
            m = _AGE_BAND.match(str(key))
            if not m:
                raise ValueError(f"age band '{key}' should look like '15-19'")
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo or hi > 110:
                raise ValueError(f"age band '{key}': expected lower <= upper <= 110")
            parsed.append((lo, hi))
        parsed.sort()
        if parsed[0][0] != 0:
            raise ValueError("age bands must start at 0")
        for (_, hi), (lo, _) in itertools.pairwise(parsed):
            if lo != hi + 1:
                raise ValueError(f"age bands must be contiguous: a band should start at {hi + 1}")
        return _check_shares(bands, "age band")

    @field_validator("ethnic_groups")
    @classmethod
    def _ethnic(cls, groups: dict[str, float]) -> dict[str, float]:
        if len(groups) > 250:
            raise ValueError("at most 250 ethnic groups")
        return _check_shares(groups, "ethnic group")

    def parsed_bands(self) -> list[tuple[int, int, float]]:
        """(lowest age, highest age, share) sorted by age."""
        out = []
        for key, share in self.age_bands.items():
            m = _AGE_BAND.match(key)
            assert m is not None  # checked by the validator
            out.append((int(m.group(1)), int(m.group(2)), share))
        return sorted(out)


class Registration(Strict):
    """Household registration (hukou): locals, migrants, and where migrants come from."""

    migrant_share: Share = Field(
        0.285, description="Nanjing 2020 census: 2,651,800 floating residents of 9,314,700."
    )
    residence_permit_share: Share = Field(
        0.7,
        description="Assumption: share of migrants holding a local residence permit, which "
        "puts their ID photo in the local database.",
    )
    # Migrants are mostly of working age; these relative weights (assumption) shape who is a
    # migrant while the overall share stays at migrant_share.
    age_weights: dict[str, float] = Field(
        default_factory=lambda: {"0-17": 0.7, "18-44": 1.6, "45-59": 0.9, "60-110": 0.3}
    )
    origins: dict[int, float] = Field(
        default_factory=lambda: {
            341221: 0.15,  # Linquan County, Fuyang, Anhui
            341122: 0.15,  # Lai'an County, Chuzhou, Anhui
            340822: 0.10,  # Huaining County, Anqing, Anhui
            321323: 0.15,  # Siyang County, Suqian, Jiangsu
            320826: 0.15,  # Lianshui County, Huai'an, Jiangsu
            411522: 0.10,  # Guangshan County, Xinyang, Henan
            370882: 0.10,  # Yanzhou District, Jining, Shandong
            360421: 0.10,  # Chaisang, Jiujiang, Jiangxi
        },
        description="Assumption: region codes of migrants' registration places (weights).",
    )

    @field_validator("age_weights")
    @classmethod
    def _age_weights(cls, weights: dict[str, float]) -> dict[str, float]:
        covered = set()
        for key, w in weights.items():
            m = _AGE_BAND.match(str(key))
            if not m:
                raise ValueError(f"age range '{key}' should look like '18-44'")
            if w < 0:
                raise ValueError(f"age weight for '{key}' must be >= 0")
            covered |= set(range(int(m.group(1)), int(m.group(2)) + 1))
        if not set(range(0, 100)) <= covered:
            raise ValueError("migrant age weights must cover ages 0-99")
        return weights

    @field_validator("origins")
    @classmethod
    def _origins(cls, origins: dict[int, float]) -> dict[int, float]:
        for code in origins:
            if not 110000 <= int(code) <= 829999:
                raise ValueError(f"origin {code} is not a six-digit GB/T 2260 region code")
        return _check_shares(origins, "migrant origin")


class Socioeconomics(Strict):
    """Education, income and occupation, joined by one latent socio-economic factor."""

    education: dict[str, float] = Field(
        default_factory=lambda: {
            "primary_or_less": 0.16, "junior_middle": 0.26, "senior_high": 0.17, "college": 0.41,
        },
        description="Among people aged 15+; approximately the Nanjing 2020 census (about "
        "35 % of all residents with college education).",
    )  # fmt: skip
    occupations: dict[str, float] = Field(
        default_factory=lambda: {
            "civil_servant": 0.04, "state_enterprise": 0.14, "private": 0.52,
            "self_employed": 0.18, "unemployed": 0.12,
        },
        description="Assumption: among working-age people who are neither students nor retired.",
    )  # fmt: skip
    student_share_18_22: Share = Field(
        0.45, description="Assumption: Nanjing hosts about 0.9 million tertiary students."
    )
    retirement_age_male: int = Field(60, ge=40, le=80)
    retirement_age_female: int = Field(55, ge=40, le=80)
    education_loading: Share = Field(
        0.7, description="Assumption: correlation of education with the latent factor."
    )
    income_loading: Share = Field(
        0.7, description="Assumption: correlation of income with the latent factor."
    )
    urban_income_shift: float = Field(
        0.4, ge=-3, le=3, description="Assumption: urban residents' latent income shift (s.d.)."
    )
    cohort_education_shift: float = Field(
        0.5,
        ge=0,
        le=3,
        description="Assumption: s.d. by which education falls per 30 years of age, so that "
        "older cohorts are less schooled.",
    )

    @field_validator("education")
    @classmethod
    def _edu(cls, v: dict[str, float]) -> dict[str, float]:
        _check_fixed_keys(v, EDUCATION_LEVELS, "education level")
        return _check_shares({k: v.get(k, 0.0) for k in EDUCATION_LEVELS}, "education")

    @field_validator("occupations")
    @classmethod
    def _occ(cls, v: dict[str, float]) -> dict[str, float]:
        _check_fixed_keys(v, OCCUPATIONS_WORKING, "occupation")
        return _check_shares({k: v.get(k, 0.0) for k in OCCUPATIONS_WORKING}, "occupation")


class Devices(Strict):
    """Phones, payment apps, social media, driving licences: who leaves which traces."""

    smartphone_by_age: dict[int, float] = Field(
        default_factory=lambda: {
            0: 0.0, 8: 0.3, 12: 0.7, 16: 0.97, 40: 0.95, 50: 0.9, 60: 0.75, 70: 0.5, 80: 0.2,
        },
        description="Assumption: share with a smartphone from each age on (piecewise constant).",
    )  # fmt: skip
    payment_app_share: Share = Field(
        0.9, description="Among smartphone users; CNNIC 2020 reports about 86 % of netizens."
    )
    social_media_share: Share = Field(0.9, description="Assumption: among smartphone users.")
    driver_licence_share_male: Share = Field(0.55, description="Assumption: among ages 18-70.")
    driver_licence_share_female: Share = Field(0.35, description="Assumption: among ages 18-70.")

    @field_validator("smartphone_by_age")
    @classmethod
    def _steps(cls, v: dict[int, float]) -> dict[int, float]:
        if 0 not in v:
            raise ValueError("smartphone_by_age must have an entry for age 0")
        for age, share in v.items():
            if not 0 <= int(age) <= 110 or not 0.0 <= share <= 1.0:
                raise ValueError(f"smartphone_by_age: age {age} share {share} out of range")
        return dict(sorted(v.items()))


class Galleries(Strict):
    """Who is in the face databases the camera network matches against."""

    id_card_min_age: int = Field(
        16, ge=0, le=30, description="Resident ID cards are compulsory from 16 (ID card law)."
    )
    id_photo_coverage: Share = Field(
        0.98, description="Assumption: share of eligible people with a photo in the local database."
    )
    driver_db_coverage: Share = Field(1.0, description="Licence holders in the driver database.")


class Names(Strict):
    """Given-name pool; surnames follow the built-in frequency table (see population.names)."""

    given_name_pool: int = Field(40_000, ge=100, le=65_000)
    given_name_offset: float = Field(20.0, ge=0, description="Zipf-Mandelbrot offset q.")
    given_name_exponent: float = Field(1.0, gt=0, le=3, description="Zipf-Mandelbrot exponent s.")


class PopulationSpec(Strict):
    """How many people, and the aggregate marginals they are drawn from."""

    size: int = Field(
        gt=0,
        le=MAX_POPULATION,
        description="Number of synthetic citizens (at most what one partition holds).",
    )
    demography: Demography = Field(default_factory=Demography)
    registration: Registration = Field(default_factory=Registration)
    socioeconomics: Socioeconomics = Field(default_factory=Socioeconomics)
    devices: Devices = Field(default_factory=Devices)
    galleries: Galleries = Field(default_factory=Galleries)
    names: Names = Field(default_factory=Names)


class CompanySpec(Strict):
    """Companies registered in the geography, each with a legal representative."""

    per_1000_people: float = Field(
        30.0, ge=0, le=500, description="Assumption: enterprises per 1000 residents."
    )
    sectors: dict[str, float] = Field(
        default_factory=lambda: {
            "manufacturing": 0.12, "construction": 0.08, "wholesale_retail": 0.30,
            "information_technology": 0.10, "business_services": 0.15,
            "catering_hospitality": 0.08, "transport_logistics": 0.05, "real_estate": 0.04,
            "finance": 0.02, "other": 0.06,
        },
        description="Assumption: sector shares of registered enterprises.",
    )  # fmt: skip
    sizes: dict[str, float] = Field(
        default_factory=lambda: {"micro": 0.82, "small": 0.14, "medium": 0.035, "large": 0.005},
        description="Assumption: size classes (micro < 10 staff, small < 100, medium < 1000).",
    )
    legal_rep_min_age: int = Field(18, ge=16, le=60)
    legal_rep_max_age: int = Field(75, ge=30, le=110)

    @field_validator("sectors", "sizes")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_shares(v, "category")

    @field_validator("sizes")
    @classmethod
    def _size_names(cls, v: dict[str, float]) -> dict[str, float]:
        _check_fixed_keys(v, ("micro", "small", "medium", "large"), "size class")
        return v

    @model_validator(mode="after")
    def _ages(self) -> CompanySpec:
        if self.legal_rep_max_age < self.legal_rep_min_age:
            raise ValueError("legal_rep_max_age must be >= legal_rep_min_age")
        return self


class DegreeSpecModel(Strict):
    """How many ties people have."""

    distribution: str = Field("lognormal", pattern="^(lognormal|negative_binomial|poisson)$")
    mean: float = Field(12.0, gt=0, le=200)
    dispersion: float = Field(0.8, ge=0, le=5)
    max_degree: int = Field(500, ge=1, le=5000)

    @model_validator(mode="after")
    def _mean_below_max(self) -> DegreeSpecModel:
        if self.mean > self.max_degree:
            raise ValueError(f"mean ({self.mean}) must not exceed max_degree ({self.max_degree})")
        return self


class SocialGraphSpec(Strict):
    """The tie graph (homophily by district, age and income; a share of ties online)."""

    degree: DegreeSpecModel = Field(default_factory=DegreeSpecModel)
    same_district: Share = 0.7
    age_band_years: int = Field(10, ge=1, le=50)
    age_homophily: Share = 0.6
    income_homophily: Share = 0.5
    online_share: Share = Field(0.3, description="Assumption: share of ties kept online.")


class ComponentSpec(Strict):
    """A source, sensor, behaviour or policy to plug into the engine, with its parameters."""

    use: str = Field(min_length=1, description="Registered component name.")
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)


class OutputSpec(Strict):
    """What goes into run.duckdb beyond the core tables."""

    ties: bool = Field(True, description="Write the tie graph (one row per tie).")


class RegionMember(Strict):
    """One city of a region as every other city sees it: enough to draw the links."""

    code: int = Field(ge=110000, le=829999, description="The city's GB/T 2260 code.")
    people: int = Field(gt=0, description="Its synthetic people.")
    companies: int = Field(ge=0, description="Its synthetic companies.")


class CityKey(Strict):
    """A city's place in a region of several cities (:mod:`sclab.region` sets it on each
    city's scenario; a scenario of one city has none).

    The code is the city slot of every stream the city draws from
    (:class:`sclab.rng.Streams`), so a city draws the same numbers whichever worker runs
    it; the region's cities (code, people, companies) give each city's ids an offset that
    makes them unique across the region, and let each city draw the links across cities
    by itself (:mod:`sclab.population.regional`).
    """

    region: str = Field(min_length=1, description="The region's name.")
    index: int = Field(ge=0, description="The city's place in the region's list of cities.")
    cities: list[RegionMember] = Field(min_length=1, description="Every city of the region.")
    represented_elsewhere: Share = Field(
        0.0,
        description="Share of a city's companies whose legal representative lives in another.",
    )

    @model_validator(mode="after")
    def _index_in_range(self) -> CityKey:
        if self.index >= len(self.cities):
            raise ValueError(f"index {self.index} is past the region's {len(self.cities)} cities")
        return self

    @property
    def code(self) -> int:
        """The city's own code: its streams' city slot."""
        return self.cities[self.index].code

    @property
    def person_offset(self) -> int:
        """Region-wide id of the city's first person."""
        return sum(c.people for c in self.cities[: self.index])

    @property
    def company_offset(self) -> int:
        """Region-wide id of the city's first company."""
        return sum(c.companies for c in self.cities[: self.index])


class Scenario(Strict):
    """One scenario file: the root of a run's configuration."""

    name: str = Field(
        min_length=1,
        max_length=80,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Letters, digits, . _ - (default output: runs/NAME).",
    )
    description: str = Field("", description="One paragraph shown by `sclab scenarios`.")
    seed: int = Field(ge=0, le=2**63 - 1, description="Same seed and scenario: same results.")
    days: int = Field(365, ge=1, le=3650, description="Simulated days.")
    start_date: dt.date = Field(
        dt.date(2019, 7, 8), description="Day 0; the Nanjing jaywalking rule took effect then."
    )
    geography: Geography
    population: PopulationSpec
    companies: CompanySpec = Field(default_factory=CompanySpec)
    social_graph: SocialGraphSpec = Field(default_factory=SocialGraphSpec)
    sources: list[ComponentSpec] = Field(default_factory=list, description="True acts (world).")
    sensors: list[ComponentSpec] = Field(
        default_factory=list, description="What the system records, with errors."
    )
    behaviour: list[ComponentSpec] = Field(
        default_factory=list, description="Responses to the system (feedback)."
    )
    policies: list[ComponentSpec] = Field(
        default_factory=list, description="Policy packs or files (scores, lists, sanctions)."
    )
    output: OutputSpec = Field(default_factory=OutputSpec)
    city: CityKey | None = Field(
        None,
        description="Set by a region on each of its cities (`sclab.region`); absent for one city.",
    )

    def streams(self) -> Streams:
        """The run's random streams: keyed by the seed, and by the city in a region."""
        return Streams(self.seed, city=None if self.city is None else self.city.code)

    @model_validator(mode="after")
    def _district_keys(self) -> Scenario:
        codes = [d.code for d in self.geography.districts]
        for stage in COMPONENT_STAGES:
            for i, spec in enumerate(getattr(self, stage)):
                for name, value in spec.params.items():
                    if not str(name).endswith(DISTRICT_KEYED_SUFFIX) or not isinstance(value, dict):
                        continue
                    for key in value:
                        try:
                            code = int(key)
                        except (TypeError, ValueError):
                            continue  # not a code at all: the component's schema says so
                        if code not in codes:
                            raise _field_error(
                                f"district {code} is not in geography.districts; expected "
                                f"one of: {', '.join(map(str, codes))}",
                                (stage, i, "params", name, key),
                            )
        return self

    @model_validator(mode="after")
    def _fits_resident_ids(self) -> Scenario:
        from sclab.feasibility import id_space_message, id_space_problem

        cell = id_space_problem(self)
        if cell is not None:
            raise _field_error(id_space_message(cell, self.population.size), ("population", "size"))
        return self


def _field_error(message: str, loc: tuple[str | int, ...]) -> PydanticCustomError:
    """A scenario-level error about one field (``loc``, from the top of the scenario).

    ``sclab.yamlfile.validate`` reads ``loc`` so that the error names that field and its
    line, not the top of the file.
    """
    # The messages hold numbers and codes only, so the template has no placeholder in it.
    return PydanticCustomError("scenario_conflict", message, {"loc": loc})


def markdown() -> str:
    """Every scenario field with its default and description, as Markdown.

    ``docs/scenarios.md`` is this text (a test keeps them equal), so the reference can never
    drift from the schema.
    """
    out = [
        "# Scenario reference",
        "",
        "A scenario is one YAML file. Unknown fields are errors. Defaults describe Nanjing",
        "in 2020 where a published figure exists; descriptions marked *Assumption* are",
        "judgement, not evidence, and are the first knobs to vary in a sensitivity study.",
        "Built-in scenarios: `sclab scenarios`; their YAML ships in",
        "`src/sclab/scenario/builtin/`.",
        "",
        "Checks across fields: a component parameter whose name ends in `_by_district` is",
        "keyed by district codes, each of which must be in `geography.districts`; and the",
        "population must fit the resident-ID format, whose three-digit sequence number allows",
        "500 men and 499 women per region code and birth date (the error names the fullest",
        "region, date and sex, and the largest size that fits the same marginals).",
        "",
    ]

    def walk(model: type[BaseModel], prefix: str) -> None:
        rows = []
        nested = []
        for name, f in model.model_fields.items():
            path = f"{prefix}{name}"
            ann = f.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                nested.append((ann, path + "."))
            if f.is_required():
                default = "required"
            else:
                value = f.get_default(call_default_factory=True)
                if isinstance(value, BaseModel):
                    default = "(section)"
                else:
                    default = f"`{value}`"
                    if len(default) > 60:
                        default = "see schema"
            doc = (
                (
                    f.description
                    or (ann.__doc__ if isinstance(ann, type) and issubclass(ann, BaseModel) else "")
                    or ""
                )
                .strip()
                .splitlines()
            )
            rows.append(f"| `{path}` | {default} | {doc[0] if doc else ''} |")
        out.extend([f"## `{prefix[:-1] or 'top level'}`", "", "| field | default | meaning |"])
        out.append("| --- | --- | --- |")
        out.extend(rows)
        out.append("")
        for sub, sub_prefix in nested:
            walk(sub, sub_prefix)

    walk(Scenario, "")
    for model in (District, ComponentSpec):
        out.append(f"## `{model.__name__}` entries")
        out.extend(["", "| field | default | meaning |", "| --- | --- | --- |"])
        for name, f in model.model_fields.items():
            default = (
                "required" if f.is_required() else f"`{f.get_default(call_default_factory=True)}`"
            )
            out.append(f"| `{name}` | {default} | {f.description or ''} |")
        out.append("")
    return "\n".join(out)
