"""Purchase shifting: score-aware app users buy less of what the score penalises.

Core objects:
    :class:`PurchaseShiftingParams`: the categories, who is aware, how strongly they react.
    :class:`PurchaseShifting`: the ``("behaviour", "purchase_shifting")`` component.

Model. A score that weighs purchase categories (``SystemView.scored_purchases``, category
-> weight, negative = penalised) was described publicly by Sesame Credit in 2015 (buying
video games for hours a day read as idleness, buying diapers as responsibility). Only
people who pay through an app (``Citizens.payment_app``) are scored on purchases, and only
those who know how the score works can react: a share ``aware_share`` of app users, drawn
once in ``setup``. For them the multiplier on ``purchase_<category>`` is
``clip(1 + responsiveness * weight, floor, cap)``: penalised categories fall, favoured
ones rise. Categories the policy does not weigh keep multiplier 1, and so does everyone
unaware. Without a policy (no weights) no array is created: every multiplier is exactly 1.

Each act kind's multiplier is owned by this component: another behaviour component must not
also write a ``purchase_<category>`` configured here.

Cost model: O(n) once in ``setup`` (the awareness draw); per day O(1) while the weights
are unchanged and O(aware x categories) on the days they change. Memory: 8 bytes per aware
person, 4 bytes per person per category once that category's multiplier exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sclab.engine.catalogue import Catalogue, KindError
from sclab.engine.propensity import set_propensity, update_propensity
from sclab.engine.registry import register

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

DEFAULT_CATEGORIES = ("video_games", "diapers", "alcohol", "books", "luxury_goods", "groceries")


class PurchaseShiftingParams(BaseModel):
    """Parameters of purchase shifting."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    categories: tuple[str, ...] = Field(
        DEFAULT_CATEGORIES, description="Purchase categories whose rates may shift."
    )
    aware_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Assumption: share of payment-app users who know that purchases move "
        "their score and act on it.",
    )
    responsiveness: float = Field(
        0.5,
        ge=0,
        le=10,
        description="Assumption: relative change of a category's purchase rate per unit "
        "of score weight (weights as the policy publishes them, typically -1..1).",
    )
    floor: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Assumption: lowest multiplier; needs (and habits) keep some purchases.",
    )
    cap: float = Field(
        1.5,
        ge=1,
        le=10,
        description="Assumption: highest multiplier; budgets limit extra favoured buying.",
    )

    @model_validator(mode="after")
    def _floor_below_cap(self) -> PurchaseShiftingParams:
        if self.floor > self.cap:
            raise ValueError("floor must not exceed cap")
        return self


@register("behaviour", "purchase_shifting", PurchaseShiftingParams)
class PurchaseShifting:
    """Score-aware payment-app users shift purchases toward favoured categories."""

    def __init__(self, name: str, params: PurchaseShiftingParams) -> None:
        self.name, self.params = name, params
        self.aware = np.empty(0, dtype=np.int64)
        self._mult: dict[str, np.ndarray] = {}
        self._weights: dict[str, float] = {}

    def check_kinds(self, catalogue: Catalogue) -> None:
        """Every category must be one whose purchases sclab knows (``purchase_<category>``
        act kinds; one this scenario does not produce is fine: it never shifts).

        Raises:
            KindError: naming the parameter and the nearest valid name.
        """
        for i, category in enumerate(self.params.categories):
            problem = catalogue.unknown(f"purchase_{category}", "act")
            if problem:
                raise KindError(problem, ("categories", i))

    def setup(self, sim: Simulation) -> None:
        users = np.flatnonzero(sim.population.citizens.payment_app)
        rng = sim.rng(f"{self.name}/aware")
        self.aware = users[rng.random(len(users)) < self.params.aware_share]

    def target(self, weight: float) -> float:
        """Multiplier for an aware person on a category of score weight ``weight``."""
        p = self.params
        return float(np.clip(1.0 + p.responsiveness * weight, p.floor, p.cap))

    def step(self, sim: Simulation, day: int) -> None:
        weights = {c: float(w) for c, w in sim.view.scored_purchases.items()}
        if weights == self._weights:
            return
        self._weights = weights
        for category in self.params.categories:
            kind = f"purchase_{category}"
            value = self.target(weights.get(category, 0.0))
            mult = self._mult.get(kind)
            if mult is None:
                if value == 1.0:
                    continue
                mult = self._mult[kind] = set_propensity(sim, kind)
            update_propensity(sim, kind, np.float32(value), self.aware)

    def finish(self, sim: Simulation) -> None:
        pass
