"""Deterrence: people learn how likely they are to be caught, and act less when it costs.

Core objects:
    :class:`DeterrenceParams`: the act kinds, the prior, learning and forgetting rates, and
        how strongly the expected sanction lowers the rate.
    :class:`Deterrence`: the ``("behaviour", "deterrence")`` component.

Model (Becker 1968, "Crime and punishment: an economic approach"): a person commits an
act less often the higher its expected cost, the perceived probability of being caught
times the sanction. For each configured act kind k, person i holds a perceived detection
probability ``q[i, k]``, initially ``prior``. People learn it from experience, as the
perceptual-deterrence literature finds (Loughran et al. 2015, OJJDP bulletin NCJ 248617:
after an arrest youth slightly raised their perceived risk; Parker and Grasmick 1979: the
experiences of acquaintances, not news, move perceived certainty):

* caught today (``SystemView.caught_today(k)``, c times): ``q <- 1 - (1 - q)(1 - alpha_own)^c``;
* c of one's active ties caught today: ``q <- 1 - (1 - q)(1 - alpha_ties)^c``;
* everyone, every ``decay_every`` days: ``q <- prior + (q - prior)(1 - forgetting)^decay_every``,
  i.e. the memory fades toward the prior at ``forgetting`` per day.

The rate multiplier read by the sources is
``m[i, k] = max(floor, 1 - elasticity_k * q[i, k] * severity_k)`` with ``severity_k =
SystemView.severity.get(k, 0)``. Without a policy the severity is 0 and ``m`` is exactly 1;
the multiplier array of a kind is only created (via :func:`sclab.engine.propensity.set_propensity`)
once its severity is positive, so a no-policy run leaves the sources untouched. Learning
still runs with severity 0 (people can be caught by a policy that does not sanction yet).

Each act kind's multiplier is owned by this component: another behaviour component must not
also write the multiplier of a kind configured here.

Cost model, per kind and day: O(caught) to update the caught people plus
O(caught x mean degree) to reach their ties (a CSR gather), and O(1) otherwise; every
``decay_every`` days one O(n) scan of ``q`` per kind to find the people who have learnt
something (q is not the prior) and O(those people) for their forgetting and multipliers
(everyone else is exactly at the prior); one O(n) pass whenever a kind's severity
changes. Memory: ``q`` is 2 bytes per person per kind (4 with ``precision: float32``),
the multiplier 4 bytes per person per kind once sanctioned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sclab.arrays import union_positions
from sclab.engine.catalogue import Catalogue, KindError
from sclab.engine.propensity import set_propensity, update_propensity
from sclab.engine.registry import register
from sclab.engine.ties import active_neighbours
from sclab.parallel import map_blocks

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

#: The acts modelled by default: petty, frequent and sanctioned by the built-in packs (a
#: choice of what to model; each must be an act kind of the catalogue, see check_kinds).
DEFAULT_KINDS = ("jaywalk", "bill_late", "loan_instalment_missed", "traffic_ticket", "tax_arrears")


class DeterrenceParams(BaseModel):
    """Parameters of the deterrence behaviour."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kinds: tuple[str, ...] = Field(
        DEFAULT_KINDS, description="Act kinds whose rates respond to expected sanctions."
    )
    prior: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Assumption: perceived probability of being caught before any "
        "experience (low: petty acts are rarely sanctioned without the scoring system).",
    )
    alpha_own: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Assumption: share of the gap to 1 closed by being caught once; small, "
        "as Loughran et al. 2015 (OJJDP NCJ 248617) found arrests raise perceived risk "
        "only slightly.",
    )
    alpha_ties: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Assumption: the same for hearing that one tie was caught (vicarious "
        "experience, Parker and Grasmick 1979), a fifth of one's own.",
    )
    forgetting: float = Field(
        0.002,
        ge=0,
        le=1,
        description="Assumption: daily rate at which the perceived probability returns "
        "to the prior (half-life about 350 days).",
    )
    decay_every: int = Field(
        30, ge=1, le=365, description="Days between the O(n) forgetting passes (cost knob)."
    )
    elasticity: float = Field(
        1.0,
        ge=0,
        le=100,
        description="Assumption: rate reduction per unit of expected sanction "
        "(perceived probability x severity in 0-1).",
    )
    elasticity_by_kind: dict[str, float] = Field(
        default_factory=dict,
        description="Per-kind elasticity overriding `elasticity` (e.g. lower for missed "
        "payments that come from inability to pay rather than choice).",
    )
    floor: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Assumption: lowest multiplier; a share of acts (inattention, "
        "necessity, inability to pay) happens whatever the expected sanction.",
    )
    precision: Literal["float32", "float16"] = Field(
        "float16",
        description="Storage of the perceived probabilities: float16 (2 bytes per person "
        "per kind, about 3 significant digits, ample for a probability learnt from a few "
        "experiences) or float32.",
    )


@register("behaviour", "deterrence", DeterrenceParams)
class Deterrence:
    """Perceived detection risk learnt from being caught (and ties caught) lowers act rates."""

    def __init__(self, name: str, params: DeterrenceParams) -> None:
        self.name, self.params = name, params
        for kind, e in params.elasticity_by_kind.items():
            if not 0.0 <= e <= 100.0:
                raise ValueError(f"elasticity_by_kind[{kind!r}] must be in [0, 100], got {e}")
        self.q: dict[str, np.ndarray] = {}
        self._mult: dict[str, np.ndarray] = {}
        self._severity: dict[str, float] = {}

    def check_kinds(self, catalogue: Catalogue) -> None:
        """Every configured kind must be an act kind sclab knows (one this scenario does
        not produce is fine: its rate is never read).

        Raises:
            KindError: naming the parameter and the nearest valid name.
        """
        named: list[tuple[tuple[str | int, ...], str]] = [
            (("kinds", i), k) for i, k in enumerate(self.params.kinds)
        ]
        named += [(("elasticity_by_kind", k), k) for k in self.params.elasticity_by_kind]
        for loc, kind in named:
            problem = catalogue.unknown(kind, "act")
            if problem:
                raise KindError(problem, loc)

    def setup(self, sim: Simulation) -> None:
        n = len(sim.population.citizens)
        dtype = np.dtype(self.params.precision)
        self.q = {k: np.full(n, self.params.prior, dtype=dtype) for k in self.params.kinds}

    def learnt(self, kind: str) -> np.ndarray:
        """People whose perceived probability of ``kind`` is not the prior (sorted).

        Learning only raises ``q`` and forgetting stops at the prior, so these are the
        people with some experience not yet forgotten; everyone else holds exactly the
        prior and the prior's multiplier. One scan of ``q``'s bits (an integer compare:
        NumPy has no fast float16 compare), made on forgetting days only.
        """
        q = self.q[kind]
        bits = q.view(np.dtype(f"u{q.itemsize}"))
        prior = np.array(self.params.prior, q.dtype).view(bits.dtype)
        # One pass over everyone, not blocks on the cores: millions of people have learnt
        # something by mid-year, and blocks' index arrays shifted and then joined write
        # each of them three times where NumPy's nonzero of one mask writes it once.
        return np.flatnonzero(bits != prior)

    def elasticity(self, kind: str) -> float:
        return float(self.params.elasticity_by_kind.get(kind, self.params.elasticity))

    def multiplier(
        self,
        kind: str,
        q: np.ndarray,
        severity: float,
        people: np.ndarray | None = None,
        q_people: np.ndarray | None = None,
    ) -> np.ndarray:
        """``max(floor, 1 - elasticity * q * severity)`` in float32 (exactly 1 if severity 0),
        for everyone or for ``people`` (``q[people]``, or ``q_people`` when the caller
        holds those values already), in blocks on the cores."""
        size = len(q) if people is None else len(people)
        out = np.empty(size, np.float32)
        scale = np.float32(self.elasticity(kind) * severity)
        floor = np.float32(self.params.floor)

        def of(values: np.ndarray, into: np.ndarray | None = None) -> np.ndarray:
            cost = values.astype(np.float32)
            cost *= scale
            np.subtract(np.float32(1.0), cost, out=cost)
            return np.maximum(floor, cost, out=cost if into is None else into)

        # float16 probabilities take their multiplier from a table of every float16 value
        # (the same arithmetic, done once per value instead of once per person).
        table = _by_float16_bits(of) if q.dtype == np.float16 and size > _TABLE_FROM else None

        def block(_: int, lo: int, hi: int) -> None:
            if people is None:
                values = q[lo:hi]
            elif q_people is not None:
                values = q_people[lo:hi]
            else:
                values = q[people[lo:hi]]
            if table is None:
                of(values, out[lo:hi])
            else:
                out[lo:hi] = table.take(values.view(np.uint16))

        map_blocks(block, size)
        return out

    def step(self, sim: Simulation, day: int) -> None:
        p = self.params
        forget = day > 0 and day % p.decay_every == 0 and p.forgetting > 0
        for kind, q in self.q.items():
            touched, q_touched = self._learn(sim, kind, q)
            if forget:
                touched, q_touched = self._forget(kind, q)
            self._update_multiplier(sim, kind, q, touched, q_touched)

    def _forget(self, kind: str, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Move the learnt probabilities toward the prior; return the people concerned
        and their new ``q`` (kept for their multipliers rather than gathered again)."""
        p = self.params
        learnt = self.learnt(kind)
        keep = np.float32((1.0 - p.forgetting) ** p.decay_every)
        prior = np.float32(p.prior)
        forgot = np.empty(len(learnt), q.dtype)

        def of(values: np.ndarray) -> np.ndarray:
            x = values.astype(np.float32)
            x -= prior
            x *= keep
            x += prior
            return x

        # float16 probabilities are forgotten by a table of every float16 value's bits:
        # the same arithmetic, without two float16 conversions per person.
        table = None
        if q.dtype == np.float16 and len(learnt) > _TABLE_FROM:
            table = _by_float16_bits(lambda v: of(v).astype(np.float16)).view(np.uint16)
            q_bits, forgot_bits = q.view(np.uint16), forgot.view(np.uint16)

        def block(_: int, lo: int, hi: int) -> None:
            # Distinct people: blocks of them touch distinct entries of q, on the cores.
            who = learnt[lo:hi]
            if table is None:
                forgot[lo:hi] = of(q.take(who))  # a contiguous cast
            else:
                forgot_bits[lo:hi] = table.take(q_bits.take(who))
            q[who] = forgot[lo:hi]  # a plain scatter

        map_blocks(block, len(learnt))
        return learnt, forgot

    def _learn(
        self, sim: Simulation, kind: str, q: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Apply today's own and vicarious experiences; return the people touched and
        their new ``q`` (read again for their multipliers, so kept rather than gathered)."""
        caught = sim.view.caught_today(kind)
        if not len(caught):
            return caught, None
        people, own = np.unique(caught, return_counts=True)
        # int32 people (the graph's index type): a 32-bit sort is about twice as fast.
        heard, ties = np.unique(active_neighbours(sim, people), return_counts=True)
        touched, people_at, heard_at = union_positions(people, heard)
        # Stay-uncaught probability (1 - q) shrinks by a factor per experience (powers
        # from a table: experiences per person and day are few).
        stay = np.ones(len(touched), dtype=np.float64)
        stay[people_at] *= _powers(1.0 - self.params.alpha_own, own)
        stay[heard_at] *= _powers(1.0 - self.params.alpha_ties, ties)
        learnt = (1.0 - (1.0 - q[touched].astype(np.float64)) * stay).astype(q.dtype)
        q[touched] = learnt
        return touched, learnt

    def _update_multiplier(
        self,
        sim: Simulation,
        kind: str,
        q: np.ndarray,
        touched: np.ndarray,
        q_touched: np.ndarray | None = None,
    ) -> None:
        severity = float(sim.view.severity.get(kind, 0.0))
        mult = self._mult.get(kind)
        if mult is None:
            if severity == 0.0:
                return  # no sanction ever seen: leave the source at its base rate
            mult = self._mult[kind] = set_propensity(sim, kind)
        if severity != self._severity.get(kind):
            update_propensity(sim, kind, self.multiplier(kind, q, severity))
        elif len(touched):
            values = self.multiplier(kind, q, severity, touched, q_touched)
            update_propensity(sim, kind, values, touched)
        self._severity[kind] = severity

    def finish(self, sim: Simulation) -> None:
        pass


#: Fewer people than this are computed directly: below it a table of all 65,536 float16
#: values costs more than it saves.
_TABLE_FROM = 1 << 17


def _by_float16_bits(fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` (elementwise) of every float16 value, indexed by the value's 16 bits."""
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    with np.errstate(all="ignore"):  # NaN and infinite patterns (never held in q)
        return fn(every)


def _powers(base: float, exponents: np.ndarray) -> np.ndarray:
    """``base ** exponents`` for small non-negative integer exponents, from a table."""
    if not len(exponents):  # e.g. nobody caught today has an active tie
        return np.empty(0, np.float64)
    table = base ** np.arange(int(exponents.max()) + 1, dtype=np.float64)
    return table[exponents]
