"""Streets: busy intersections, the routes people walk, and jaywalking.

Core objects:
    :class:`Intersections`: the busy signalised intersections of the city (place ids are
        indices): district, daily pedestrian-volume weight, and whether a camera watches it.
    :class:`StreetsParams`: how many intersections, how busy, where cameras are, how often
        people cross, where (their routes), how often a crossing is a jaywalk and how much
        that varies between people (habitual jaywalkers).
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
      normalised lognormal draw (a few very busy ones). Cameras go to the busiest first:
      a district expects ``camera_share`` x residents / ``residents_per_intersection``
      cameras (``camera_share`` of its intersections when their number is overridden),
      its whole part placed and its fraction placed with that probability (a draw of its
      own stream), so that the expected number of cameras per resident is the same at
      every population size (a small run's districts would otherwise round to none).
      The camera intersections carry the share of the district's crossings that the
      busiest ``camera_share`` of a large district carry (:func:`camera_weights`), so
      that a camera's pedestrian flow does not shrink with the run's population either.
    * Routes: everyone has a home intersection (in the home district, drawn in proportion
      to the weights), and commuters (working, not unemployed) and students a second one,
      near work or school: a student's in the home district, a commuter's in another
      district with probability ``cross_district_commute_share`` (that district drawn in
      proportion to its residents) and else in the home district, again by weight. A
      share ``own_share`` of a person's crossings are at their own intersections (for
      those with a second place, ``second_place_share`` of these at it), the rest at
      intersections of the home district in proportion to their weights. Drawing the
      intersections by weight keeps every intersection's expected flow proportional to its
      weight; what the routes change is who crosses where, so that camera exposure
      concentrates on the people whose routes pass a camera. A person's exposure
      ``e_i`` (the expected share of their crossings at camera intersections) is
      ``a_i cam(h_i) + b_i cam(w_i) + g_i W_cam(d_i)``, (a, b, g) the shares at home, at the
      second place and elsewhere, W_cam(d) the summed weight of district d's camera
      intersections.
    * Crossings: person i crosses busy intersections as a Poisson process with a daily rate
      ``r_i`` set by age band, commuting (working people) and rural residence.
    * Jaywalking: each crossing is a jaywalk with probability ``min(1, s_i x h_i x m_i)``:
      ``s_i`` by age band and sex around ``jaywalk_share``, ``h_i`` the person's habit (a
      multiplier of mean 1 drawn once per person from a Gamma law of variance
      ``habit_variance``, kept as one of 256 equally likely levels: a minority of habitual
      jaywalkers, a majority who rarely cross on red), ``m_i = propensity("jaywalk")`` (1
      while no behaviour adjusts it). ``s`` is scaled so that the crossing-weighted mean
      over the population of the clipped probability is ``jaywalk_share``. By Poisson
      splitting, person i's jaywalks per day are Poisson(lambda_i), lambda_i = r_i x
      min(1, s_i h_i m_i), independent of their lawful crossings.
    * What is drawn one by one (Poisson splitting again): a camera watcher (a sensor calls
      :meth:`~sclab.engine.places.WatchedPlaces.watch` with its capture probability c)
      only ever sees the jaywalks at camera intersections that it captures: Poisson(lambda_i
      x e_i x c) per person, drawn sparsely per rate class (age band, sex, residence,
      routine, which of the person's own intersections have a camera, district; thinned by
      habit x multiplier), each on the person's own camera intersection(s) or on a camera
      intersection of the district, in proportion to the three terms of ``e_i``: they
      alone are per-person ``jaywalk`` acts. Every other jaywalk (uncaptured, or at
      intersections without a camera) is an independent Poisson process that is only
      counted: per intersection, Poisson from its expected flow (the sum over the people
      whose routes pass it, times 1 - c at camera intersections), and added to
      ``sim.acts`` totals with :meth:`~sclab.engine.acts.ActLog.tally`. Without a watcher
      no jaywalk is an act; with ``record_every_event`` every jaywalk is one, on the
      person's route (the watcher then draws its captures from them).
    * Lawful crossings are only counted: Poisson per intersection from its expected lawful
      flow.
    * Per-person totals go to ``sim.aggregates``: ``crossing`` (lawful crossings plus
      jaywalks) and ``jaywalk`` (all jaywalks: the per-person truth behind the cameras'
      identifications). Jaywalk acts are added daily; the counted jaywalks and lawful
      crossings when the aggregates are read (at the end of the run, or earlier), by
      splitting the realised total of each district's intersections since the last read
      over the people who cross there (its residents, and commuters from other districts
      for their work intersections) in proportion to their expected counted crossings
      there (multinomial: exactly the law of independent Poisson counts given their total).

Nothing is written to the database here: a later component adds a places table.

Cost model: ``setup`` is O(n) (routes, habits and classes drawn in blocks on the cores, a
radix sort of the class keys, per-intersection sums) plus O(intersections); per person it
keeps the home and second intersections (2 bytes each while the city has fewer than
65,536 intersections), the habit level (1 byte) and the rate class (2 bytes). A day costs
one Poisson draw per rate class, O(k) for its k jaywalk acts (k: the few captured
jaywalks, thinned from about k / (mean acceptance) candidates; every jaywalk with
``record_every_event``), and two Poisson draws per intersection: nothing per person.
While a behaviour adjusts ``jaywalk``, a day adds O(written): the multipliers change only
through ``State.write``, whose watcher notes the people written, and those whose
multiplier differs from the one last seen update the intersections' flows (through their
home, second place and district), the thinning bound (a running maximum, recomputed
exactly when many multipliers changed) and their per-person expectations (12 bytes per
person once the multiplier exists; a whole-array write costs one O(n) comparison the next
day); a day on which more than an eighth of the multipliers changed (a behaviour's
periodic refresh) does that in a few dense O(n) passes instead. Reading the aggregates
(or ``finish``) is O(n): two multinomial splits per district, one Poisson draw per person
each (plus a sort by district if people are not stored in district order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field, field_validator

from sclab.arrays import stable_order, union_sorted
from sclab.engine.ages import ages
from sclab.engine.catalogue import Kind
from sclab.engine.places import WatchedPlaces
from sclab.engine.propensity import propensity, propensity_key
from sclab.engine.registry import register
from sclab.parallel import block_generators, map_blocks, parallel_map
from sclab.population.citizens import OCCUPATIONS
from sclab.scenario.schema import OCCUPATIONS_WORKING
from sclab.world.base import SourceParams
from sclab.world.resources import age_band, check_age_keys
from sclab.world.sampling import (
    IdSorter,
    RateClasses,
    gamma_levels,
    multinomial_split,
    thin,
)

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
#: A person's daily routine: home only, or a second place (work, school).
ROUTINES = ("home", "work", "school")
_HOME, _WORK, _SCHOOL = 0, 1, 2
# Route bits: a camera at the home intersection, a camera at the second place's, and the
# second place in another district.
_CAM_HOME, _CAM_SECOND, _AWAY = 1, 2, 4
_N_ROUTES = 8
# Class axes: age band, male, urban, routine, district has intersections, route bits.
_SHAPE = (len(AGE_BANDS), 2, 2, len(ROUTINES), 2, _N_ROUTES)
_COMMUTING = tuple(k for k in OCCUPATIONS_WORKING if k != "unemployed")
#: Levels of the habit multiplier (equally likely; one byte per person).
HABIT_LEVELS = 256

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
    """Intersections, cameras, routes, crossing rates and jaywalking."""

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
        "camera, busiest first (in expectation: a fraction of a camera is placed with that "
        "probability, so small runs keep cameras in proportion).",
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
    own_share: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Assumption: 70% of a person's crossings are at their own intersections "
        "(the one nearest home, and for commuters and students the one nearest work or "
        "school), the rest at other intersections of the home district in proportion to "
        "their volume; range 0.5-0.9. Daily trips are mostly the same few trips: in "
        "Chinese household travel surveys commuting and school trips with the return home "
        "make up most weekday trips (no published share of crossings at one's own "
        "intersections was found).",
    )
    second_place_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Assumption: commuters and students make half of their own crossings at "
        "the work or school intersection (one trip out and one back at each end); range "
        "0.3-0.7.",
    )
    cross_district_commute_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Assumption: 30% of commuters work in another district than they live "
        "in (range 0.15-0.5), that district drawn in proportion to its residents; no "
        "published share was found for Nanjing. Smart-card data show that jobs in central "
        "Xuanwu far exceed its working residents while the suburban districts' jobs-housing "
        "ratios are below 0.8 (Zheng, Liu, Guo & Lei 2019, Sustainability 11(19) 5346), so "
        "many commuters cross a district line. Students attend school in their home "
        "district (Compulsory Education Law 2006, art. 12: schooling near the residence).",
    )
    jaywalk_share: float = Field(
        0.1854,
        ge=0,
        le=1,
        description="Share of crossings against the red light: 18.54% of 31,649 "
        "pedestrians observed at five intersections in Changsha (Yan, Li, Zhang & Hu 2016, "
        "Accident Analysis & Prevention 95, doi:10.1016/j.aap.2015.06.006); within the "
        "10-30% range of other Chinese observational studies. Crossing-weighted mean over "
        "the population (habits and the clipping at 1 included).",
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
    habit_variance: float = Field(
        2.0,
        ge=0,
        le=20,
        description="Variance of a person's habit, a multiplier of the jaywalking share with "
        "mean 1 drawn once per person from a Gamma law (shape 1 / variance; 0: everyone "
        "alike). Observational studies find two kinds of pedestrians at a red light: "
        "intended waiting times are U-shaped, a large share crossing at once on arrival "
        "and a large share waiting out the whole red phase (Li 2013, Transportation "
        "Research Part B 51, 17-28), and a Nanjing survey of 1,878 pedestrians at 16 "
        "intersections sorts them into regular users, late starters and (partial) "
        "'sneakers' (Discrete Dynamics in Nature and Society 2013, 172726). Their shares "
        "per person over repeated crossings are not published: Assumption 2 (range 0.5-4), "
        "a coefficient of variation of 1.4: the median person jaywalks at 0.45 times "
        "the mean rate, the top 3.5% at 4.5 times it or more (at every crossing once "
        "clipped at 1).",
    )

    @field_validator("crossing_age", "jaywalk_age")
    @classmethod
    def _age_keys(cls, v: dict[str, float]) -> dict[str, float]:
        return check_age_keys(v, AGE_BANDS)


def _capped_rate(prone: np.ndarray, mult: np.ndarray | None, cross: np.ndarray) -> np.ndarray:
    """float32 ``cross x min(1, prone x mult)`` (``mult`` None: 1), per person: expected
    jaywalks a day from the crossing rate ``cross`` and the uncapped jaywalk chance."""
    rate = np.empty(len(prone), np.float32)
    if mult is None:
        rate[:] = prone
    else:
        np.multiply(prone, mult, out=rate)
    np.minimum(rate, np.float32(1.0), out=rate)
    rate *= cross
    return rate


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
    the keep draw (fractional part). Every district given must have places.
    """
    d = np.asarray(district, dtype=np.intp)
    k = np.diff(first)[d]
    x = u * k
    j = np.minimum(x.astype(np.int64), k - 1)  # u × k may round up to k
    slot = first[d] + j
    return np.where(x - j < keep[slot], slot, alias[slot]).astype(np.int32)


#: Values per running-sum chunk of :func:`_sum_in_order` (float64: 256 KiB, in a core's
#: L2 cache).
_SUM_CHUNK = 1 << 15


def _sum_in_order(values: np.ndarray) -> float:
    """The float64 sum of ``values`` added one at a time from 0.0, in order, as
    ``np.bincount`` adds its weights (``np.sum`` adds pairwise: other roundings).

    A running sum (``np.cumsum``) chunk by chunk, each chunk starting from the total so
    far."""
    total = 0.0
    chunk = np.empty(min(len(values), _SUM_CHUNK), np.float64)
    for start in range(0, len(values), _SUM_CHUNK):
        stop = min(start + _SUM_CHUNK, len(values))
        part = chunk[: stop - start]
        part[:] = values[start:stop]
        part[0] += total  # total + x: an addition rounds the same either way round
        np.cumsum(part, out=part)
        total = float(part[-1])
    return total


def scale_shares(
    flow: np.ndarray, relative: np.ndarray, levels: np.ndarray, target: float
) -> np.ndarray:
    """Per class the jaywalking share ``k x relative`` at habit 1, with k such that the
    flow-weighted mean of ``min(1, k x relative x level)`` over equally likely habit
    levels is ``target`` (bisection: the mean increases with k)."""
    total = float(flow.sum())
    if total <= 0.0 or target <= 0.0 or not (relative > 0).any():
        return np.zeros(len(relative))
    # Classes share a handful of relative values (age band x sex): sum their flows.
    values, which = np.unique(relative, return_inverse=True)
    value_flow = np.bincount(which, weights=flow, minlength=len(values))

    def mean_share(k: float) -> float:
        p = np.minimum(1.0, k * values[:, None] * levels[None, :]).mean(axis=1)
        return float((value_flow * p).sum()) / total

    lo, hi = 0.0, 1.0
    while mean_share(hi) < target and hi < 1e12:
        lo, hi = hi, hi * 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mean_share(mid) < target else (lo, mid)
    return np.asarray(hi * relative, dtype=np.float64)


def busiest_share(sigma: float, share: float) -> float:
    """The busiest ``share`` of lognormal(0, sigma) volumes: their mean over the mean of
    all, Phi(sigma - z) / share with z the (1 - share) quantile of the standard normal
    (1 when ``share`` is 1 or ``sigma`` 0; at sigma 1 the busiest tenth carry 39% of the
    volume, 3.9 times the mean)."""
    if share <= 0.0:
        return 0.0
    from scipy import special

    z = float(special.ndtri(1.0 - share)) if share < 1.0 else -np.inf
    return float(special.ndtr(sigma - z)) / share


#: The most of a district's crossings its cameras may carry while it has intersections
#: without one (tiny districts: see :func:`camera_weights`).
CAMERA_FLOW_CAP = 0.9


def camera_weights(volume: np.ndarray, cameras: np.ndarray, busiest: float) -> np.ndarray:
    """A district's intersection weights (summing to 1) from their volumes, the camera
    intersections carrying ``busiest / k`` each (k intersections) in proportion to their
    volumes, the others sharing the rest in proportion to theirs.

    Why: with many intersections the busiest tenth (where the cameras stand) carry about
    their expected share of the volume anyway; with the few of a small run's district
    the busiest of them is not that busy, and cameras there would see fewer pedestrians
    than at city scale. Fixing the cameras' share at its large-district value keeps a
    camera's flow, in expectation, that of a busiest-decile intersection at every
    population size (up to :data:`CAMERA_FLOW_CAP` of a tiny district's crossings).
    """
    k, m = len(volume), int(cameras.sum())
    if k == 0:
        return volume.astype(np.float64)
    if m == 0 or m == k:
        return np.asarray(volume / volume.sum(), dtype=np.float64)
    on_cameras = min(CAMERA_FLOW_CAP, m * busiest / k)
    weight = np.empty(k)
    weight[cameras] = on_cameras * volume[cameras] / volume[cameras].sum()
    weight[~cameras] = (1.0 - on_cameras) * volume[~cameras] / volume[~cameras].sum()
    return weight


# What the jaywalk acts of a day are: none (all counted), the captured ones, or all.
_TOTALS, _CAPTURED, _EVERY = "totals", "captured", "every"


@register("sources", "streets", StreetsParams)
class Streets:
    """Pedestrians crossing busy intersections on their routes, some against the red light.

    Acts: kind ``jaywalk``, actor = person, extra ``place_id`` (int32 intersection id),
    ``district`` (uint8: the intersection's district) and ``camera`` (bool: that
    intersection has a camera). Which jaywalks are acts: none until a sensor watches the
    published places (:attr:`watched_places`); then exactly the jaywalks its cameras
    capture (all at camera intersections); with ``record_every_event``, every jaywalk.
    The others are counted (per intersection, per person in the aggregates, and in
    ``sim.acts.totals`` through ``tally``).

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
        jaywalk_prob: Per person class, the share of crossings that are jaywalks at habit
            1 (before the clipping at 1 and propensity).
        habit_levels: The habit multiplier's equally likely values (mean 1).
        habit_level: uint8 per person, the index of the person's habit level.
        capture: The watcher's capture probability (None: nobody watches).
        camera_weight: Per district, W_cam: the summed weight of its camera intersections.
        crossing_flow: Per intersection, expected crossings a day (lawful and jaywalks).
        jaywalk_flow: Per intersection, today's expected jaywalks (all of them, captured
            or counted).
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
        p = self.params
        c = sim.population.citizens
        n = len(c)
        n_districts = len(sim.scenario.geography.districts)
        self._n_districts = n_districts
        self.intersections = places = self._places(sim)
        has_places = np.diff(places.first) > 0
        k = len(places)
        self._keep, self._alias = alias_tables(places.first, places.weight)
        self._weight = places.weight.astype(np.float64)
        self._district_of_place = places.district.astype(np.int64)
        # Camera intersections as blocks of their own (ids are grouped by district), for
        # landing captured jaywalks elsewhere than on a person's own intersections.
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
        self._sort = IdSorter(n)
        self._class_constants()

        # Habits: one level per person from a stream of its own.
        self.habit_levels = gamma_levels(p.habit_variance, HABIT_LEVELS)
        self._habit32 = self.habit_levels.astype(np.float32)
        self._habit_max = float(self.habit_levels.max())
        self.habit_level = sim.rng(f"{self.name}/habits").integers(
            0, HABIT_LEVELS, n, dtype=np.uint8
        )
        self._draw_routes(sim, has_places)

        # Rate classes split by district too (the exposure to cameras depends on it). The
        # key fits 16 bits for up to 68 districts: the stable sort is then a radix sort.
        n_classes = int(np.prod(_SHAPE))
        n_keys = n_classes * n_districts
        key_type = np.dtype(np.uint16 if n_keys <= 1 << 16 else np.uint32)
        key = self._class_of.astype(key_type)
        key *= np.array(n_districts, key_type)
        key += c.district
        self.classes = RateClasses.of(key, n_keys)
        del key
        self._key_class = np.arange(n_keys) // n_districts
        self._key_district = np.arange(n_keys) % n_districts
        cls = self._key_class
        self._exposure_key = (
            self._home_part[cls] * self._cam_home_c[cls]
            + self._second_part[cls] * self._cam_second_c[cls]
            + self._other_part[cls] * self.camera_weight[self._key_district]
        )

        # Shares: normalised over the crossings of the population, habits included.
        self._class_size = np.bincount(self._class_of, minlength=n_classes)
        self.jaywalk_prob = scale_shares(
            self._class_size * self.crossing_rate,
            self._relative_share,
            self.habit_levels,
            p.jaywalk_share,
        )
        self._cross32 = self.crossing_rate.astype(np.float32)
        self._share32 = self.jaywalk_prob.astype(np.float32)
        self._key_share = self.jaywalk_prob[self._key_class]
        self._district = c.district
        # The population is built district by district: contiguous blocks make the
        # settle's split cheap (checked, with a fallback).
        in_order = n == 0 or bool(np.all(c.district[1:] >= c.district[:-1]))
        self._district_bounds = (
            np.concatenate([[0], np.cumsum(np.bincount(c.district, minlength=n_districts))])
            if in_order
            else None
        )
        # Expected flows per intersection: crossings (fixed) and jaywalks at habit x 1.
        cross_parts, self._base_parts = self._parts_everyone(
            lambda lo, hi, cls: (self._cross32.take(cls),
                                 self._jay_rate_everyone(None, lo, hi, cls))
        )  # fmt: skip
        self.crossing_flow = self._flow(cross_parts)
        self._base_flow = np.clip(self._flow(self._base_parts), 0.0, self.crossing_flow)
        self.jaywalk_flow = self._base_flow
        self._set_mode(self._mode)

        # Exposure since the last settle: days without a multiplier, and (once a
        # multiplier exists) per-person sums kept by _follow.
        self._base_days = 0
        self._track: dict[str, np.ndarray] | None = None
        self._parts: list[np.ndarray] | None = None
        # The people whose jaywalk multiplier was written since the last day (None: a
        # whole-array write). Multipliers change only through State.write, so following
        # the writes finds the changes in O(people written), not a daily O(n) comparison.
        self._written: list[np.ndarray] | None = []
        sim.state.watch(propensity_key(JAYWALK), self._multiplier_written)
        self._bound = 1.0
        self._prop_days = 0
        self._lawful_run_by_district = np.zeros(n_districts, np.int64)
        self._counted_run_by_district = np.zeros(n_districts, np.int64)
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

    def _class_constants(self) -> None:
        """Per class: crossing rate, relative jaywalking, route shares and route bits."""
        p = self.params
        n_classes = int(np.prod(_SHAPE))
        band, male, urban, routine, has_places, route = np.unravel_index(
            np.arange(n_classes), _SHAPE
        )
        cross_age = np.array([p.crossing_age.get(b, 1.0) for b in AGE_BANDS])
        self.crossing_rate = (
            p.crossings_per_day
            * p.rate_multiplier
            * cross_age[band]
            * np.where(routine == _WORK, p.commuter_multiplier, 1.0)
            * np.where(urban == 1, 1.0, p.rural_multiplier)
            * (has_places == 1)
        )
        jay_age = np.array([p.jaywalk_age.get(b, 1.0) for b in AGE_BANDS])
        self._relative_share = jay_age[band] * np.where(male == 1, p.jaywalk_male_multiplier, 1.0)
        second = routine != _HOME
        own = p.own_share
        self._home_part = np.where(second, own * (1.0 - p.second_place_share), own)
        self._second_part = np.where(second, own * p.second_place_share, 0.0)
        self._other_part = np.full(n_classes, 1.0 - own)
        self._cam_home_c = (route & _CAM_HOME) > 0
        self._cam_second_c = (route & _CAM_SECOND) > 0
        self._away_c = (route & _AWAY) > 0

    def _draw_routes(self, sim: Simulation, has_places: np.ndarray) -> None:
        """Everyone's home and second intersection and rate class, in blocks on the cores
        (each block from its own generator of the stream ``<name>/routes``)."""
        p = self.params
        c = sim.population.citizens
        places = self.intersections
        n, k, n_districts = len(c), len(places), self._n_districts
        # People without intersections get the padding id k (never a camera).
        self._place_type = np.uint16 if k < 1 << 16 else np.int32
        self._home = np.empty(n, self._place_type)
        self._second = np.empty(n, self._place_type)
        self._class_of = np.empty(n, np.uint16)
        cam = np.append(places.has_camera, False)
        # Where commuters who leave their district go: the other districts with
        # intersections, in proportion to their residents.
        residents = np.bincount(c.district, minlength=n_districts).astype(np.float64)
        target = np.where(has_places, residents, 0.0)
        dest = np.tile(target, (n_districts, 1))
        np.fill_diagonal(dest, 0.0)
        can_leave = dest.sum(axis=1) > 0
        dest_cdf = np.cumsum(dest, axis=1) / np.maximum(dest.sum(axis=1, keepdims=True), 1e-300)
        commuting = np.isin(np.arange(len(OCCUPATIONS)), [OCCUPATIONS.index(o) for o in _COMMUTING])
        student = OCCUPATIONS.index("student")
        age = ages(sim)
        gens = block_generators(sim.rng(f"{self.name}/routes"), n)
        first, keep, alias = places.first, self._keep, self._alias
        share_away = p.cross_district_commute_share

        band_of_age = age_band(np.arange(151), _AGE_LOWER).astype(np.uint16)
        routine_of = np.where(
            commuting, _WORK, np.where(np.arange(len(OCCUPATIONS)) == student, _SCHOOL, _HOME)
        ).astype(np.uint16)

        def draw(i: int, lo: int, hi: int) -> None:
            # Uniforms only where needed, in float32 (ample for picks among a district's
            # few thousand intersections at most).
            gen = gens[i]
            d = c.district[lo:hi]
            placed = has_places[d]
            routine = routine_of[c.occupation[lo:hi]]
            home = np.full(hi - lo, k, np.int64)
            at = np.flatnonzero(placed)
            home[at] = land_alias(first, keep, alias, d[at], gen.random(len(at), np.float32))
            has_second = placed & (routine != _HOME)
            at = np.flatnonzero(has_second)
            where = d[at].astype(np.intp)
            worker = np.flatnonzero((routine[at] == _WORK) & can_leave[where])
            u = gen.random(len(worker), np.float32)
            leaves = u < share_away
            away_at = worker[leaves]
            if len(away_at):
                # The uniform below share_away, rescaled, picks the district.
                v = u[leaves] / share_away
                goes = (v[:, None] >= dest_cdf[where[away_at]]).sum(axis=1)
                where[away_at] = np.minimum(goes, n_districts - 1)
            second = home.copy()
            second[at] = land_alias(first, keep, alias, where, gen.random(len(at), np.float32))
            away = np.zeros(hi - lo, bool)
            away[at[away_at]] = True
            self._home[lo:hi] = home
            self._second[lo:hi] = second
            # The class index, axis by axis (age band, male, urban, routine, has places,
            # route bits), in 16 bits.
            cls = band_of_age[np.minimum(age[lo:hi], 150)]
            cls = cls * 2 + c.male[lo:hi]
            cls = cls * 2 + c.urban[lo:hi]
            cls = cls * 3 + routine
            cls = cls * 2 + placed
            cls = cls * _N_ROUTES + (
                cam[home] * _CAM_HOME + (cam[second] & has_second) * _CAM_SECOND + away * _AWAY
            )
            self._class_of[lo:hi] = cls

        map_blocks(draw, n)

    def _parts_everyone(
        self, rates: Callable[[int, int, np.ndarray], tuple[np.ndarray, ...]]
    ) -> list[list[np.ndarray]]:
        """For each rate array of ``rates(lo, hi, cls)`` (per-person daily rates of people
        lo..hi, of classes ``cls``): per intersection the sums of rate x share over people
        whose home, second place is there, and per district over its residents' other
        crossings (float64), in one pass over everyone in blocks on the cores, summed block
        by block in order."""
        k, nd = len(self.intersections), self._n_districts
        a32 = self._home_part.astype(np.float32)
        b32 = self._second_part.astype(np.float32)
        other = float(self._other_part[0])  # the same for every class

        def block(_: int, lo: int, hi: int) -> list[list[np.ndarray]]:
            cls = self._class_of[lo:hi]
            a, b = a32.take(cls), b32.take(cls)
            home, second = self._home[lo:hi], self._second[lo:hi]
            out = []
            for r in rates(lo, hi, cls):
                out.append([
                    np.bincount(home, weights=a * r, minlength=k + 1)[:k],
                    np.bincount(second, weights=b * r, minlength=k + 1)[:k],
                    self._district_sums(r, lo, hi) * other,
                ])  # fmt: skip
            return out

        totals: list[list[np.ndarray]] = []
        for parts in map_blocks(block, len(self._class_of)):
            if not totals:
                totals = [[np.zeros(k), np.zeros(k), np.zeros(nd)] for _ in parts]
            for total, part in zip(totals, parts, strict=True):
                for t, x in zip(total, part, strict=True):
                    t += x
        if not totals:  # nobody
            nobody = rates(0, 0, self._class_of[:0])
            totals = [[np.zeros(k), np.zeros(k), np.zeros(nd)] for _ in nobody]
        return totals

    def _district_sums(self, rate: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Per district, the sum of ``rate`` (people lo..hi) over its residents among them:
        ``np.bincount(district, weights=rate)``, the same float64 additions in the same
        order.

        People stored district by district make each district's residents a run, summed
        by a running sum (:func:`_sum_in_order`): bincount's one add per person to a
        table entry waits for the previous one, several times the cost."""
        nd = self._n_districts
        bounds = self._district_bounds
        if bounds is None:
            return np.bincount(self._district[lo:hi], weights=rate, minlength=nd)[:nd]
        out = np.zeros(nd)
        first = int(np.searchsorted(bounds, lo, side="right")) - 1
        for d in range(max(first, 0), nd):
            start, end = max(int(bounds[d]), lo), min(int(bounds[d + 1]), hi)
            if start >= hi:
                break
            if end > start:
                out[d] = _sum_in_order(rate[start - lo : end - lo])
        return out

    def _flow(self, parts: list[np.ndarray]) -> np.ndarray:
        """Per intersection, the flow of the home, second-place and district parts."""
        home, second, other = parts
        return home + second + self._weight * other[self._district_of_place]

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
            self._act_rate = cross * self._exposure_key * self.capture
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
        # The fractions of cameras are placed from a stream of their own, so that the
        # intersections' draws stay those of the places stream.
        fraction_rng = sim.rng(f"{self.name}/cameras")
        parts_d, parts_cam, parts_w, counts = [], [], [], []
        for d, code in enumerate(codes):
            if code in p.intersections_by_district:
                k = p.intersections_by_district[code]
                nominal = float(k)
            elif residents[d] > 0:
                nominal = residents[d] / p.residents_per_intersection
                k = max(1, round(nominal))
            else:
                k, nominal = 0, 0.0
            volume = rng.lognormal(0.0, p.weight_sigma, k)
            share = p.camera_share_by_district.get(code, p.camera_share)
            expected = min(float(k), share * nominal)
            whole = int(np.floor(expected))
            n_cameras = min(k, whole + int(fraction_rng.random() < expected - whole))
            cameras = np.zeros(k, dtype=bool)
            cameras[np.argsort(-volume, kind="stable")[:n_cameras]] = True
            weight = camera_weights(volume, cameras, busiest_share(p.weight_sigma, share))
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

    # -------------------------------------------------------- per person, on demand
    def habit(self, people: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The habit multipliers of ``people`` (float64, mean 1 over everyone)."""
        return self.habit_levels[self.habit_level[people]]

    def routes(self, people: slice | np.ndarray = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """(home, second) intersection ids of ``people`` (int64; the second is the home
        for people without a second place; ``len(intersections)`` for people whose
        district has no intersection)."""
        return self._home[people].astype(np.int64), self._second[people].astype(np.int64)

    def exposure(self, people: slice | np.ndarray = slice(None)) -> np.ndarray:
        """Per person, the expected share of their crossings at camera intersections."""
        cls = self._class_of[people]
        return (
            self._home_part[cls] * self._cam_home_c[cls]
            + self._second_part[cls] * self._cam_second_c[cls]
            + self._other_part[cls] * self.camera_weight[self._district[people]]
        )

    def expected_jaywalks(
        self, people: slice | np.ndarray = slice(None), mult: np.ndarray | float = 1.0
    ) -> np.ndarray:
        """Per person, expected jaywalks a day at the multiplier ``mult`` (per person, or
        one for all): crossing rate x min(1, share x habit x mult)."""
        cls = self._class_of[people]
        return self._jay_rate(cls, self.habit(people) * mult)

    # ------------------------------------------------------------------ step
    def step(self, sim: Simulation, day: int) -> None:
        self._stepped = True
        rng = sim.rng(self.name, day)
        mult = propensity(sim, JAYWALK)
        if mult is None:
            jay_flow = self._base_flow
            self._base_days += 1
        else:
            jay_flow = self._follow(mult)
        self.jaywalk_flow = jay_flow

        place = self._draw_acts(sim, rng, day, mult)
        k = len(self.intersections)
        dp = self._district_of_place
        jaywalks = np.bincount(place, minlength=k)
        if self._mode != _EVERY:
            counted = rng.poisson(jay_flow * self._counted_share)
            jaywalks += counted
            n_counted = int(counted.sum())
            sim.acts.tally(JAYWALK, n_counted)
            if n_counted:
                self._counted_run_by_district += np.bincount(
                    dp, weights=counted, minlength=self._n_districts
                ).astype(np.int64)
        self.jaywalks_today = jaywalks.astype(np.int32)
        self.watched_places.today = self.jaywalks_today
        lawful_flow = np.maximum(self.crossing_flow - jay_flow, 0.0)
        self.lawful_today = rng.poisson(lawful_flow).astype(np.int32)
        self.jaywalks_total += self.jaywalks_today
        self.lawful_total += self.lawful_today
        self._lawful_run_by_district += np.bincount(
            dp, weights=self.lawful_today, minlength=self._n_districts
        ).astype(np.int64)

    def _mu(self, who: np.ndarray, mult: np.ndarray | None) -> np.ndarray:
        """Habit x multiplier of ``who`` (float32)."""
        mu = self._habit32[self.habit_level[who]]
        return mu if mult is None else mu * mult[who]

    def _draw_acts(
        self, sim: Simulation, rng: np.random.Generator, day: int, mult: np.ndarray | None
    ) -> np.ndarray:
        """Today's jaywalk acts (added to the act log and aggregates); returns their places."""
        if self._act_rate is None:
            return np.empty(0, np.int32)
        share = self._key_share
        # Thinning from the bound: class rate at min(1, s × bound), each candidate kept
        # with min(1, s × habit × m) / min(1, s × bound).
        top = self._habit_max * (1.0 if mult is None else self._bound)
        eff = np.minimum(1.0, share * top)
        cand, key = self.classes.events(rng, self._act_rate * eff)
        accept = np.minimum(1.0, share[key] * self._mu(cand, mult)) / np.maximum(eff[key], 1e-300)
        who, _ = thin(rng, cand, accept)
        who = self._sort(who)
        place = self._land(rng, who)
        sim.acts.add(
            day, self.name, JAYWALK, who,
            place_id=place, district=self.intersections.district[place],
            camera=self.intersections.has_camera[place],
        )  # fmt: skip
        sim.aggregates.add(CROSSING, who)
        sim.aggregates.add(JAYWALK, who)
        return place

    def _land(self, rng: np.random.Generator, who: np.ndarray) -> np.ndarray:
        """Where each jaywalk act of ``who`` happens: the person's home or second
        intersection or another of the home district, in proportion to the person's
        crossings at each (at camera intersections only, when the acts are the captured
        jaywalks)."""
        cls = self._class_of[who]
        district = self._district[who]
        at_home, at_second, other = (
            self._home_part[cls], self._second_part[cls], self._other_part[cls]
        )  # fmt: skip
        if self._mode != _EVERY:
            at_home = at_home * self._cam_home_c[cls]
            at_second = at_second * self._cam_second_c[cls]
            other = other * self.camera_weight[district]
        u = rng.random(len(who)) * (at_home + at_second + other)
        v = rng.random(len(who))
        place = self._home[who].astype(np.int32)
        second = (u >= at_home) & (u < at_home + at_second)
        place[second] = self._second[who[second]]
        elsewhere = np.flatnonzero(u >= at_home + at_second)
        if len(elsewhere):
            d = district[elsewhere]
            if self._mode == _EVERY:
                place[elsewhere] = land_alias(
                    self.intersections.first, self._keep, self._alias, d, v[elsewhere]
                )
            else:
                slot = land_alias(self._cam_first, self._cam_keep, self._cam_alias, d, v[elsewhere])
                place[elsewhere] = self._cam_ids[slot]
        return place

    def _jay_rate(self, cls: np.ndarray, mu: np.ndarray | float) -> np.ndarray:
        """Expected jaywalks a day of people of classes ``cls`` at habit x multiplier ``mu``."""
        return self.crossing_rate[cls] * np.minimum(1.0, self.jaywalk_prob[cls] * mu)

    def _jay_rate_everyone(
        self, mult: np.ndarray | None, lo: int, hi: int, cls: np.ndarray | None = None
    ) -> np.ndarray:
        """float32 :meth:`_jay_rate` of people lo..hi (of classes ``cls``, read if None)
        at their habits x ``mult``."""
        cls = self._class_of[lo:hi] if cls is None else cls
        return _capped_rate(
            self._prone(cls, lo, hi), None if mult is None else mult[lo:hi], self._cross32.take(cls)
        )

    def _prone(self, cls: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """float32 share x habit of people lo..hi, of classes ``cls``: their chance that a
        crossing is a jaywalk at multiplier 1, before the cap at 1.

        ``np.take`` gathers from the small tables faster than indexing does."""
        prone = self._share32.take(cls)
        prone *= self._habit32.take(self.habit_level[lo:hi])
        return prone

    def _rates_everyone(self, mult: np.ndarray) -> np.ndarray:
        """float32 expected jaywalks a day of everyone at ``mult``, in blocks on the cores."""
        out = np.empty(len(self._class_of), np.float32)

        def block(_: int, lo: int, hi: int) -> None:
            out[lo:hi] = self._jay_rate_everyone(mult, lo, hi)

        map_blocks(block, len(out))
        return out

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
        """Today's expected jaywalks per intersection, updated where ``mult`` changed.

        Keeps, per person, the multiplier last seen, the multiplier-day it was first seen
        and the expected jaywalks accrued before that, so a day costs O(people whose
        multiplier was written), not a pass over everyone; the intersections' flows move
        by each changed person's difference at their home, second place and district.
        Also keeps the thinning bound: a running maximum of the multipliers seen (any
        bound at least the maximum is exact), recomputed when many changed.
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
            seen = t["seen"]
            (self._parts,) = self._parts_everyone(
                lambda lo, hi, cls: (self._jay_rate_everyone(seen, lo, hi, cls),)
            )
            self._prop_days += 1
            return np.clip(self._flow(self._parts), 0.0, self.crossing_flow)
        assert self._parts is not None
        changed = self._changed_since_seen(mult, t["seen"])
        n_changed = len(changed)
        days = self._prop_days
        if n_changed * 8 > n:
            self._refresh(mult)
        elif n_changed:
            cls = self._class_of[changed]
            habit = self.habit(changed)
            seen = t["seen"][changed]
            now = mult[changed]
            old = self._jay_rate(cls, habit * seen)
            new = self._jay_rate(cls, habit * now)
            t["acc"][changed] += old * (days - t["since"][changed])
            t["since"][changed] = days
            t["seen"][changed] = now
            delta = new - old
            k = len(self.intersections)
            home, second, other = self._parts
            home += np.bincount(
                self._home[changed], weights=self._home_part[cls] * delta, minlength=k + 1
            )[:k]
            second += np.bincount(
                self._second[changed], weights=self._second_part[cls] * delta, minlength=k + 1
            )[:k]
            other += np.bincount(
                self._district[changed],
                weights=self._other_part[cls] * delta,
                minlength=self._n_districts,
            )[: self._n_districts]
            self._bound = max(self._bound, float(now.max()))
        self._prop_days += 1
        # Increments may round a flow just outside [0, all crossings].
        return np.clip(self._flow(self._parts), 0.0, self.crossing_flow)

    def _refresh(self, mult: np.ndarray) -> None:
        """:meth:`_follow` when most multipliers changed: whole-array float32 passes in
        blocks on the cores (they beat fancy indexing), and the exact bound."""
        t = self._track
        assert t is not None
        top = float(mult.max()) if len(mult) else 0.0
        days = self._prop_days
        since, acc, seen = t["since"], t["acc"], t["seen"]

        def fold_and_rate(lo: int, hi: int, cls: np.ndarray) -> tuple[np.ndarray]:
            # Block by block: credit the days at the old multipliers, take the new ones
            # (the old and new rates share their gathers).
            prone, cross = self._prone(cls, lo, hi), self._cross32.take(cls)
            if days:
                old = _capped_rate(prone, seen[lo:hi], cross)
                np.multiply(old, days - since[lo:hi], out=old, casting="unsafe")
                acc[lo:hi] += old
                since[lo:hi] = days
            seen[lo:hi] = mult[lo:hi]
            return (_capped_rate(prone, mult[lo:hi], cross),)

        (self._parts,) = self._parts_everyone(fold_and_rate)
        self._bound = top

    def camera_jaywalkers(self, sim: Simulation, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` people drawn independently, each in proportion to their expected jaywalks
        at camera intersections today (rate × min(1, s × habit × m) × exposure).

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
        top = self._habit_max * (1.0 if mult is None else self._bound)
        eff = np.minimum(1.0, share * top)
        rate = self.crossing_rate[self._key_class] * self._exposure_key
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
            accept = np.minimum(1.0, share[cls] * self._mu(who, mult)) / eff[cls]
            who = who[rng.random(m) < accept]
            parts.append(who)
            got += len(who)
            if got >= k:
                return np.concatenate(parts)[:k]
        p = self.expected_jaywalks(slice(None), 1.0 if mult is None else mult) * self.exposure()
        rest = rng.choice(len(p), size=k - got, p=p / p.sum())
        return np.concatenate([*parts, rest]).astype(np.int64)

    # ---------------------------------------------------------------- finish
    def _expected_jaywalks(self, people: slice | np.ndarray) -> np.ndarray:
        """Expected jaywalks of ``people`` since the last settle (float64; nothing reset)."""
        cls = self._class_of[people]
        habit = self.habit(people)
        expected = self._jay_rate(cls, habit) * float(self._base_days)
        t = self._track
        if t is not None and self._prop_days:
            expected += t["acc"][people]
            expected += self._jay_rate(cls, habit * t["seen"][people]) * (
                self._prop_days - t["since"][people]
            )
        return expected

    def _settle(self, sim: Simulation) -> None:
        """Split each district's counted crossings since the last settle over the people
        who cross there.

        A district's intersections are crossed by its residents (at home, at a second
        place in the district, elsewhere in it) and by commuters from other districts at
        their work intersections. Lawful crossings are split in proportion to each one's
        expected lawful crossings there, counted jaywalks in proportion to expected
        counted jaywalks there (the share 1 - capture left uncaptured at camera
        intersections: a resident's part elsewhere in the district is uncaptured with
        probability 1 - W_cam × capture). Given a district's total, independent Poisson
        counts are multinomial in proportion to their expectations: the person totals have
        the law of daily draws and add up to the intersection totals. District by
        district, so that the float64 expectations exist for one district per core at a
        time: the whole-population temporaries are two int32 counts.
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
        # Commuters into each district from the others, grouped by the district they go to.
        away = np.flatnonzero(self._away_c[self._class_of])
        goes_to = self.intersections.district[self._second[away]].astype(np.int64)
        incoming_order = stable_order(goes_to)
        away = away[incoming_order]
        in_bounds = np.concatenate(
            [[0], np.cumsum(np.bincount(goes_to, minlength=self._n_districts))]
        )
        capture = self.capture if self._mode == _CAPTURED and self.capture else 0.0
        a, b, g = self._home_part, self._second_part, self._other_part
        stays = ~self._away_c
        rng = sim.rng(f"{self.name}/crossers", day=sim.day)  # keyed by the day it settles
        # One generator per district (the same on any number of cores); districts split
        # on the cores, each writing its own residents' counts and returning the counts
        # of the commuters who come in (written after: they live elsewhere).
        gens = rng.spawn(self._n_districts)

        def split(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            lo, hi = int(bounds[d]), int(bounds[d + 1])
            people = slice(lo, hi) if order is None else order[lo:hi]
            incoming = away[in_bounds[d] : in_bounds[d + 1]]
            cls = self._class_of[people]
            cls_in = self._class_of[incoming]
            jay = self._expected_jaywalks(people)
            jay_in = self._expected_jaywalks(incoming)
            local = a[cls] + b[cls] * stays[cls] + g[cls]
            lawful_w = np.concatenate([
                np.maximum(self.crossing_rate[cls] * days - jay, 0.0) * local,
                np.maximum(self.crossing_rate[cls_in] * days - jay_in, 0.0) * b[cls_in],
            ])  # fmt: skip
            local_jay = (
                a[cls] * (1.0 - capture * self._cam_home_c[cls])
                + b[cls] * stays[cls] * (1.0 - capture * self._cam_second_c[cls])
                + g[cls] * (1.0 - capture * self.camera_weight[d])
            )
            jay_w = np.concatenate([
                jay * local_jay,
                jay_in * b[cls_in] * (1.0 - capture * self._cam_second_c[cls_in]),
            ])  # fmt: skip
            n_local = len(cls)
            lawful = np.zeros(len(lawful_w), np.int64)
            jaywalks = np.zeros(len(jay_w), np.int64)
            total = int(self._lawful_run_by_district[d])
            if total:
                lawful = multinomial_split(gens[d], total, lawful_w)
            total = int(self._counted_run_by_district[d])
            if total:
                jaywalks = multinomial_split(gens[d], total, jay_w)
            crossing[people] = lawful[:n_local]
            counted[people] = jaywalks[:n_local]
            return incoming, lawful[n_local:], jaywalks[n_local:]

        for incoming, lawful, jaywalks in parallel_map(split, self._n_districts):
            crossing[incoming] += lawful.astype(np.int32)
            counted[incoming] += jaywalks.astype(np.int32)
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
