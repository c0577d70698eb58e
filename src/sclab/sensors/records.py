"""What the system records of true acts: record linkage with capture gaps, delays and errors.

Core objects:
    :class:`RecordsParams`: which act kinds are recorded and how (capture, delay, staleness,
        same-name and ID-typo linkage errors, thin files, match scores).
    :class:`KindSettings`: per-kind (or per-source) overrides of capture, delay and
        staleness.
    :class:`RecordsSensor`: the ``("sensors", "records")`` component.
    :class:`NameIndex`: people sorted by (surname, given name), with the start of every
        full-name group and every surname group, so that a namesake is one lookup.
    :func:`draw_other`: a uniform member of a contiguous group other than a given person.

What happens to a true act (``sim.acts``) of a recorded kind:
    1. Capture: recorded with probability ``capture`` times the thin-file multipliers
       (migrants; people without a payment app for payment-source kinds). Thin files cut
       both ways: fewer negative records and fewer positive ones.
    2. Delay: ``recorded_day = day + delay`` (geometric or Poisson with the kind's mean).
       Records due after the last day of the run are never recorded.
    3. Linkage (people only): with probability ``misattribution_rate`` × (share of the
       actor's surname / population-mean surname share) ^ ``surname_elasticity``, capped,
       the record goes to a full namesake of the actor (same surname and given name) if one
       exists, else to someone sharing the surname; never to the actor (error
       ``"same_name"``). Else, with probability ``id_typo_rate``, to a uniform other person
       of the actor's district (error ``"id_typo"``). Companies are linked by their USCC,
       which carries a check character: no linkage errors, match score 1.
    4. Match score: Beta-distributed confidence, high for correct links and lower, but
       overlapping, for wrong ones (a linker cannot tell them apart by score alone).
    5. Staleness: with probability ``stale_rate`` the act produces a second record
       ``stale_after_days`` after the first, attributed to the true actor with error
       ``"stale"``: an outdated record the system still holds after the matter was settled.

Acts from before the run (a source's warm start) carry an extra ``occurred_day`` per act,
their true past day: the delay then runs from that day, the record's ``day`` column is
that day and its ``recorded_day`` the past recording day; a record whose recording day
falls before today is delivered today (the system holds it when the run starts) with its
past ``recorded_day`` kept. Such records are batched by delivery day, each with its true
act day in the batch's ``act_day`` column (the events table's ``day``). ``occurred_day``
is not copied into the record. Cost: one record batch per kind and delivery day (a few on
day 0 for a whole history, whatever its length), then O(records) vectorised.

Bundles: a history holds several records of one kind for many people (five years of late
bills, tickets and volunteer sessions since Rongcheng's points began), and the policies
that only count or add them up (points deltas, factor windows; ``SystemView.bundle_horizon``)
cannot tell apart a person's records that stay in their sight for the whole run. Those
are recorded as one *bundle* (``EventLog.record``): the policies read each record, and the
events table keeps one row with the number of ``records`` (``bundle_past_records``). A
record that leaves some policy's sight during the run is bundled only with those made on
its own day, so every expiry and restoration falls on the same day as without bundles.

The population-mean surname share is the mean over people of their own surname's share,
so with elasticity 1 and no cap the mean same-name error rate over people is exactly
``misattribution_rate``. People whose surname nobody else carries cannot be confused by
name and get rate 0.

Acts whose actor is :data:`~sclab.engine.events.NO_ENTITY` (an act nobody can be tied to)
are recorded with ``true_actor`` and ``attributed_to`` NULL, no linkage and no match score.

COST MODEL: a day costs O(a) for the a true acts of recorded kinds (a few vectorised draws
per act: capture, delay, linkage, score), plus O(r log r) to bucket the r captured records
by recording day and O(number of due buckets) ``events.record`` calls. Nothing is done per
person per day. Setup sorts the n people by name once (two 16-bit radix sorts, O(n)) and
keeps about 9 bytes per person (the sorted order, each person's name group, the group
starts); a same-name or ID-typo draw is then O(1) per record. Pending
records wait in a day-indexed queue of compact arrays (about 40 bytes per record).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sclab.draws import bernoulli_sparse
from sclab.engine.catalogue import Catalogue, Kind, KindError
from sclab.engine.events import NO_ENTITY
from sclab.engine.registry import register

if TYPE_CHECKING:
    import pyarrow as pa

    from sclab.engine.acts import Acts
    from sclab.engine.simulation import Simulation

ERRORS = ("same_name", "id_typo", "stale")
"""Labels of the ``error`` column; codes are 1 + index (0: no error)."""
NO_ERROR, SAME_NAME, ID_TYPO, STALE = 0, 1, 2, 3
# Index into ERRORS of each code (0 for NO_ERROR, which is stored as NULL).
_ERROR_INDEX = np.array([0, 0, 1, 2], dtype=np.int8)


class KindSettings(BaseModel):
    """Overrides for one act kind (or for every kind of one source); None: inherit."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    capture: float | None = Field(
        None, ge=0, le=1, description="Probability an act is recorded at all."
    )
    delay_days_mean: float | None = Field(
        None, ge=0, le=3650, description="Mean days between the act and its record."
    )
    stale_rate: float | None = Field(
        None, ge=0, le=1, description="Probability a record has a stale second record."
    )
    stale_after_days: int | None = Field(
        None, ge=1, le=3650, description="Days from a record to its stale copy."
    )


class ThinFile(BaseModel):
    """Capture multipliers for people the system knows little about."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    migrant_capture: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Assumption: acts of migrants (household registered elsewhere) are "
        "recorded at 0.6 times the kind's capture: local registries, employers and "
        "neighbourhood committees hold thinner files on them.",
    )
    no_payment_app_capture: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Assumption: people without a mobile payment app leave no records in "
        "payment platforms, so payment-source kinds are never recorded for them.",
    )
    payment_sources: tuple[str, ...] = Field(
        ("payments",),
        description="Sources whose kinds are recorded through payment platforms "
        "(no_payment_app_capture applies to them).",
    )


class MatchScore(BaseModel):
    """Beta laws of the linkage confidence attached to each person record."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    correct_alpha: float = Field(
        20.0, gt=0, le=1000, description="Assumption: correct links ~ Beta(20, 1), mean 0.95."
    )
    correct_beta: float = Field(1.0, gt=0, le=1000, description="See correct_alpha.")
    wrong_alpha: float = Field(
        6.0,
        gt=0,
        le=1000,
        description="Assumption: wrong links ~ Beta(6, 2), mean 0.75: 15 % of them score "
        "above 0.9 (as do 88 % of correct links) and 1 % of correct links score below "
        "0.8, so scores overlap and a threshold trades misses for wrong links.",
    )
    wrong_beta: float = Field(2.0, gt=0, le=1000, description="See wrong_alpha.")


def _default_kinds() -> dict[str, KindSettings]:
    # Effective judgments go online within 7 working days (Supreme People's Court,
    # Provisions on the Publication of Judgments on the Internet, 2016, art. 7): about 10
    # calendar days. Assumption: tax arrears surface at the next monthly filing (30 days).
    courts = KindSettings(delay_days_mean=10.0)
    tax = KindSettings(delay_days_mean=30.0)
    return {
        "judgment_lost": courts,
        "non_performance": courts,
        "judgment_performed": courts,
        "tax_arrears": tax,
        "company_tax_arrears": tax,
    }


class RecordsParams(BaseModel):
    """Parameters of the records sensor (record linkage with errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kinds: dict[str, KindSettings] = Field(
        default_factory=_default_kinds,
        description="Per-kind overrides. Every act kind seen is recorded (except `ignore`) "
        "unless only_listed is set. Default: court records 10 days late (judgments online "
        "within 7 working days, SPC 2016 provisions art. 7); Assumption: tax arrears 30 days.",
    )
    only_listed: bool = Field(False, description="Record only the kinds listed in `kinds`.")
    ignore: tuple[str, ...] = Field(
        ("jaywalk",),
        description="Act kinds this sensor never records. Default: jaywalks, which only the "
        "camera network records.",
    )
    by_source: dict[str, KindSettings] = Field(
        default_factory=dict,
        description="Overrides for every kind of a source (a kind's own settings win).",
    )
    capture: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Assumption: every act of a recorded kind reaches the system unless a "
        "kind or source says otherwise.",
    )
    delay_days_mean: float = Field(
        0.0, ge=0, le=3650, description="Assumption: most records are made the same day."
    )
    delay_law: Literal["geometric", "poisson"] = Field(
        "geometric", description="Law of the delay in days (both have the configured mean)."
    )
    stale_rate: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Assumption: 1 % of records leave an outdated copy behind after the "
        "matter is settled.",
    )
    stale_after_days: int = Field(
        90, ge=1, le=3650, description="Assumption: the stale copy surfaces 90 days later."
    )
    misattribution_rate: float = Field(
        0.002,
        ge=0,
        le=1,
        description="Assumption: 0.2 % of person records are linked to a namesake at the "
        "population-mean surname share.",
    )
    surname_elasticity: float = Field(
        1.0,
        ge=0,
        le=5,
        description="Assumption: the same-name error rate is proportional to the share of "
        "the actor's surname (more namesakes, more confusions).",
    )
    misattribution_cap: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Assumption: no surname has a same-name error rate above 5 %.",
    )
    id_typo_rate: float = Field(
        0.0005,
        ge=0,
        le=1,
        description="Assumption: 0.05 % of person records carry a wrong ID number that "
        "belongs to someone else in the same district.",
    )
    thin_file: ThinFile = Field(
        default_factory=ThinFile,
        description="Capture multipliers for thin files (migrants, no payment app).",
    )
    match_score: MatchScore = Field(
        default_factory=MatchScore,
        description="Linkage confidence laws for correct and wrong person links.",
    )
    bundle_past_records: bool = Field(
        True,
        description="Store a person's records of one kind from before the run that no "
        "policy tells apart during it as one events row with their number of records (a "
        "bundle); the policies still read every record. False: one row per record (the "
        "same decisions, more rows).",
    )


@dataclass(frozen=True)
class _Rule:
    """A kind's settings after resolution (kind over source over sensor defaults)."""

    capture: float
    delay_days_mean: float
    stale_rate: float
    stale_after_days: int
    payment: bool
    # Capture probability of a person's act by the actor's file class (see
    # RecordsSensor._capture_probability), computed once with the rule.
    capture_by_class: np.ndarray = field(compare=False, repr=False)


@dataclass
class _Pending:
    """Records of one kind, act day and recording day, waiting to be recorded."""

    day: int
    recorded_day: int
    source: str
    kind: str
    entity_type: str
    true_actor: np.ndarray  # int64, NO_ENTITY for none
    attributed_to: np.ndarray  # int64
    error: np.ndarray  # uint8 code
    match_score: np.ndarray  # float32, NaN for none
    district_code: np.ndarray  # int32, -1 for unknown
    amount: np.ndarray | None
    passthrough: dict[str, np.ndarray]  # place_id, ground: copied from the act unchanged
    # int32 per record when some were made before ``recorded_day`` (acts from before the
    # run, delivered on their first day); None: all made on ``recorded_day``.
    made_on: np.ndarray | None = None
    # int32 per record: the act's own past day (acts from before the run); None: ``day``.
    act_day: np.ndarray | None = None


# Act extras copied into the record as they are (they are columns of the events table).
PASSTHROUGH = ("place_id", "ground")


def all_known(ids: np.ndarray) -> bool:
    """Whether no id is ``NO_ENTITY`` (-1; entity ids are non-negative): one reduction
    instead of a mask the size of ``ids``."""
    return len(ids) == 0 or int(ids.min()) > NO_ENTITY


def draw_other(
    rng: np.random.Generator,
    order: np.ndarray | None,
    start: np.ndarray,
    count: np.ndarray,
    who: np.ndarray,
) -> np.ndarray:
    """A uniform member of ``order[start : start + count]`` other than ``who``, per entry.

    Draws a position among the first ``count - 1`` and swaps in the last position when the
    draw lands on ``who``: uniform over the others, one draw each. ``order=None`` stands for
    the identity (a contiguous id range). Every ``count`` must be at least 2 and the group
    must contain ``who``.
    """
    start = np.asarray(start, dtype=np.int64)
    count = np.asarray(count, dtype=np.int64)
    pos = start + rng.integers(0, count - 1)
    last = start + count - 1
    if order is None:
        return np.where(pos == who, last, pos)
    cand = order[pos].astype(np.int64)
    return np.where(cand == who, order[last].astype(np.int64), cand)


@dataclass
class NameIndex:
    """People grouped by full name and by surname, as ranges of one sorted order.

    Sorting by (surname, given name) also sorts by surname, so one order serves both:
    full-name group g is ``order[group_start[g]:group_start[g + 1]]`` and surname s is
    ``order[surname_start[s]:surname_start[s + 1]]``.
    """

    order: np.ndarray  # int32 person ids sorted by (surname, given name)
    person_group: np.ndarray  # int32 full-name group of each person
    group_start: np.ndarray  # int32, one more than the number of groups
    surname_start: np.ndarray  # int64, one more than the number of surnames

    @classmethod
    def build(cls, surname: np.ndarray, given_name: np.ndarray) -> NameIndex:
        n = len(surname)
        # Two stable sorts (given name, then surname) give the (surname, given name)
        # order; NumPy radix-sorts 16-bit keys, so this is linear in n.
        order = np.argsort(given_name, kind="stable")
        order = order[np.argsort(surname[order], kind="stable")].astype(np.int32)
        s_sorted = surname[order]
        g_sorted = given_name[order]
        first = np.ones(n, dtype=bool)
        first[1:] = (s_sorted[1:] != s_sorted[:-1]) | (g_sorted[1:] != g_sorted[:-1])
        del g_sorted
        group_start = np.append(np.flatnonzero(first), n).astype(np.int32)
        person_group = np.empty(n, dtype=np.int32)
        person_group[order] = np.cumsum(first, dtype=np.int32) - 1
        n_surnames = int(surname.max()) + 1 if n else 0
        surname_start = np.searchsorted(s_sorted, np.arange(n_surnames + 1)).astype(np.int64)
        return cls(order, person_group, group_start, surname_start)

    def namesakes(self, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, count) of each person's full-name group in :attr:`order`."""
        g = self.person_group[who]
        start = self.group_start[g]
        return start, self.group_start[g + 1] - start

    def surname_mates(self, surname: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, count) of each surname's group in :attr:`order`."""
        start = self.surname_start[surname]
        return start, self.surname_start[surname + 1] - start


def same_name_rates(surname: np.ndarray, base: float, elasticity: float, cap: float) -> np.ndarray:
    """Same-name error probability per surname index (see the module docstring).

    ``base × (share / mean share) ^ elasticity``, capped at ``cap``, where the mean share
    is taken over people; 0 for surnames nobody else carries.
    """
    counts = np.bincount(surname).astype(np.float64)
    n = counts.sum()
    if n == 0:
        return np.zeros(len(counts))
    share = counts / n
    mean_share = float((share * share).sum())  # Σ_people share(own surname) / n
    with np.errstate(divide="ignore"):
        rel = np.where(counts > 0, (share / mean_share) ** elasticity, 0.0)
    p = np.minimum(base * rel, cap)
    p[counts < 2] = 0.0
    return p


def _amounts(amount: np.ndarray, later: bool) -> np.ndarray:
    """Amounts of pending records, as float64 if delivered ``later`` than today (they then
    join that day's records of their kind, whose amounts are float64). Records of a
    history delivered today keep a history's float32: they are most of day 0's memory,
    and the events table widens them exactly."""
    return amount.astype(np.float64, copy=False) if later else amount


def beta_draws(rng: np.random.Generator, a: float, b: float, n: int) -> np.ndarray:
    """``n`` draws of Beta(a, b) as float32.

    Beta(a, 1) is U ** (1 / a) for U uniform (its CDF is x ** a), and Beta(1, b) is
    1 - U ** (1 / b): one uniform and one power per draw, several times cheaper than the
    general sampler, which serves the other laws. Correct links' scores are Beta(20, 1)
    by default, and every record gets one.
    """
    if b == 1.0:
        u = rng.random(n, dtype=np.float32)
        return np.power(u, np.float32(1.0 / a), out=u)
    if a == 1.0:
        u = rng.random(n, dtype=np.float32)
        np.power(u, np.float32(1.0 / b), out=u)
        return np.subtract(np.float32(1.0), u, out=u)
    return rng.beta(a, b, n).astype(np.float32)


@cache
def _error_labels() -> pa.Array:
    import pyarrow as pa

    return pa.array(list(ERRORS), type=pa.string())


def error_column(codes: np.ndarray) -> pa.DictionaryArray:
    """Error codes as an Arrow dictionary column (NULL where there is no error).

    Built from its buffers (validity bits and int8 indices): some forty of these a day,
    mostly of a few rows, where ``pa.array`` costs more in conversion than in data.
    """
    import pyarrow as pa

    codes = np.asarray(codes)
    none = codes == NO_ERROR
    nulls = int(np.count_nonzero(none))
    valid = None if nulls == 0 else pa.py_buffer(np.packbits(~none, bitorder="little"))
    indices = pa.Array.from_buffers(
        pa.int8(), len(codes), [valid, pa.py_buffer(_ERROR_INDEX[codes])], null_count=nulls
    )
    return pa.DictionaryArray.from_arrays(indices, _error_labels())


@register("sensors", "records", RecordsParams)
class RecordsSensor:
    """Records true acts with capture gaps, delays, stale copies and linkage errors."""

    def __init__(self, name: str, params: RecordsParams) -> None:
        self.name = name
        self.params = params
        self._rules: dict[tuple[str, str], _Rule | None] = {}
        self._queue: dict[int, list[_Pending]] = defaultdict(list)

    # -- setup ------------------------------------------------------------------------

    def labels(self) -> dict[str, tuple[str, ...]]:
        """Record errors."""
        return {"record_error": ERRORS}

    def records(self, act: Kind) -> bool:
        """Whether acts of this kind are recorded; if so, under the act's own kind, as an
        event with the act's facts (:meth:`sclab.engine.catalogue.Kind.recorded`)."""
        p = self.params
        return act.name not in p.ignore and (act.name in p.kinds or not p.only_listed)

    def check_kinds(self, catalogue: Catalogue) -> None:
        """The act kinds named in the parameters must be ones sclab knows (a kind this
        scenario does not produce is fine: its settings go unused).

        Raises:
            KindError: naming the parameter and the nearest valid name.
        """
        p = self.params
        named: list[tuple[tuple[str | int, ...], str]] = [(("kinds", k), k) for k in p.kinds]
        named += [(("ignore", i), k) for i, k in enumerate(p.ignore)]
        for loc, kind in named:
            problem = catalogue.unknown(kind, "act")
            if problem:
                raise KindError(problem, loc)

    def setup(self, sim: Simulation) -> None:
        p = self.params
        cit = sim.population.citizens
        self._days = sim.scenario.days
        self._surname = cit.surname
        self._district = cit.district
        self._names = NameIndex.build(cit.surname, cit.given_name)
        self._p_same = same_name_rates(
            cit.surname, p.misattribution_rate, p.surname_elasticity, p.misattribution_cap
        )
        # The highest linkage-error probability of any record: candidates for an error are
        # drawn at this rate and kept at each record's own (see _link).
        self._p_link_max = min(float(self._p_same.max(initial=0.0)) + p.id_typo_rate, 1.0)
        # Thin-file class per person (see _capture_probability): one byte each.
        self._file_class = cit.migrant.astype(np.uint8) | (~cit.payment_app).astype(np.uint8) << 1
        codes = np.array([d.code for d in sim.scenario.geography.districts], dtype=np.int32)
        self._codes = codes
        # Person ids follow district order; fall back to an explicit order otherwise.
        district = cit.district.astype(np.int64)
        sizes = np.bincount(district, minlength=len(codes)).astype(np.int64)
        self._district_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        contiguous = bool(np.all(district[1:] >= district[:-1])) if len(district) else True
        self._district_order = (
            None if contiguous else np.argsort(district, kind="stable").astype(np.int32)
        )

    def _rule(self, source: str, kind: str) -> _Rule | None:
        key = (source, kind)
        if key in self._rules:
            return self._rules[key]
        p = self.params
        rule: _Rule | None = None
        if kind not in p.ignore and (kind in p.kinds or not p.only_listed):
            layers = [p.kinds.get(kind), p.by_source.get(source)]

            def pick(field: str, default: float) -> float:
                for layer in layers:
                    if layer is not None and getattr(layer, field) is not None:
                        return getattr(layer, field)
                return default

            capture = pick("capture", p.capture)
            payment = source in p.thin_file.payment_sources
            thin = p.thin_file
            # File class: 1 for a migrant, + 2 without a payment app; 4 for no known actor.
            table = np.full(5, capture, dtype=np.float64)
            table[[1, 3]] *= thin.migrant_capture
            if payment:
                table[[2, 3]] *= thin.no_payment_app_capture
            rule = _Rule(
                capture=capture,
                delay_days_mean=pick("delay_days_mean", p.delay_days_mean),
                stale_rate=pick("stale_rate", p.stale_rate),
                stale_after_days=int(pick("stale_after_days", p.stale_after_days)),
                payment=payment,
                capture_by_class=table,
            )
        self._rules[key] = rule
        return rule

    # -- daily ------------------------------------------------------------------------

    def step(self, sim: Simulation, day: int) -> None:
        rngs: dict[str, np.random.Generator] = {}
        capture_sum: dict[str, float] = defaultdict(float)
        capture_n: dict[str, int] = defaultdict(int)
        for acts in list(sim.acts.of_kind()):
            rule = self._rule(acts.source, acts.kind)
            if rule is None:
                continue
            if acts.kind not in rngs:
                # One stream per kind: adding a kind never shifts another kind's draws.
                rngs[acts.kind] = sim.rng(f"{self.name}/{acts.kind}", day)
            q = self._process(sim, day, acts, rule, rngs[acts.kind])
            capture_sum[acts.kind] += float(q.sum())
            capture_n[acts.kind] += len(q)
        for kind, k in capture_n.items():
            if k:
                sim.view.detection[kind] = capture_sum[kind] / k
        for pending in self._queue.pop(day, []):
            self._record(sim, pending)

    def finish(self, sim: Simulation) -> None:
        # Records due after the last day are never made.
        self._queue.clear()

    # -- one batch of acts ------------------------------------------------------------

    def _capture_probability(self, acts: Acts, rule: _Rule) -> np.ndarray:
        """Per act, the probability that it is recorded: the kind's capture times the
        actor's thin-file multipliers (looked up by the actor's file class, one gather)."""
        if acts.entity_type != "person":
            return np.full(len(acts), rule.capture, dtype=np.float64)
        table = rule.capture_by_class
        actor = acts.actor
        if all_known(actor):
            return table[self._file_class[actor]]
        known = actor != NO_ENTITY
        cls = np.full(len(actor), 4, dtype=np.uint8)
        cls[known] = self._file_class[actor[known]]
        return table[cls]

    def _delays(self, rng: np.random.Generator, mean: float, k: int) -> np.ndarray:
        if mean <= 0 or k == 0:
            return np.zeros(k, dtype=np.int64)
        if self.params.delay_law == "poisson":
            return rng.poisson(mean, k).astype(np.int64)
        # numpy's geometric counts trials (>= 1); minus one gives days with mean `mean`.
        return rng.geometric(1.0 / (1.0 + mean), k).astype(np.int64) - 1

    def _process(
        self, sim: Simulation, day: int, acts: Acts, rule: _Rule, rng: np.random.Generator
    ) -> np.ndarray:
        """Turn one batch of acts into pending records; returns per-act capture probability.

        A history (tens of millions of acts on day 0) makes every temporary count: the
        all-known case skips the masks of unknown actors, the capture draw's buffer is
        reused for the stale draw, and a history's act days serve as its recording days
        when the kind has no delay.
        """
        q = self._capture_probability(acts, rule)
        n = len(acts)
        if n == 0:
            return q
        uniform = rng.random(n)
        idx = np.flatnonzero(uniform < q)
        k = len(idx)
        if k == 0:
            return q
        actor = acts.actor[idx]
        # None: every actor is known (always so for a history), so no mask is needed.
        known = None if all_known(actor) else actor != NO_ENTITY
        # Acts from before the run (a warm start) carry their true past day.
        occurred = acts.extra.get("occurred_day")
        act_day = (
            None if occurred is None else np.asarray(occurred)[idx].astype(np.int32, copy=False)
        )
        recorded_day: np.ndarray
        if rule.delay_days_mean > 0:
            delays = self._delays(rng, rule.delay_days_mean, k)
            recorded_day = (day if act_day is None else act_day) + delays
        else:
            recorded_day = np.full(k, day, np.int64) if act_day is None else act_day

        attributed = actor.copy()
        error = np.zeros(k, dtype=np.uint8)
        if acts.entity_type == "person":
            wrong = self._link(rng, actor, known, attributed, error)
            score = self._match_scores(rng, k, known, wrong)
        else:
            # Companies are linked by USCC, whose check character catches typos.
            score = np.ones(k, dtype=np.float32)
            if known is not None:
                score[~known] = np.nan

        district = self._district_codes(sim, acts, idx, actor, known)
        amount = acts.extra.get("amount")
        if amount is not None:
            # Gather, then widen: a float32 history converts only what was recorded, and
            # only what is delivered after today (see _enqueue).
            amount = np.asarray(amount)[idx]
            if act_day is None:
                amount = amount.astype(np.float64, copy=False)
        place = {k: np.asarray(acts.extra[k])[idx] for k in PASSTHROUGH if k in acts.extra}

        self._enqueue(
            day, acts, recorded_day, actor, attributed, error, score, district, amount, place,
            act_day,
        )  # fmt: skip

        if rule.stale_rate > 0:
            # The same draws as rng.random(k), into the spent capture draws.
            hit = rng.random(out=uniform[:k]) < rule.stale_rate
            if known is not None:
                hit &= known
            stale = np.flatnonzero(hit)
            if len(stale):
                ms = self.params.match_score
                if acts.entity_type == "person":
                    s_score = beta_draws(rng, ms.correct_alpha, ms.correct_beta, len(stale))
                else:
                    s_score = np.ones(len(stale))
                self._enqueue(
                    day,
                    acts,
                    recorded_day[stale] + rule.stale_after_days,
                    actor[stale],
                    actor[stale],
                    np.full(len(stale), STALE, dtype=np.uint8),
                    s_score.astype(np.float32),
                    district[stale],
                    None if amount is None else amount[stale],
                    {k: v[stale] for k, v in place.items()},
                    None if act_day is None else act_day[stale],
                )
        return q

    def _match_scores(
        self, rng: np.random.Generator, k: int, known: np.ndarray | None, wrong: np.ndarray
    ) -> np.ndarray:
        """Match scores of ``k`` person records: the correct links' draws first, in record
        order, then the wrong links' (at sorted positions ``wrong``); NaN for records of
        no known actor (``known`` None: every actor is known)."""
        ms = self.params.match_score
        if known is None and len(wrong) == 0:
            # Every link correct (most days' batches): the draws are the scores.
            return beta_draws(rng, ms.correct_alpha, ms.correct_beta, k)
        right = np.ones(k, dtype=bool) if known is None else known.copy()
        right[wrong] = False
        if known is None:
            score = np.empty(k, dtype=np.float32)
            n_right = k - len(wrong)
        else:
            score = np.full(k, np.nan, dtype=np.float32)
            n_right = int(np.count_nonzero(right))
        score[right] = beta_draws(rng, ms.correct_alpha, ms.correct_beta, n_right)
        score[wrong] = beta_draws(rng, ms.wrong_alpha, ms.wrong_beta, len(wrong))
        return score

    def _link(
        self,
        rng: np.random.Generator,
        actor: np.ndarray,
        known: np.ndarray | None,
        attributed: np.ndarray,
        error: np.ndarray,
    ) -> np.ndarray:
        """Misattribute some person records in place (same name, then ID typo); returns
        the positions of the misattributed records, sorted (``known`` None: every actor
        is known).

        A record goes to a namesake with its actor's surname's probability, else to a
        wrong ID with ``id_typo_rate``. Both are below a percent, so the errors are drawn by
        thinning: candidates at the highest rate of any record (O(errors), no pass over
        every record), each kept as a same-name error with probability ``p_same /
        p_max`` and as an ID typo with ``id_typo_rate / p_max``: the same law as one
        uniform per record.
        """
        p_max = self._p_link_max
        n = len(actor) if known is None else int(np.count_nonzero(known))
        if p_max <= 0 or n == 0:
            return np.empty(0, dtype=np.int64)
        pos = bernoulli_sparse(rng, n, p_max)
        if len(pos) == 0:
            return pos  # no candidate: no error, and nothing more to draw
        if known is not None:
            pos = np.flatnonzero(known)[pos]
        who = actor[pos]
        surname = self._surname[who].astype(np.int64)
        p_same = self._p_same[surname]
        u = rng.random(len(pos)) * p_max
        same = u < p_same
        typo = ~same & (u < p_same + self.params.id_typo_rate)
        wrong = same.copy()

        if same.any():
            w = who[same]
            start, count = self._names.namesakes(w)
            s_start, s_count = self._names.surname_mates(surname[same])
            # No full namesake: fall back to someone sharing the surname (count >= 2,
            # since surnames carried by one person have rate 0).
            lone = count < 2
            start = np.where(lone, s_start, start)
            count = np.where(lone, s_count, count)
            attributed[pos[same]] = draw_other(rng, self._names.order, start, count, w)
            error[pos[same]] = SAME_NAME

        if typo.any():
            w = who[typo]
            d = self._district[w].astype(np.int64)
            start = self._district_start[d]
            count = self._district_start[d + 1] - start
            ok = count >= 2
            w, start, count = w[ok], start[ok], count[ok]
            rows = pos[typo][ok]
            attributed[rows] = draw_other(rng, self._district_order, start, count, w)
            error[rows] = ID_TYPO
            wrong[np.flatnonzero(typo)[ok]] = True
        return pos[wrong]

    def _district_codes(
        self,
        sim: Simulation,
        acts: Acts,
        idx: np.ndarray,
        actor: np.ndarray,
        known: np.ndarray | None,
    ) -> np.ndarray:
        given = acts.extra.get("district_code")
        if given is not None:
            return np.asarray(given, np.int32)[idx]
        if known is None and acts.entity_type in ("person", "company"):
            of = (
                self._district
                if acts.entity_type == "person"
                else sim.population.companies.district
            )
            return self._codes[of[actor]]
        out = np.full(len(idx), -1, dtype=np.int32)
        if acts.entity_type == "person":
            out[known] = self._codes[self._district[actor[known]]]
        elif acts.entity_type == "company":
            district = sim.population.companies.district
            out[known] = self._codes[district[actor[known]]]
        return out

    def _enqueue(
        self,
        day: int,
        acts: Acts,
        recorded_day: np.ndarray,
        actor: np.ndarray,
        attributed: np.ndarray,
        error: np.ndarray,
        score: np.ndarray,
        district: np.ndarray,
        amount: np.ndarray | None,
        place: dict[str, np.ndarray],
        act_day: np.ndarray | None = None,
    ) -> None:
        """Bucket records by recording day; drop those due after the run.

        With ``act_day`` (acts from before the run), by delivery day: records made before
        today are delivered today, in the order they came in (by actor, then oldest
        first: :mod:`sclab.world.history`), the order in which :meth:`_bundles` finds
        their bundles as runs; no column of the bulk of a history is sorted or moved.
        A history recorded with no delay is all delivered today: one group, no copy.
        """
        if len(recorded_day) == 0:
            return
        for aday, rday, sel in self._due_groups(day, recorded_day, act_day):
            days = None if act_day is None else act_day[sel].astype(np.int32, copy=False)
            # int32 columns. A history with no delay has its act days as recording days:
            # one array object serves both columns (no copy of either; the events table
            # then takes a bundle's earliest recording day for its first act day, without
            # a search).
            made = days if days is not None and recorded_day is act_day else recorded_day[sel]
            self._queue[rday].append(
                _Pending(
                    day=aday,
                    recorded_day=rday,
                    source=acts.source,
                    kind=acts.kind,
                    entity_type=acts.entity_type,
                    true_actor=actor[sel],
                    attributed_to=attributed[sel],
                    error=error[sel],
                    match_score=score[sel],
                    district_code=district[sel],
                    amount=None if amount is None else _amounts(amount[sel], rday > day),
                    passthrough={k: v[sel] for k, v in place.items()},
                    made_on=made.astype(np.int32, copy=False) if made.min() < rday else None,
                    act_day=days,
                )
            )

    def _due_groups(
        self, day: int, recorded_day: np.ndarray, act_day: np.ndarray | None
    ) -> list[tuple[int, int, slice | np.ndarray]]:
        """(act day, delivery day, rows) of each delivery day of some records, in delivery
        order: records due after the run are left out, and records made before today
        (acts from before the run, ``act_day``) are delivered today, their act day the
        earliest of theirs."""
        if act_day is not None and int(recorded_day.max()) <= day:
            # All made by today (a history with no delay): one delivery, no mask.
            return [(int(act_day.min()), day, slice(None))]
        groups: list[tuple[int, int, slice | np.ndarray]] = []
        due = recorded_day if act_day is None else np.maximum(recorded_day, day)
        first = int(due[0])
        if (due == first).all():
            if first < self._days:
                aday = day if act_day is None else int(act_day.min())
                groups.append((aday, first, slice(None)))
            return groups
        if act_day is not None:
            now = due == day
            held = np.flatnonzero(now)
            if len(held):
                groups.append((int(act_day[held].min()), day, held))
            rest = np.flatnonzero(~now & (due < self._days))
        else:
            rest = np.flatnonzero(due < self._days)
        order = rest[np.argsort(due[rest], kind="stable")]
        d_sorted = due[order]
        cuts = np.flatnonzero(d_sorted[1:] != d_sorted[:-1]) + 1
        bounds = np.concatenate([[0], cuts, [len(order)]]).astype(np.int64)
        for a, b in pairwise(bounds):
            if b > a:
                rows = order[a:b]
                aday = day if act_day is None else int(act_day[rows].min())
                groups.append((aday, int(d_sorted[a]), rows))
        return groups

    # -- recording --------------------------------------------------------------------

    def _record(self, sim: Simulation, p: _Pending) -> None:
        if all_known(p.true_actor):
            horizon = sim.view.bundle_horizon(p.kind)
            if p.made_on is not None and horizon is not None and self.params.bundle_past_records:
                starts = self._bundles(p, horizon)
                self._record_part(sim, p, None, with_score=True, bundle_starts=starts)
            else:
                self._record_part(sim, p, None, with_score=True)
            return
        # Unidentified acts go in a batch of their own so that their match score and
        # (unknown) district are NULL rather than NaN or -1.
        known = p.true_actor != NO_ENTITY
        if known.any():
            self._record_part(sim, p, np.flatnonzero(known), with_score=True)
        self._record_part(sim, p, np.flatnonzero(~known), with_score=False)

    def _bundles(self, p: _Pending, horizon: int) -> np.ndarray:
        """The first position of each bundle of a delivery made before today.

        A bundle is a run of consecutive records of one true actor attributed to one
        entity with one error (and equal place and ground) whose policies see them for the
        whole run (made ``horizon`` days or less before the end: ``horizon`` is the
        shortest time a reading policy acts on a record): nothing in the run tells them
        apart. A record that leaves some policy's sight during the run is bundled only
        with records made on its own day.

        Records arrive by actor, then oldest first (:mod:`sclab.world.history`), so a
        person's records of a kind are already together and in act-day order: runs are
        found in that order, without a sort. A record that breaks a run (a namesake's
        record between two of one's own) only splits a bundle in two, which changes
        rows, never decisions.
        """
        assert p.made_on is not None
        made = p.made_on
        # Records made `horizon` days or less before the end (made + horizon >= days)
        # share one timing: capping the day there gives them all one value and leaves
        # every earlier day distinct.
        timing = np.minimum(made, self._days - horizon)
        keys = [p.attributed_to, p.error, timing, p.true_actor, *p.passthrough.values()]
        n = len(made)
        new = np.empty(n, bool)
        new[:1] = True
        # One buffer for every key's comparison of neighbours (a history: tens of millions).
        differs = np.empty(max(n - 1, 0), bool)
        np.not_equal(keys[0][1:], keys[0][:-1], out=new[1:])
        for key in keys[1:]:
            k = np.asarray(key)
            np.not_equal(k[1:], k[:-1], out=differs)
            new[1:] |= differs
        return np.flatnonzero(new)

    def _record_part(
        self,
        sim: Simulation,
        p: _Pending,
        sel: np.ndarray | None,
        with_score: bool,
        bundle_starts: np.ndarray | None = None,
    ) -> None:
        def take(a: np.ndarray) -> np.ndarray:
            return a if sel is None else a[sel]

        true_actor = take(p.true_actor)
        n = len(true_actor)
        extra: dict[str, np.ndarray | pa.Array] = {
            "recorded_day": (
                np.full(n, p.recorded_day, dtype=np.int32) if p.made_on is None else take(p.made_on)
            ),
            "error": error_column(take(p.error)),
        }
        if with_score:
            extra["match_score"] = take(p.match_score)
        district = take(p.district_code)
        if len(district) == 0 or district.min() >= 0:
            extra["district_code"] = district
        if p.act_day is not None:
            extra["act_day"] = take(p.act_day)
        if p.amount is not None:
            extra["amount"] = take(p.amount)
        for name, values in p.passthrough.items():
            extra[name] = take(values)
        sim.events.record(
            p.day,
            source=p.source,
            kind=p.kind,
            true_actor=true_actor,
            attributed_to=take(p.attributed_to),
            entity_type=p.entity_type,
            bundle_starts=bundle_starts,
            **extra,
        )
