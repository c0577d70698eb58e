"""Repaying when listed: blacklisted judgement debtors perform sooner, more so over time.

Core objects:
    :class:`RepaymentParams`: the multiplier at listing, its growth and its cap.
    :class:`RepayWhenListed`: the ``("behaviour", "repay_when_listed")`` component.
    :func:`listed_multiplier`, :func:`cumulative_multiplier`: m(t) and its integral.
    :func:`expected_repaid_share`: the share of listed debtors who have performed, listings
        arriving evenly over a span, for a given voluntary hazard (the calibration below).

Model. A person on a blacklist (``SystemView.listed``) meets its restrictions (no flights,
no high-speed trains, no luxury spending...) more often the longer they are listed, so the
pressure to perform the judgement grows. Their daily hazard of performing
(``perform_judgment``, the source's voluntary hazard ``h0``) is multiplied by
``m(t) = min(cap, listed_effect + growth_per_year * t)``, t = years since
``SystemView.listed_since_of``. Unlisted people keep multiplier 1; without a policy nobody is
listed, no array is created and every multiplier is exactly 1.

Calibration. The Supreme People's Court reported that by the end of 2018, of 12.88 million
listings of judgement defaulters since the list began in October 2013, 3.51 million had
performed their obligations under the pressure of credit sanctions: a share
3.51 / 12.88 = 0.2725. As in the ``state_data`` source's calibration, listings are taken to
have arrived evenly over the S = 5.25 years to end-2018, so the typical time on the list is
uniform on [0, S]. A listed debtor's cumulative hazard after a years is
``h0 * M(a)`` with ``M(a) = integral_0^a m(t) dt = listed_effect * a + growth_per_year *
a**2 / 2`` until the cap is reached (then ``cap`` per year), and the share performed is

    share = 1 - (1 / S) * integral_0^S exp(-h0 * M(a)) da.

``h0`` is the voluntary hazard, what an unlisted debtor would do anyway. The ``state_data``
source's default 3.5e-4 a day (0.128 a year) reproduces 0.27 on its own, i.e. it is the
all-in hazard that already contains the effect of listing. Assumption: half of it is
voluntary, h0 = 1.75e-4 a day (0.064 a year), so that listing accounts for the other half
of performance (the SPC counts all 3.51 million as performing "under pressure", so half is
a middle reading). With growth_per_year = 0.2 (Assumption: restrictions bite a little more
each year) the equation gives listed_effect = 1.69; rounded to 1.7:

    share = 1 - (1 / 5.25) * integral_0^5.25 exp(-0.0639 * (1.7 a + 0.1 a**2)) da = 0.274,

the cap 3.0 is reached only after 6.5 years. Running this behaviour together with the
source therefore calls for the source's ``performance_hazard_per_day`` at the voluntary
1.75e-4; at its all-in default the listed would perform about 45 % by end-2018.
:func:`expected_repaid_share` evaluates the formula for any choice.

Each act kind's multiplier is owned by this component: another behaviour component must not
also write ``perform_judgment``.

Cost model: one day in ``update_every`` (default 7): an O(n) vectorised scan of the listed
flags plus O(listed) to write their multipliers (and reset those delisted since the last
update); other days cost nothing. A listing thus takes effect at the next update, at most
``update_every - 1`` days late, negligible against years on the list. Memory: 4 bytes per
person once anyone is listed, plus 8 per listed person.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sclab.engine.propensity import set_propensity, update_propensity
from sclab.engine.registry import register
from sclab.engine.simulation import DAYS_PER_YEAR

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

SPC_REPAID_SHARE_2018 = 3.51 / 12.88  # SPC, end 2018: performed under credit pressure / listed
LIST_SPAN_YEARS = 5.25  # October 2013 to end-2018, listings arriving evenly (as state_data)
VOLUNTARY_HAZARD_PER_DAY = 1.75e-4  # Assumption: half of state_data's all-in 3.5e-4


class RepaymentParams(BaseModel):
    """Parameters of repaying when listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str = Field("perform_judgment", description="Act kind whose rate listing raises.")
    listed_effect: float = Field(
        1.7,
        ge=0,
        le=100,
        description="Multiplier of the performance hazard on the day of listing; "
        "calibrated (with growth_per_year) so that ~27 % of listings have performed by "
        "end-2018 (SPC: 3.51 M of 12.88 M), listings arriving evenly since Oct 2013, at an "
        "assumed voluntary hazard of 1.75e-4/day; see the module docstring.",
    )
    growth_per_year: float = Field(
        0.2,
        ge=0,
        le=100,
        description="Assumption: rise of the multiplier per year listed (restrictions are "
        "met more often); listed_effect is calibrated given it, see the module docstring.",
    )
    cap: float = Field(
        3.0,
        ge=0,
        le=100,
        description="Assumption: highest multiplier however long one is listed (those "
        "who cannot pay cannot be pressed into paying).",
    )
    update_every: int = Field(
        7, ge=1, le=365, description="Days between updates of the multipliers (cost knob)."
    )


def listed_multiplier(params: RepaymentParams, years_listed: np.ndarray) -> np.ndarray:
    """``min(cap, listed_effect + growth_per_year * years)`` as float32."""
    m = params.listed_effect + params.growth_per_year * np.asarray(years_listed, np.float64)
    return np.minimum(params.cap, m).astype(np.float32)


def cumulative_multiplier(params: RepaymentParams, years: np.ndarray) -> np.ndarray:
    """``integral_0^years m(t) dt`` in multiplier-years (exact, piecewise)."""
    a = np.asarray(years, dtype=np.float64)
    lo, g, cap = params.listed_effect, params.growth_per_year, params.cap
    if lo >= cap:
        return cap * a
    t_cap = math.inf if g == 0 else (cap - lo) / g
    t1 = np.minimum(a, t_cap)
    return lo * t1 + g * t1**2 / 2 + cap * np.maximum(0.0, a - t1)


def expected_repaid_share(
    params: RepaymentParams,
    hazard_per_day: float = VOLUNTARY_HAZARD_PER_DAY,
    span_years: float = LIST_SPAN_YEARS,
) -> float:
    """Share of listed debtors who have performed, listings arriving evenly over
    ``span_years``, at voluntary daily hazard ``hazard_per_day`` times the multiplier."""
    ages = np.linspace(0.0, span_years, 20_001)
    survival = np.exp(-hazard_per_day * DAYS_PER_YEAR * cumulative_multiplier(params, ages))
    return float(1.0 - np.trapezoid(survival, ages) / span_years)


@register("behaviour", "repay_when_listed", RepaymentParams)
class RepayWhenListed:
    """Listed people perform their judgements sooner, the more so the longer they are listed."""

    def __init__(self, name: str, params: RepaymentParams) -> None:
        self.name, self.params = name, params
        self._mult: np.ndarray | None = None
        self._set = np.empty(0, dtype=np.int64)  # people whose multiplier is not 1

    def setup(self, sim: Simulation) -> None:
        pass

    def step(self, sim: Simulation, day: int) -> None:
        if day % self.params.update_every:
            return
        view = sim.view
        listed = np.flatnonzero(view.listed)
        if self._mult is None:
            if not len(listed):
                return
            self._mult = set_propensity(sim, self.params.kind)
        kind = self.params.kind
        update_propensity(sim, kind, np.float32(1.0), self._set)
        since = view.listed_since_of(listed)
        # A listing without a recorded day counts as new.
        # ``since`` is read only for listed people; listings from before the run (warm
        # start) have negative days and count their full time on the list.
        years = np.maximum(day - since, 0) / DAYS_PER_YEAR
        update_propensity(sim, kind, listed_multiplier(self.params, years), listed)
        self._set = listed

    def finish(self, sim: Simulation) -> None:
        pass
