"""The face-recognition camera network at intersections (Nanjing's jaywalking pipeline).

Core objects:
    :class:`CamerasParams`: capture probability (a named preset or a number), capture
        conditions, non-resident and printed-face probes, and the matcher
        (:class:`~sclab.sensors.face_recognition.MatcherParams`).
    :data:`CAPTURE_PRESETS`: capture probabilities calibrated to the two published
        per-camera figures (:class:`CapturePreset`); :data:`DEFAULT_CAPTURE_PRESET` and
        why (:data:`DEFAULT_CAPTURE_REASON`).
    :class:`ScoreLaw`: how the reported similarity score of a named candidate is drawn.
    :class:`Cameras`: the ``("sensors", "cameras")`` component.

A sensor records; a policy decides. The network writes what it recorded (``events`` of
kind ``jaywalk_identified`` and ``identifications`` rows) and nothing else: it issues no
sanction and tells behaviour nothing. Showing the named person on a roadside screen and
texting them are decisions of a policy (the ``nanjing`` pack's rule ``display``), with
provenance like every other sanction, and it is the policy engine that reports the
people it displays or notifies as caught. Nor does the network set
``SystemView.detection``: no behaviour reads it (deterrence learns from being caught,
not from the network's hit rate), and the detection share is in the recorded history
for the audit (correct resident identifications over the day's jaywalks).

Where the cameras are comes from the engine's places contract, not from a source's
class: in ``setup`` the sensor finds the :class:`~sclab.engine.places.WatchedPlaces` of
``jaywalk`` acts (``sim.places``, published by the streets source: district and camera
flag per intersection, today's jaywalks per intersection) and registers its capture
probability with :meth:`~sclab.engine.places.WatchedPlaces.watch`. The source then draws
as ``jaywalk`` acts exactly the jaywalks a camera captures (Poisson splitting: same law as
capturing each jaywalk at a camera intersection with probability ``capture``) and counts
all others per intersection; with the streets' ``record_every_event`` every jaywalk is an
act and the sensor captures from them.

No image is ever processed: the matcher is the statistical error model of
:mod:`sclab.sensors.face_recognition`, searched against the gallery of exactly the
citizens with ``in_id_photo_db | in_driver_db`` (unregistered migrants without a licence,
children under the ID-card age and non-residents are not in it).

What happens each day:
    1. Probes. Every jaywalk at a camera intersection is captured as a probe with
       probability ``capture``: the source's acts are those captures (with the streets'
       ``record_every_event``, every jaywalk act at a camera intersection is captured here
       with probability ``capture``). Non-residents (visitors, commuters from outside the
       city: no person_id) add captured probes ~ Poisson(R x s / (1 - s) x capture) for
       the R resident jaywalks at cameras today (from the places' counts, ``today``), so
       that they are a share s = ``non_resident_share`` of all jaywalks there; each stands
       at a camera intersection chosen in proportion to today's resident jaywalks there
       and has the sex and age band of a resident drawn in proportion to their expected
       camera jaywalks (:meth:`~sclab.engine.places.WatchedPlaces.draw_watched_actors`:
       what a random resident camera jaywalk looks like). Printed faces (bus and billboard
       adverts: Ningbo, November 2018) add Poisson(``non_person_faces_per_camera_day`` x
       cameras) probes at uniform camera intersections; a share
       ``printed_face_in_gallery_share`` shows one of ``advert_faces`` enrolled people
       (chosen once: the faces on adverts repeat), the rest an unenrolled face of the
       adult gallery's sex and age mix.
    2. Conditions per probe: night with ``night_share``; helmet (e-bike riders), sunglasses
       (by day only) and mask (``mask_share_winter`` in ``winter_months``, else
       ``mask_share``). Printed faces are never covered.
    3. 1:N search (:func:`~sclab.sensors.face_recognition.identify`).
    4. Records. Every captured probe gets an ``identifications`` row (outcome ``correct``,
       ``false_match`` or ``miss``). Every probe that named somebody gets an ``events`` row
       (kind ``jaywalk_identified``, attributed to the named person; ``true_actor`` NULL
       for non-residents and printed faces; ``error`` ``"false_match"`` unless the named
       person is the jaywalker: a printed face of an enrolled person is the right face but
       nobody jaywalked). A policy's decisions on that event are wrongful exactly when the
       named person is not the true pedestrian.

COST MODEL: setup is O(n) (the gallery's cell keys, one radix sort, 4 bytes per gallery
member kept; see :class:`~sclab.sensors.face_recognition.Gallery`). A day costs O(c) for
the c captured probes (the conditions, the search, the rows), O(cameras) for the
non-residents' intersections, and nothing per person. With the streets'
``record_every_event`` it adds O(j) for the j jaywalk acts (one boolean filter, a
binomial count and a choice of the captured).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sclab.engine.ages import ages
from sclab.engine.catalogue import Catalogue, Kind
from sclab.engine.events import NO_ENTITY
from sclab.engine.registry import ParamsError, register
from sclab.sensors import face_recognition as fr

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation
    from sclab.scenario.schema import Scenario

ACT = "jaywalk"  # the act kind whose places the cameras watch
#: What the cameras record: a face matched at a camera intersection as the person crosses
#: against the light (Nanjing's rule: the name appears on a roadside screen within minutes).
IDENTIFIED = Kind(
    "jaywalk_identified", "event", "person", "traffic", False,
    "a jaywalk at a camera intersection, with the person named by face recognition",
    biometric=True, realtime=True, of_act=ACT,
)  # fmt: skip
KIND = IDENTIFIED.name
SUBJECTS = ("resident", "non_resident", "non_person")
RESIDENT, NON_RESIDENT, NON_PERSON = 0, 1, 2
OUTCOMES = ("correct", "false_match", "miss")
CORRECT, FALSE_MATCH, MISS = 0, 1, 2
# Dictionaries built once: pyarrow converts a Python list through its import machinery
# (tens of microseconds a call), which would otherwise be paid several times a day.
_SUBJECT_LABELS = pa.array(SUBJECTS, type=pa.string())
_OUTCOME_LABELS = pa.array(OUTCOMES, type=pa.string())
_ERROR_LABELS = pa.array(["false_match"], type=pa.string())


@dataclass(frozen=True)
class CapturePreset:
    """A capture probability calibrated to a published per-camera figure.

    Attributes:
        capture: Probability that a jaywalk at a camera intersection becomes a probe.
        figure: The figure's id in ``sclab/calibration/figures.yaml``.
        target: Identifications per camera per day it was calibrated to.
        source: What was published and how the probability was set.
    """

    capture: float
    figure: str
    target: float
    source: str


#: How the presets were measured (the text of every preset's source).
_MEASURED = (
    "Measured on the default `nanjing` scenario (9,314,700 people, 365 days, seed "
    "20190708, deterrence on, matcher field-south-wales-2017): at capture 0.01 a camera "
    "captured 36.6 probes a day, 64% of which named somebody (the city-wide gallery's "
    "false matches included); identifications grow in proportion to the capture."
)

CAPTURE_PRESETS: dict[str, CapturePreset] = {
    "shenzhen-first-day": CapturePreset(
        capture=0.00057,
        figure="shenzhen_2018_first_day",
        target=58 / 40,
        source="Shenzhen's 40 face-recognition devices at busy intersections detected 58 "
        "jaywalking cases on their first day (China Daily via ecns.cn, 4 May 2018): 1.45 "
        "identifications per camera on the first day, the low end. " + _MEASURED + " At "
        "capture 0.01 the first day gave 25.4 identifications per camera; 0.01 x 1.45 / "
        "25.4 = 0.00057.",
    ),
    "futian-busiest": CapturePreset(
        capture=0.0044,
        figure="futian_2018_displayed",
        target=13930 / 304,
        source="13,930 jaywalkers were recorded and shown on the LED screen at one busy "
        "intersection of Futian district, Shenzhen, in the 10 months to February 2018 "
        "(Shenzhen traffic police via the South China Morning Post, 27 March 2018): 45.8 "
        "identifications a day at one of the busiest intersections of a city of 12 million "
        "once the system ran, the high end. Calibrated so that the run's busiest camera "
        "intersection identifies as many over the year. " + _MEASURED + " At capture 0.01 "
        "the busiest camera identified 103 a day; 0.01 x 45.8 / 103 = 0.0044 (checked: "
        "45.9 a day at 0.0044, the mean camera 10.4).",
    ),
}
DEFAULT_CAPTURE_PRESET = "futian-busiest"
DEFAULT_CAPTURE_REASON = (
    "The default is futian-busiest. Both figures are per camera, but they measure "
    "different things: Shenzhen's 58 cases over 40 devices are the first day of a new "
    "system (and of its case handling), while Futian's 13,930 are what one camera showed "
    "over ten months of routine running, as the Nanjing rule counts over a year. The "
    "model's cameras stand at the busiest intersections, like Futian's, and the preset "
    "matches Futian at the run's busiest camera, not at the average one (which then "
    "identifies about a quarter as many). At the Shenzhen first-day rate a camera "
    "captures a person who jaywalks there every day about once in five years, so nobody "
    "is identified six times in a year: the rule discredits nobody. Run "
    "shenzhen-first-day for the low end."
)


class ScoreLaw(BaseModel):
    """Reported similarity of the named candidate: threshold + (1 - threshold) x Beta."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    threshold: float = Field(
        0.8, ge=0, lt=1, description="Assumption: scores on [0, 1], operating threshold 0.8."
    )
    mate_alpha: float = Field(
        3.0,
        gt=0,
        le=1000,
        description="Assumption: the mate's score ~ Beta(3, 1) above the threshold "
        "(mean 0.95 at threshold 0.8).",
    )
    mate_beta: float = Field(1.0, gt=0, le=1000, description="See mate_alpha.")
    non_mate_alpha: float = Field(
        1.0,
        gt=0,
        le=1000,
        description="Assumption: a false match just clears the threshold, Beta(1, 4) above "
        "it (mean 0.84 at threshold 0.8), overlapping the mates' lower tail.",
    )
    non_mate_beta: float = Field(4.0, gt=0, le=1000, description="See non_mate_alpha.")


class CamerasParams(BaseModel):
    """Parameters of the camera network."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    matcher: fr.MatcherParams = Field(
        default_factory=fr.MatcherParams,
        description="The face matcher: a preset operating point plus overrides (its "
        "parameters and presets are listed below). Default preset "
        f"'{fr.DEFAULT_PRESET}', derived from the false alerts of live face recognition "
        "on a crowd (South Wales Police, Cardiff, 2017) rather than from NIST's "
        "laboratory mugshots, because street cameras work in the field's conditions.",
    )
    capture_preset: str = Field(
        DEFAULT_CAPTURE_PRESET,
        description="The capture probability, calibrated to a published per-camera figure "
        "(presets below): 'shenzhen-first-day' (1.45 identifications per camera on the "
        "first day, Shenzhen 2018: the low end) or 'futian-busiest' (45.8 a day at the "
        "busiest camera, Futian 2017-18: the high end). Default "
        f"'{DEFAULT_CAPTURE_PRESET}': a year of routine running, as the Nanjing rule counts.",
    )
    capture: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Probability that a jaywalk at a camera intersection becomes a probe; "
        "when set, it replaces the preset's.",
    )
    night_share: float = Field(
        0.2, ge=0, le=1, description="Assumption: 20% of probes are captured after dark."
    )
    helmet_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Assumption: 10% of probes are e-bike riders wearing a helmet (the "
        "cameras also flag non-motor vehicles running the red light).",
    )
    sunglasses_share: float = Field(
        0.05, ge=0, le=1, description="Assumption: 5% of daytime probes wear sunglasses."
    )
    mask_share: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Assumption: 5% of probes wear a face mask outside winter.",
    )
    mask_share_winter: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Assumption: 20% wear a mask in winter (cold, smog, influenza).",
    )
    winter_months: tuple[int, ...] = Field(
        (12, 1, 2), description="Months (1-12) in which mask_share_winter applies."
    )
    non_resident_share: float = Field(
        0.08,
        ge=0,
        lt=1,
        description="Assumption: 8% of jaywalks at camera intersections are by people who "
        "do not live in the city (tourists, commuters from neighbouring cities), who "
        "concentrate downtown where the cameras stand. They are not in the gallery.",
    )
    non_person_faces_per_camera_day: float = Field(
        0.002,
        ge=0,
        le=100,
        description="Assumption: probes of faces printed on passing buses or billboards, "
        "per camera per day (one every 500 camera-days). Ningbo, November 2018: the face of "
        "Dong Mingzhu on a bus advertisement was displayed as a jaywalker.",
    )
    printed_face_in_gallery_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Assumption: 30% of printed faces show someone enrolled in the gallery "
        "(local figures in adverts; in Ningbo the pictured person was named).",
    )
    advert_faces: int = Field(
        20,
        ge=0,
        le=100_000,
        description="Assumption: 20 enrolled adults (drawn once) appear on adverts.",
    )
    scores: ScoreLaw = Field(default_factory=ScoreLaw, description="Reported match scores.")

    @classmethod
    def markdown_notes(cls) -> str:
        """The capture presets, the matcher's parameters and presets, for the docs."""
        rows = [
            "#### Capture presets",
            "",
            "`capture_preset` picks one of these capture probabilities (`capture` replaces "
            "it with a number).",
            "",
            "| preset | capture | calibrated to | identifications per camera-day |",
            "| --- | ---: | --- | ---: |",
        ]
        for name, p in CAPTURE_PRESETS.items():
            label = f"`{name}`" + (" (default)" if name == DEFAULT_CAPTURE_PRESET else "")
            rows.append(f"| {label} | {p.capture:g} | `{p.figure}` | {p.target:.2f} |")
        rows.append("")
        rows += [f"- `{name}`: {p.source}" for name, p in CAPTURE_PRESETS.items()]
        rows += ["", "#### The default capture", "", DEFAULT_CAPTURE_REASON, ""]
        return "\n".join(rows) + "\n" + fr.matcher_markdown()

    @property
    def capture_probability(self) -> float:
        """The capture in force: ``capture`` if set, else the preset's."""
        if self.capture is not None:
            return self.capture
        return CAPTURE_PRESETS[self.capture_preset].capture

    @field_validator("capture_preset")
    @classmethod
    def _known_capture_preset(cls, v: str) -> str:
        if v not in CAPTURE_PRESETS:
            raise ValueError(
                f"unknown capture preset '{v}'; use one of: {', '.join(CAPTURE_PRESETS)}"
            )
        return v

    @field_validator("winter_months")
    @classmethod
    def _months(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= m <= 12 for m in v):
            raise ValueError("winter_months must be months 1-12")
        return v


@register("sensors", "cameras", CamerasParams)
class Cameras:
    """Face-recognition cameras identify jaywalkers, with errors, and record each probe.

    Attributes:
        capture: The capture probability in force (the preset's, or ``capture``).
        gallery: The :class:`~sclab.sensors.face_recognition.Gallery` searched.
        settings: The resolved :class:`~sclab.sensors.face_recognition.MatcherSettings`.
        totals: Run totals: ``captured``, ``jaywalks``, and per subject x outcome counts
            such as ``resident/correct``.
    """

    def __init__(self, name: str, params: CamerasParams) -> None:
        self.name, self.params = name, params
        self.capture = params.capture_probability
        self.settings = params.matcher.settings()
        self.totals: dict[str, int] = {}

    # ----------------------------------------------------------------- setup
    def kinds(self) -> tuple[Kind, ...]:
        """The identification events."""
        return (IDENTIFIED,)

    def labels(self) -> dict[str, tuple[str, ...]]:
        """The identifications' record error, probe subjects and outcomes."""
        return {
            "record_error": ("false_match",),
            "probe_subject": SUBJECTS,
            "identification_outcome": OUTCOMES,
        }

    def check_kinds(self, catalogue: Catalogue) -> None:
        """The cameras watch where jaywalks happen: a source of this scenario must produce
        ``jaywalk`` acts (and publish their places), or the cameras would see nothing.

        Raises:
            ParamsError: no component of the scenario produces them.
        """
        problem = catalogue.problem(ACT, "act")
        if problem:
            raise ParamsError(f"the cameras watch the places of jaywalks: {problem}")

    def check_scenario(self, scenario: Scenario) -> None:
        """``matcher.ethnic_fmr`` may only name the scenario's ethnic groups.

        Raises:
            ParamsError: pointing at the group that the population does not have.
        """
        groups = list(scenario.population.demography.ethnic_groups)
        for group in self.settings.ethnic_fmr:
            if group not in groups:
                raise ParamsError(
                    f"ethnic group '{group}' is not one of the scenario's ({', '.join(groups)})",
                    ("matcher", "ethnic_fmr", group),
                )

    def setup(self, sim: Simulation) -> None:
        p = self.params
        try:
            places = sim.places.of(ACT)
        except LookupError as exc:
            raise LookupError(
                f"{self.name}: {exc}; the cameras watch busy intersections: add "
                "`- use: streets` to sources"
            ) from None
        self._places = places
        # True: the source's jaywalk acts are already the captured ones (no thinning here).
        self._precaptured = places.watch(self.capture)
        self._cameras = np.flatnonzero(places.camera).astype(np.int64)
        self._codes = np.array([d.code for d in sim.scenario.geography.districts], np.int32)
        self._place_code = self._codes[np.asarray(places.district, np.int64)]
        rng = sim.rng(f"{self.name}/setup")
        # One uniform per camera is set aside: the advert faces below keep their place in
        # this stream, so that runs reproduce those of earlier versions of the model.
        rng.random(len(self._cameras))

        c = sim.population.citizens
        groups = list(sim.scenario.population.demography.ethnic_groups)
        unknown = sorted(set(self.settings.ethnic_fmr) - set(groups))
        if unknown:
            raise ValueError(
                f"{self.name}: matcher.ethnic_fmr names ethnic groups {unknown} not in the "
                f"scenario (have {', '.join(groups)})"
            )
        self._groups = groups
        self._age = ages(sim)
        enrolled = c.in_id_photo_db | c.in_driver_db
        ids = np.flatnonzero(enrolled)
        look = fr.lookalike_cell(c.male[ids], self._age[ids])
        self.gallery = fr.Gallery.build(
            ids, look, c.ethnic_group[ids], self.settings.demographic_multipliers(groups)
        )
        adult = self._age[ids] >= 18
        self._printed_mix = np.bincount(look[adult], minlength=fr.N_LOOKALIKE).astype(float)
        k = min(p.advert_faces, int(adult.sum()))
        self._adverts = np.sort(rng.choice(ids[adult], size=k, replace=False)).astype(np.int64)

    def fpir_table(self, month: int | None = None) -> fr.FpirTable:
        """Expected FPIR per sex and age band and overall for this run's gallery.

        Averaged over the capture conditions of ``month`` (default: a non-winter month);
        probes are weighted like the gallery (see :func:`~sclab.sensors.face_recognition.
        fpir_table`).
        """
        p = self.params
        mask = p.mask_share_winter if month in p.winter_months else p.mask_share
        prob, fmr_m, _ = fr.condition_mixture(
            self.settings, p.night_share, p.helmet_share, p.sunglasses_share, mask
        )
        return fr.fpir_table(
            self.gallery,
            self.settings.fmr,
            group_names=self._groups,
            condition_probability=prob,
            condition_fmr=fmr_m,
        )

    # ------------------------------------------------------------------ step
    def step(self, sim: Simulation, day: int) -> None:
        p = self.params
        rng = sim.rng(self.name, day)
        who_parts, place_parts = [], []
        for acts in sim.acts.of_kind(ACT):
            camera = acts.extra.get("camera")
            place = acts.extra.get("place_id")
            if camera is None or place is None or acts.entity_type != "person":
                continue
            at = np.flatnonzero(camera)
            who_parts.append(acts.actor[at])
            place_parts.append(np.asarray(place)[at].astype(np.int64))
        at_cameras = np.concatenate(who_parts) if who_parts else np.empty(0, np.int64)
        at_place = np.concatenate(place_parts) if place_parts else np.empty(0, np.int64)
        subject, true_actor, place, look, mate = self._probes(sim, rng, at_cameras, at_place)
        n = len(subject)
        self._add("captured", n)
        self._add("jaywalks", int(self._places.today.sum()))
        if n == 0:
            return

        night, helmet, sunglasses, mask = self._conditions(rng, sim, day, subject)
        fmr_m, fnir_m = self.settings.condition_multipliers(night, helmet, sunglasses, mask)
        result = fr.identify(
            rng,
            self.gallery,
            look,
            mate,
            fmr=self.settings.fmr,
            fnir=fr.expected_fnir(self.settings.fnir, fnir_m),
            outrank=self.settings.outrank_share,
            fmr_multiplier=fmr_m,
        )
        sc = p.scores
        score = fr.match_scores(
            rng,
            result.outcome,
            sc.threshold,
            (sc.mate_alpha, sc.mate_beta),
            (sc.non_mate_alpha, sc.non_mate_beta),
        )
        named = result.named
        outcome = np.where(
            named < 0, MISS, np.where(named == true_actor, CORRECT, FALSE_MATCH)
        ).astype(np.uint8)
        tally = np.bincount(subject * len(OUTCOMES) + outcome, minlength=9)
        for sj, o in np.ndindex(len(SUBJECTS), len(OUTCOMES)):
            self._add(f"{SUBJECTS[sj]}/{OUTCOMES[o]}", int(tally[sj * len(OUTCOMES) + o]))

        self._record(sim, day, subject, true_actor, named, outcome, score, place, mate, night,
                     helmet, sunglasses, mask)  # fmt: skip

    def _probes(
        self,
        sim: Simulation,
        rng: np.random.Generator,
        at_cameras: np.ndarray,
        at_place: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Today's captured probes: (subject kind, true actor, place, lookalike cell, mate).

        ``at_cameras``, ``at_place``: today's jaywalk acts at camera intersections (already
        the captured ones unless the source draws every jaywalk as an act).
        """
        p = self.params
        c = sim.population.citizens
        if self._precaptured:
            res, res_place = at_cameras, at_place
        else:
            # Which jaywalks at cameras are captured (count, then which: O(captured)).
            n_cam = len(at_cameras)
            k = int(rng.binomial(n_cam, self.capture)) if n_cam else 0
            pick = np.sort(rng.choice(n_cam, size=k, replace=False)) if k else np.empty(0, int)
            res, res_place = at_cameras[pick], at_place[pick]
        k = len(res)
        res_look = fr.lookalike_cell(c.male[res], self._age[res])
        res_mate = np.where(c.in_id_photo_db[res] | c.in_driver_db[res], res, -1)

        # Non-residents: Poisson thinning of their share of the camera jaywalks (R resident
        # jaywalks at camera intersections today, from the per-intersection counts).
        s = p.non_resident_share
        at_cams = self._places.today[self._cameras].astype(np.int64)
        r = int(at_cams.sum())
        k_nr = int(rng.poisson(r * s / (1.0 - s) * self.capture)) if r else 0
        if k_nr:
            # A camera in proportion to today's jaywalks there (a uniform one of the R).
            nth = np.searchsorted(np.cumsum(at_cams), rng.integers(0, r, k_nr), side="right")
            nr_place = self._cameras[nth]
        else:
            nr_place = np.empty(0, np.int64)
        nr_like = self._places.draw_watched_actors(rng, k_nr)
        nr_look = fr.lookalike_cell(c.male[nr_like], self._age[nr_like])

        # Printed faces on buses and billboards.
        n_cams = len(self._cameras)
        lam = p.non_person_faces_per_camera_day * n_cams
        k_np = int(rng.poisson(lam)) if lam > 0 else 0
        np_place = self._cameras[rng.integers(0, n_cams, k_np)] if k_np else np.empty(0, np.int64)
        np_mate = np.full(k_np, -1, np.int64)
        np_look = np.zeros(k_np, np.int64)
        if k_np:
            enrolled = rng.random(k_np) < p.printed_face_in_gallery_share
            enrolled &= len(self._adverts) > 0
            if len(self._adverts):
                face = self._adverts[rng.integers(0, len(self._adverts), k_np)]
                np_mate = np.where(enrolled, face, -1)
                np_look = np.where(
                    enrolled, fr.lookalike_cell(c.male[face], self._age[face]), 0
                ).astype(np.int64)
            mix = self._printed_mix
            if mix.sum() > 0:
                drawn = rng.choice(fr.N_LOOKALIKE, size=k_np, p=mix / mix.sum())
                np_look = np.where(enrolled, np_look, drawn)

        subject = np.concatenate(
            [np.full(k, RESIDENT), np.full(k_nr, NON_RESIDENT), np.full(k_np, NON_PERSON)]
        ).astype(np.uint8)
        true_actor = np.concatenate([res, np.full(k_nr + k_np, NO_ENTITY, np.int64)])
        place = np.concatenate([res_place, nr_place, np_place]).astype(np.int64)
        look = np.concatenate([res_look, nr_look, np_look]).astype(np.int64)
        mate = np.concatenate([res_mate, np.full(k_nr, -1, np.int64), np_mate])
        return subject, true_actor, place, look, mate

    def _add(self, key: str, value: int) -> None:
        self.totals[key] = self.totals.get(key, 0) + value

    def _conditions(
        self, rng: np.random.Generator, sim: Simulation, day: int, subject: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        p = self.params
        n = len(subject)
        person = subject != NON_PERSON
        u = rng.random((4, n))
        night = u[0] < p.night_share
        helmet = person & (u[1] < p.helmet_share)
        sunglasses = person & ~night & (u[2] < p.sunglasses_share)
        mask_p = p.mask_share_winter if sim.date(day).month in p.winter_months else p.mask_share
        mask = person & (u[3] < mask_p)
        return night, helmet, sunglasses, mask

    def _record(
        self,
        sim: Simulation,
        day: int,
        subject: np.ndarray,
        true_actor: np.ndarray,
        named: np.ndarray,
        outcome: np.ndarray,
        score: np.ndarray,
        place: np.ndarray,
        mate: np.ndarray,
        night: np.ndarray,
        helmet: np.ndarray,
        sunglasses: np.ndarray,
        mask: np.ndarray,
    ) -> None:
        n = len(subject)
        district = self._place_code[place]
        hit = np.flatnonzero(named >= 0)
        event_id = np.full(n, -1, np.int64)
        if len(hit):
            wrong = outcome[hit] == FALSE_MATCH
            batch = sim.events.record(
                day,
                source=self.name,
                kind=KIND,
                true_actor=true_actor[hit],
                attributed_to=named[hit],
                entity_type="person",
                match_score=score[hit].astype(np.float32),
                district_code=district[hit],
                place_id=place[hit],
                error=pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(len(hit), np.int8), mask=~wrong),
                    _ERROR_LABELS,
                ),
            )
            event_id[hit] = batch.event_id
        sim.decisions.rows(
            "identifications",
            {
                "event_id": pa.array(event_id, mask=event_id < 0),
                "day": np.full(n, day, np.int32),
                "place_id": place.astype(np.int32),
                "district_code": district,
                "probe_subject": pa.DictionaryArray.from_arrays(
                    pa.array(subject.astype(np.int8)), _SUBJECT_LABELS
                ),
                "subject_in_gallery": mate >= 0,
                "night": night,
                "helmet": helmet,
                "sunglasses": sunglasses,
                "mask": mask,
                "outcome": pa.DictionaryArray.from_arrays(
                    pa.array(outcome.astype(np.int8)), _OUTCOME_LABELS
                ),
                "match_score": pa.array(score, mask=np.isnan(score)),
                "gallery_size": np.full(n, self.gallery.size, np.int64),
            },
        )

    def finish(self, sim: Simulation) -> None:
        pass
