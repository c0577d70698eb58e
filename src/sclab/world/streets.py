"""Streets: busy intersections, the people crossing them, and jaywalking.

Core objects:
    :class:`Intersections`: the busy signalised intersections of the city (place ids are
        indices): district, daily pedestrian-volume weight, and whether a camera watches it.
    :class:`StreetsParams`: how many intersections, how busy, where cameras are, how often
        people cross and how often a crossing is a jaywalk.
    :class:`Streets`: the ``("sources", "streets")`` component. It keeps per-intersection
        counts of today's jaywalks and lawful crossings (:attr:`Streets.jaywalks_today`,
        :attr:`Streets.lawful_today`), per-person totals in the aggregates, and adds as
        ``jaywalk`` acts only the jaywalks a camera captures. Sensors see the
        intersections through the engine's contract, not this class: in ``setup`` the
        streets publish them as the :class:`~sclab.engine.places.WatchedPlaces` of
        ``jaywalk`` acts (``sim.places``: district and camera per intersection, today's
        jaywalks per intersection, the capture a sensor registers with ``watch``, and
        what a random jaywalker at a camera looks like).
    :func:`alias_tables`, :func:`land_alias`: which intersection of a district an event
        lands on, in O(1) per event.

The model:
    * Places: each district gets one busy intersection per ``residents_per_intersection``
      synthetic residents (at least one; per-district overrides). Counting synthetic rather
      than published residents keeps the pedestrian volume of an intersection realistic
      whatever the sample size. Each intersection's share of its district's crossings is a
      normalised lognormal draw (a few very busy ones); cameras go to the busiest first, at
      ``camera_share`` of a district's intersections (per-district overrides).
    * Crossings: person i crosses busy intersections as a Poisson process with a daily rate
      set by age band, commuting (working people) and rural residence; each crossing lands
      on intersection j of the person's own district with probability w_j, its weight.
    * Jaywalking: each crossing is a jaywalk with probability ``s_i × m_i`` (clipped at 1),
      ``m_i = propensity("jaywalk")`` (1 while no behaviour adjusts it) and ``s_i`` varying
      by age band and sex around ``jaywalk_share`` (renormalised so the crossing-weighted
      population mean is ``jaywalk_share``). By Poisson splitting, person i's jaywalks per
      day are Poisson(rate_i × s_i × m_i), independent of their lawful crossings.
    * What is drawn one by one (Poisson splitting again): a camera watcher (a sensor
      calls :meth:`~sclab.engine.places.WatchedPlaces.watch` on the published places with
      its capture probability c) only ever sees
      the jaywalks at camera intersections that it captures. Those are Poisson(rate_i ×
      s_i × m_i × W_cam(d_i) × c), W_cam(d) the summed weight of district d's camera
      intersections, each on a camera intersection of the district in proportion to its
      weight: they alone are drawn as per-person ``jaywalk`` acts, sparsely per rate class
      (age band, sex, residence, commuting, district; thinned by the multiplier). Every
      other jaywalk (uncaptured, or at intersections without a camera) is an independent
      Poisson process that is only counted: per intersection, Poisson from the expected
      flow (w_j × the district's expected jaywalks, times 1 - c at camera intersections),
      and added to ``sim.acts`` totals with :meth:`~sclab.engine.acts.ActLog.tally`.
      Without a watcher no jaywalk is an act; with ``record_every_event`` every jaywalk is
      one (the watcher then draws its captures from them, as before).
    * Lawful crossings are only counted: Poisson per intersection from the district's
      expected lawful flow.
    * Per-person totals go to ``sim.aggregates``: ``crossing`` (lawful crossings plus
      jaywalks) and ``jaywalk`` (all jaywalks: the per-person truth behind the cameras'
      identifications, for audits of who jaywalks against who is named). Jaywalk acts are
      added daily; the counted jaywalks and lawful crossings when the aggregates are read
      (at the end of the run, or earlier if a component reads them), by splitting each
      district's realised total since the last read over its people in proportion to
      their expected counts (multinomial: exactly the law of independent Poisson counts
      given their total; the share 1 - W_cam(d) × c left uncaptured is the same for
      everyone in a district), so person and intersection totals agree.

Nothing is written to the database here: a later component adds a places table.

Cost model: ``setup`` is O(n) (classes by a radix sort, district sums) plus
O(intersections). A day costs one Poisson draw per rate class (80 per district), O(k)
for its k jaywalk acts (k: the few captured jaywalks; every jaywalk with
``record_every_event``), and two Poisson draws per intersection: nothing per person.
While a behaviour adjusts ``jaywalk``, a day adds O(written): the multipliers change only
through ``State.write``, whose watcher notes the people written, and those whose
multiplier differs from the one last seen update the district flows, the thinning bound
(a running maximum, recomputed exactly when many multipliers changed) and their
per-person expectations (12 bytes per person once the multiplier exists; a whole-array
write costs one O(n) comparison the next day); a day on which more than an
eighth of the multipliers changed (a behaviour's periodic refresh) does that in a few
dense float32 O(n) passes instead (about 5 ms per million people). Reading the
aggregates (or ``finish``) is O(n): two multinomial splits per district, one Poisson draw
per person each (plus a sort by district if people are not stored in district order).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field, field_validator

from sclab.arrays import union_sorted
from sclab.engine.ages import ages
from sclab.engine.catalogue import Kind
from sclab.engine.places import WatchedPlaces
from sclab.engine.propensity import propensity, propensity_key
from sclab.engine.registry import register
from sclab.parallel import parallel_map
from sclab.population.citizens import OCCUPATIONS
from sclab.scenario.schema import OCCUPATIONS_WORKING
from sclab.world.base import SourceParams
from sclab.world.resources import age_band, check_age_keys
from sclab.world.sampling import IdSorter, RateClasses, multinomial_split, thin

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

JAYWALK = "jaywalk"
CROSSING = "crossing"
#: Crossing against the light breaks the Road Traffic Safety Law (2011), art. 62. Every
#: jaywalk is counted per person, and those a watcher captures (or all, with
#: record_every_event) are also single acts; crossings are only counted.
STREET_KINDS = (
    Kind.act(JAYWALK, "traffic", False, "crossing a road against the signal at an "
             "intersection with lights", kept="both"),
    Kind.act(CROSSING, "traffic", True, "crossing a busy signalised intersection on foot "
             "(its totals include the jaywalks)", kept="totals"),
)  # fmt: skip

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

    Each place of the district's block comes out with its weight's share, by
    :func:`alias_tables` in O(1) per event: ``u × k`` gives the slot (integer part) and
    the keep draw (fractional part).
    """
    d = np.asarray(district, dtype=np.intp)
    k = np.diff(first)[d]
    x = u * k
    j = np.minimum(x.astype(np.int64), k - 1)  # u × k may round up to k
    slot = first[d] + j
    return np.where(x - j < keep[slot], slot, alias[slot]).astype(np.int32)


# What the jaywalk acts of a day are: none (all counted), the captured ones, or all.
_TOTALS, _CAPTURED, _EVERY = "totals", "captured", "every"


@register("sources", "streets", StreetsParams)
class Streets:
    """Pedestrians crossing busy intersections, some against the red light (jaywalk acts).

    Acts: kind ``jaywalk``, actor = person, extra ``place_id`` (int32 intersection id),
    ``district`` (uint8) and ``camera`` (bool: that intersection has a camera). Which
    jaywalks are acts: none until a sensor watches the published places
    (:attr:`watched_places`); then exactly the jaywalks its cameras capture (all at camera
    intersections); with ``record_every_event``, every jaywalk. The others are counted
    (per intersection, per person in the aggregates, and in ``sim.acts.totals`` through
    ``tally``).

    Aggregates (person): ``crossing`` (lawful crossings plus jaywalks) and ``jaywalk``.

    Attributes:
        intersections: The intersection table (:class:`Intersections`).
        watched_places: The intersections as published to sensors in ``sim.places``
            (:class:`~sclab.engine.places.WatchedPlaces` of ``jaywalk`` acts; its
            ``today`` is :attr:`jaywalks_today`).
        jaywalks_today: int32 per intersection, today's jaywalks (acts and counted ones).
        lawful_today: int32 per intersection, today's crossings on green.
        jaywalks_total, lawful_total: int64 per intersection, over the run so far.
        crossing_rate: Per person class, crossings per day (see :data:`AGE_BANDS`).
        jaywalk_prob: Per person class, the share of crossings that are jaywalks (before
            propensity).
        capture: The watcher's capture probability (None: nobody watches).
        camera_weight: Per district, W_cam: the summed weight of its camera intersections.
    """

    def __init__(self, name: str, params: StreetsParams) -> None:
        self.name, self.params = name, params
        self.capture: float | None = None
        self._mode = _EVERY if params.record_every_event else _TOTALS
        self._stepped = False

    # ----------------------------------------------------------------- setup
    def kinds(self) -> tuple[Kind, ...]:
        """Act kinds this source may write."""
        return STREET_KINDS

    def setup(self, sim: Simulation) -> None:
        c = sim.population.citizens
        n_districts = len(sim.scenario.geography.districts)
        self._n_districts = n_districts
        self.intersections = places = self._places(sim)
        has_places = np.diff(places.first) > 0
        k = len(places)
        self._keep, self._alias = alias_tables(places.first, places.weight)
        self._weight = places.weight.astype(np.float64)
        self._district_of_place = places.district.astype(np.int64)
        # Camera intersections as blocks of their own (ids are grouped by district), for
        # landing the captured jaywalks on cameras only.
        self._cam_ids = np.flatnonzero(places.has_camera).astype(np.int32)
        cam_count = np.bincount(places.district[self._cam_ids], minlength=n_districts)
        self._cam_first = np.concatenate([[0], np.cumsum(cam_count)]).astype(np.int64)
        self._cam_keep, self._cam_alias = alias_tables(
            self._cam_first, places.weight[self._cam_ids]
        )
        self.camera_weight = np.minimum(
            1.0,
            np.bincount(
                places.district[self._cam_ids],
                weights=self._weight[self._cam_ids],
                minlength=n_districts,
            ),
        )
        self._sort = IdSorter(len(c))

        age = ages(sim)
        commuter = np.isin(c.occupation, [OCCUPATIONS.index(o) for o in _COMMUTING])
        class_of = np.ravel_multi_index(
            (age_band(age, _AGE_LOWER), c.male.astype(np.int64), c.urban.astype(np.int64),
             commuter.astype(np.int64), has_places[c.district].astype(np.int64)),
            _SHAPE,
        )  # fmt: skip
        self._class_of = class_of.astype(np.uint8)
        n_classes = int(np.prod(_SHAPE))
        # Rate classes split by district too, since W_cam varies by district. The key
        # fits 16 bits (80 classes x at most 256 districts: district ids are uint8), so
        # the stable sort is a radix sort, O(n).
        n_keys = n_classes * n_districts
        key = self._class_of.astype(np.uint16) * np.uint16(n_districts) + c.district
        self.classes = RateClasses.of(key.astype(np.uint16, copy=False), n_keys)
        del key
        self._key_class = np.arange(n_keys) // n_districts
        self._key_district = np.arange(n_keys) % n_districts

        # People per class (without districts): the jaywalk shares are normalised by them.
        self._class_size = np.bincount(class_of, minlength=n_classes)
        self.crossing_rate, self.jaywalk_prob = self._class_rates()
        self._jay_rate_at_1 = self.crossing_rate * self.jaywalk_prob
        self._cross32 = self.crossing_rate.astype(np.float32)
        self._share32 = self.jaywalk_prob.astype(np.float32)
        self._jay32 = self._jay_rate_at_1.astype(np.float32)
        self._share_max = float(self.jaywalk_prob.max()) if len(self.jaywalk_prob) else 0.0
        cross_p = self.crossing_rate[class_of]
        self._cross_by_district = np.bincount(c.district, weights=cross_p, minlength=n_districts)
        self._jay_by_district = np.bincount(
            c.district, weights=self._jay_rate_at_1[class_of], minlength=n_districts
        )
        self._district = c.district
        # The population is built district by district: contiguous blocks make district
        # sums and the settle's split cheap (checked, with a fallback).
        in_order = len(c) == 0 or bool(np.all(c.district[1:] >= c.district[:-1]))
        self._district_bounds = (
            np.concatenate([[0], np.cumsum(np.bincount(c.district, minlength=n_districts))])
            if in_order
            else None
        )
        self._key_share = self.jaywalk_prob[self._key_class]
        self._set_mode(self._mode)

        # Exposure since the last settle: days without a multiplier, and (once a
        # multiplier exists) per-person sums kept by _follow.
        self._base_days = 0
        self._track: dict[str, np.ndarray] | None = None
        # The people whose jaywalk multiplier was written since the last day (None: a
        # whole-array write). Multipliers change only through State.write, so following
        # the writes finds the changes in O(people written), not a daily O(n) comparison.
        self._written: list[np.ndarray] | None = []
        sim.state.watch(propensity_key(JAYWALK), self._multiplier_written)
        self._bound = 1.0
        self._prop_days = 0
        self._lawful_run_by_district = np.zeros(n_districts, np.int64)
        self._counted_run_by_district = np.zeros(n_districts, np.int64)
        self._settled = 0
        sim.aggregates.defer([CROSSING, JAYWALK], partial(self._settle, sim))

        self.jaywalks_today = np.zeros(k, np.int32)
        self.lawful_today = np.zeros(k, np.int32)
        self.jaywalks_total = np.zeros(k, np.int64)
        self.lawful_total = np.zeros(k, np.int64)
        # What sensors see of the streets (sources set up before sensors, which watch it).
        self.watched_places = WatchedPlaces(
            JAYWALK, self.name, places.district, places.has_camera,
            on_watch=self._watched, draw_like_watched=partial(self.camera_jaywalkers, sim),
        )  # fmt: skip
        sim.places.publish(self.watched_places)

    def _watched(self, capture: float) -> bool:
        """A sensor watches the camera intersections, capturing each jaywalk w.p. ``capture``.

        Called through :meth:`~sclab.engine.places.WatchedPlaces.watch` in the sensor's
        ``setup``. From then on the jaywalk acts are exactly the captured jaywalks (returns
        True: the watcher must not thin them again), or, with ``record_every_event``,
        every jaywalk (returns False: the watcher captures from them itself). Only one
        watcher can share the captured acts; more need ``record_every_event``.
        """
        if self._stepped:
            raise RuntimeError(f"{self.name}: watch() must be called in setup, before day 0")
        if self._mode == _EVERY:
            return False
        if self._mode == _CAPTURED:
            raise ValueError(
                f"{self.name}: already watched (capture {self.capture}); with several camera "
                "sensors set record_every_event on the streets source"
            )
        self.capture = float(capture)
        self._set_mode(_CAPTURED)
        return True

    @property
    def acts_are_captured(self) -> bool:
        """Whether today's jaywalk acts are exactly the captured ones (see :meth:`_watched`)."""
        return self._mode == _CAPTURED

    def _set_mode(self, mode: str) -> None:
        """Per rate class, the daily rate of jaywalk acts at share 1; per intersection, the
        share of its expected jaywalks that is only counted."""
        cross = self.crossing_rate[self._key_class]
        cam = self.intersections.has_camera
        if mode == _EVERY:
            self._act_rate: np.ndarray | None = cross
            self._counted_share = np.zeros(len(cam))
        elif mode == _CAPTURED:
            assert self.capture is not None
            self._act_rate = cross * self.camera_weight[self._key_district] * self.capture
            self._counted_share = 1.0 - self.capture * cam
        else:
            self._act_rate = None
            self._counted_share = np.ones(len(cam))
        self._mode = mode

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
            np.arange(len(self._class_size)), _SHAPE
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
        flow = self._class_size * cross
        norm = float((flow * relative).sum() / flow.sum()) if flow.sum() > 0 else 0.0
        share = np.clip(p.jaywalk_share * relative / norm, 0.0, 1.0) if norm > 0 else 0 * cross
        return cross, share

    # ------------------------------------------------------------------ step
    def step(self, sim: Simulation, day: int) -> None:
        self._stepped = True
        rng = sim.rng(self.name, day)
        mult = propensity(sim, JAYWALK)
        if mult is None:
            jay_flow = self._jay_by_district
            self._base_days += 1
        else:
            jay_flow = self._follow(mult)

        place = self._draw_acts(sim, rng, day, mult)
        k = len(self.intersections)
        dp = self._district_of_place
        jaywalks = np.bincount(place, minlength=k)
        if self._mode != _EVERY:
            counted = rng.poisson(self._weight * jay_flow[dp] * self._counted_share)
            jaywalks += counted
            n_counted = int(counted.sum())
            sim.acts.tally(JAYWALK, n_counted)
            if n_counted:
                self._counted_run_by_district += np.bincount(
                    dp, weights=counted, minlength=self._n_districts
                ).astype(np.int64)
        self.jaywalks_today = jaywalks.astype(np.int32)
        self.watched_places.today = self.jaywalks_today
        lawful_flow = np.maximum(self._cross_by_district - jay_flow, 0.0)
        self.lawful_today = rng.poisson(self._weight * lawful_flow[dp]).astype(np.int32)
        self.jaywalks_total += self.jaywalks_today
        self.lawful_total += self.lawful_today
        self._lawful_run_by_district += np.bincount(
            dp, weights=self.lawful_today, minlength=self._n_districts
        ).astype(np.int64)

    def _draw_acts(
        self, sim: Simulation, rng: np.random.Generator, day: int, mult: np.ndarray | None
    ) -> np.ndarray:
        """Today's jaywalk acts (added to the act log and aggregates); returns their places."""
        if self._act_rate is None:
            return np.empty(0, np.int32)
        share = self._key_share
        if mult is None:
            who, _ = self.classes.events(rng, self._act_rate * share)
        else:
            # Thinning from the bound: class rate at min(1, s × bound), each candidate kept
            # with min(1, s × m_i) / min(1, s × bound).
            eff = np.minimum(1.0, share * self._bound)
            cand, cls = self.classes.events(rng, self._act_rate * eff)
            accept = np.minimum(1.0, share[cls] * mult[cand]) / np.maximum(eff[cls], 1e-300)
            who, _ = thin(rng, cand, accept)
        who = self._sort(who)
        district = self._district[who]
        u = rng.random(len(who))
        if self._mode == _EVERY:
            place = land_alias(self.intersections.first, self._keep, self._alias, district, u)
        else:
            slot = land_alias(self._cam_first, self._cam_keep, self._cam_alias, district, u)
            place = self._cam_ids[slot]
        sim.acts.add(
            day, self.name, JAYWALK, who,
            place_id=place, district=district.astype(np.uint8),
            camera=self.intersections.has_camera[place],
        )  # fmt: skip
        sim.aggregates.add(CROSSING, who)
        sim.aggregates.add(JAYWALK, who)
        return place

    def _jay_rate(self, cls: np.ndarray, mult: np.ndarray | float) -> np.ndarray:
        """Expected jaywalks a day of people of classes ``cls`` at multiplier ``mult``."""
        return self.crossing_rate[cls] * np.minimum(1.0, self.jaywalk_prob[cls] * mult)

    def _jay_rate_everyone(self, mult: np.ndarray, top: float) -> np.ndarray:
        """float32 :meth:`_jay_rate` of everyone; ``top`` bounds ``mult``.

        While no share can reach 1 (share x top <= 1) the rate is linear in the
        multiplier: one gather. Gathers index with the 8-bit classes directly: ``np.take``
        would first convert them to a fresh 8-byte-per-person index, whose first touch
        costs more than the gather (about 0.1 s at 9.3M people).
        """
        if self._share_max * top <= 1.0:
            rate = self._jay32[self._class_of]
            rate *= mult
            return rate
        rate = self._share32[self._class_of]
        rate *= mult
        np.minimum(rate, np.float32(1.0), out=rate)
        rate *= self._cross32[self._class_of]
        return rate

    def _multiplier_written(
        self, mult: np.ndarray, people: np.ndarray | None, old: np.ndarray
    ) -> None:
        """State watcher of the jaywalk multiplier: note whom a write touched."""
        if people is None or self._written is None:
            self._written = None  # everyone: compared in full on the next day
        else:
            self._written.append(np.array(people, dtype=np.int64))  # the caller may reuse it

    def _changed_since_seen(self, mult: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """The people (sorted) whose multiplier differs from the one last seen: among those
        written since the last day, or everyone after a whole-array write."""
        written, self._written = self._written, []
        if written is None:
            return np.flatnonzero(mult != seen)
        if not written:
            return np.empty(0, np.int64)
        people = union_sorted(*written)  # a merge of sorted runs: np.unique hashes, 70x slower
        return people[mult[people] != seen[people]]

    def _follow(self, mult: np.ndarray) -> np.ndarray:
        """Today's expected jaywalks per district, updated where ``mult`` changed.

        Keeps, per person, the multiplier last seen, the multiplier-day it was first seen
        and the expected jaywalks accrued before that, so a day costs O(people whose
        multiplier was written), not a pass over everyone. Also keeps the thinning bound:
        a running maximum of the multipliers seen (any bound at least the maximum is
        exact), recomputed when many changed.
        """
        t = self._track
        n = len(mult)
        if t is None:
            # The first day with a multiplier: start from it (nothing accrued at it yet).
            t = self._track = {
                "seen": np.array(mult, dtype=np.float32),
                "since": np.zeros(n, np.int32),
                "acc": np.zeros(n, np.float32),
            }
            self._written = []  # everything written so far is in ``seen``
            self._bound = float(t["seen"].max()) if n else 0.0
            t["flow"] = self._district_sums(self._jay_rate_everyone(t["seen"], self._bound))
            self._prop_days += 1
            return np.clip(t["flow"], 0.0, self._cross_by_district)
        changed = self._changed_since_seen(mult, t["seen"])
        n_changed = len(changed)
        days = self._prop_days
        if n_changed * 8 > n:
            self._refresh(mult)
        elif n_changed:
            cls = self._class_of[changed]
            seen = t["seen"][changed]
            now = mult[changed]
            old = self._jay_rate(cls, seen)
            new = self._jay_rate(cls, now)
            t["acc"][changed] += old * (days - t["since"][changed])
            t["since"][changed] = days
            t["seen"][changed] = now
            t["flow"] += np.bincount(
                self._district[changed], weights=new - old, minlength=self._n_districts
            )
            self._bound = max(self._bound, float(now.max()))
        self._prop_days += 1
        # Increments may round a flow just outside [0, all crossings].
        return np.clip(t["flow"], 0.0, self._cross_by_district)

    def _refresh(self, mult: np.ndarray) -> None:
        """:meth:`_follow` when most multipliers changed: whole-array float32 passes (they
        beat fancy indexing), and the exact bound."""
        t = self._track
        assert t is not None
        top = float(mult.max()) if len(mult) else 0.0
        days = self._prop_days
        if not days:
            # Nothing accrued since the tracker started or was settled: nothing to fold.
            new = self._jay_rate_everyone(mult, top)
        else:
            if self._share_max * max(self._bound, top) <= 1.0:
                # No jaywalk share reaches 1 (old or new multipliers): expected jaywalks
                # are linear in the multiplier, one gather serves both.
                new = self._jay32[self._class_of]
                old = new * t["seen"]
                new *= mult
            else:
                old = self._jay_rate_everyone(t["seen"], self._bound)
                new = self._jay_rate_everyone(mult, top)
            np.multiply(old, days - t["since"], out=old, casting="unsafe")
            t["acc"] += old
            t["since"].fill(days)
        t["seen"][:] = mult
        t["flow"] = self._district_sums(new)
        self._bound = top

    def _district_sums(self, x: np.ndarray) -> np.ndarray:
        """Per district, the float64 sum of a per-person array."""
        bounds = self._district_bounds
        if bounds is None:
            return np.bincount(self._district, weights=x, minlength=self._n_districts)
        # People in district order (as the population is built): contiguous sums.
        return np.array(
            [x[bounds[d] : bounds[d + 1]].sum(dtype=np.float64) for d in range(self._n_districts)]
        )

    def camera_jaywalkers(self, sim: Simulation, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` people drawn independently, each in proportion to their expected jaywalks
        at camera intersections today (rate × min(1, s × m) × W_cam of the district).

        What a uniformly chosen jaywalk at a camera intersection looks like, for sensors
        that mimic it (the cameras' non-resident probes): published as
        :meth:`~sclab.engine.places.WatchedPlaces.draw_watched_actors`, with ``sim``
        bound. Rejection from the class bound: O(k / acceptance); after 32 rounds of poor
        acceptance (a far too loose bound) the rest are drawn exactly from the per-person
        weights, O(n).
        """
        out = np.empty(0, np.int64)
        if k <= 0:
            return out
        mult = propensity(sim, JAYWALK)
        share = self._key_share
        eff = np.minimum(1.0, share * (1.0 if mult is None else self._bound))
        rate = self.crossing_rate[self._key_class] * self.camera_weight[self._key_district]
        weight = self.classes.size * rate * eff
        cum = np.cumsum(weight)
        if not len(cum) or cum[-1] <= 0.0:
            raise ValueError(f"{self.name}: nobody can jaywalk at a camera intersection")
        parts = []
        got = 0
        for _ in range(32):
            m = max(2 * (k - got), 64)
            cls = np.minimum(np.searchsorted(cum, rng.random(m) * cum[-1], side="right"),
                             len(cum) - 1)  # fmt: skip
            pos = self.classes.start[cls] + rng.integers(0, self.classes.size[cls])
            who = self.classes.members[pos].astype(np.int64)
            if mult is not None:
                accept = np.minimum(1.0, share[cls] * mult[who]) / eff[cls]
                who = who[rng.random(m) < accept]
            parts.append(who)
            got += len(who)
            if got >= k:
                return np.concatenate(parts)[:k]
        assert mult is not None  # without a multiplier every candidate is accepted
        p = self._jay_rate(self._class_of, mult) * self.camera_weight[self._district]
        rest = rng.choice(len(p), size=k - got, p=p / p.sum())
        return np.concatenate([*parts, rest]).astype(np.int64)

    # ---------------------------------------------------------------- finish
    def _expected_jaywalks(self, people: slice | np.ndarray) -> np.ndarray:
        """Expected jaywalks of ``people`` since the last settle (float64; nothing reset)."""
        cls = self._class_of[people]
        expected = self._jay_rate_at_1[cls] * float(self._base_days)
        t = self._track
        if t is not None and self._prop_days:
            expected += t["acc"][people]
            expected += self._jay_rate(cls, t["seen"][people]) * (
                self._prop_days - t["since"][people]
            )
        return expected

    def _settle(self, sim: Simulation) -> None:
        """Split each district's counted crossings since the last settle over its people.

        Lawful crossings in proportion to expected lawful crossings, counted jaywalks in
        proportion to expected jaywalks (the uncounted share, the captured acts, is the
        same 1 - W_cam × capture for everyone in a district). Given a district's total,
        independent Poisson counts are multinomial in proportion to their expectations:
        the person totals have the law of daily draws and add up to the intersection
        totals. District by district, so that the float64 expectations exist for one
        district per core at a time: the whole-population temporaries are two int32 counts.
        """
        if self._base_days == 0 and self._prop_days == 0:
            return
        c = sim.population.citizens
        days = self._base_days + self._prop_days
        crossing = np.zeros(len(c), np.int32)
        counted = np.zeros(len(c), np.int32)
        bounds = self._district_bounds
        order = None
        if bounds is None:
            order = np.argsort(c.district, kind="stable")
            bounds = np.concatenate(
                [[0], np.cumsum(np.bincount(c.district, minlength=self._n_districts))]
            )
        rng = sim.rng(f"{self.name}/crossers", partition=self._settled)
        self._settled += 1
        # One generator per district (the same on any number of cores); districts split
        # on the cores, each writing its own people's counts.
        gens = rng.spawn(self._n_districts)

        def split(d: int) -> None:
            lo, hi = int(bounds[d]), int(bounds[d + 1])
            people = slice(lo, hi) if order is None else order[lo:hi]
            jay = self._expected_jaywalks(people)
            lawful_w = self.crossing_rate[self._class_of[people]] * days
            np.maximum(lawful_w - jay, 0.0, out=lawful_w)
            total = int(self._lawful_run_by_district[d])
            if total:
                crossing[people] = multinomial_split(gens[d], total, lawful_w)
            total = int(self._counted_run_by_district[d])
            if total:
                counted[people] = multinomial_split(gens[d], total, jay)

        parallel_map(split, self._n_districts)
        t = self._track
        if t is not None and self._prop_days:
            t["acc"][:] = 0.0
            t["since"][:] = 0
        self._base_days = self._prop_days = 0
        self._lawful_run_by_district[:] = 0
        self._counted_run_by_district[:] = 0
        crossing += counted  # every counted jaywalk is a crossing too
        if crossing.any():
            sim.aggregates.add_counts(CROSSING, crossing)
        if counted.any():
            sim.aggregates.add_counts(JAYWALK, counted)

    def finish(self, sim: Simulation) -> None:
        """Settle the counted crossings still pending into the aggregates (reading would too)."""
        self._settle(sim)
