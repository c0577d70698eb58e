"""Chilling effects: lawful critical posting falls when speech is scored or sanctions are seen.

Core objects:
    :class:`ChillingParams`: the size of the speech-scoring effect, of witnessing a
        sanction, the recovery rate and the shift toward "positive energy" posts.
    :class:`Chilling`: the ``("behaviour", "chilling")`` component.

Model. Büchi, Festic and Latzer (2022, "The chilling effects of digital dataveillance: a
theoretical model and an empirical research agenda", Big Data & Society 9(1),
doi:10.1177/20539517211065368) model how a sense of being watched raises the expected cost
of communicating and so lowers lawful communication. Its size is not measured for posting
under a social credit score; the one well-known estimate is of reading: Penney (2016,
Berkeley Technology Law Journal 31(1)) found views of privacy-sensitive Wikipedia articles
fell by about 20 % after the 2013 surveillance revelations. The defaults below borrow that
order of magnitude as assumptions. Two sources of chill combine multiplicatively:

* the policy scores speech (``SystemView.scores_speech``): everyone's chill
  ``c_s = speech_scoring_effect``, at once, while it lasts;
* a person saw a public sanction (``SystemView.visible_sanctions_today``): their exposure
  ``x`` grows, ``x <- 1 - (1 - x)(1 - own_sanction_effect)^a (1 - sanction_exposure_effect)^b``
  for a own sanctions and b sanctioned ties today, capped at ``max_sanction_chill``; it
  fades at ``recovery`` per day (applied every ``recover_every`` days to the exposed only).

The multiplier on ``post_critical`` is ``(1 - c_s)(1 - x)``; while speech is scored the one
on ``post_positive_energy`` is ``1 + positive_shift``. With a neutral view (no policy) no
array is created and every rate stays at its base: the multipliers are exactly 1.

Each act kind's multiplier is owned by this component: another behaviour component must not
also write ``post_critical`` or ``post_positive_energy``.

Cost model: per day O(s x mean degree) for s people sanctioned in view (a CSR gather),
O(e) every ``recover_every`` days for the e people still exposed (merging the newly
exposed, sorted runs disjoint from the set, into it, then fading them in blocks on the
cores), and one O(n) pass on the (rare) days when speech scoring is switched on or off.
Memory: 4 bytes per person for the exposure and 4 per kind for the multipliers, each
created on first need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sclab.arrays import union_positions, union_sorted
from sclab.engine.propensity import update_propensity
from sclab.engine.registry import register
from sclab.engine.ties import active_neighbours
from sclab.parallel import map_blocks

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

CRITICAL = "post_critical"
POSITIVE = "post_positive_energy"
# Exposure below this counts as recovered (set to 0, dropped from the exposed set).
_RECOVERED = 1e-3


class ChillingParams(BaseModel):
    """Parameters of the chilling behaviour."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    speech_scoring_effect: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Assumption inspired by Büchi et al. 2022 (chilling effects of "
        "dataveillance, Big Data & Society): share of lawful critical posts not made while "
        "speech is scored; 0.2 borrows the ~20 % drop in views of privacy-sensitive "
        "Wikipedia articles after 2013 (Penney 2016), a reading not a posting measure.",
    )
    own_sanction_effect: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Assumption: exposure added by being publicly sanctioned oneself.",
    )
    sanction_exposure_effect: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Assumption: exposure added by each tie seen publicly sanctioned today.",
    )
    max_sanction_chill: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Assumption: most of critical posting that exposure alone can stop.",
    )
    recovery: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Assumption: daily rate at which exposure fades (half-life ~70 days).",
    )
    recover_every: int = Field(
        7, ge=1, le=365, description="Days between recovery passes over the exposed (cost knob)."
    )
    positive_shift: float = Field(
        0.1,
        ge=0,
        le=10,
        description="Assumption: relative rise of 'positive energy' posting while speech is "
        "scored (people signal conformity; no published measurement).",
    )


@register("behaviour", "chilling", ChillingParams)
class Chilling:
    """Less lawful critical posting under speech scoring and after seeing sanctions."""

    def __init__(self, name: str, params: ChillingParams) -> None:
        self.name, self.params = name, params
        self.exposure: np.ndarray | None = None  # float32 per person, created on first need
        self.exposed = np.empty(0, dtype=np.int64)  # sorted people with exposure > 0...
        self._pending: list[np.ndarray] = []  # ...plus these, merged on recovery days
        self._critical: np.ndarray | None = None
        self._positive: np.ndarray | None = None
        self._speech = False

    def setup(self, sim: Simulation) -> None:
        pass

    def speech_chill(self) -> float:
        return self.params.speech_scoring_effect if self._speech else 0.0

    def step(self, sim: Simulation, day: int) -> None:
        touched = self._witness(sim)
        if day > 0 and day % self.params.recover_every == 0:
            touched = self._recover(touched)
        speech = bool(sim.view.scores_speech)
        if speech != self._speech:
            self._speech = speech
            self._set_speech(sim)
        elif len(touched) and self._critical is not None:
            update_propensity(sim, CRITICAL, self._critical_multiplier(touched), touched)

    def _witness(self, sim: Simulation) -> np.ndarray:
        """Raise the exposure of today's sanctioned people and their ties."""
        shown = sim.view.visible_sanctions_today
        p = self.params
        if not len(shown) or (p.own_sanction_effect == 0 and p.sanction_exposure_effect == 0):
            return np.empty(0, dtype=np.int64)
        people, own = np.unique(np.asarray(shown, dtype=np.int64), return_counts=True)
        saw = active_neighbours(sim, people)
        witnesses, ties = np.unique(saw, return_counts=True)
        touched, people_at, witnesses_at = union_positions(people, witnesses)
        stay = np.ones(len(touched), dtype=np.float64)
        stay[people_at] *= (1.0 - p.own_sanction_effect) ** own
        stay[witnesses_at] *= (1.0 - p.sanction_exposure_effect) ** ties
        if self.exposure is None:
            self.exposure = np.zeros(len(sim.population.citizens), dtype=np.float32)
        before = self.exposure.take(touched)
        x = 1.0 - (1.0 - before.astype(np.float64)) * stay
        self.exposure[touched] = after = np.minimum(x, p.max_sanction_chill).astype(np.float32)
        # The newly exposed, merged into `exposed` only when needed (weekly), so a day
        # stays O(touched). The others with exposure are in `exposed` or `_pending`
        # already, so the sets merged are disjoint and need no search for repeats.
        self._pending.append(touched[(before == 0) & (after > 0)])
        if self._critical is None:
            self._critical = update_propensity(sim, CRITICAL, np.float32(1.0 - self.speech_chill()))
        return touched

    def _merge_exposed(self) -> np.ndarray:
        if self._pending:
            # Sorted, disjoint runs: a stable sort (timsort) merges them in linear time.
            exposed = np.concatenate([self.exposed, *self._pending])
            exposed.sort(kind="stable")
            self.exposed = exposed
            self._pending = []
        return self.exposed

    def _recover(self, touched: np.ndarray) -> np.ndarray:
        """Fade the exposure of the exposed; return them with ``touched`` (today's
        witnesses): the people whose multiplier changes."""
        if self.exposure is None:
            return touched
        self._merge_exposed()  # also bounds the pending list when nothing fades
        if self.params.recovery == 0:
            return touched
        # Everyone touched with some exposure is among the exposed; only those still at
        # none need joining to them (a sort of millions otherwise).
        unexposed = touched[self.exposure.take(touched) == 0]
        fade = np.float32((1.0 - self.params.recovery) ** self.params.recover_every)
        who, exposure = self.exposed, self.exposure

        def fade_block(_: int, lo: int, hi: int) -> np.ndarray:
            # In blocks on the cores: by mid-year a third of everyone is exposed. The
            # exposed are distinct, so blocks touch distinct entries.
            people = who[lo:hi]
            x = exposure.take(people)
            x *= fade
            x[x < _RECOVERED] = 0.0
            exposure[people] = x
            return people[x > 0]

        parts = map_blocks(fade_block, len(who))
        self.exposed = np.concatenate(parts) if parts else who
        return union_sorted(unexposed, who) if len(unexposed) else who

    def _critical_multiplier(self, people: np.ndarray) -> np.ndarray | np.floating:
        x = self.exposure.take(people) if self.exposure is not None else np.float32(0.0)
        return np.float32(1.0 - self.speech_chill()) * (np.float32(1.0) - x)

    def _set_speech(self, sim: Simulation) -> None:
        """Speech scoring switched on or off: one O(n) refresh of both multipliers."""
        self._critical = update_propensity(sim, CRITICAL, np.float32(1.0 - self.speech_chill()))
        exposed = self._merge_exposed()
        if len(exposed):
            update_propensity(sim, CRITICAL, self._critical_multiplier(exposed), exposed)
        if self.params.positive_shift > 0 and (self._speech or self._positive is not None):
            shift = np.float32(1.0 + self.params.positive_shift * self._speech)
            self._positive = update_propensity(sim, POSITIVE, shift)

    def finish(self, sim: Simulation) -> None:
        pass
