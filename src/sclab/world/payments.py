"""Payment platforms: monthly bills, consumer loans and purchases by category.

Every person here is synthetic; amounts are in yuan.

Core objects:
    :class:`PaymentsParams`: rates, shares and amounts; each default says where it comes
        from (most are labelled assumptions: we found no published Chinese micro-data).
    :class:`PurchaseCategory`: one purchase category's per-person daily rate model
        (reference rate times age, sex and income-decile multipliers) and amounts.
    :class:`PaymentsSource`: the registered source ``payments``.
    :func:`instalment_due_day`: the day on which a loan's k-th instalment falls due.

Sampling (:mod:`sclab.world.sampling`): loan take-up is Bernoulli per decile class
(:class:`~sclab.world.sampling.RateClasses`), purchases Poisson per class; aggregated
purchases accrue as :class:`~sclab.world.sampling.LazyPoisson` exposures (a reader's focus
group, see :meth:`sclab.engine.acts.Aggregates.focus`, can be drawn alone).

The three streams:
    Bills. Every payment-app user aged ``bill_min_age`` or over has one bill a month (rent,
    utilities, phone, credit card) due on a day of the month from 1 to 28, drawn once in
    setup, and a fixed amount. A bill is paid late with probability ``bill_late_share``
    times the person's income-decile relative risk (normalised over bill payers, so the
    overall late share is ``bill_late_share`` in expectation) times the behaviour
    propensity for ``bill_late`` (clipped at 1). Act ``bill_late`` (extra ``amount``,
    ``days_late``); ``bill_paid_on_time`` goes to ``sim.aggregates`` (with amount) unless
    ``record_every_event``, then one act each (extra ``amount``). Aggregated, a person's
    paid bills are their due dates so far minus their late bills, counted when read: no
    draw per paid bill.

    Loans. People aged ``loan_min_age``..``loan_max_age`` (whether or not they use a
    payment app: banks lend too) take consumer loans at a daily hazard of
    ``loan_yearly_share / 365`` times an income-decile weight (normalised over the eligible)
    times the propensity for ``loan_taken``; several loans at once are allowed. A loan is
    repaid in equal monthly instalments, the k-th (k = 0, 1, ...) falling due on
    :func:`instalment_due_day`. At each due date the instalment is missed with probability
    ``instalment_miss_probability`` times the borrower's decile risk (after a paid
    instalment) or ``repeat_miss_probability`` (right after a miss: arrears persist), times
    the propensity for ``loan_instalment_missed``. A missed instalment moves to the end of
    the schedule; ``default_after_missed`` misses in a row are a default and close the loan.
    Acts: ``loan_taken`` (``amount``, ``term_months``, ``loan_id``), ``loan_instalment_missed``
    (``amount``, ``missed_in_a_row``, ``loan_id``), ``loan_default`` (``amount``: the
    principal still outstanding, ``loan_id``), ``loan_repaid_in_full`` (``amount``: the
    principal, ``loan_id``). Paid instalments are aggregated as ``loan_instalment_paid``
    (acts with ``amount``, ``loan_id`` when ``record_every_event``). Interest is ignored.

    Purchases. Every payment-app user has, per category, a Poisson number of purchases a
    day at the category's rate for the person's class (age group × sex × income decile)
    times the propensity for ``purchase_<category>``, so that a "purchase shifting"
    behaviour can act. Amounts are lognormal. Stored as aggregates ``purchase_<category>``
    with amount, or acts (extra ``amount``) when ``record_every_event``. As acts they are
    sampled daily per rate class (a class total, then who). As aggregates only the
    per-person totals exist, and a sum of independent Poisson counts is Poisson with the
    summed rate: each day only adds to the stream's exposure (nothing, or the day's
    multiplier while a behaviour sets one) and the totals are drawn when the aggregates
    are read (at the end of the run, or earlier if a component reads them). Same law as
    daily draws. Their amounts are priced from the counts when amounts are read (at the
    end, unless a component reads them): a sum of a person's independent lognormal
    amounts, whenever they are drawn. Aggregated paid bills are priced the same way, each
    paid bill at the person's bill amount.

Warm start of the loans (``loan_history_days`` H > 0): a loan book is a stock, and one
that starts empty defaults too little for its first months (a default takes three missed
monthly instalments, and the stock of open loans fills over the longest term). So in
setup, from the sub-stream ``<name>/history/loans``, loans are drawn on every past day
back to H days plus a loan's longest life (the longest term and
:data:`LOAN_OVERRUN_MONTHS`), per income-decile class at its take-up probability (base
rates: behaviour is not known before the run), by people of lending age on that day, with
principals and terms as in the run; each runs through its instalments due before day 0
with the run's miss law. Those still open on day 0 go into the book with their state
(instalments paid, misses in a row, instalments fallen due, next due day), so the run's
first months see the steady state's dues, misses and defaults; their missed instalments
and defaults on days -H..-1 are past acts (``occurred_day``, :mod:`sclab.world.history`),
with their ``loan_id``. Cost, once: O(past loans + their past instalments) (the loans
still due shrink at each instalment), in chunks of :data:`LOAN_HISTORY_CHUNK_DAYS` days of
take-up; at the defaults about 0.96 past loans per eligible person.

Ages are ages on day 0 (``sclab.engine.ages.ages``): nobody changes class during a run.

Behaviour hooks (propensity kinds): ``bill_late``, ``loan_taken``, ``loan_instalment_missed``
and ``purchase_<category>`` for each category. ``rate_multiplier`` scales loan take-up,
purchase rates and the late and miss probabilities (clipped at 1); bills stay monthly.

Cost model (n people, payment-app users U, active loans L):
    Setup is O(n) once (due days and rate classes put in order by radix sorts).
    A day costs O(late bills) for the bills due that day (thinned from the highest decile
    probability; paid bills are counted, not drawn), plus one O(n) maximum of the
    ``bill_late`` multiplier when it exists; O(L) to find the instalments due (a scan of a
    compact int32 array, L is a few per cent of adults) plus O(instalments due + new
    loans), paid instalments added to the aggregates at O(1) each. Aggregated purchases
    cost O(1) per category and day, or one float32 O(n) add while a multiplier exists;
    when read, O(U) per category (one Poisson draw per user, or O(events) placed sparsely
    when they are fewer) plus O(events) log-normal amounts, and O(U) for the paid bills.
    With ``record_every_event`` purchases cost O(events + classes) per category and day
    (at most 2 × 10 × (age groups) classes) and paid bills O(U / 28). Loan state is O(L)
    in arrays that double when full and are compacted when half closed.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Annotated, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sclab.arrays import lex_order, stable_order
from sclab.draws import bernoulli_sparse
from sclab.engine.ages import ages
from sclab.engine.catalogue import Kind
from sclab.engine.propensity import propensity, propensity_key
from sclab.engine.registry import register
from sclab.engine.simulation import DAYS_PER_MONTH, DAYS_PER_YEAR
from sclab.world.base import SourceParams
from sclab.world.history import PastActs, adult_on, by_person_then_day, past_events
from sclab.world.sampling import (
    LazyPoisson,
    RateClasses,
    bound_of,
    lognormal_amounts,
    lognormal_sums,
)

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

__all__ = [
    "DEFAULT_PURCHASES",
    "PaymentsParams",
    "PaymentsSource",
    "PurchaseCategory",
    "instalment_due_day",
]

Multiplier = Annotated[float, Field(ge=0, le=100)]
PerDecile = Annotated[tuple[Multiplier, ...], Field(min_length=10, max_length=10)]
_AGE_BAND = re.compile(r"^(\d{1,3})-(\d{1,3})$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Last day of the month on which a bill can fall due, so every month has every due day.
LAST_DUE_DAY = 28


def _parse_bands(bands: dict[str, float]) -> list[tuple[int, int, float]]:
    """``{"lo-hi": value}`` as sorted (lo, hi, value); raises on bad or overlapping bands."""
    out = []
    for key, value in bands.items():
        m = _AGE_BAND.match(key.strip())
        if m is None:
            raise ValueError(f"age band '{key}' must look like '22-40' (inclusive years)")
        lo, hi = int(m.group(1)), int(m.group(2))
        if not 0 <= lo <= hi <= 150:
            raise ValueError(f"age band '{key}': need 0 <= lo <= hi <= 150")
        if not 0.0 <= value <= 100.0:
            raise ValueError(f"age band '{key}': multiplier {value} must be in [0, 100]")
        out.append((lo, hi, float(value)))
    out.sort()
    for (_, hi, _), (lo, _, _) in itertools.pairwise(out):
        if lo <= hi:
            raise ValueError(f"age bands overlap at age {lo}")
    return out


class PurchaseCategory(BaseModel):
    """Per-person daily purchase rate of one category, and its amounts.

    A person's rate is ``daily_rate × age multiplier × (male_multiplier if male) ×
    income_multiplier[decile]``. The defaults of each category are in
    :data:`DEFAULT_PURCHASES`, with their rationale.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    daily_rate: float = Field(
        ge=0,
        le=20,
        description="Purchases per person per day for a woman whose age and income "
        "multipliers are 1 (defaults: see PaymentsParams.purchases).",
    )
    age_multiplier: dict[str, float] = Field(
        default_factory=dict,
        description="Inclusive age band 'lo-hi' -> rate multiplier; ages in no band: 1.",
    )
    male_multiplier: float = Field(1.0, ge=0, le=100, description="Men's rate over women's.")
    income_multiplier: PerDecile = Field(
        (1.0,) * 10, description="Rate multiplier per income decile, lowest decile first."
    )
    amount_median_yuan: float = Field(gt=0, le=1e7, description="Median amount (lognormal).")
    amount_sigma: float = Field(0.8, ge=0, le=3, description="Log-scale spread of amounts.")

    @field_validator("age_multiplier")
    @classmethod
    def _bands(cls, v: dict[str, float]) -> dict[str, float]:
        _parse_bands(v)
        return v

    def age_breaks(self) -> set[int]:
        """Ages at which this category's age multiplier may change."""
        return {a for lo, hi, _ in _parse_bands(self.age_multiplier) for a in (lo, hi + 1)}

    def rate(self, age: np.ndarray, male: np.ndarray, decile: np.ndarray) -> np.ndarray:
        """Per-person daily rate (before propensity and ``rate_multiplier``)."""
        mult = np.ones(len(age))
        for lo, hi, value in _parse_bands(self.age_multiplier):
            mult[(age >= lo) & (age <= hi)] = value
        sex = np.where(male, self.male_multiplier, 1.0)
        income = np.asarray(self.income_multiplier)[np.asarray(decile, dtype=np.int64)]
        return self.daily_rate * mult * sex * income


# Every figure below is an assumption (judgement, no published Chinese per-person data was
# used), and so are the shapes: groceries are the bulk, diapers peak at parenting ages
# 22-40 (our parenthood proxy; Sesame's technology director read diaper purchases as a sign
# of a parent, Botsman, Wired UK, 2017), video games among young men, luxury in the top
# deciles.
DEFAULT_PURCHASES: dict[str, PurchaseCategory] = {
    "groceries": PurchaseCategory(
        daily_rate=0.3,  # about two app-paid grocery purchases a week
        age_multiplier={"0-11": 0.1, "12-17": 0.3, "18-21": 0.7, "22-59": 1.0, "60-110": 0.9},
        male_multiplier=0.7,
        income_multiplier=(0.8, 0.85, 0.9, 0.95, 1.0, 1.0, 1.05, 1.1, 1.15, 1.2),
        amount_median_yuan=45.0,
        amount_sigma=0.8,
    ),
    "video_games": PurchaseCategory(
        daily_rate=0.006,
        age_multiplier={
            "0-11": 0.5,
            "12-17": 1.5,
            "18-24": 1.2,
            "25-34": 0.8,
            "35-44": 0.4,
            "45-59": 0.12,
            "60-110": 0.03,
        },
        male_multiplier=3.0,
        income_multiplier=(0.8, 0.85, 0.9, 0.95, 1.0, 1.0, 1.05, 1.1, 1.15, 1.2),
        amount_median_yuan=30.0,
        amount_sigma=1.2,
    ),
    "diapers": PurchaseCategory(
        daily_rate=0.004,
        age_multiplier={"0-17": 0.0, "18-21": 0.2, "22-40": 1.0, "41-54": 0.15, "55-110": 0.3},
        male_multiplier=0.5,
        amount_median_yuan=120.0,
        amount_sigma=0.5,
    ),
    "alcohol": PurchaseCategory(
        daily_rate=0.004,
        age_multiplier={"0-17": 0.0, "18-24": 0.6, "25-59": 1.0, "60-110": 0.6},
        male_multiplier=3.0,
        income_multiplier=(0.7, 0.75, 0.8, 0.9, 1.0, 1.0, 1.1, 1.2, 1.3, 1.4),
        amount_median_yuan=60.0,
        amount_sigma=1.0,
    ),
    "books": PurchaseCategory(
        daily_rate=0.008,
        age_multiplier={"0-17": 1.3, "18-24": 1.4, "25-44": 1.0, "45-59": 0.7, "60-110": 0.5},
        male_multiplier=0.8,
        income_multiplier=(0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.8),
        amount_median_yuan=40.0,
        amount_sigma=0.6,
    ),
    "luxury_goods": PurchaseCategory(
        daily_rate=0.0005,
        age_multiplier={"0-17": 0.0, "18-21": 0.3, "22-49": 1.0, "50-110": 0.5},
        male_multiplier=0.8,
        income_multiplier=(0.0, 0.0, 0.0, 0.0, 0.02, 0.05, 0.1, 0.3, 1.0, 3.0),
        amount_median_yuan=6000.0,
        amount_sigma=0.9,
    ),
}

_LATE_RISK = (2.0, 1.7, 1.45, 1.25, 1.1, 0.95, 0.85, 0.75, 0.65, 0.55)
#: Months past its term a loan taken before day 0 may still be open: each miss moves an
#: instalment to the end of the schedule, and being open 12 months past the term takes 12
#: misses none of which made a default (at the default rates, below 1e-9 a loan).
LOAN_OVERRUN_MONTHS = 12
#: Days of past take-up the warm start runs together (bounds its memory; no effect on
#: the draws' law).
LOAN_HISTORY_CHUNK_DAYS = 365


#: Act kinds of bills and loans (purchases are ``purchase_<category>``). A late bill, a
#: missed instalment and a default break a contract: not lawful
#: (:data:`sclab.engine.catalogue.FACTS`). See :meth:`PaymentsSource.kinds` for how each
#: is kept.
BILL_AND_LOAN_KINDS = (
    Kind.act("bill_late", "finance", False, "a monthly bill (rent, utilities, phone, credit "
             "card) paid after its due date"),
    Kind.act("bill_paid_on_time", "finance", True, "a monthly bill paid by its due date"),
    Kind.act("loan_taken", "finance", True, "a consumer loan taken out"),
    Kind.act("loan_instalment_paid", "finance", True, "a loan instalment paid when due"),
    Kind.act("loan_instalment_missed", "finance", False, "a loan instalment not paid when due"),
    Kind.act("loan_repaid_in_full", "finance", True, "a loan's last instalment paid"),
    Kind.act("loan_default", "finance", False, "a loan closed unpaid after instalments "
             "missed in a row"),
)  # fmt: skip
#: The kinds kept as per-person totals unless ``record_every_event`` (besides purchases).
HIGH_VOLUME = ("bill_paid_on_time", "loan_instalment_paid")


class PaymentsParams(SourceParams):
    """Parameters of the ``payments`` source."""

    bill_min_age: int = Field(18, ge=0, le=110, description="Adults hold their own bills.")
    bill_late_share: float = Field(
        0.06,
        ge=0,
        le=1,
        description="Assumption: share of monthly bills paid after the due date (5-8 % "
        "judged plausible; no published per-bill Chinese figure used).",
    )
    bill_late_decile_risk: PerDecile = Field(
        _LATE_RISK,
        description="Assumption: relative risk of paying late by income decile (lowest "
        "first), normalised over bill payers so the overall share holds.",
    )
    bill_amount_median_yuan: float = Field(
        350.0, gt=0, le=1e6, description="Assumption: median monthly bill (rent excluded)."
    )
    bill_amount_sigma: float = Field(
        0.6, ge=0, le=3, description="Assumption: log-scale spread of bill amounts."
    )
    bill_days_late_mean: float = Field(
        5.0, ge=1, le=365, description="Assumption: mean days late (geometric, at least 1)."
    )
    amount_income_gradient: float = Field(
        0.5,
        ge=-3,
        le=3,
        description="Assumption: bill and loan amounts scale by exp(g·(decile − 4.5)/4.5).",
    )
    loan_min_age: int = Field(18, ge=0, le=110, description="Lending age (legal adulthood).")
    loan_max_age: int = Field(
        65, ge=0, le=110, description="Assumption: typical upper age limit of consumer loans."
    )
    loan_yearly_share: float = Field(
        0.12,
        ge=0,
        le=10,
        description="Assumption: new consumer (non-mortgage) loans per eligible person per year.",
    )
    loan_decile_weight: PerDecile = Field(
        (1.1, 1.2, 1.2, 1.15, 1.1, 1.0, 0.95, 0.85, 0.8, 0.65),
        description="Assumption: relative take-up by income decile (lowest first), "
        "normalised over the eligible so loan_yearly_share holds.",
    )
    loan_amount_median_yuan: float = Field(
        6000.0, gt=0, le=1e7, description="Assumption: median consumer-loan principal."
    )
    loan_amount_sigma: float = Field(
        0.9, ge=0, le=3, description="Assumption: log-scale spread of principals."
    )
    loan_term_months: dict[int, float] = Field(
        default_factory=lambda: {3: 0.2, 6: 0.25, 12: 0.4, 24: 0.15},
        description="Assumption: term in months -> share of new loans (shares sum to 1).",
    )
    instalment_miss_probability: float = Field(
        0.03,
        ge=0,
        le=1,
        description="Assumption: chance of missing an instalment after a paid one; with "
        "the repeat probability this makes about 3-4 % of loans default over their life.",
    )
    instalment_miss_decile_risk: PerDecile = Field(
        _LATE_RISK,
        description="Assumption: relative risk of a first miss by income decile, "
        "normalised over expected borrowers.",
    )
    repeat_miss_probability: float = Field(
        0.35,
        ge=0,
        le=1,
        description="Assumption: chance of missing again right after a miss (arrears persist).",
    )
    default_after_missed: int = Field(
        3, ge=1, le=24, description="Missed instalments in a row that make a default."
    )
    bill_history_days: int = Field(
        1825,
        ge=0,
        le=36_500,
        description="Warm start: days of late bills drawn at setup (sclab.world.history), "
        "recorded as of their past days. Default: 5 years, the period for which adverse "
        "credit information is kept (Regulation on the Administration of the Credit "
        "Reporting Industry, 2013, Art. 16); 0: none.",
    )
    loan_history_days: int = Field(
        1825,
        ge=0,
        le=36_500,
        description="Warm start: loans taken before day 0 run their schedules at setup with "
        "the run's own rates; those still outstanding on day 0 open the run (with their "
        "instalments paid, arrears and next due day) and their missed instalments and "
        "defaults of the last loan_history_days days are past records. Default: 5 years "
        "(Art. 16 of the 2013 Regulation, as for late bills), which also covers the whole of "
        "Rongcheng's personal credit records (since January 2016 at the default start "
        "date); 0: none (no loan open on day 0).",
    )
    purchases: dict[str, PurchaseCategory] = Field(
        default_factory=lambda: dict(DEFAULT_PURCHASES),
        description="Assumption: category -> rate model (see DEFAULT_PURCHASES for the "
        "rationale of each default); replaces the whole table when given.",
    )

    @field_validator("loan_term_months")
    @classmethod
    def _terms(cls, v: dict[int, float]) -> dict[int, float]:
        if not v:
            raise ValueError("loan_term_months needs at least one term")
        for months, share in v.items():
            if not 1 <= int(months) <= 120 or not 0.0 <= share <= 1.0:
                raise ValueError(f"loan term {months} months, share {share}: out of range")
        if abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError(f"loan_term_months shares must sum to 1, got {sum(v.values())}")
        return v

    @field_validator("purchases")
    @classmethod
    def _categories(cls, v: dict[str, PurchaseCategory]) -> dict[str, PurchaseCategory]:
        for name in v:
            if not _CATEGORY.match(name):
                raise ValueError(f"purchase category '{name}': use lower-case letters, _")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> PaymentsParams:
        if self.loan_max_age < self.loan_min_age:
            raise ValueError("loan_max_age must be at least loan_min_age")
        for name in ("bill_late_decile_risk", "loan_decile_weight", "instalment_miss_decile_risk"):
            if not any(getattr(self, name)):
                raise ValueError(f"{name} must have at least one positive value")
        return self


def loan_outcomes(
    term: int, first: float, repeat: float, default_after: int
) -> tuple[float, float]:
    """(expected missed instalments, probability of default) of a loan of ``term``
    instalments: each due instalment is missed with probability ``first`` after a paid one
    and ``repeat`` after a miss; a missed one moves to the end of the schedule;
    ``default_after`` misses in a row are a default. Exact, by the law of the process over
    (instalments paid, misses in a row): O(term × default_after) states."""
    mass = np.zeros((term + 1, default_after + 1))  # (paid, run) before a due date
    mass[0, 0] = 1.0
    misses = default = 0.0
    for _ in range(term * default_after + default_after + 1):
        live = mass[:term, :default_after]
        if live.sum() < 1e-15:
            break
        q = np.full(default_after, repeat)
        q[0] = first
        missed = live * q
        paid = live - missed
        misses += float(missed.sum())
        new = np.zeros_like(mass)
        new[1 : term + 1, 0] += paid.sum(axis=1)
        new[:term, 1 : default_after + 1] += missed
        default += float(new[:, default_after].sum())
        new[:, default_after] = 0.0
        new[term, :] = 0.0  # repaid in full
        mass = new
    return misses, default


def instalment_due_day(taken_day: np.ndarray | int, k: np.ndarray | int) -> np.ndarray:
    """Day on which instalment ``k`` (0 = first) of a loan taken on ``taken_day`` is due."""
    k_arr = np.asarray(k, dtype=np.float64)
    return (np.asarray(taken_day) + np.rint((k_arr + 1) * DAYS_PER_MONTH)).astype(np.int32)


@dataclass
class _LoanBook:
    """Open loans as parallel compact arrays (closed loans have ``next_due`` = -1)."""

    n: int = 0
    #: Loans among the first ``n`` still open, counted as they come and close: deciding
    #: whether to compact needs no pass over the book.
    n_open: int = 0
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    DTYPES: ClassVar[dict[str, type]] = {
        "loan_id": np.int64,
        "borrower": np.int64,
        "principal": np.float64,
        "instalment": np.float64,
        "n_instalments": np.int16,
        "paid": np.int16,
        "missed_in_a_row": np.int16,
        "dues": np.int16,
        "taken_day": np.int32,
        "next_due": np.int32,
    }

    def __post_init__(self) -> None:
        self.arrays = {k: np.zeros(1024, dtype=t) for k, t in self.DTYPES.items()}

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def append(self, **columns: np.ndarray | int) -> None:
        """Add loans: one array per column (a number: the same for every new loan)."""
        k = np.size(columns["loan_id"])
        capacity = len(self.arrays["loan_id"])
        if self.n + k > capacity:
            new_cap = max(2 * capacity, self.n + k)
            for name, arr in self.arrays.items():
                grown = np.zeros(new_cap, dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self.arrays[name] = grown
        for name, values in columns.items():
            self.arrays[name][self.n : self.n + k] = values
        self.n_open += int(np.count_nonzero(self.arrays["next_due"][self.n : self.n + k] >= 0))
        self.n += k

    def close(self, at: np.ndarray) -> None:
        """Close the open loans at positions ``at`` (distinct): repaid or defaulted."""
        self.arrays["next_due"][at] = -1
        self.n_open -= len(at)

    def compact(self) -> None:
        """Drop closed loans once they are at least half of the book (amortised O(1))."""
        if self.n < 1024 or self.n_open > self.n // 2:
            return
        open_ = self.arrays["next_due"][: self.n] >= 0
        for arr in self.arrays.values():
            arr[: self.n_open] = arr[: self.n][open_]
        self.n = self.n_open


@register("sources", "payments", PaymentsParams)
class PaymentsSource:
    """Monthly bills, consumer loans and purchases by category on payment platforms."""

    def __init__(self, name: str, params: PaymentsParams) -> None:
        self.name = name
        self.params = params

    def _income_factor(self, decile: np.ndarray) -> np.ndarray:
        return np.exp(self.params.amount_income_gradient * (decile - 4.5) / 4.5)

    def kinds(self) -> list[Kind]:
        """Act kinds this source may write: bills, loans and one purchase kind per category
        of its parameters. Paid bills, paid instalments and purchases are kept as
        per-person totals unless ``record_every_event``."""
        kept = "each" if self.params.record_every_event else "totals"
        purchases = [
            Kind.act(
                f"purchase_{name}",
                "consumption",
                True,
                f"a purchase of {name.replace('_', ' ')} paid through a payment app",
                kept=kept,
            )
            for name in self.params.purchases
        ]
        bills_and_loans = [
            replace(k, kept=kept) if k.name in HIGH_VOLUME else k for k in BILL_AND_LOAN_KINDS
        ]
        return [*bills_and_loans, *purchases]

    def setup(self, sim: Simulation) -> None:
        p = self.params
        c = sim.population.citizens
        rng = sim.rng(f"{self.name}/setup")
        age = ages(sim).astype(np.int64)
        decile = c.income_decile.astype(np.int64)  # a set-up temporary
        self._decile = c.income_decile  # uint8, by reference: indexes small tables daily
        mult = p.rate_multiplier

        # Bills: payers sorted by due day of the month, so a day's bills are one slice.
        payers = np.flatnonzero(c.payment_app & (age >= p.bill_min_age))
        due = rng.integers(1, LAST_DUE_DAY + 1, len(payers))
        median = p.bill_amount_median_yuan * self._income_factor(decile[payers])
        amount = lognormal_amounts(rng, len(payers), median, p.bill_amount_sigma, decimals=2)
        order = stable_order(due)
        self._bill_people = payers[order].astype(np.int32)
        self._bill_amount = amount[order].astype(np.float32)  # yuan with cents: 7 digits
        self._bill_offsets = np.searchsorted(due[order], np.arange(1, LAST_DUE_DAY + 2))
        risk = np.asarray(p.bill_late_decile_risk)
        norm = float(risk[decile[payers]].mean()) if len(payers) else 1.0
        self._p_late = np.minimum(p.bill_late_share * mult * risk / (norm or 1.0), 1.0)
        if not p.record_every_event:
            # Paid bills are every due bill not paid late: counted when read, not daily.
            self._due_days = np.zeros(LAST_DUE_DAY, dtype=np.int64)  # due dates passed
            self._late_bills = np.zeros(len(payers), dtype=np.uint16)  # per bill slot
            settle = partial(self._settle_bills, sim)
            sim.aggregates.defer(["bill_paid_on_time"], settle, amount_of=self._price_bills)

        # Loans: eligible people by decile class; miss risk normalised over expected takers.
        eligible = np.flatnonzero((age >= p.loan_min_age) & (age <= p.loan_max_age))
        self._loan_classes = RateClasses.group(eligible, decile[eligible], len(c))
        class_decile = self._loan_classes.keys(decile)
        weight = np.asarray(p.loan_decile_weight)
        w_elig = weight[decile[eligible]]
        w_mean = float(w_elig.mean()) if len(eligible) else 1.0
        self._loan_p = p.loan_yearly_share / DAYS_PER_YEAR * mult * weight[class_decile]
        self._loan_p = self._loan_p / (w_mean or 1.0)
        miss_risk = np.asarray(p.instalment_miss_decile_risk)
        w_sum = float(w_elig.sum())
        miss_norm = float((w_elig * miss_risk[decile[eligible]]).sum()) / w_sum if w_sum else 1.0
        self._q_first = p.instalment_miss_probability * mult * miss_risk / (miss_norm or 1.0)
        self._q_repeat = min(1.0, p.repeat_miss_probability * mult)
        self._terms = np.array(sorted(p.loan_term_months), dtype=np.int16)
        self._term_p = np.array([p.loan_term_months[t] for t in sorted(p.loan_term_months)])
        self._term_p = self._term_p / self._term_p.sum()
        self._book = _LoanBook()
        self._next_loan_id = 0
        self._past_loan_ids = 0  # loans of the warm start take the first ids

        # Purchases: one shared class key (age group × sex × decile) over app users; age
        # groups cut at every band edge of every category, so each rate is constant within.
        users = np.flatnonzero(c.payment_app)
        breaks = {0}
        for spec in p.purchases.values():
            breaks |= spec.age_breaks()
        edges = np.array(sorted(breaks), dtype=np.int64)
        group = np.searchsorted(edges, age[users], side="right") - 1
        key = (group * 2 + c.male[users]) * 10 + decile[users]
        self._buy = RateClasses.group(users, key, len(c))
        rep = self._buy.members[self._buy.start]  # one person stands for each class
        self._buy_rates = {
            name: spec.rate(age[rep], c.male[rep], decile[rep]) * mult
            for name, spec in p.purchases.items()
        }
        # Aggregated purchases are only ever per-person totals: accrue, draw when read.
        self._lazy: dict[str, LazyPoisson] = {}
        if not p.record_every_event:
            for name in p.purchases:
                kind = f"purchase_{name}"
                self._lazy[kind] = LazyPoisson(
                    self._buy, self._buy_rates[name], sim.stream_key(self.name, kind)
                )
                self._lazy[kind].follow(sim.state, propensity_key(kind))
                settle = partial(self._settle_purchases, sim, name)
                price = partial(self._price_purchases, sim)
                sim.aggregates.defer(
                    [kind], settle, amount_of=price, on_focus=self._lazy[kind].set_focus
                )
        self._pricings: dict[str, int] = {}  # amount draws so far, per aggregated kind

        # Warm start: late bills and loan arrears from before the run.
        self._past = PastActs(self.name)
        self._bill_history(sim, p.bill_history_days)
        self._loan_history(sim, p.loan_history_days)

    def _bill_history(self, sim: Simulation, days: int) -> None:
        """Late bills on each of ``days`` past days: every payer's bill fell due on each
        past day with its day of the month and was late with the payer's probability
        (base rates), if they were of ``bill_min_age`` then.

        Drawn per day of the month and income decile: the payers of that class times the
        past days with that day of the month are independent trials at the class's
        probability, whose successes are drawn sparsely (O(late bills),
        :func:`~sclab.draws.bernoulli_sparse`), 280 draws in all.
        """
        if days <= 0 or len(self._bill_people) == 0:
            return
        rng = sim.rng(f"{self.name}/history/bill_late", 0)
        back = np.arange(1, days + 1)
        dates = np.datetime64(sim.scenario.start_date, "D") - back.astype("timedelta64[D]")
        dom = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
        parts_who, parts_day = [], []
        for d in range(1, LAST_DUE_DAY + 1):
            backs = back[dom == d][::-1]  # oldest first
            lo, hi = int(self._bill_offsets[d - 1]), int(self._bill_offsets[d])
            if len(backs) == 0 or hi == lo:
                continue
            slots = lo + np.argsort(self._decile[self._bill_people[lo:hi]], kind="stable")
            decile = self._decile[self._bill_people[slots]]
            starts = np.searchsorted(decile, np.arange(11))
            for k in range(10):
                members = slots[starts[k] : starts[k + 1]]
                if len(members) == 0:
                    continue
                late = bernoulli_sparse(rng, len(members) * len(backs), float(self._p_late[k]))
                slot = members[late // len(backs)]
                parts_who.append(self._bill_people[slot].astype(np.int64))
                parts_day.append(-backs[late % len(backs)].astype(np.int32))
        if not parts_who:
            return
        # By person, then oldest first (sclab.world.history). A payer has one bill slot,
        # due once on each past day: the (person, day) pairs are distinct and the amount
        # is the person's, so the pairs are sorted alone and the amounts read after.
        who, day = by_person_then_day(np.concatenate(parts_who), np.concatenate(parts_day))
        ok = adult_on(sim, who, day, self.params.bill_min_age)
        who, day = who[ok], day[ok]
        bill_of = np.zeros(len(sim.population.citizens), np.float32)
        bill_of[self._bill_people] = self._bill_amount
        amount = bill_of[who]  # in person order: a forward sweep
        days_late = rng.geometric(1.0 / self.params.bill_days_late_mean, len(who))
        self._past.add(
            "bill_late", who, day, {"amount": amount, "days_late": days_late.astype(np.int16)}
        )

    def _loan_history(self, sim: Simulation, days: int) -> None:
        """The loan book on day 0 and the arrears of the ``days`` days before it: loans
        taken before day 0 run their schedules to day 0 with the run's own law (base
        rates), so the loans still outstanding on day 0 open the run with their schedules
        and arrears, and their missed instalments and defaults of the last ``days`` days
        are past acts (module docstring, "Warm start of the loans")."""
        classes = self._loan_classes
        if days <= 0 or classes.n_classes == 0:
            return
        rng = sim.rng(f"{self.name}/history/loans", 0)
        # Loans taken up to a lifetime before the window still have instalments in it.
        life = int(instalment_due_day(0, int(self._terms.max()) + LOAN_OVERRUN_MONTHS))
        span = days + life
        book = self._book
        acts: dict[str, list[dict[str, np.ndarray]]] = {"miss": [], "default": []}
        # Oldest loans first, a chunk of days at a time: loans are independent, so running
        # them by chunk bounds the memory without changing their law.
        for hi in range(span, 0, -LOAN_HISTORY_CHUNK_DAYS):
            lo = max(hi - LOAN_HISTORY_CHUNK_DAYS, 0)
            who, taken = self._past_loans(sim, rng, lo, hi)
            self._run_past_loans(rng, who, taken, -days, acts, book)
        self._next_loan_id = int(self._past_loan_ids)
        for kind, key in (("loan_instalment_missed", "miss"), ("loan_default", "default")):
            if not acts[key]:
                continue
            cols = {c: np.concatenate([a[c] for a in acts[key]]) for c in acts[key][0]}
            order = lex_order(cols["day"], cols["who"])  # by person, then oldest first
            cols = {c: v[order] for c, v in cols.items()}
            who, day = cols.pop("who"), cols.pop("day")
            self._past.add(kind, who, day, cols)

    def _past_loans(
        self, sim: Simulation, rng: np.random.Generator, lo: int, hi: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Loans taken on past days -hi <= t < -lo (by class: its take-up probability a
        day, :func:`~sclab.world.history.past_events`) by people of lending age then:
        (borrower, day taken), class by class (the past acts are sorted once made)."""
        classes = self._loan_classes
        parts_who, parts_day = [], []
        for c in range(classes.n_classes):
            if classes.size[c] == 0:
                continue
            pool = classes.members[classes.start[c] : classes.start[c] + classes.size[c]]
            who, day = past_events(rng, pool, float(self._loan_p[c]), hi - lo)
            parts_who.append(who)
            parts_day.append(day - lo)
        who, day = np.concatenate(parts_who), np.concatenate(parts_day)
        ok = adult_on(sim, who, day, self.params.loan_min_age)
        return who[ok], day[ok]

    def _new_loans(
        self, rng: np.random.Generator, who: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(principal in yuan, term in months) of loans taken by ``who``: log-normal around
        the median scaled by the borrower's income, terms by their shares. The run and the
        warm start draw their loans alike."""
        p = self.params
        median = p.loan_amount_median_yuan * self._income_factor(self._decile[who])
        principal = lognormal_amounts(rng, len(who), median, p.loan_amount_sigma, decimals=2)
        return principal, rng.choice(self._terms, size=len(who), p=self._term_p)

    def _run_past_loans(
        self,
        rng: np.random.Generator,
        who: np.ndarray,
        taken: np.ndarray,
        first_day: int,
        acts: dict[str, list[dict[str, np.ndarray]]],
        book: _LoanBook,
    ) -> None:
        """Run loans taken on past days through their instalments due before day 0 (as
        ``_loans`` does in the run, at base rates); keep the misses and defaults from
        ``first_day`` on in ``acts`` and add the loans still open on day 0 to ``book``."""
        p = self.params
        k = len(who)
        if k == 0:
            return
        principal, term = self._new_loans(rng, who)
        instalment = np.round(principal / term, 2)
        ids = np.arange(self._past_loan_ids, self._past_loan_ids + k, dtype=np.int64)
        self._past_loan_ids += k
        paid = np.zeros(k, np.int16)
        run = np.zeros(k, np.int16)
        dues = np.zeros(k, np.int16)
        next_due = instalment_due_day(taken, 0)
        live = np.ones(k, bool)
        # The loans with an instalment due before day 0, and their state, kept compact:
        # each round filters these short arrays instead of gathering from and scattering
        # into the whole chunk's (same loans in the same order, so the same draws). A loan
        # leaving the set writes its state back.
        at = np.flatnonzero(next_due < 0)
        a_paid, a_run, a_dues, a_next = paid[at], run[at], dues[at], next_due[at]
        a_term, a_taken, a_q = term[at], taken[at], self._q_first[self._decile[who[at]]]
        while len(at):
            missed = rng.random(len(at)) < np.where(a_run == 0, a_q, self._q_repeat)
            a_paid += ~missed
            a_run = np.where(missed, a_run + 1, 0).astype(np.int16)
            gone = missed & (a_run >= p.default_after_missed)
            shut = gone | (~missed & (a_paid >= a_term))
            seen = np.flatnonzero(missed & (a_next >= first_day))
            loan = at[seen]
            acts["miss"].append({
                "who": who[loan], "day": a_next[seen], "amount": instalment[loan],
                "missed_in_a_row": a_run[seen].astype(np.int64), "loan_id": ids[loan],
            })  # fmt: skip
            seen = np.flatnonzero(gone & (a_next >= first_day))
            loan = at[seen]
            acts["default"].append({
                "who": who[loan], "day": a_next[seen],
                "amount": np.round((a_term[seen] - a_paid[seen]) * instalment[loan], 2),
                "loan_id": ids[loan],
            })  # fmt: skip
            a_dues += 1
            a_next = instalment_due_day(a_taken, a_dues)
            # A closed loan, or one whose next instalment falls on day 0 or later, is done.
            stay = ~shut & (a_next < 0)
            out = np.flatnonzero(~stay)
            if len(out):
                gone_at = at[out]
                live[gone_at[shut[out]]] = False
                paid[gone_at], run[gone_at] = a_paid[out], a_run[out]
                dues[gone_at], next_due[gone_at] = a_dues[out], a_next[out]
                keep = np.flatnonzero(stay)
                at, a_paid, a_run, a_dues = at[keep], a_paid[keep], a_run[keep], a_dues[keep]
                a_next, a_term, a_taken, a_q = a_next[keep], a_term[keep], a_taken[keep], a_q[keep]
        left = np.flatnonzero(live)
        book.append(
            loan_id=ids[left], borrower=who[left], principal=principal[left],
            instalment=instalment[left], n_instalments=term[left], paid=paid[left],
            missed_in_a_row=run[left], dues=dues[left], taken_day=taken[left],
            next_due=next_due[left],
        )  # fmt: skip

    def _emit(
        self,
        sim: Simulation,
        day: int,
        kind: str,
        who: np.ndarray,
        amount: np.ndarray,
        **extra: np.ndarray,
    ) -> None:
        """A high-volume kind: one act per event if asked, else per-person totals."""
        if self.params.record_every_event:
            self._act(sim, day, kind, who, amount=amount, **extra)
        elif len(who):
            sim.aggregates.add(kind, who, amount)

    def _act(
        self, sim: Simulation, day: int, kind: str, who: np.ndarray, **extra: np.ndarray
    ) -> None:
        """Acts of one kind, skipping empty batches (sensors need not see them)."""
        if len(who):
            sim.acts.add(day, self.name, kind, who, entity_type="person", **extra)

    def step(self, sim: Simulation, day: int) -> None:
        self._past.emit(sim, day)  # the warm start's acts, on the first step
        self._bills(sim, day)
        self._loans(sim, day)
        self._purchases(sim, day)

    def _bills(self, sim: Simulation, day: int) -> None:
        dom = sim.date(day).day
        if dom > LAST_DUE_DAY:
            return
        lo, hi = int(self._bill_offsets[dom - 1]), int(self._bill_offsets[dom])
        if hi == lo:
            return
        rng = sim.rng(f"{self.name}/bills", day)
        people, amount = self._bill_people[lo:hi], self._bill_amount[lo:hi]
        # Late bills by thinning: candidates at the highest decile probability (times the
        # largest multiplier), each kept at its own probability; O(late bills), sorted.
        prop = propensity(sim, "bill_late")
        bound = min(1.0, float(self._p_late.max()) * bound_of(prop))
        cand = bernoulli_sparse(rng, hi - lo, bound)
        p = self._p_late[self._decile[people[cand]]]
        if prop is not None:
            p = np.minimum(p * prop[people[cand]], 1.0)
        late = cand[rng.random(len(cand)) * bound < p]
        days_late = rng.geometric(1.0 / self.params.bill_days_late_mean, len(late))
        self._act(
            sim, day, "bill_late", people[late],
            amount=amount[late], days_late=days_late.astype(np.int16),
        )  # fmt: skip
        if self.params.record_every_event:
            on_time = np.ones(hi - lo, dtype=bool)
            on_time[late] = False
            self._act(sim, day, "bill_paid_on_time", people[on_time], amount=amount[on_time])
        else:
            self._due_days[dom - 1] += 1
            self._late_bills[lo + late] += 1

    def _settle_bills(self, sim: Simulation) -> None:
        """Add every bill due since the last settle and not paid late (no draw needed)."""
        if not self._due_days.any():
            return
        # Per bill slot, in the smallest types that hold them: this runs at every read.
        due = np.repeat(self._due_days.astype(np.uint16), np.diff(self._bill_offsets))
        paid = np.subtract(due, self._late_bills, out=due)
        sim.aggregates.add_counts("bill_paid_on_time", paid, people=self._bill_people)
        self._due_days[:] = 0
        self._late_bills[:] = 0

    def _price_bills(self, kind: str, counts: np.ndarray) -> np.ndarray:
        """Summed amounts of ``counts`` paid bills per person: each at the person's bill."""
        out = np.zeros(len(counts), np.float32)
        out[self._bill_people] = counts[self._bill_people] * self._bill_amount
        return out

    def _loans(self, sim: Simulation, day: int) -> None:
        p = self.params
        rng = sim.rng(f"{self.name}/loans", day)
        book = self._book
        due = np.flatnonzero(book["next_due"][: book.n] == day)
        if len(due):
            borrower = book["borrower"][due]
            run = book["missed_in_a_row"][due]
            q = np.where(run == 0, self._q_first[self._decile[borrower]], self._q_repeat)
            prop = propensity(sim, "loan_instalment_missed")
            if prop is not None:
                q = q * prop[borrower]
            missed = rng.random(len(due)) < q
            paid, miss = due[~missed], due[missed]

            book["paid"][paid] += 1
            book["missed_in_a_row"][paid] = 0
            self._emit(
                sim, day, "loan_instalment_paid", book["borrower"][paid],
                book["instalment"][paid], loan_id=book["loan_id"][paid],
            )  # fmt: skip
            done = paid[book["paid"][paid] >= book["n_instalments"][paid]]
            self._act(
                sim, day, "loan_repaid_in_full", book["borrower"][done],
                amount=book["principal"][done], loan_id=book["loan_id"][done],
            )  # fmt: skip

            book["missed_in_a_row"][miss] += 1
            self._act(
                sim, day, "loan_instalment_missed", book["borrower"][miss],
                amount=book["instalment"][miss], missed_in_a_row=book["missed_in_a_row"][miss],
                loan_id=book["loan_id"][miss],
            )  # fmt: skip
            gone = miss[book["missed_in_a_row"][miss] >= p.default_after_missed]
            left = book["n_instalments"][gone] - book["paid"][gone]
            outstanding = left * book["instalment"][gone]
            self._act(
                sim, day, "loan_default", book["borrower"][gone],
                amount=np.round(outstanding, 2), loan_id=book["loan_id"][gone],
            )  # fmt: skip

            book["dues"][due] += 1
            book["next_due"][due] = instalment_due_day(book["taken_day"][due], book["dues"][due])
            book.close(done)
            book.close(gone)
            book.compact()

        takers = self._loan_classes.bernoulli(rng, self._loan_p, propensity(sim, "loan_taken"))
        k = len(takers)
        if k == 0:
            return
        principal, term = self._new_loans(rng, takers)
        ids = np.arange(self._next_loan_id, self._next_loan_id + k, dtype=np.int64)
        self._next_loan_id += k
        book.append(
            loan_id=ids, borrower=takers, principal=principal,
            instalment=np.round(principal / term, 2), n_instalments=term, paid=0,
            missed_in_a_row=0, dues=0, taken_day=day, next_due=instalment_due_day(day, 0),
        )  # fmt: skip
        self._act(sim, day, "loan_taken", takers, amount=principal, term_months=term, loan_id=ids)

    def _purchases(self, sim: Simulation, day: int) -> None:
        for name, spec in self.params.purchases.items():
            kind = f"purchase_{name}"
            lazy = self._lazy.get(kind)
            if lazy is not None:
                lazy.accrue(propensity(sim, kind))
                continue
            # A stream per category: adding or adjusting one never shifts another's draws.
            rng = sim.rng(f"{self.name}/{kind}", day)
            who, _ = self._buy.events(rng, self._buy_rates[name], propensity(sim, kind))
            if not len(who):
                continue
            amount = lognormal_amounts(
                rng, len(who), spec.amount_median_yuan, spec.amount_sigma, decimals=2
            )
            self._act(sim, day, kind, who, amount=amount)

    def _settle_purchases(self, sim: Simulation, name: str, focus_only: bool = False) -> None:
        """Draw one category's purchase counts since the last settle (amounts: when read);
        with ``focus_only``, the focus group's alone (see ``Aggregates.focus``)."""
        kind = f"purchase_{name}"
        lazy = self._lazy[kind]
        focus_only = focus_only and lazy.focus_alone
        if not (lazy.focus_days if focus_only else lazy.pending):
            return
        sim.aggregates.add_counts(kind, lazy.draw_focus() if focus_only else lazy.draw())

    def _price_purchases(self, sim: Simulation, kind: str, counts: np.ndarray) -> np.ndarray:
        """Summed lognormal amounts of ``counts`` purchases of ``kind`` per person."""
        spec = self.params.purchases[kind.removeprefix("purchase_")]
        done = self._pricings.get(kind, 0)
        self._pricings[kind] = done + 1
        rng = sim.rng(f"{self.name}/{kind}/amounts", partition=done)
        return lognormal_sums(rng, counts, spec.amount_median_yuan, spec.amount_sigma, 2)

    def finish(self, sim: Simulation) -> None:
        """Draw the aggregated totals still pending (reading them would do it too)."""
        if not self.params.record_every_event:
            self._settle_bills(sim)
            for name in self.params.purchases:
                self._settle_purchases(sim, name)

    # Read-only views for sensors and tests.
    @property
    def open_loans(self) -> int:
        """Number of loans not yet repaid or defaulted."""
        return self._book.n_open
