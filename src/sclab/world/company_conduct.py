"""Company conduct that the state records: tax arrears, environmental and product-quality
violations, contract breaches.

Core objects:
    :class:`CompanyConductParams`: per-kind yearly base rates, sector and size multipliers,
        amounts; every default documented.
    :class:`CompanyConduct`: the ``("sources", "company_conduct")`` component.

Acts (entity_type "company", actor = company_id), each with extra ``amount`` (CNY) and
``legal_rep`` (person_id of the company's legal representative, because joint punishment
spills over from a company onto its legal representative):
    "company_tax_arrears", "environmental_violation", "product_quality_violation",
    "contract_breach".

Court stream (company judgment debtors): a company fails to perform a judgment at
``company_non_performance_per_year`` ("company_non_performance", with ``amount`` and
``legal_rep``; listing flow from the SPC's figures, one listing in eight a company) and,
once unresolved, performs later at ``company_performance_hazard_per_day``
("company_judgment_performed"). Day 0 starts warm: the companies unresolved on day 0 after
the list's history since October 2013 are drawn in ``setup`` and emitted on the first
step with ``occurred_day`` < 0, their true past day (as the people's court pipeline of
:mod:`sclab.world.state_data` does). The court pack lists them; Art. 3 of the 2015 SPC
Provisions binds their legal representatives.

Rates: a company of sector s and size class z has, for act kind k, the yearly rate
``<k>_per_year × sector_multipliers[k][s] × size_multipliers[k][z] × rate_multiplier``,
spread evenly over days. Sectors missing from ``sector_multipliers[k]`` get 1; sectors
there that the scenario does not have are ignored. Amounts are log-normal around
``<k>_median_cny`` times the size class's ``amount_size_factor``. If some component
has created a state array ``propensity_company/<kind>`` (one float per company, via
``sim.state``; declared by the engine, :data:`sclab.engine.propensity.COMPANY_PROPENSITY`),
the rate is further multiplied by it: this is the company-level counterpart of
:func:`sclab.engine.propensity.propensity`, for behaviour that makes firms comply more (or
less). Multipliers above ``max_propensity`` count as that bound.

Calibration of environmental violations: Chinese environment authorities issued about
162,800 administrative penalty decisions in 2019, fining 11.878 billion CNY in total
(Ministry of Ecology and Environment, reported June 2020), i.e. about 73,000 CNY per case,
against roughly 38 million registered enterprises (Assumption on the denominator), so
about 0.0042 per enterprise-year on average. With the default sector and size mix of
:class:`sclab.scenario.schema.CompanySpec`, the default multipliers average about 1.40
(sector) × 0.64 (size), so the reference base is 0.0042 / 0.89 ≈ 0.0047. The other kinds
carry Assumptions only.

Warm start (``history_days``): the acts of the days before day 0 are drawn at setup with
the same base rates (:mod:`sclab.world.history`) and recorded as of their past days, so
that the corporate list holds on day 0 the companies listed on a record of the last three
years. A list entry resting on one record starts on that record's past day; an entry that
a counter rule makes (repeated violations) starts on day 0, when the engine counts the
past records together.

COST MODEL: companies are grouped once in setup into rate classes (sector × size, at most
a few dozen; :class:`sclab.world.sampling.RateClasses`). A day costs, per kind and class,
O(k) draws for its k events (O(max_propensity · k) with a company multiplier present),
and for the court stream O(unresolved company debtors) (a few per cent of companies).
The warm start costs one O(companies) draw in setup.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sclab.arrays import lex_order, union_sorted
from sclab.engine.catalogue import Kind
from sclab.engine.propensity import propensity_company_key
from sclab.engine.registry import register
from sclab.engine.simulation import DAYS_PER_YEAR
from sclab.population.companies import SIZES
from sclab.world.base import SourceParams
from sclab.world.history import PastActs, past_events
from sclab.world.sampling import RateClasses, lognormal_amounts

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

#: The act kinds (a contract breach breaks a civil obligation: not lawful, see
#: :data:`sclab.engine.catalogue.FACTS`).
CONDUCT = (
    Kind.act("company_tax_arrears", "tax", False, "a company's tax due and not paid",
             entity="company"),
    Kind.act("environmental_violation", "administration", False, "a violation of "
             "environmental regulation found by the authorities", entity="company"),
    Kind.act("product_quality_violation", "administration", False, "a violation of "
             "product-quality regulation found by the authorities", entity="company"),
    Kind.act("contract_breach", "commerce", False, "a contract with another party "
             "broken", entity="company"),
)  # fmt: skip
KINDS = tuple(k.name for k in CONDUCT)

#: Company judgment debtors (the court stream, :meth:`CompanyConduct._court`).
COMPANY_NON_PERFORMANCE = "company_non_performance"
COMPANY_PERFORMED = "company_judgment_performed"
COURT = (
    Kind.act(COMPANY_NON_PERFORMANCE, "courts", False, "a company that lost a civil "
             "judgment not performing it by the deadline", entity="company"),
    Kind.act(COMPANY_PERFORMED, "courts", True, "a company performing a judgment it had "
             "not performed by the deadline", entity="company"),
)  # fmt: skip
#: The SPC list went online on 1 October 2013: the company court history starts there.
LIST_LAUNCH = dt.date(2013, 10, 1)


class SizeFactors(BaseModel):
    """One factor per company size class (micro < 10 staff, small < 100, medium < 1000)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    micro: float = Field(1.0, ge=0, le=1000)
    small: float = Field(1.0, ge=0, le=1000)
    medium: float = Field(1.0, ge=0, le=1000)
    large: float = Field(1.0, ge=0, le=1000)

    def array(self) -> np.ndarray:
        return np.array([getattr(self, s) for s in SIZES], dtype=np.float64)


_DEFAULT_SECTOR_MULTIPLIERS: dict[str, dict[str, float]] = {
    "company_tax_arrears": {
        "construction": 1.5, "catering_hospitality": 1.3, "wholesale_retail": 1.2,
        "real_estate": 1.3, "finance": 0.5,
    },
    "environmental_violation": {
        "manufacturing": 6.0, "construction": 4.0, "transport_logistics": 1.5,
        "catering_hospitality": 1.0, "real_estate": 1.0, "wholesale_retail": 0.3,
        "information_technology": 0.1, "business_services": 0.2, "finance": 0.05, "other": 0.5,
    },
    "product_quality_violation": {
        "manufacturing": 3.0, "wholesale_retail": 2.0, "catering_hospitality": 1.5,
        "construction": 1.0, "information_technology": 0.2, "business_services": 0.1,
        "finance": 0.05, "transport_logistics": 0.2, "real_estate": 0.5, "other": 0.5,
    },
    "contract_breach": {
        "construction": 2.0, "real_estate": 1.8, "wholesale_retail": 1.2, "manufacturing": 1.2,
        "finance": 0.6,
    },
}  # fmt: skip

_DEFAULT_SIZE_MULTIPLIERS: dict[str, dict[str, float]] = {
    "company_tax_arrears": {"micro": 1.2, "small": 1.0, "medium": 0.7, "large": 0.5},
    "environmental_violation": {"micro": 0.5, "small": 1.0, "medium": 2.0, "large": 3.0},
    "product_quality_violation": {"micro": 1.0, "small": 1.2, "medium": 1.5, "large": 1.5},
    "contract_breach": {"micro": 1.0, "small": 1.5, "medium": 2.0, "large": 3.0},
}


def _merged(defaults: dict[str, dict[str, float]], given: Any) -> Any:
    """Defaults overridden entry by entry, so a user can change one sector of one kind."""
    if not isinstance(given, dict):
        return given  # let validation report the type error
    out = {kind: dict(values) for kind, values in defaults.items()}
    for kind, values in given.items():
        if isinstance(values, dict) and kind in out:
            out[kind].update(values)
        else:
            out[kind] = values
    return out


class CompanyConductParams(SourceParams):
    """Rates and amounts of company conduct (``rate_multiplier`` scales every rate).

    ``sector_multipliers`` and ``size_multipliers`` given in a scenario are merged into the
    defaults entry by entry: ``{environmental_violation: {manufacturing: 8}}`` changes that
    one multiplier and keeps the rest.
    """

    max_propensity: float = Field(
        10.0,
        ge=1.0,
        le=1000.0,
        description="Bound on company multipliers used for thinning; larger multipliers count "
        "as this bound (bookkeeping, not a rate).",
    )
    company_tax_arrears_per_year: float = Field(
        0.01,
        ge=0,
        le=50,
        description="Assumption: tax arrears notices per company-year at multipliers 1.",
    )
    environmental_violation_per_year: float = Field(
        0.0047,
        ge=0,
        le=50,
        description="Environmental penalty decisions per company-year at multipliers 1: MEE "
        "2019, 162,800 decisions / ~38M enterprises (Assumption on the denominator) = 0.0042 "
        "on average, divided by the default mean multiplier 0.89 (module docstring).",
    )
    product_quality_violation_per_year: float = Field(
        0.003,
        ge=0,
        le=50,
        description="Assumption: product-quality violations found per company-year at "
        "multipliers 1.",
    )
    contract_breach_per_year: float = Field(
        0.02,
        ge=0,
        le=50,
        description="Assumption: contract breaches leading to a claim per company-year at "
        "multipliers 1.",
    )
    sector_multipliers: dict[str, dict[str, Annotated[float, Field(ge=0, le=1000)]]] = Field(
        default_factory=lambda: _merged(_DEFAULT_SECTOR_MULTIPLIERS, {}),
        description="Assumption: per kind, sector -> multiplier (sectors not listed: 1); "
        "environmental violations concentrate in manufacturing and construction, product "
        "quality in manufacturing, trade and catering, contract disputes in construction "
        "and real estate.",
    )
    size_multipliers: dict[str, SizeFactors] = Field(
        default_factory=lambda: {k: SizeFactors(**v) for k, v in _DEFAULT_SIZE_MULTIPLIERS.items()},
        description="Assumption: per kind, size class -> multiplier. Small firms fall into "
        "tax arrears more often; larger firms emit more, sell more and sign more contracts.",
    )
    company_tax_arrears_median_cny: float = Field(
        30_000.0, gt=0, le=1e10, description="Assumption: median tax arrears, micro company."
    )
    environmental_violation_median_cny: float = Field(
        24_000.0,
        gt=0,
        le=1e10,
        description="Median environmental fine, micro company: a mean of 73,000 CNY per case "
        "(MEE 2019: 11.878 bn CNY / 162,800 cases) with amount_sigma 1.5 gives a median of "
        "about 24,000 (size factors then scale it).",
    )
    product_quality_violation_median_cny: float = Field(
        10_000.0, gt=0, le=1e10, description="Assumption: median quality fine, micro company."
    )
    contract_breach_median_cny: float = Field(
        200_000.0, gt=0, le=1e10, description="Assumption: median sum in dispute, micro company."
    )
    amount_sigma: float = Field(
        1.5, ge=0, le=5, description="Assumption: log-normal spread of amounts."
    )
    history_days: int = Field(
        1095,
        ge=0,
        le=36_500,
        description="Warm start: days of company conduct drawn at setup with the base "
        "rates and recorded as of their past days (sclab.world.history). Default: 3 years, "
        "the term for which serious dishonesty is published (major tax violation cases: "
        "State Administration of Taxation, 2016/2018), which also covers one-year counting "
        "windows; 0: none.",
    )
    company_non_performance_per_year: float = Field(
        12.88e6 * 0.125 / 5.25 / 38e6,
        ge=0,
        le=10,
        description="Company judgment debtors who do not perform (and are listed) per "
        "company-year: 12.88 million SPC listings from October 2013 to the end of 2018 "
        "(5.25 years; SPC white paper, 27 February 2019), of which companies were one in "
        "eight when the list was last split (over 100,000 companies and almost 700,000 "
        "individuals, SPC database, Supreme People's Court Monitor, 20 December 2014), "
        "over about 38 million enterprises (Assumption on the denominator, as above) = "
        "0.0081. The share of companies is an Assumption for later years (0.1-0.3).",
    )
    company_performance_hazard_per_day: float = Field(
        3.5e-4,
        ge=0,
        le=1,
        description="Daily probability that a company debtor performs later: the hazard "
        "the SPC's 3.51M of 12.88M performed by end-2018 imply for all debtors "
        "(state_data); Assumption that companies perform as people do.",
    )
    company_court_history_days: int | None = Field(
        None,
        ge=0,
        le=36_500,
        description="Warm start of company debtors: days of history before day 0 whose "
        "unresolved debtors are drawn at setup. None: from 1 October 2013 (the list's "
        "launch) to the start date; 0: none. At the defaults and 2,106 days (8 July 2019) "
        "3.3 % of companies are unresolved on day 0.",
    )
    company_debt_median_cny: float = Field(
        300_000.0,
        gt=0,
        le=1e10,
        description="Assumption (100,000-1,000,000): median sum a company debtor owes, "
        "micro company (size factors scale it).",
    )
    amount_size_factor: SizeFactors = Field(
        default_factory=lambda: SizeFactors(micro=1.0, small=3.0, medium=10.0, large=30.0),
        description="Assumption: amounts scale with company size class.",
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "sector_multipliers" in data:
            data["sector_multipliers"] = _merged(
                _DEFAULT_SECTOR_MULTIPLIERS, data["sector_multipliers"]
            )
        if "size_multipliers" in data:
            data["size_multipliers"] = _merged(_DEFAULT_SIZE_MULTIPLIERS, data["size_multipliers"])
        return data

    @field_validator("sector_multipliers", "size_multipliers")
    @classmethod
    def _known_kinds(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(v) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kind '{unknown[0]}'; expected some of: {', '.join(KINDS)}")
        return v

    def rate(self, kind: str) -> float:
        """Yearly base rate of ``kind`` (before multipliers)."""
        return float(getattr(self, f"{kind}_per_year"))

    def median(self, kind: str) -> float:
        """Median amount of ``kind`` for a micro company."""
        return float(getattr(self, f"{kind}_median_cny"))


@register("sources", "company_conduct", CompanyConductParams)
class CompanyConduct:
    """Company tax arrears, environmental and quality violations, contract breaches."""

    def __init__(self, name: str, params: CompanyConductParams) -> None:
        self.name = name
        self.params = params

    def kinds(self) -> tuple[Kind, ...]:
        """Act kinds this source may write (the court stream's only when its rate is not 0)."""
        return CONDUCT + (COURT if self.params.company_non_performance_per_year > 0 else ())

    def setup(self, sim: Simulation) -> None:
        p = self.params
        companies = sim.population.companies
        sectors = list(sim.scenario.companies.sectors)
        n_sizes = len(SIZES)
        # Rate class = sector × size; companies sorted by class so each class is a slice.
        cls = companies.sector.astype(np.int64) * n_sizes + companies.size.astype(np.int64)
        self.classes = RateClasses.group(np.arange(len(cls)), cls, len(cls))
        key = self.classes.keys(cls)
        sector_of, size_of = key // n_sizes, key % n_sizes
        # Daily probability per (kind, class).
        self.daily: dict[str, np.ndarray] = {}
        for kind in KINDS:
            base = p.rate(kind) * p.rate_multiplier / DAYS_PER_YEAR
            by_sector = p.sector_multipliers.get(kind, {})
            sector_mult = np.array([by_sector.get(s, 1.0) for s in sectors])
            size_mult = p.size_multipliers[kind].array()
            self.daily[kind] = base * sector_mult[sector_of] * size_mult[size_of]
        self.size_amount = p.amount_size_factor.array()
        self._past = PastActs(self.name)
        self._warm_start(sim)
        self._setup_court(sim)

    def _warm_start(self, sim: Simulation) -> None:
        """Each kind's acts on the ``history_days`` days before day 0, class by class at
        the class's base daily probability (sub-stream ``<name>/history/<kind>``), with
        amounts and legal representatives as in the run; emitted on the first step."""
        p = self.params
        days = p.history_days
        companies = sim.population.companies
        if days <= 0 or len(companies) == 0:
            return
        for kind in KINDS:
            rng = sim.rng(f"{self.name}/history/{kind}", 0)
            parts = [
                past_events(
                    rng, self.classes.members[lo : lo + size], float(self.daily[kind][c]), days
                )
                for c, (lo, size) in enumerate(
                    zip(self.classes.start, self.classes.size, strict=True)
                )
                if size
            ]
            if not parts:
                continue
            who = np.concatenate([w for w, _ in parts])
            day = np.concatenate([d for _, d in parts])
            order = lex_order(day, who)  # by company, then oldest first
            who, day = who[order], day[order]
            median = p.median(kind) * self.size_amount[companies.size[who]]
            amount = lognormal_amounts(rng, len(who), median, p.amount_sigma)
            self._past.add(
                kind, who, day,
                {"amount": amount, "legal_rep": companies.legal_rep[who].astype(np.int64)},
                entity_type="company",
            )  # fmt: skip

    def step(self, sim: Simulation, day: int) -> None:
        self._past.emit(sim, day)  # the warm start's acts, on the first step
        p = self.params
        companies = sim.population.companies
        if self._court_on:
            self._court(sim, day)
        for kind in KINDS:
            daily = self.daily[kind]
            if not daily.any():
                continue
            rng = sim.rng(f"{self.name}/{kind}", day)
            mult = sim.state.get(propensity_company_key(kind))
            who = np.sort(self.classes.bernoulli(rng, daily, mult, bound=p.max_propensity))
            if len(who) == 0:
                continue
            median = p.median(kind) * self.size_amount[companies.size[who]]
            amount = lognormal_amounts(rng, len(who), median, p.amount_sigma)
            sim.acts.add(
                day, self.name, kind, who, entity_type="company",
                amount=amount, legal_rep=companies.legal_rep[who].astype(np.int64),
            )  # fmt: skip

    # -- company judgment debtors ----------------------------------------------------

    def _setup_court(self, sim: Simulation) -> None:
        """The unresolved company debtors on day 0 (the warm start), drawn once.

        A company defaults at the daily rate f and, once unresolved, performs at the
        daily hazard h; over H days of history it is unresolved on day 0 with
        probability f (1 - (1 - h)^H) / h (few companies default twice: O(f H)), its
        default day -a drawn with P(a) proportional to (1 - h)^(a - 1), 1 <= a <= H.
        """
        p = self.params
        n = len(sim.population.companies)
        self._court_on = p.company_non_performance_per_year > 0
        self.unresolved = np.empty(0, np.int64)  # sorted company ids
        if not self._court_on:
            return
        self._court_daily = p.company_non_performance_per_year * p.rate_multiplier / DAYS_PER_YEAR
        days = p.company_court_history_days
        if days is None:
            days = max(0, (sim.scenario.start_date - LIST_LAUNCH).days)
        if days == 0 or n == 0:
            return
        h = p.company_performance_hazard_per_day
        survive = (1.0 - h) ** np.arange(days)  # a = 1..H
        rng = sim.rng(f"{self.name}/court_history", 0)
        share = min(1.0, self._court_daily * float(survive.sum()))
        who = np.flatnonzero(rng.random(n) < share)
        ago = 1 + rng.choice(days, size=len(who), p=survive / survive.sum())
        self.unresolved = who.astype(np.int64)
        # Emitted on the first step as acts of their true past day, like the conduct's
        # history (the records sensor records them as of that day; the policy lists them
        # from it).
        self._past.add(
            COMPANY_NON_PERFORMANCE, self.unresolved, -ago.astype(np.int32),
            self._debt_columns(rng, sim, self.unresolved), entity_type="company",
        )  # fmt: skip

    def _court(self, sim: Simulation, day: int) -> None:
        """Company debtors who fail to perform today, and those who perform late.

        Cost: O(new debtors) draws (a count, then who) and O(unresolved) for late
        performance.
        """
        p = self.params
        companies = sim.population.companies
        rng = sim.rng(f"{self.name}/court", day)
        # Today's late performances, among those unresolved before today.
        performs = rng.random(len(self.unresolved)) < p.company_performance_hazard_per_day
        performed = self.unresolved[performs]
        if len(performed):
            self.unresolved = self.unresolved[~performs]  # still sorted: no set difference
            sim.acts.add(
                day, self.name, COMPANY_PERFORMED, performed, entity_type="company",
                legal_rep=companies.legal_rep[performed].astype(np.int64),
            )  # fmt: skip
        # Every company at the same daily probability: a binomial count, then who.
        n = len(companies)
        new = np.sort(rng.choice(n, size=rng.binomial(n, self._court_daily), replace=False))
        new = new[~np.isin(new, self.unresolved, assume_unique=True)]
        if len(new):
            sim.acts.add(
                day, self.name, COMPANY_NON_PERFORMANCE, new, entity_type="company",
                **self._debt_columns(rng, sim, new),
            )  # fmt: skip
            self.unresolved = union_sorted(self.unresolved, new)  # a merge of sorted runs

    def _debt_columns(
        self, rng: np.random.Generator, sim: Simulation, who: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The sum each debtor company owes, and its legal representative."""
        companies = sim.population.companies
        median = self.params.company_debt_median_cny * self.size_amount[companies.size[who]]
        amount = lognormal_amounts(rng, len(who), median, self.params.amount_sigma)
        return {"amount": amount, "legal_rep": companies.legal_rep[who].astype(np.int64)}

    def finish(self, sim: Simulation) -> None:
        pass
