"""Streets: busy intersections, the people crossing them, and jaywalking.

Core objects:
    :class:`Intersections`: the busy signalised intersections of the city (place ids are
        indices): district, daily pedestrian-volume weight, and whether a camera watches it.
    :class:`StreetsParams`: how many intersections, how busy, where cameras are, how often
        people cross and how often a crossing is a jaywalk.
    :class:`Streets`: the ``("sources", "streets")`` component. Besides the true
        ``jaywalk`` acts it keeps per-intersection counts of today's jaywalks and lawful
        crossings (:attr:`Streets.jaywalks_today`, :attr:`Streets.lawful_today`) for the
        camera sensors that build on it.
    :func:`streets_of`: find the streets component of a simulation (sensors use it to read
        the intersection table and today's counts).
    :func:`alias_tables`, :func:`land_alias`: which intersection of a district an event
        lands on, in O(1) per event (:func:`cumulative_weights`, :func:`land`: the same law
        by binary search).

The model:
    * Places: each district gets one busy intersection per ``residents_per_intersection``
      synthetic residents (at least one; per-district overrides). Counting synthetic rather
      than published residents keeps the pedestrian volume of an intersection realistic
      whatever the sample size. Each intersection's share of its district's crossings is a
      normalised lognormal draw (a few very busy ones); cameras go to the busiest first, at
      ``camera_share`` of a district's intersections (per-district overrides).
    * Crossings: person i crosses busy intersections as a Poisson process with a daily rate
      set by age band, commuting (working people) and rural residence; each crossing lands
      on an intersection of the person's own district with probability equal to its weight.
    * Jaywalking: each crossing is a jaywalk with probability ``s_i × propensity("jaywalk")``
      (clipped at 1), where ``s_i`` varies by age band and sex around ``jaywalk_share``
      (renormalised so the crossing-weighted population mean is ``jaywalk_share``). By
      Poisson splitting, person i's jaywalks per day are Poisson(rate_i × s_i × propensity)
      and independent of their lawful crossings, so jaywalks are drawn sparsely per rate
      class (thinned by propensity) while lawful crossings are only counted: Poisson per
      intersection from the district's expected lawful flow.
    * Per-person crossing totals (lawful + jaywalks) go to ``sim.aggregates`` as
      ``crossing``: jaywalks daily; lawful crossings when the aggregates are read (at the
      end of the run, or earlier if a component reads them), by splitting each district's
      realised total since the last such read over its people in proportion to their
      expected lawful crossings (multinomial; exactly the law of independent Poisson counts
      given their total), so person and intersection totals agree.

Nothing is written to the database here: a later component adds a places table.

Cost model: ``setup`` is O(n) (classes, district sums) plus O(intersections). A day costs
one Poisson draw per rate class (80 classes), O(k) for its k jaywalks (an alias-table pick
of the intersection; sorting them by person by marking, one n-byte scan) and one Poisson
draw per intersection. When a behaviour adjusts ``jaywalk``, the day adds
an O(n) maximum (the thinning bound) and an O(n) comparison with the multipliers last
seen, plus O(changed) to update the district lawful flows and the per-person lawful
expectations of the people whose multiplier changed (12 bytes per person once the
multiplier exists). Reading the ``crossing`` aggregate (or ``finish``) is O(n).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field, field_validator

from sclab.engine.registry import register
from sclab.population.citizens import OCCUPATIONS
from sclab.scenario.schema import OCCUPATIONS_WORKING
from sclab.world.base import SourceParams, ages, propensity
from sclab.world.resources import age_band, check_age_keys
from sclab.world.sampling import IdSorter, RateClasses, bound_of, multinomial_split, thin

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

JAYWALK = "jaywalk"
CROSSING = "crossing"

# Age bands (inclusive) for crossing and jaywalking rates; "60+" has no upper bound.
AGE_BANDS = ("0-5", "6-17", "18-29", "30-59", "60+")
_AGE_LOWER = np.array([0, 6, 18, 30, 60])
# Class axes: age band, male, urban, commuter, district has intersections.
_SHAPE = (len(AGE_BANDS), 2, 2, 2, 2)
_COMMUTING = tuple(k for k in OCCUPATIONS_WORKING if k != "unemployed")

_Count = Annotated[int, Field(ge=0, le=1_000_000)]
_Share = Annotated[float, Field(ge=0, le=1)]


@dataclass(frozen=True)
class Intersections:
    """Busy intersections; the place id of an intersection is its index.

    Ids are grouped by district in scenario order (district d owns ids
    ``first[d]:first[d + 1]``). ``intersections["district"]`` and
    ``intersections.district`` are the same array.
    """

    district: np.ndarray  # uint8, index into the scenario's districts
    has_camera: np.ndarray  # bool
    weight: np.ndarray  # float32, share of its district's crossings (sums to 1 per district)
    first: np.ndarray  # int64, per district the first place id (length districts + 1)

    def __len__(self) -> int:
        return int(self.district.shape[0])

    def __getitem__(self, field: str) -> np.ndarray:
        if field not in ("district", "has_camera", "weight"):
            raise KeyError(f"no intersection field '{field}'; have district, has_camera, weight")
        return getattr(self, field)

    @property
    def place_id(self) -> np.ndarray:
        return np.arange(len(self), dtype=np.int32)


class StreetsParams(SourceParams):
    """Intersections, cameras, crossing rates and jaywalking."""

    residents_per_intersection: float = Field(
        5000.0,
        ge=1,
        le=1e7,
        description="Assumption: one busy signalised intersection per 5,000 synthetic "
        "residents of a district (at least one per inhabited district).",
    )
    intersections_by_district: dict[int, _Count] = Field(
        default_factory=dict,
        description="Per-district override, GB/T 2260 code -> number of busy "
        "intersections (0: nobody there crosses one).",
    )
    weight_sigma: float = Field(
        1.0,
        ge=0,
        le=3,
        description="Assumption: log-sd of an intersection's pedestrian volume (lognormal): "
        "at 1.0 the busiest tenth carries about a third of the flow.",
    )
    camera_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Assumption: share of a district's intersections with a jaywalking "
        "camera, busiest first.",
    )
    camera_share_by_district: dict[int, _Share] = Field(
        default_factory=dict, description="Per-district override of camera_share (GB/T code)."
    )
    crossings_per_day: float = Field(
        1.0,
        ge=0,
        le=50,
        description="Assumption: busy-intersection crossings per day of an urban resident "
        "aged 30-59 who does not commute to work.",
    )
    crossing_age: dict[str, float] = Field(
        default_factory=lambda: {"0-5": 0.2, "6-17": 0.8, "18-29": 1.0, "30-59": 1.0, "60+": 0.6},
        description="Assumption: crossing-rate multiplier by age band (young children and "
        "the elderly go out less on busy roads); unnamed bands 1.",
    )
    commuter_multiplier: float = Field(
        1.5,
        ge=0,
        le=20,
        description="Assumption: working people (not unemployed) cross 1.5x as often.",
    )
    rural_multiplier: float = Field(
        0.3,
        ge=0,
        le=20,
        description="Assumption: rural residents cross busy intersections 0.3x as often.",
    )
    jaywalk_share: float = Field(
        0.1854,
        ge=0,
        le=1,
        description="Share of crossings against the red light: 18.54% of 31,649 "
        "pedestrians observed at five intersections in Changsha (Yan, Li, Zhang & Hu 2016, "
        "Accident Analysis & Prevention 95, doi:10.1016/j.aap.2015.06.006); within the "
        "10-30% range of other Chinese observational studies. Crossing-weighted mean over "
        "the population.",
    )
    jaywalk_age: dict[str, float] = Field(
        default_factory=lambda: {"0-5": 0.3, "6-17": 0.8, "18-29": 1.2, "30-59": 1.0, "60+": 1.1},
        description="Assumption: relative jaywalking by age band (small children are led "
        "by the hand; young adults and older people wait least); unnamed bands 1.",
    )
    jaywalk_male_multiplier: float = Field(
        1.3,
        ge=0,
        le=20,
        description="Assumption: men jaywalk 1.3x as often as women per crossing.",
    )

    @field_validator("crossing_age", "jaywalk_age")
    @classmethod
    def _age_keys(cls, v: dict[str, float]) -> dict[str, float]:
        return check_age_keys(v, AGE_BANDS)


def cumulative_weights(first: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per place, its district index plus the cumulative weight within the district.

    Each district's block ends exactly at district + 1 (whatever the rounding of the
    weights), so :func:`land` can never leave the block.

    Args:
        first: Per district the first place id, length districts + 1 (blocks may be empty).
        weight: Non-negative weight per place, positive sum in every non-empty block.
    """
    cum = np.empty(len(weight), np.float64)
    for d in range(len(first) - 1):
        lo, hi = int(first[d]), int(first[d + 1])
        if hi > lo:
            c = np.cumsum(np.asarray(weight[lo:hi], dtype=np.float64))
            c /= c[-1]
            c[-1] = 1.0
            cum[lo:hi] = d + c
    return cum


def land(cum: np.ndarray, district: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Place ids for events in ``district`` with uniforms ``u`` in [0, 1): weighted picks.

    The binary-search form (O(log places) per event); :class:`Streets` uses the O(1)
    :func:`land_alias`, which has the same law.

    Vectorised over all districts at once: the first place whose cumulative value exceeds
    d + u, which lies in d's block with probability equal to the place's weight.
    """
    d = district.astype(np.float64)
    # d + u can round up to d + 1 for u just below 1; stay strictly inside the block.
    x = np.minimum(d + u, np.nextafter(d + 1.0, 0.0))
    return np.searchsorted(cum, x, side="right").astype(np.int32)


def alias_tables(first: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker alias tables within each district block: per place, (keep, alias).

    With k places in a block, a pick is a uniform slot j of the block, kept with
    probability ``keep[j]`` or else replaced by ``alias[j]`` (a place id of the same block):
    place i comes out with probability weight[i] / (block sum). Built in O(places).

    Args:
        first: Per district the first place id, length districts + 1 (blocks may be empty).
        weight: Non-negative weight per place, positive sum in every non-empty block.
    """
    keep = np.ones(len(weight), np.float64)
    alias = np.arange(len(weight), dtype=np.int32)
    for d in range(len(first) - 1):
        lo, hi = int(first[d]), int(first[d + 1])
        if hi == lo:
            continue
        scaled = np.asarray(weight[lo:hi], dtype=np.float64)
        scaled = scaled * (hi - lo) / scaled.sum()
        small = [i for i in range(hi - lo) if scaled[i] < 1.0]
        large = [i for i in range(hi - lo) if scaled[i] >= 1.0]
        while small and large:  # Vose: fill each short slot from a long one
            s, g = small.pop(), large.pop()
            keep[lo + s], alias[lo + s] = scaled[s], lo + g
            scaled[g] -= 1.0 - scaled[s]
            (small if scaled[g] < 1.0 else large).append(g)
        # Left-overs are full slots up to rounding: keep them.
    return keep, alias


def land_alias(
    first: np.ndarray, keep: np.ndarray, alias: np.ndarray, district: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Place ids for events in ``district`` with uniforms ``u`` in [0, 1): weighted picks.

    Same law as :func:`land` (weights of the district's block), by :func:`alias_tables`
    in O(1) per event: ``u × k`` gives the slot (integer part) and the keep draw
    (fractional part).
    """
    d = np.asarray(district, dtype=np.intp)
    k = np.diff(first)[d]
    x = u * k
    j = np.minimum(x.astype(np.int64), k - 1)  # u × k may round up to k
    slot = first[d] + j
    return np.where(x - j < keep[slot], slot, alias[slot]).astype(np.int32)


def streets_of(sim: Simulation) -> Streets:
    """The simulation's streets component (the first, if several); LookupError if none.

    Sensors call it in ``setup`` to read :attr:`Streets.intersections` and, each day after
    the sources stage, :attr:`Streets.jaywalks_today` and :attr:`Streets.lawful_today`.
    """
    for _, component in sim.components:
        if isinstance(component, Streets):
            return component
    raise LookupError("no streets source in this scenario; add `- use: streets` to sources")


@register("sources", "streets", StreetsParams)
class Streets:
    """Pedestrians crossing busy intersections, some against the red light (jaywalk acts).

    Acts: kind ``jaywalk``, actor = person, extra ``place_id`` (int32 intersection id),
    ``district`` (uint8) and ``camera`` (bool: that intersection has a camera).

    Attributes:
        intersections: The intersection table (:class:`Intersections`).
        jaywalks_today: int32 per intersection, today's jaywalks.
        lawful_today: int32 per intersection, today's crossings on green.
        jaywalks_total, lawful_total: int64 per intersection, over the run so far.
        crossing_rate: Per person class, crossings per day (see :data:`AGE_BANDS`).
        jaywalk_prob: Per person class, the share of crossings that are jaywalks (before
            propensity).
    """

    def __init__(self, name: str, params: StreetsParams) -> None:
        self.name, self.params = name, params

    # ----------------------------------------------------------------- setup
    def setup(self, sim: Simulation) -> None:
        c = sim.population.citizens
        n_districts = len(sim.scenario.geography.districts)
        self._n_districts = n_districts
        self.intersections = self._places(sim)
        has_places = np.diff(self.intersections.first) > 0
        k = len(self.intersections)
        self._keep, self._alias = alias_tables(self.intersections.first, self.intersections.weight)
        self._sort = IdSorter(len(c))
        self._district_of_place = self.intersections.district.astype(np.int64)

        age = ages(sim)
        commuter = np.isin(c.occupation, [OCCUPATIONS.index(o) for o in _COMMUTING])
        class_of = np.ravel_multi_index(
            (age_band(age, _AGE_LOWER), c.male.astype(np.int64), c.urban.astype(np.int64),
             commuter.astype(np.int64), has_places[c.district].astype(np.int64)),
            _SHAPE,
        )  # fmt: skip
        self.classes = RateClasses.of(class_of, int(np.prod(_SHAPE)))
        self._class_of = class_of.astype(np.uint8)
        self.crossing_rate, self.jaywalk_prob = self._class_rates()

        cross_p = self.crossing_rate[class_of]
        jay_p = cross_p * self.jaywalk_prob[class_of]
        self._jaywalk_rate = self.crossing_rate * self.jaywalk_prob
        self._lawful_by_district = np.bincount(
            c.district, weights=cross_p - jay_p, minlength=n_districts
        )
        self._district = c.district
        # Exposure of the lawful crossings since the last settle: days without a multiplier,
        # and (once a multiplier exists) per-person sums kept by _track.
        self._base_days = 0
        self._track: dict[str, np.ndarray] | None = None
        self._prop_days = 0
        self._lawful_run_by_district = np.zeros(n_districts, np.int64)
        self._settled = 0
        sim.aggregates.defer([CROSSING], partial(self._settle, sim))

        self.jaywalks_today = np.zeros(k, np.int32)
        self.lawful_today = np.zeros(k, np.int32)
        self.jaywalks_total = np.zeros(k, np.int64)
        self.lawful_total = np.zeros(k, np.int64)

    def _places(self, sim: Simulation) -> Intersections:
        p = self.params
        districts = sim.scenario.geography.districts
        codes = [d.code for d in districts]
        for label, overrides in (
            ("intersections_by_district", p.intersections_by_district),
            ("camera_share_by_district", p.camera_share_by_district),
        ):
            unknown = sorted(set(overrides) - set(codes))
            if unknown:
                raise ValueError(
                    f"{self.name}: {label} names districts {unknown} not in the scenario "
                    f"(have {', '.join(map(str, codes))})"
                )
        residents = np.bincount(sim.population.citizens.district, minlength=len(districts))
        rng = sim.rng(f"{self.name}/places")
        parts_d, parts_cam, parts_w, counts = [], [], [], []
        for d, code in enumerate(codes):
            if code in p.intersections_by_district:
                k = p.intersections_by_district[code]
            elif residents[d] > 0:
                k = max(1, round(residents[d] / p.residents_per_intersection))
            else:
                k = 0
            volume = rng.lognormal(0.0, p.weight_sigma, k)
            weight = volume / volume.sum() if k else volume
            share = p.camera_share_by_district.get(code, p.camera_share)
            cameras = np.zeros(k, dtype=bool)
            cameras[np.argsort(-weight, kind="stable")[: round(share * k)]] = True
            parts_d.append(np.full(k, d, np.uint8))
            parts_cam.append(cameras)
            parts_w.append(weight.astype(np.float32))
            counts.append(k)
        return Intersections(
            district=np.concatenate(parts_d),
            has_camera=np.concatenate(parts_cam),
            weight=np.concatenate(parts_w),
            first=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        )

    def _class_rates(self) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        band, male, urban, commuter, has_places = np.unravel_index(
            np.arange(self.classes.n_classes), _SHAPE
        )
        cross_age = np.array([p.crossing_age.get(b, 1.0) for b in AGE_BANDS])
        cross = (
            p.crossings_per_day
            * p.rate_multiplier
            * cross_age[band]
            * np.where(commuter == 1, p.commuter_multiplier, 1.0)
            * np.where(urban == 1, 1.0, p.rural_multiplier)
            * (has_places == 1)
        )
        jay_age = np.array([p.jaywalk_age.get(b, 1.0) for b in AGE_BANDS])
        relative = jay_age[band] * np.where(male == 1, p.jaywalk_male_multiplier, 1.0)
        flow = self.classes.size * cross
        norm = float((flow * relative).sum() / flow.sum()) if flow.sum() > 0 else 0.0
        share = np.clip(p.jaywalk_share * relative / norm, 0.0, 1.0) if norm > 0 else 0 * cross
        return cross, share

    # ------------------------------------------------------------------ step
    def step(self, sim: Simulation, day: int) -> None:
        rng = sim.rng(self.name, day)
        c = sim.population.citizens
        mult = propensity(sim, JAYWALK)
        if mult is None:
            who, _ = self.classes.events(rng, self._jaywalk_rate)
            lawful_by_district = self._lawful_by_district
            self._base_days += 1
        else:
            who, lawful_by_district = self._draw_with_propensity(rng, mult)

        who = self._sort(who)
        district = c.district[who]
        first = self.intersections.first
        place = land_alias(first, self._keep, self._alias, district, rng.random(len(who)))
        sim.acts.add(
            day, self.name, JAYWALK, who,
            place_id=place, district=district.astype(np.uint8),
            camera=self.intersections.has_camera[place],
        )  # fmt: skip
        sim.aggregates.add(CROSSING, who)

        k = len(self.intersections)
        self.jaywalks_today = np.bincount(place, minlength=k).astype(np.int32)
        flow = self.intersections.weight * lawful_by_district[self._district_of_place]
        self.lawful_today = rng.poisson(flow).astype(np.int32)
        self.jaywalks_total += self.jaywalks_today
        self.lawful_total += self.lawful_today
        self._lawful_run_by_district += np.bincount(
            self._district_of_place, weights=self.lawful_today, minlength=self._n_districts
        ).astype(np.int64)

    def _draw_with_propensity(
        self, rng: np.random.Generator, mult: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Jaywalkers when a behaviour scales the per-crossing share, and the lawful flow."""
        bound = bound_of(mult)
        eff = np.minimum(1.0, self.jaywalk_prob * bound)
        cand, cls = self.classes.events(rng, self.crossing_rate * eff)
        accept = np.minimum(1.0, self.jaywalk_prob[cls] * mult[cand]) / np.maximum(eff[cls], 1e-300)
        who, _ = thin(rng, cand, accept)
        return who, self._lawful_flow(mult)

    def _lawful(self, people: np.ndarray, mult: np.ndarray | float) -> np.ndarray:
        """Expected lawful crossings a day of ``people`` at multiplier ``mult``."""
        cls = self._class_of[people]
        jay = np.minimum(1.0, self.jaywalk_prob[cls] * mult)
        return self.crossing_rate[cls] * (1.0 - jay)

    def _lawful_flow(self, mult: np.ndarray) -> np.ndarray:
        """Today's expected lawful crossings per district, updated where ``mult`` changed.

        Keeps, per person, the multiplier last seen, the multiplier-day it was first seen
        and the expected lawful crossings accrued before that, so a day costs one O(n)
        comparison plus O(people whose multiplier changed), not a pass of arithmetic over
        everyone.
        """
        t = self._track
        if t is None:
            n = len(mult)
            t = self._track = {
                "seen": np.ones(n, np.float32),
                "since": np.zeros(n, np.int32),
                "acc": np.zeros(n, np.float32),
                "flow": self._lawful_by_district.astype(np.float64),
            }
        changed = np.flatnonzero(mult != t["seen"])
        if len(changed):
            old = self._lawful(changed, t["seen"][changed])
            new = self._lawful(changed, mult[changed])
            t["acc"][changed] += old * (self._prop_days - t["since"][changed])
            t["since"][changed] = self._prop_days
            t["seen"][changed] = mult[changed]
            t["flow"] += np.bincount(
                self._district[changed], weights=new - old, minlength=self._n_districts
            )
        self._prop_days += 1
        return np.maximum(t["flow"], 0.0)  # increments may round a zero flow below 0

    @property
    def crossings_today(self) -> np.ndarray:
        """int32 per intersection: all of today's crossings (lawful + jaywalks)."""
        return self.lawful_today + self.jaywalks_today

    # ---------------------------------------------------------------- finish
    def _expected_lawful(self, n: int) -> np.ndarray:
        """Per person, expected lawful crossings since the last settle; resets them."""
        expected = self._lawful(np.arange(n), 1.0) * float(self._base_days)
        t = self._track
        if t is not None:
            everyone = np.arange(n)
            t["acc"] += self._lawful(everyone, t["seen"]) * (self._prop_days - t["since"])
            expected += t["acc"]
            t["acc"][:] = 0.0
            t["since"][:] = 0
            self._prop_days = 0
        self._base_days = 0
        return expected

    def _settle(self, sim: Simulation) -> None:
        """Split each district's lawful crossings since the last settle over its people.

        Given a district's total, independent Poisson counts are multinomial in proportion
        to their expectations: the person totals have the law of daily draws and add up to
        the intersection totals.
        """
        if self._base_days == 0 and self._prop_days == 0:
            return
        c = sim.population.citizens
        expected = self._expected_lawful(len(c))
        lawful = np.zeros(len(c), np.int64)
        order = np.argsort(c.district, kind="stable")
        bounds = np.concatenate(
            [[0], np.cumsum(np.bincount(c.district, minlength=self._n_districts))]
        )
        rng = sim.rng(f"{self.name}/crossers", partition=self._settled)
        self._settled += 1
        for d in range(self._n_districts):
            total = int(self._lawful_run_by_district[d])
            people = order[bounds[d] : bounds[d + 1]]
            w = expected[people]
            if total == 0 or w.sum() <= 0:
                continue
            lawful[people] = multinomial_split(rng, total, w)
        self._lawful_run_by_district[:] = 0
        if lawful.any():
            sim.aggregates.add_counts(CROSSING, lawful)

    def finish(self, sim: Simulation) -> None:
        """Settle the lawful crossings still pending into ``crossing`` (reading would too)."""
        self._settle(sim)
