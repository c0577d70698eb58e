"""The Nanjing jaywalking model written the idiomatic Mesa 3 way, for comparison with sclab.

The model is sclab's ``streets`` source, ``cameras`` sensor and ``nanjing`` policy pack run
alone (``src/sclab/world/streets.py``, ``src/sclab/sensors/cameras.py`` and
``face_recognition.py``, ``src/sclab/policy/packs/nanjing.yaml``), one agent at a time:

Core objects:
    :class:`NanjingParams`: every number of the model, read from a sclab scenario
        (:meth:`NanjingParams.from_scenario`), so that the two models cannot drift apart.
    :class:`Person`: one synthetic resident as the model needs them (district, age, sex,
        residence, daily routine, enrolment in the face gallery, ethnic group);
        :func:`people_of` takes them from sclab's generated population.
    :class:`Intersection`: a busy signalised intersection (district, share of its
        district's crossings, its camera if any); :func:`draw_intersections` draws them
        as sclab does, or the caller passes sclab's own.
    :class:`Pedestrian` (a ``mesa.Agent``): its own intersections, crossing rate and
        jaywalking probability; each day its crossings, jaywalks and, at a camera, the
        captured probe; its identifications over the sliding year and its listing.
    :class:`Camera` (a ``mesa.Agent``): one per camera intersection; each day it adds the
        probes of non-residents and printed faces, draws capture conditions and searches
        every probe against the gallery.
    :class:`FaceMatcher`: the 1:N error model (false-match rate per comparison, gallery
        size, demographic and condition multipliers, the rank rule).
    :class:`NanjingModel` (a ``mesa.Model``): builds the city, and each day runs
        ``shuffle_do("step")`` over the pedestrians, ``do("step")`` over the cameras, then
        the more-than-five rule; a ``DataCollector`` keeps the daily totals.

The model, day by day:
    * Crossings: Poisson(r_i) busy-intersection crossings, r_i by age band, commuting and
      rural residence. Each crossing is a jaywalk with probability
      ``min(1, s_i x h_i)``: s_i by age band and sex, scaled so that the crossing-weighted
      mean over the population is the published 18.54 %, h_i a Gamma habit of mean 1.
    * Where: with probability ``own_share`` at the person's own intersections (for
      commuters and students half at home, half at work or school), else at an
      intersection of the home district chosen in proportion to its volume.
    * Capture: a jaywalk at a camera intersection becomes a probe with probability
      ``capture``. Non-residents add Poisson(R x s / (1 - s) x capture) probes at a camera
      that saw R resident jaywalks today; faces printed on buses add Poisson(rate) probes.
    * Identification (1:N): conditions (night, helmet, sunglasses, mask); the mate is
      missed with probability ``min(1, FNIR x c_fnir)``; some non-mate exceeds the
      threshold with probability ``FPIR = 1 - (1 - FMR x c_fmr x mbar_L)^(N - mated)``
      (N the gallery size, mbar_L the mean multiplier of the probe's lookalikes); when
      both, the non-mate outranks the mate with probability ``outrank_share``. A false
      match names a lookalike (same sex and 10-year age band) in proportion to the
      members' multipliers, never the mate.
    * Rule: every identification is displayed on the roadside screen and notified by
      SMS; after the day's identifications, a person identified more than five times in
      the last 365 days who is not listed is listed as discredited for 365 days (earlier
      exits by objection and appeal, drawn at entry as the pack's due process says);
      the entry is wrongful when the person's correct identifications alone would not
      exceed five.

Where it differs from sclab (the same model, not the same random numbers):
    1. Draws: Python's ``random`` (Mesa's ``model.random``) one event at a time; sclab
       draws per rate class and per intersection from keyed NumPy streams. No draw is
       shared, so the two agree in law only.
    2. Habits: a continuous Gamma draw per person; sclab keeps one of 256 equally likely
       levels (the conditional means of the Gamma's quantile bins: same mean, a slightly
       shorter top tail).
    3. Share scaling: s is scaled so that the realised population's crossing-weighted
       mean of ``min(1, s x h)`` is the target; sclab scales the expectation over its habit
       levels per class. Both hit the target in expectation.
    4. Counted jaywalks: every crossing is drawn here for every person; sclab draws one by
       one only the captured jaywalks and counts the rest per intersection, splitting the
       counts over people at the end (the same Poisson law: splitting and thinning).
    5. Non-residents' looks: a random resident jaywalk at a camera today (realised);
       sclab draws people in proportion to their expected camera jaywalks today.
    6. Match scores are not drawn (sclab draws a reported similarity per identification;
       no decision reads it).
    7. Ages are completed years on day 0, as in sclab; sclab also keeps them fixed.
    8. Not modelled, as the comparison runs without them: behaviour (deterrence),
       the pack's joint punishments (they act on resource moments of another source),
       several camera sensors (``record_every_event``) and the per-district overrides of
       intersections and camera shares (refused by :meth:`NanjingParams.from_scenario`).

Cost model: setup is O(n) Python objects (one agent per person, a few hundred bytes
each) plus a bisection over everyone for the jaywalking share. A day is O(n) Python
method calls (one ``step`` per pedestrian: a Poisson draw, and per crossing a uniform and,
for a jaywalk, a place), O(probes) searches and O(people identified today) rule checks.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mesa

#: Crossing-rate age bands, as sclab's streets (``AGE_BANDS``): lower bounds.
STREET_BAND_LOWER = (0, 6, 18, 30, 60)
STREET_BANDS = ("0-5", "6-17", "18-29", "30-59", "60+")
#: Lookalike cells: sex x 10-year age band (0-9 ... 90+), as sclab's face matcher.
N_AGE10 = 10
AGE10_BANDS = (*(f"{10 * b}-{10 * b + 9}" for b in range(N_AGE10 - 1)), "90+")
#: Daily routines: home only, or a second place at work or school.
HOME, WORK, SCHOOL = "home", "work", "school"


# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class NanjingParams:
    """Every number of the model, as sclab's streets, cameras and nanjing pack hold them."""

    # Streets (sclab.world.streets.StreetsParams).
    residents_per_intersection: float
    weight_sigma: float
    camera_share: float
    crossings_per_day: float  # times the source's rate_multiplier
    crossing_age: dict[str, float]
    commuter_multiplier: float
    rural_multiplier: float
    own_share: float
    second_place_share: float
    cross_district_commute_share: float
    jaywalk_share: float
    jaywalk_age: dict[str, float]
    jaywalk_male_multiplier: float
    habit_variance: float
    # Cameras (sclab.sensors.cameras.CamerasParams).
    capture: float
    night_share: float
    helmet_share: float
    sunglasses_share: float
    mask_share: float
    mask_share_winter: float
    winter_months: tuple[int, ...]
    non_resident_share: float
    non_person_faces_per_camera_day: float
    printed_face_in_gallery_share: float
    advert_faces: int
    # Matcher (sclab.sensors.face_recognition.MatcherSettings).
    fmr: float
    fnir: float
    outrank_share: float
    female_fmr: float
    age_fmr: dict[str, float]
    ethnic_fmr: tuple[float, ...]  # per ethnic group of the scenario, in its order
    night: tuple[float, float]  # (FMR multiplier, FNIR multiplier)
    helmet: tuple[float, float]
    sunglasses: tuple[float, float]
    mask: tuple[float, float]
    # The nanjing pack (sclab.policy.schema.Policy).
    window_days: int
    above: int
    term_days: int
    due_process: dict[str, Any]
    # The scenario.
    start_date: dt.date
    working_occupations: tuple[str, ...]

    @classmethod
    def from_scenario(cls, scenario: Any) -> NanjingParams:
        """The numbers of a sclab scenario (``sclab.Scenario``, or its spec) that runs the
        streets, the cameras and one policy counting ``jaywalk_identified`` events.

        Raises:
            ValueError: the scenario uses something this model does not have.
        """
        from sclab.policy.loader import load_policy
        from sclab.scenario.schema import OCCUPATIONS_WORKING
        from sclab.sensors.cameras import CamerasParams
        from sclab.world.streets import StreetsParams

        spec = getattr(scenario, "spec", scenario)

        def params_of(stage: str, use: str) -> dict[str, Any]:
            found = [c.params for c in getattr(spec, stage) if c.enabled and c.use == use]
            if len(found) != 1:
                raise ValueError(f"the scenario must run {stage} '{use}' exactly once")
            return dict(found[0])

        st = StreetsParams.model_validate(params_of("sources", "streets"))
        if st.intersections_by_district or st.camera_share_by_district or st.record_every_event:
            raise ValueError("per-district overrides and record_every_event are not modelled")
        cam = CamerasParams.model_validate(params_of("sensors", "cameras"))
        m = cam.matcher.settings()
        groups = list(spec.population.demography.ethnic_groups)
        policies = [c.params["pack"] for c in spec.policies if c.enabled]
        if len(policies) != 1:
            raise ValueError("the scenario must run exactly one policy (the nanjing pack)")
        pol = load_policy(str(policies[0]))
        (counter,) = pol.counters
        if counter.events.kinds != ["jaywalk_identified"]:
            raise ValueError("the policy must count jaywalk_identified events")
        (rule,) = [r for r in pol.rules if r.when.counter == counter.id]
        (lst,) = pol.lists
        if lst.extension_probability or lst.delete_on is not None or pol.joint:
            raise ValueError("list extensions, deletion and joint punishment are not modelled")
        return cls(
            residents_per_intersection=st.residents_per_intersection,
            weight_sigma=st.weight_sigma,
            camera_share=st.camera_share,
            crossings_per_day=st.crossings_per_day * st.rate_multiplier,
            crossing_age=dict(st.crossing_age),
            commuter_multiplier=st.commuter_multiplier,
            rural_multiplier=st.rural_multiplier,
            own_share=st.own_share,
            second_place_share=st.second_place_share,
            cross_district_commute_share=st.cross_district_commute_share,
            jaywalk_share=st.jaywalk_share,
            jaywalk_age=dict(st.jaywalk_age),
            jaywalk_male_multiplier=st.jaywalk_male_multiplier,
            habit_variance=st.habit_variance,
            capture=cam.capture_probability,
            night_share=cam.night_share,
            helmet_share=cam.helmet_share,
            sunglasses_share=cam.sunglasses_share,
            mask_share=cam.mask_share,
            mask_share_winter=cam.mask_share_winter,
            winter_months=tuple(cam.winter_months),
            non_resident_share=cam.non_resident_share,
            non_person_faces_per_camera_day=cam.non_person_faces_per_camera_day,
            printed_face_in_gallery_share=cam.printed_face_in_gallery_share,
            advert_faces=cam.advert_faces,
            fmr=m.fmr,
            fnir=m.fnir,
            outrank_share=m.outrank_share,
            female_fmr=m.female_fmr,
            age_fmr=dict(m.age_fmr),
            ethnic_fmr=tuple(m.ethnic_fmr.get(g, m.other_ethnic_fmr) for g in groups),
            night=m.night,
            helmet=m.helmet,
            sunglasses=m.sunglasses,
            mask=m.mask,
            window_days=counter.window_days,
            above=int(rule.when.above or 0),
            term_days=int(lst.term_days or 0),
            due_process=pol.due_process.model_dump(),
            start_date=spec.start_date,
            working_occupations=tuple(o for o in OCCUPATIONS_WORKING if o != "unemployed"),
        )


@dataclass(frozen=True)
class Person:
    """One synthetic resident, as the model needs them."""

    district: int  # index into the scenario's districts
    age: int  # completed years on day 0
    male: bool
    urban: bool
    routine: str  # HOME, WORK or SCHOOL
    enrolled: bool  # in the ID-photo or driver-licence gallery
    ethnic: int  # index into the scenario's ethnic groups


def people_of(scenario: Any) -> list[Person]:
    """sclab's synthetic population of ``scenario`` (the same people, seed for seed)."""
    from sclab.population import generate_population
    from sclab.population.citizens import OCCUPATIONS
    from sclab.rng import Streams

    spec = getattr(scenario, "spec", scenario)
    c = generate_population(spec, Streams(spec.seed)).citizens
    working = set(NanjingParams.from_scenario(spec).working_occupations)
    routine_of = [WORK if o in working else SCHOOL if o == "student" else HOME for o in OCCUPATIONS]
    enrolled = c.in_id_photo_db | c.in_driver_db
    return [
        Person(int(d), int(a), bool(m), bool(u), routine_of[o], bool(e), int(g))
        for d, a, m, u, o, e, g in zip(
            c.district.tolist(), c.age(spec.start_date).tolist(), c.male.tolist(),
            c.urban.tolist(), c.occupation.tolist(), enrolled.tolist(),
            c.ethnic_group.tolist(), strict=True,
        )
    ]  # fmt: skip


# ----------------------------------------------------------------------------- the city


@dataclass
class Intersection:
    """A busy signalised intersection: its district, its share of the district's
    crossings, and the camera watching it (None: no camera)."""

    district: int
    weight: float
    camera: Camera | None = None


def busiest_share(sigma: float, share: float) -> float:
    """Mean volume of the busiest ``share`` of lognormal(0, sigma) intersections over the
    mean of all (the cameras' flow at city scale, whatever the run's size)."""
    if share <= 0.0:
        return 0.0
    if share >= 1.0:
        return 1.0
    normal = statistics.NormalDist()
    return normal.cdf(sigma - normal.inv_cdf(1.0 - share)) / share


def draw_intersections(
    model: mesa.Model, residents: Sequence[int], p: NanjingParams
) -> list[list[tuple[float, bool]]]:
    """Per district, its intersections as (weight, has camera), drawn as sclab does: one
    per ``residents_per_intersection`` residents (at least one), lognormal volumes, cameras
    at the busiest (``camera_share`` of the nominal number in expectation, the fraction
    placed with that probability), the cameras carrying the flow of the busiest share of a
    large district (at most 0.9 of it)."""
    rnd = model.random
    busiest = busiest_share(p.weight_sigma, p.camera_share)
    out: list[list[tuple[float, bool]]] = []
    for n in residents:
        if n == 0:
            out.append([])
            continue
        nominal = n / p.residents_per_intersection
        k = max(1, round(nominal))
        volume = [rnd.lognormvariate(0.0, p.weight_sigma) for _ in range(k)]
        expected = min(float(k), p.camera_share * nominal)
        n_cam = min(k, math.floor(expected) + (rnd.random() < expected - math.floor(expected)))
        order = sorted(range(k), key=lambda i: -volume[i])
        camera = [False] * k
        for i in order[:n_cam]:
            camera[i] = True
        if n_cam in (0, k):
            total = sum(volume)
            weight = [v / total for v in volume]
        else:
            on_cameras = min(0.9, n_cam * busiest / k)
            cam_total = sum(v for v, c in zip(volume, camera, strict=True) if c)
            rest_total = sum(v for v, c in zip(volume, camera, strict=True) if not c)
            weight = [
                on_cameras * v / cam_total if c else (1.0 - on_cameras) * v / rest_total
                for v, c in zip(volume, camera, strict=True)
            ]
        out.append(list(zip(weight, camera, strict=True)))
    return out


# ----------------------------------------------------------------------------- the matcher


@dataclass
class Probe:
    """A face in front of a camera: whose (None: nobody enrolled stands behind it), their
    lookalike cell, and the pedestrian who really jaywalked (None: a non-resident or a
    printed face)."""

    mate: Pedestrian | None
    look: int
    jaywalker: Pedestrian | None
    printed: bool = False


class FaceMatcher:
    """The 1:N search against the gallery of enrolled residents (sclab's error model).

    Attributes:
        size: N, the gallery size.
        cells: Per lookalike cell, per ethnic group, the enrolled members.
    """

    def __init__(self, model: NanjingModel, members: Iterable[Pedestrian]) -> None:
        p = model.p
        self.p, self.random = p, model.random
        n_groups = len(p.ethnic_fmr)
        self.cells: list[list[list[Pedestrian]]] = [
            [[] for _ in range(n_groups)] for _ in range(2 * N_AGE10)
        ]
        for m in members:
            self.cells[m.look][m.person.ethnic].append(m)
        self.size = sum(len(g) for cell in self.cells for g in cell)
        # Per cell, the groups' multipliers and their cumulative weights (count x multiplier).
        self.mult: list[list[float]] = []
        self.cum: list[list[float]] = []
        self.mbar: list[float] = []
        for look, cell in enumerate(self.cells):
            male, band = divmod(look, N_AGE10)
            base = (1.0 if male else p.female_fmr) * p.age_fmr.get(AGE10_BANDS[band], 1.0)
            mult = [base * e for e in p.ethnic_fmr]
            weights = [len(g) * x for g, x in zip(cell, mult, strict=True)]
            size = sum(len(g) for g in cell)
            self.mult.append(mult)
            self.cum.append(list(_accumulate(weights)))
            self.mbar.append(sum(weights) / size if size else 0.0)

    def fpir(self, look: int, mated: bool, fmr_mult: float) -> float:
        """Probability that some non-mate exceeds the threshold."""
        others = sum(len(g) for g in self.cells[look]) - mated
        if others <= 0:
            return 0.0
        q = min(1.0, self.p.fmr * fmr_mult * self.mbar[look])
        if q >= 1.0:
            return 1.0
        return -math.expm1((self.size - mated) * math.log1p(-q))

    def identify(self, probe: Probe, fmr_mult: float, fnir_mult: float) -> Pedestrian | None:
        """Who the search names (None: nobody above the threshold)."""
        rnd = self.random.random
        mated = probe.mate is not None
        mate_hit = mated and rnd() >= min(1.0, self.p.fnir * fnir_mult)
        non_mate = rnd() < self.fpir(probe.look, mated, fmr_mult)
        if non_mate and mate_hit and rnd() >= self.p.outrank_share:
            non_mate = False  # the mate ranks first
        if non_mate:
            return self.lookalike(probe.look, probe.mate)
        return probe.mate if mate_hit else None

    def lookalike(self, look: int, exclude: Pedestrian | None) -> Pedestrian:
        """A member of the cell other than ``exclude``, in proportion to its multiplier."""
        cell, cum = self.cells[look], self.cum[look]
        while True:
            group = bisect.bisect_right(cum, self.random.random() * cum[-1])
            members = cell[min(group, len(cell) - 1)]
            if not members:
                continue
            pick = self.random.choice(members)
            if pick is not exclude:
                return pick


def _accumulate(values: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


def poisson(model: mesa.Model, lam: float) -> int:
    """A Poisson draw from the model's Python stream (Knuth; NumPy for large means)."""
    if lam <= 0.0:
        return 0
    if lam > 30.0:
        return int(model.rng.poisson(lam))
    limit, k, prod = math.exp(-lam), 0, model.random.random()
    while prod > limit:
        k += 1
        prod *= model.random.random()
    return k


# ----------------------------------------------------------------------------- agents


class Pedestrian(mesa.Agent):
    """A resident who crosses busy intersections and sometimes jaywalks.

    Attributes:
        person: Who they are (:class:`Person`).
        home, second: Their own intersections (``second`` is None without work or school).
        elsewhere: The intersections of the home district and their cumulative weights.
        crossing_rate: Expected crossings a day.
        jaywalk_prob: Probability that a crossing is a jaywalk.
        look: Lookalike cell (sex x 10-year age band).
        crossings, jaywalks, captured, named, falsely_named, entries, wrongful_entries:
            Run totals.
        identified: (day, correct) of the identifications in the sliding year.
        listed_until: First day no longer listed (-1: never listed).
    """

    def __init__(
        self,
        model: NanjingModel,
        person: Person,
        home: Intersection | None,
        second: Intersection | None,
        crossing_rate: float,
        relative_share: float,
        habit: float,
    ) -> None:
        super().__init__(model)
        self.person = person
        self.home, self.second = home, second
        self.elsewhere = model.district_places[person.district]
        self.crossing_rate = crossing_rate
        self.relative_share, self.habit = relative_share, habit
        self.jaywalk_prob = 0.0  # set once the shares are scaled
        self.look = int(person.male) * N_AGE10 + min(max(person.age, 0) // 10, N_AGE10 - 1)
        self.crossings = self.jaywalks = self.captured = 0
        self.named = self.falsely_named = self.entries = self.wrongful_entries = 0
        self.identified: collections.deque[tuple[int, bool]] = collections.deque()
        self.listed_until = -1

    def step(self) -> None:
        """Today's crossings; each jaywalk at a camera may be captured."""
        n = poisson(self.model, self.crossing_rate)
        if n == 0:
            return
        self.crossings += n
        rnd = self.model.random.random
        for _ in range(n):
            if rnd() < self.jaywalk_prob:
                self.jaywalks += 1
                camera = self.where().camera
                if camera is not None:
                    camera.saw(self)

    def where(self) -> Intersection:
        """The intersection of one crossing: own ones, or another of the home district."""
        model = self.model
        rnd = model.random.random
        if rnd() < model.p.own_share:
            if self.second is not None and rnd() < model.p.second_place_share:
                return self.second
            assert self.home is not None
            return self.home
        places, cum = self.elsewhere
        return places[min(bisect.bisect_right(cum, rnd() * cum[-1]), len(places) - 1)]

    def identify_as(self, day: int, correct: bool) -> None:
        """Named by a camera today (displayed and notified), counted over the year."""
        self.named += 1
        self.falsely_named += not correct
        self.identified.append((day, correct))

    def count(self, day: int) -> tuple[int, int]:
        """(identifications, correct ones) in the window ending today."""
        window = self.model.p.window_days
        while self.identified and self.identified[0][0] <= day - window:
            self.identified.popleft()
        return len(self.identified), sum(c for _, c in self.identified)

    def listed(self, day: int) -> bool:
        return self.listed_until > day


class Camera(mesa.Agent):
    """A face-recognition camera at a busy intersection.

    Attributes:
        place: Its intersection.
        jaywalks_today: Resident jaywalks it saw today (captured or not).
        probes: Today's captured probes.
    """

    def __init__(self, model: NanjingModel, place: Intersection) -> None:
        super().__init__(model)
        self.place = place
        place.camera = self
        self.jaywalks_today = 0
        self.probes: list[Probe] = []

    def saw(self, who: Pedestrian) -> None:
        """A resident jaywalked here: captured as a probe with probability ``capture``."""
        model = self.model
        self.jaywalks_today += 1
        model.camera_jaywalkers.append(who)
        if model.random.random() < model.p.capture:
            who.captured += 1
            self.probes.append(Probe(who if who.person.enrolled else None, who.look, who))

    def step(self) -> None:
        """Add non-residents and printed faces, then search every probe."""
        model, p = self.model, self.model.p
        s = p.non_resident_share
        visitors = poisson(model, self.jaywalks_today * s / (1.0 - s) * p.capture)
        for _ in range(visitors):
            like = model.random.choice(model.camera_jaywalkers)  # a resident's look
            self.probes.append(Probe(None, like.look, None))
        model.non_resident_probes += visitors
        for _ in range(poisson(model, p.non_person_faces_per_camera_day)):
            self.probes.append(model.printed_face())
        for probe in self.probes:
            model.search(probe)
        self.probes.clear()
        self.jaywalks_today = 0


# ----------------------------------------------------------------------------- the model


class NanjingModel(mesa.Model):
    """Nanjing's face-recognition jaywalking rule over a synthetic population.

    Args:
        people: The residents (:func:`people_of`).
        params: The numbers (:meth:`NanjingParams.from_scenario`).
        places: Per district, its intersections as (weight, has camera); default: drawn
            (:func:`draw_intersections`).
        seed: Seed of the model's streams.

    Attributes:
        identifications, false_identifications, displays, notices, entries,
        wrongful_entries, non_resident_probes, printed_probes: Run totals.
        datacollector: Those totals day by day.
    """

    def __init__(
        self,
        people: Sequence[Person],
        params: NanjingParams,
        places: Sequence[Sequence[tuple[float, bool]]] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed=seed)
        self.p = p = params
        n_districts = 1 + max((x.district for x in people), default=-1)
        residents = [0] * n_districts
        for x in people:
            residents[x.district] += 1
        if places is None:
            places = draw_intersections(self, residents, p)
        self.district_places: list[tuple[list[Intersection], list[float]]] = []
        for d, table in enumerate(places):
            here = [Intersection(d, w) for w, _ in table]
            for place, (_, cam) in zip(here, table, strict=True):
                if cam:
                    Camera(self, place)
            self.district_places.append((here, list(_accumulate(x.weight for x in here))))
        while len(self.district_places) < n_districts:
            self.district_places.append(([], []))

        # Where commuters who leave their district go: another with intersections, in
        # proportion to its residents.
        has_places = [bool(self.district_places[d][0]) for d in range(n_districts)]
        for x in people:
            Pedestrian(self, x, *self._routes(x, residents, has_places))
        self.pedestrians = self.agents_by_type[Pedestrian]
        self._scale_shares()
        self.matcher = FaceMatcher(self, (a for a in self.pedestrians if a.person.enrolled))
        adults = [a for a in self.pedestrians if a.person.enrolled and a.person.age >= 18]
        self.adverts = self.random.sample(adults, min(p.advert_faces, len(adults)))
        self.printed_looks = [a.look for a in adults]  # the adult gallery's mix

        self.day = -1
        self.camera_jaywalkers: list[Pedestrian] = []
        self.identified_today: set[Pedestrian] = set()
        self.identifications = self.false_identifications = 0
        self.displays = self.notices = self.entries = self.wrongful_entries = 0
        self.non_resident_probes = self.printed_probes = 0
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "identifications": "identifications",
                "false_identifications": "false_identifications",
                "displays": "displays",
                "list_entries": "entries",
                "wrongful_entries": "wrongful_entries",
            }
        )

    def _routes(
        self, x: Person, residents: Sequence[int], has_places: Sequence[bool]
    ) -> tuple[Intersection | None, Intersection | None, float, float, float]:
        """A person's own intersections, crossing rate, relative share and habit."""
        p, rnd = self.p, self.random
        if not has_places[x.district]:
            return None, None, 0.0, 0.0, 1.0
        home = self._pick(x.district)
        second = None
        if x.routine == WORK and rnd.random() < p.cross_district_commute_share:
            others = [d for d in range(len(residents)) if d != x.district and has_places[d]]
            if others:
                d = rnd.choices(others, weights=[residents[d] for d in others])[0]
                second = self._pick(d)
            else:
                second = self._pick(x.district)
        elif x.routine != HOME:
            second = self._pick(x.district)
        band = STREET_BANDS[bisect.bisect_right(STREET_BAND_LOWER, x.age) - 1]
        rate = p.crossings_per_day * p.crossing_age.get(band, 1.0)
        rate *= (p.commuter_multiplier if x.routine == WORK else 1.0) * (
            1.0 if x.urban else p.rural_multiplier
        )
        relative = p.jaywalk_age.get(band, 1.0) * (p.jaywalk_male_multiplier if x.male else 1.0)
        v = p.habit_variance
        habit = rnd.gammavariate(1.0 / v, v) if v > 0 else 1.0
        return home, second, rate, relative, habit

    def _pick(self, district: int) -> Intersection:
        places, cum = self.district_places[district]
        i = bisect.bisect_right(cum, self.random.random() * cum[-1])
        return places[min(i, len(places) - 1)]

    def _scale_shares(self) -> None:
        """Each pedestrian's jaywalking probability ``min(1, k x relative x habit)``, k
        such that the crossing-weighted mean over everyone is ``jaywalk_share``."""
        target = self.p.jaywalk_share
        agents = [a for a in self.pedestrians if a.crossing_rate > 0 and a.relative_share > 0]
        total = sum(a.crossing_rate for a in agents)
        if not agents or target <= 0.0:
            return

        def mean(k: float) -> float:
            s = sum(a.crossing_rate * min(1.0, k * a.relative_share * a.habit) for a in agents)
            return s / total

        lo, hi = 0.0, 1.0
        while mean(hi) < target and hi < 1e12:
            lo, hi = hi, 2.0 * hi
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if mean(mid) < target else (lo, mid)
        for a in agents:
            a.jaywalk_prob = min(1.0, hi * a.relative_share * a.habit)

    # -- a day --------------------------------------------------------------------------

    def step(self) -> None:
        """One day: pedestrians in random order, the cameras, the more-than-five rule."""
        self.day = self.steps - 1
        self.pedestrians.shuffle_do("step")
        if Camera in self.agent_types:
            self.agents_by_type[Camera].do("step")
        self.apply_rule()
        self.camera_jaywalkers.clear()
        self.datacollector.collect(self)

    def printed_face(self) -> Probe:
        """A face on a passing bus or billboard: an advert's enrolled person, or an
        unenrolled face of the adult gallery's sex and age mix."""
        self.printed_probes += 1
        rnd = self.random
        if self.adverts and rnd.random() < self.p.printed_face_in_gallery_share:
            face = rnd.choice(self.adverts)
            return Probe(face, face.look, None, printed=True)
        look = rnd.choice(self.printed_looks) if self.printed_looks else 0
        return Probe(None, look, None, printed=True)

    def conditions(self, probe: Probe) -> tuple[float, float]:
        """(FMR multiplier, FNIR multiplier) of the probe's capture conditions."""
        p, rnd = self.p, self.random.random
        person = not probe.printed
        night = rnd() < p.night_share
        helmet = rnd() < p.helmet_share
        sunglasses = rnd() < p.sunglasses_share
        month = (p.start_date + dt.timedelta(days=self.day)).month
        mask = rnd() < (p.mask_share_winter if month in p.winter_months else p.mask_share)
        fmr = fnir = 1.0
        for on, (m_fmr, m_fnir) in (
            (night, p.night),
            (person and helmet, p.helmet),
            (person and sunglasses and not night, p.sunglasses),
            (person and mask, p.mask),
        ):
            if on:
                fmr, fnir = fmr * m_fmr, fnir * m_fnir
        return fmr, fnir

    def search(self, probe: Probe) -> None:
        """Identify a probe; a named person is displayed, notified and counted."""
        named = self.matcher.identify(probe, *self.conditions(probe))
        if named is None:
            return
        correct = named is probe.jaywalker
        self.identifications += 1
        self.false_identifications += not correct
        self.displays += 1  # the roadside screen
        self.notices += 1  # the SMS
        named.identify_as(self.day, correct)
        self.identified_today.add(named)

    def apply_rule(self) -> None:
        """More than ``above`` identifications in the window: listed, unless already."""
        p, day = self.p, self.day
        for who in self.identified_today:
            if who.listed(day):
                continue
            count, correct = who.count(day)
            if count <= p.above:
                continue
            wrongful = correct <= p.above
            who.listed_until = self.listing_end(day, wrongful)
            who.entries += 1
            who.wrongful_entries += wrongful
            self.entries += 1
            self.wrongful_entries += wrongful
        self.identified_today.clear()

    def listing_end(self, day: int, wrongful: bool) -> int:
        """The entry's end: its term, or an upheld objection or appeal if earlier."""
        dp, rnd = self.p.due_process, self.random.random
        end = day + self.p.term_days if self.p.term_days else 1 << 30
        if not dp["enabled"]:
            return end
        objects = rnd() < dp["objection_share_if_wrongful" if wrongful else
                              "objection_share_if_rightful"]  # fmt: skip
        upheld = objects and rnd() < dp["success_if_wrongful" if wrongful else
                                        "success_if_rightful"]  # fmt: skip
        decided = day + dp["notice_delay_days"] + dp["review_days"]
        appeal = objects and not upheld and rnd() < dp["appeal_share"]
        won = appeal and wrongful and rnd() < dp["appeal_success_if_wrongful"]
        if upheld:
            end = min(end, decided)
        if won:
            end = min(end, decided + dp["appeal_days"])
        if dp["repair_after_days"] and dp["repair_share"] > 0 and rnd() < dp["repair_share"]:
            end = min(end, day + dp["repair_after_days"])
        return end

    # -- results ------------------------------------------------------------------------

    def totals(self) -> dict[str, Any]:
        """Run totals, and per person the counts the comparison's tolerances read."""
        agents = list(self.pedestrians)
        per_person = {
            "crossings": [a.crossings for a in agents],
            "jaywalks": [a.jaywalks for a in agents],
            "resident_probes": [a.captured for a in agents],
            "identifications": [a.named for a in agents],
            "false_identifications": [a.falsely_named for a in agents],
            "list_entries": [a.entries for a in agents],
            "wrongful_entries": [a.wrongful_entries for a in agents],
            "people_listed": [int(a.entries > 0) for a in agents],
        }
        out: dict[str, Any] = {k: sum(v) for k, v in per_person.items()}
        out.update(
            cameras=len(self.agents_by_type[Camera]) if Camera in self.agent_types else 0,
            displays=self.displays,
            non_resident_probes=self.non_resident_probes,
            printed_probes=self.printed_probes,
            per_person=per_person,
        )
        return out


@dataclass
class Timed:
    """A model run with its set-up and simulated seconds."""

    model: NanjingModel
    setup_seconds: float
    simulate_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def run(
    people: Sequence[Person],
    params: NanjingParams,
    days: int,
    places: Sequence[Sequence[tuple[float, bool]]] | None = None,
    seed: int | None = None,
) -> Timed:
    """Build the model and run ``days`` days, timing each part."""
    import time

    t0 = time.perf_counter()
    model = NanjingModel(people, params, places, seed)
    t1 = time.perf_counter()
    for _ in range(days):
        model.step()
    return Timed(model, t1 - t0, time.perf_counter() - t1)
