"""Face recognition as a calibrated statistical error model (1:N search against a gallery).

sclab never processes images: a "probe" is a record of who really stood in front of the
camera (or that nobody did: a face printed on a bus), with their sex, 10-year age band and
the capture conditions, and the matcher is a model of published error rates.

Core objects:
    :class:`MatcherParams`: the scenario's matcher settings: a ``preset`` plus optional
        overrides of every field (false-match and miss rates, demographic and condition
        multipliers, the rank rule).
    :data:`PRESETS`: operating points from NIST's laboratory figures and from the false
        alerts of live police deployments (:class:`Preset`, :class:`Deployment`), with
        :data:`DEFAULT_PRESET` for street cameras; :func:`matcher_markdown` documents them.
    :class:`MatcherSettings`: the resolved settings (preset + overrides).
    :class:`Gallery`: the gallery's members grouped by demographic cell (sex x age band x
        ethnic group) with per-cell false-match multipliers and cumulative weights.
    :func:`identify`: the vectorised 1:N identification core (a pure function).
    :func:`expected_fpir`, :func:`expected_fnir`, :func:`fmr_for_fpir`,
        :func:`outcome_probabilities`, :func:`condition_mixture`, :func:`fpir_table`:
        closed forms the simulation is checked against and reports show.

The model, per probe p (a jaywalker, a non-resident, or a printed face):
    * Lookalikes. p's lookalike cell L(p) is the gallery members of p's sex and 10-year age
      band. NISTIR 8280 (Grother, Ngan & Hanaoka 2019, "FRVT Part 3: Demographic Effects")
      forms impostor pairs of the same sex, age group and region because that is where
      false matches occur; a false match here always names a lookalike.
    * Demographic multipliers. Member i carries an FMR multiplier ``m_i = female^[woman] x
      age[band] x ethnic[group]`` (NISTIR 8280: false positives differ 10-100x across
      demographic groups for many algorithms, and are 2-5x higher for women).
    * Condition multipliers. Night, helmet, sunglasses and mask multiply the per-comparison
      FMR by ``c_fmr(p)`` and the miss rate by ``c_fnir(p)``.
    * False positive identification. p is compared with every non-mate of the gallery (N
      entries, N - 1 when p's mate is enrolled). Each comparison exceeds the threshold with
      probability ``FMR_eff(p) = FMR x c_fmr(p) x mbar_L(p)``, where ``mbar_L`` is the
      mean multiplier of p's lookalikes (the sum of per-member multipliers over the cell,
      computed per demographic cell, divided by the cell size), so that
      ``FPIR(p) = 1 - (1 - FMR_eff(p))^N``. A probe with no lookalike in the gallery other
      than its own mate (e.g. a young child: ID photos start at 16) has FPIR 0.
    * Who is falsely named. A member of L(p) other than p's mate, chosen with probability
      proportional to ``m_i`` (never uniformly over everyone): groups with a higher FMR are
      falsely named more often, and member i is falsely named at a rate proportional to
      ``m_i`` times the number of probes of its sex and age band. Vectorised: pick the
      demographic sub-cell of L(p) by cumulative weight ``n_d x m_d``, then a uniform
      member of it (multipliers are constant within a demographic cell).
    * Outcome. A mated probe (its subject is enrolled) is missed, i.e. its mate does not
      reach the threshold, with probability ``FNIR_eff = min(1, FNIR x c_fnir(p))``.
      Independently, some non-mate exceeds the threshold with probability FPIR(p). Rank
      rule: when both happen the non-mate outranks the mate with probability
      ``outrank_share``. So the top candidate above threshold is a non-mate with
      probability ``FNIR_eff x FPIR + (1 - FNIR_eff) x FPIR x outrank_share``, the mate with
      ``(1 - FNIR_eff)(1 - FPIR x outrank_share)``, and nobody otherwise. A probe whose
      subject is not enrolled (unregistered migrant, non-resident, printed face of
      nobody) names a non-mate with probability FPIR(p) and nobody otherwise: it can never
      be a correct identification.

Presets (1:N operating points, :data:`PRESETS`; FMRs are per comparison, derived with
:func:`fmr_for_fpir` from an FPIR at a stated gallery or watchlist size; each preset's
``source`` writes its derivation out and ``docs/components.md`` lists them):
    * ``mugshot-grade``: NIST FRVT 2018 (NISTIR 8238): FNIR 0.002 at FPIR 0.003 on 12
      million mugshots, FMR = -log1p(-0.003) / 12e6 = 2.504e-10. A laboratory figure.
    * ``surveillance-nist-2019`` (former name ``surveillance-grade``): NIST on webcam,
      "wild" and video images (NISTIR 8271, 2019; FIVE, NISTIR 8173, 2017): FNIR 0.05
      (Assumption: 25x the mugshot figure) at FPIR 0.01 on 12 million, FMR 8.375e-10.
    * ``field-south-wales-2017``: 2,297 false alerts among about 170,000 faces against
      500,000 custody images: FPIR 0.0135, FMR 2.72e-8 (range 5.4e-9 to 5.5e-8 for 850,000
      to 85,000 scans). The street cameras' default (:data:`DEFAULT_PRESET_REASON`).
    * ``field-met-2019``: the Met's 1 false alert per 1,000 faces against watchlists of
      about 2,000 (Assumption): FMR 5.0e-7; the review's 34 wrong of 42 alerts.
A field preset carries its :class:`Deployment`: simulated at that scale, its FMR
reproduces the published false alerts (tests/test_face_recognition.py).

COST MODEL: :meth:`Gallery.build` is one stable radix sort of the gallery's 16-bit cell
keys, O(N), keeping 4 bytes per gallery member (the sorted member ids) plus O(cells).
:func:`identify` costs O(k) for k probes: a handful of vectorised operations and three
uniform draws per probe, plus a ``searchsorted`` over the (at most 5,000) demographic
cells and two draws for each false match (redrawn in the rare case it hits the mate).
Nothing depends on N except the closed-form power.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

N_BANDS = 10
AGE_BANDS = (*(f"{10 * b}-{10 * b + 9}" for b in range(N_BANDS - 1)), f"{10 * (N_BANDS - 1)}+")
"""10-year age bands of the lookalike cells: "0-9" ... "80-89", "90+"."""
SEXES = ("female", "male")
"""Sex index of a lookalike cell: ``lookalike = male x N_BANDS + band``."""
N_LOOKALIKE = len(SEXES) * N_BANDS

MATE, NON_MATE, NOBODY = 0, 1, 2
"""Core outcomes: the top candidate above threshold is the mate, a non-mate, or nobody."""

# ----------------------------------------------------------------------------- closed forms


def expected_fpir(fmr: Any, gallery_size: Any, multiplier: Any = 1.0) -> Any:
    """Probability that some of ``gallery_size`` non-mates exceeds the threshold.

    ``1 - (1 - fmr x multiplier)^N``, computed as ``-expm1(N log1p(-p))`` so that tiny
    rates and huge galleries keep their precision. Broadcasts over arrays; the
    per-comparison rate is clipped to [0, 1].
    """
    p = np.clip(np.asarray(fmr, dtype=np.float64) * np.asarray(multiplier, np.float64), 0, 1)
    n = np.asarray(gallery_size, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -np.expm1(n * np.log1p(-p))
    out = np.where(p >= 1.0, (n > 0).astype(np.float64), out)
    out = np.where(n <= 0, 0.0, out)
    return float(out) if np.ndim(out) == 0 else out


def fmr_for_fpir(fpir: float, gallery_size: float) -> float:
    """The per-comparison FMR giving ``fpir`` on a gallery of ``gallery_size``.

    Inverts :func:`expected_fpir`: ``FMR = 1 - (1 - FPIR)^(1/N)``.
    """
    if not 0.0 <= fpir < 1.0 or gallery_size <= 0:
        raise ValueError("need 0 <= fpir < 1 and a positive gallery size")
    return float(-np.expm1(np.log1p(-fpir) / gallery_size))


def expected_fnir(fnir: Any, multiplier: Any = 1.0) -> Any:
    """Miss probability of a mated search: ``min(1, fnir x multiplier)`` (broadcasts)."""
    out = np.minimum(1.0, np.asarray(fnir, np.float64) * np.asarray(multiplier, np.float64))
    return float(out) if np.ndim(out) == 0 else out


def outcome_probabilities(fnir: Any, fpir: Any, outrank: float, mated: Any) -> tuple[Any, ...]:
    """(P(mate named), P(non-mate named), P(nobody named)) of one probe (broadcasts).

    Args:
        fnir: The probe's effective miss rate (ignored when not mated).
        fpir: Its false positive identification rate.
        outrank: Probability that a non-mate above threshold outranks a mate above it.
        mated: Whether the probe's subject is in the gallery.
    """
    fnir = np.where(mated, np.asarray(fnir, np.float64), 1.0)
    fpir = np.asarray(fpir, np.float64)
    p_mate = (1.0 - fnir) * (1.0 - fpir * outrank)
    p_non = fnir * fpir + (1.0 - fnir) * fpir * outrank
    return p_mate, p_non, 1.0 - p_mate - p_non


# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Deployment:
    """The published scale and outcome a preset's FMR is derived from.

    A field deployment searched ``scans`` faces of passers-by against a watchlist of
    ``watchlist`` people and raised ``false_alerts`` alerts naming the wrong person and
    ``true_alerts`` naming the right one. Its per-comparison FMR follows from
    ``FPIR = false_alerts / scans`` (nearly every passer-by is not on the watchlist) and
    ``FMR = 1 - (1 - FPIR)^(1 / watchlist)`` (:func:`fmr_for_fpir`).
    """

    name: str
    scans: float
    watchlist: float
    false_alerts: float
    true_alerts: float

    @property
    def fpir(self) -> float:
        """False alerts per face scanned."""
        return self.false_alerts / self.scans

    @property
    def false_share(self) -> float:
        """Share of the alerts that named the wrong person."""
        return self.false_alerts / (self.false_alerts + self.true_alerts)


@dataclass(frozen=True)
class Preset:
    """An operating point: per-comparison FMR, the mated miss rate and the rank rule.

    ``deployment`` is the published scale the FMR reproduces (None for NIST's lab
    figures, which are derived from an FPIR at a stated gallery size); ``alias_of`` names
    the preset a former name stands for.
    """

    fmr: float
    fnir: float
    outrank_share: float
    source: str
    deployment: Deployment | None = None
    alias_of: str | None = None


#: South Wales Police, UEFA Champions League final, Cardiff, 3 June 2017.
SOUTH_WALES_2017 = Deployment(
    "South Wales Police, Champions League final, Cardiff, 3 June 2017",
    scans=170_000,
    watchlist=500_000,
    false_alerts=2_297,
    true_alerts=173,
)
#: The Metropolitan Police's live trials, 2016-2019, at the Met's own false-alert rate.
MET_2019 = Deployment(
    "Metropolitan Police live trials 2016-2019 (six reviewed by Fussey & Murray 2019)",
    scans=34_000,
    watchlist=2_000,
    false_alerts=34,
    true_alerts=8,
)
_OUTRANK = 0.5
_OUTRANK_SOURCE = (
    " Outrank share 0.5: Assumption (no published figure; see the parameter outrank_share)."
)
_FIELD_FNIR = (
    "FNIR 0.30: when the Metropolitan Police made live recognition operational it said "
    "that its tests of the system (NEC NeoFace, which South Wales Police also uses), with "
    "police staff walking past the cameras, found that about 70% of wanted people would be "
    "identified (January 2020; Computing, 11 February 2020). Assumption: the good-condition "
    "miss rate, the condition multipliers applying on top."
)
_NIST_SURVEILLANCE = Preset(
    fmr=fmr_for_fpir(0.01, 12_000_000),
    fnir=0.05,
    outrank_share=_OUTRANK,
    source="NIST FRVT Part 2 (Grother, Ngan & Hanaoka, NISTIR 8271, Sept 2019) searched "
    "webcam and 'wild' photojournalism probes as well as mugshots: the unconstrained "
    "probes miss many times as often as mugshots; NIST's Face in Video Evaluation "
    "(Grother, Quinn & Ngan, NISTIR 8173, March 2017) found that even the more accurate "
    "algorithms identified non-cooperative subjects in video from about 60% to over 99% "
    "of the time depending on the setting (FNIR 0.01-0.40). Assumption: FNIR 0.05 (25x "
    "the mugshot 0.002, the geometric middle of 10-50x), at a threshold lowered to keep "
    "it there, giving FPIR 0.01 on NIST's 12 million (about 3x the mugshot point): "
    "FMR = 1 - (1 - 0.01)^(1/12e6) = 8.375e-10." + _OUTRANK_SOURCE,
)

PRESETS: dict[str, Preset] = {
    "mugshot-grade": Preset(
        fmr=fmr_for_fpir(0.003, 12_000_000),
        fnir=0.002,
        outrank_share=_OUTRANK,
        source="NIST FRVT 2018 (Grother, Ngan & Hanaoka, NISTIR 8238, Nov 2018): the most "
        "accurate algorithm missed FNIR 0.002 of mated mugshot searches at FPIR 0.003 on a "
        "12-million-person mugshot gallery; FMR = 1 - (1 - 0.003)^(1/12e6) = 2.504e-10. A "
        "laboratory figure on cooperative, frontal, well-lit photographs." + _OUTRANK_SOURCE,
    ),
    "surveillance-nist-2019": _NIST_SURVEILLANCE,
    "surveillance-grade": Preset(
        fmr=_NIST_SURVEILLANCE.fmr,
        fnir=_NIST_SURVEILLANCE.fnir,
        outrank_share=_NIST_SURVEILLANCE.outrank_share,
        source="Former name of surveillance-nist-2019 (the same operating point), kept so "
        "that scenarios naming it run unchanged.",
        alias_of="surveillance-nist-2019",
    ),
    "field-south-wales-2017": Preset(
        fmr=fmr_for_fpir(SOUTH_WALES_2017.fpir, SOUTH_WALES_2017.watchlist),
        fnir=0.30,
        outrank_share=_OUTRANK,
        source="South Wales Police, UEFA Champions League final, Cardiff, 3 June 2017 (SWP's "
        "published figures, reported by The Guardian, 5 May 2018): 2,470 alerts, of which "
        "2,297 (92%) were false, with about 170,000 people in the city for the match and a "
        "watchlist of about 500,000 custody images. Assumption: one scan per person present "
        "(170,000), so FPIR = 2,297 / 170,000 = 0.0135 per face and FMR = 1 - (1 - 0.0135)^"
        "(1/500,000) = 2.72e-8 per comparison, about 100x the NIST mugshot figure. Range: "
        "half the visitors never passing a camera (85,000 scans) gives 5.5e-8; five scans "
        "per person (850,000) gives 5.4e-9. SWP blamed poor watchlist images and a first "
        "deployment; the share of false alerts also depends on how few watchlisted people "
        "came (173 true alerts). " + _FIELD_FNIR + _OUTRANK_SOURCE,
        deployment=SOUTH_WALES_2017,
    ),
    "field-met-2019": Preset(
        fmr=fmr_for_fpir(MET_2019.fpir, MET_2019.watchlist),
        fnir=0.30,
        outrank_share=_OUTRANK,
        source="Metropolitan Police live facial recognition trials, 2016-2019. The "
        "independent review (Fussey & Murray, University of Essex Human Rights Centre, July "
        "2019) could assess 42 alerts of six deployments: 8 were verified correct (19%) and "
        "34 were not. The Met's own figure (statement of 21 June 2019) is a false positive "
        "identification rate of 1 in 1,000: false alerts per face scanned of people not on "
        "the watchlist. The two differ in their denominator (alerts, or faces scanned), not "
        "in what happened: at 1 in 1,000, the review's 34 false alerts correspond to about "
        "34,000 faces. Assumption: watchlists of about 2,000 people (range 500-5,000), so "
        "FMR = 1 - (1 - 0.001)^(1/2,000) = 5.0e-7 (range 2.0e-7 to 2.0e-6): a small "
        "watchlist lets an operator run a lenient threshold. " + _FIELD_FNIR + _OUTRANK_SOURCE,
        deployment=MET_2019,
    ),
}

DEFAULT_PRESET = "field-south-wales-2017"
"""The street cameras' default operating point (see :data:`DEFAULT_PRESET_REASON`)."""
DEFAULT_PRESET_REASON = (
    "Street cameras default to field-south-wales-2017. Nanjing's cameras run live face "
    "recognition on pedestrians who neither pose nor stop, the operating mode of the South "
    "Wales and Metropolitan Police deployments and not of NIST's laboratory mugshots: the "
    "field deployments' false alerts were 81-92% of all alerts, which the lab operating "
    "points cannot produce at those watchlist sizes. Of the two field points, South "
    "Wales's was run against a gallery of about 500,000 people, the closest in scale to a "
    "city's ID-photo gallery; the Met's lenient threshold fits watchlists of a few "
    "thousand (at its FMR a 500,000-person gallery would name a wrong person for 22% of "
    "passers-by). The South Wales FMR is an upper estimate of what a mature system "
    "achieves (SWP reported fewer false alerts in later deployments): run "
    "surveillance-nist-2019 or mugshot-grade as the optimistic bounds."
)


def presets_markdown() -> str:
    """Every preset with its parameters and derivation, as a Markdown section."""
    out = [
        "#### Matcher presets",
        "",
        "`matcher.preset` picks one of these operating points; every field of the preset "
        "can be overridden (`matcher: {preset: ..., fmr: ...}`). FMR is per comparison; "
        "FPIR at N is `1 - (1 - FMR)^N`, the probability that a search of a face of "
        "somebody not enrolled names somebody in a gallery of N people. The gallery is the "
        "run's enrolled population: a run on a sample of a city (`--population`) searches "
        "a sample-sized gallery, so its false matches are those of the FPIR at that size, "
        "not at the city's.",
        "",
        "| preset | FMR | FNIR | outrank share | FPIR at 500,000 | FPIR at 9 million |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, p in PRESETS.items():
        f1 = expected_fpir(p.fmr, 500_000)
        f2 = expected_fpir(p.fmr, 9_000_000)
        label = f"`{name}`" + (" (default)" if name == DEFAULT_PRESET else "")
        out.append(
            f"| {label} | {p.fmr:.4g} | {p.fnir:g} | {p.outrank_share:g} | {f1:.3g} | {f2:.3g} |"
        )
    out += ["", "Derivations:", ""]
    for name, p in PRESETS.items():
        out += [f"- `{name}`: {p.source}"]
    out += ["", "#### The street-camera default", "", DEFAULT_PRESET_REASON]
    return "\n".join(out)


def _mult(default: float, description: str) -> Any:
    return Field(default, ge=0, le=1000, description=description)


class MatcherParams(BaseModel):
    """The matcher: a preset operating point plus overrides of every field."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    preset: str = Field(
        DEFAULT_PRESET,
        description="Operating point (each with its derivation in the table of matcher "
        "presets below): 'mugshot-grade' (NIST FRVT 2018, lab mugshots), "
        "'surveillance-nist-2019' (NIST on webcam, wild and video images; "
        "'surveillance-grade' is its former name), 'field-south-wales-2017' and "
        "'field-met-2019' (false alerts of live police deployments). Default "
        "'field-south-wales-2017': street cameras recognise pedestrians who neither pose nor "
        "stop, as the police deployments did, and South Wales searched the largest gallery "
        "(500,000) of the field figures, the closest to a city's ID photos (the full "
        "argument: 'The street-camera default' below).",
    )
    fmr: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Per-comparison false-match rate at the threshold for a reference "
        "member (multiplier 1). Default: the preset's (field-south-wales-2017 2.72e-8 from "
        "2,297 false alerts among about 170,000 faces against 500,000 custody images).",
    )
    fnir: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Miss rate of a mated search in good conditions. Default: the preset's "
        "(field presets 0.30: the Met's published 70% identification of wanted people).",
    )
    outrank_share: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Probability that a non-mate above the threshold ranks above the mate "
        "when both exceed it. Default: the preset's, 0.5 for all (Assumption: no published "
        "figure; at the lab presets' FPIR it moves the wrong-person rate of mated searches "
        "by under 0.5 points).",
    )
    female_fmr: float = _mult(
        3.0,
        "FMR multiplier for women. NISTIR 8280 (Grother et al. 2019): false positives 2-5x "
        "higher for women; Assumption: 3, inside that range.",
    )
    ethnic_fmr: dict[str, float] = Field(
        default_factory=lambda: {"han": 1.0},
        description="FMR multiplier per ethnic group (scenario names). Assumption: Han is "
        "the reference group of an algorithm trained mostly on Han faces; NISTIR 8280 found "
        "algorithms developed in China have low false positives on East Asian faces.",
    )
    other_ethnic_fmr: float = _mult(
        3.0,
        "FMR multiplier for ethnic groups not listed in ethnic_fmr. NISTIR 8280: false "
        "positives differ 10-100x across groups for many algorithms; Assumption: 3, the low "
        "end, since most minorities in the default scenarios are East Asian.",
    )
    age_fmr: dict[str, float] = Field(
        default_factory=lambda: {"10-19": 1.5, "70-79": 1.5, "80-89": 2.0, "90+": 2.0},
        description="FMR multiplier per 10-year age band ('0-9' ... '80-89', '90+'; "
        "unnamed bands 1). NISTIR 8280: false positives are elevated for the young and the "
        "elderly; Assumption: 1.5-2x.",
    )
    night_fmr: float = _mult(2.0, "Assumption: night (infrared) images double the FMR.")
    night_fnir: float = _mult(2.0, "Assumption: night (infrared) images double misses.")
    helmet_fmr: float = _mult(
        1.5, "Assumption: a helmet hides hair and brow; FMR 1.5x (e-bike riders)."
    )
    helmet_fnir: float = _mult(3.0, "Assumption: a helmet triples misses.")
    sunglasses_fmr: float = _mult(1.5, "Assumption: sunglasses hide the eyes; FMR 1.5x.")
    sunglasses_fnir: float = _mult(3.0, "Assumption: sunglasses triple misses.")
    mask_fmr: float = _mult(
        1.0,
        "FMR multiplier of a face mask. NISTIR 8331 (Ngan, Grother & Hanaoka 2020, "
        "pre-COVID algorithms on masked faces): false match rates were unchanged or lower.",
    )
    mask_fnir: float = _mult(
        10.0,
        "Miss multiplier of a face mask. NISTIR 8331: the most accurate algorithms' false "
        "non-match rate rose from about 0.3% to 5% (17x), many others' to 20-50%; "
        "Assumption: 10x, capped at 1.",
    )

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str) -> str:
        if v not in PRESETS:
            raise ValueError(f"unknown matcher preset '{v}'; use one of: {', '.join(PRESETS)}")
        return v

    @field_validator("age_fmr")
    @classmethod
    def _age_bands(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(AGE_BANDS))
        if unknown:
            raise ValueError(f"unknown age bands {unknown}; use {', '.join(AGE_BANDS)}")
        if any(not 0 <= x <= 1000 for x in v.values()):
            raise ValueError("age multipliers must be in [0, 1000]")
        return v

    @field_validator("ethnic_fmr")
    @classmethod
    def _ethnic(cls, v: dict[str, float]) -> dict[str, float]:
        if any(not 0 <= x <= 1000 for x in v.values()):
            raise ValueError("ethnic multipliers must be in [0, 1000]")
        return v

    def settings(self) -> MatcherSettings:
        """The preset with this model's overrides applied."""
        preset = PRESETS[self.preset]
        return MatcherSettings(
            fmr=preset.fmr if self.fmr is None else self.fmr,
            fnir=preset.fnir if self.fnir is None else self.fnir,
            outrank_share=preset.outrank_share
            if self.outrank_share is None
            else self.outrank_share,
            female_fmr=self.female_fmr,
            ethnic_fmr=dict(self.ethnic_fmr),
            other_ethnic_fmr=self.other_ethnic_fmr,
            age_fmr=dict(self.age_fmr),
            night=(self.night_fmr, self.night_fnir),
            helmet=(self.helmet_fmr, self.helmet_fnir),
            sunglasses=(self.sunglasses_fmr, self.sunglasses_fnir),
            mask=(self.mask_fmr, self.mask_fnir),
        )


def matcher_markdown() -> str:
    """The matcher's parameters and every preset, as a Markdown section for the docs."""
    out = [
        "#### Matcher parameters (`matcher: {...}`)",
        "",
        "| parameter | default | meaning |",
        "| --- | --- | --- |",
    ]
    for name, field in MatcherParams.model_fields.items():
        default = field.get_default(call_default_factory=True)
        doc = " ".join((field.description or "").split()).replace("|", "\\|")
        out.append(f"| `{name}` | `{default}` | {doc} |")
    return "\n".join([*out, "", presets_markdown()])


@dataclass(frozen=True)
class MatcherSettings:
    """Resolved matcher settings; conditions map to (FMR multiplier, FNIR multiplier)."""

    fmr: float
    fnir: float
    outrank_share: float
    female_fmr: float
    ethnic_fmr: Mapping[str, float]
    other_ethnic_fmr: float
    age_fmr: Mapping[str, float]
    night: tuple[float, float]
    helmet: tuple[float, float]
    sunglasses: tuple[float, float]
    mask: tuple[float, float]

    def demographic_multipliers(self, ethnic_groups: Sequence[str]) -> np.ndarray:
        """FMR multiplier per (lookalike cell, ethnic group), shape (N_LOOKALIKE, groups)."""
        sex = np.array([self.female_fmr, 1.0])
        age = np.array([self.age_fmr.get(b, 1.0) for b in AGE_BANDS])
        eth = np.array([self.ethnic_fmr.get(g, self.other_ethnic_fmr) for g in ethnic_groups])
        look = (sex[:, None] * age[None, :]).ravel()  # index male * N_BANDS + band
        return look[:, None] * eth[None, :]

    def condition_multipliers(
        self, night: np.ndarray, helmet: np.ndarray, sunglasses: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-probe (FMR multiplier, FNIR multiplier) from its capture conditions."""
        fmr = np.ones(len(night))
        fnir = np.ones(len(night))
        for flag, (m_fmr, m_fnir) in (
            (night, self.night),
            (helmet, self.helmet),
            (sunglasses, self.sunglasses),
            (mask, self.mask),
        ):
            fmr *= np.where(flag, m_fmr, 1.0)
            fnir *= np.where(flag, m_fnir, 1.0)
        return fmr, fnir


def condition_mixture(
    settings: MatcherSettings, night: float, helmet: float, sunglasses: float, mask: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 16 combinations of conditions: (probability, FMR multiplier, FNIR multiplier).

    Conditions are independent except that sunglasses are worn by day only (``sunglasses``
    is the share among daytime captures), as :class:`~sclab.sensors.cameras.Cameras`
    draws them.
    """
    combos = np.array(np.meshgrid([0, 1], [0, 1], [0, 1], [0, 1], indexing="ij")).reshape(4, -1)
    n, h, s, m = (combos[i].astype(bool) for i in range(4))
    p_s = np.where(n, 0.0, sunglasses)
    prob = (
        np.where(n, night, 1 - night)
        * np.where(h, helmet, 1 - helmet)
        * np.where(s, p_s, 1 - p_s)
        * np.where(m, mask, 1 - mask)
    )
    fmr, fnir = settings.condition_multipliers(n, h, s, m)
    return prob, fmr, fnir


# ----------------------------------------------------------------------------- gallery


def age_band(age: np.ndarray) -> np.ndarray:
    """10-year band index (0 for 0-9 ... 9 for 90+)."""
    return np.minimum(np.maximum(np.asarray(age), 0) // 10, N_BANDS - 1).astype(np.int64)


def lookalike_cell(male: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Lookalike cell index (sex x 10-year age band) from sex and completed years."""
    return np.asarray(male).astype(np.int64) * N_BANDS + age_band(age)


@dataclass(frozen=True)
class Gallery:
    """Gallery members sorted by demographic cell ``d = lookalike x groups + group``.

    Demographic cell d holds ``members[start[d]:start[d + 1]]``, all with multiplier
    ``multiplier[d]``; ``cum`` is the inclusive cumulative sum of ``count x multiplier``
    over cells, so a lookalike cell's sub-cells form one contiguous block of it.
    """

    members: np.ndarray  # int32 (int64 for huge ids) person ids
    start: np.ndarray  # int64, n_cells + 1
    multiplier: np.ndarray  # float64 per demographic cell
    cum: np.ndarray  # float64 per demographic cell
    n_groups: int
    lookalike_size: np.ndarray  # int64 per lookalike cell
    lookalike_weight: np.ndarray  # float64 per lookalike cell: sum of member multipliers

    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        lookalike: np.ndarray,
        group: np.ndarray,
        multiplier: np.ndarray,
    ) -> Gallery:
        """Group gallery members by cell.

        Args:
            ids: Person id of each member.
            lookalike: Lookalike cell of each member (:func:`lookalike_cell`).
            group: Ethnic group index of each member.
            multiplier: FMR multiplier per (lookalike cell, group), shape
                (N_LOOKALIKE, groups) (:meth:`MatcherSettings.demographic_multipliers`).
        """
        multiplier = np.asarray(multiplier, dtype=np.float64)
        n_look, n_groups = multiplier.shape
        n_cells = n_look * n_groups
        cell = np.asarray(lookalike, np.int64) * n_groups + np.asarray(group, np.int64)
        key = cell.astype(np.uint16) if n_cells <= 65536 else cell
        order = np.argsort(key, kind="stable")  # radix sort for 16-bit keys: O(N)
        ids = np.asarray(ids)
        dtype = np.int32 if (len(ids) == 0 or ids.max() < 2**31) else np.int64
        members = ids[order].astype(dtype)
        counts = np.bincount(cell, minlength=n_cells).astype(np.int64)
        weight = counts * multiplier.ravel()
        return cls(
            members=members,
            start=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            multiplier=multiplier.ravel(),
            cum=np.cumsum(weight),
            n_groups=n_groups,
            lookalike_size=counts.reshape(n_look, n_groups).sum(axis=1),
            lookalike_weight=weight.reshape(n_look, n_groups).sum(axis=1),
        )

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def counts(self) -> np.ndarray:
        """Members per demographic cell."""
        return np.diff(self.start)

    def mean_multiplier(self) -> np.ndarray:
        """Mean member multiplier per lookalike cell (0 for empty cells)."""
        size = self.lookalike_size
        return np.where(size > 0, self.lookalike_weight / np.maximum(size, 1), 0.0)


# ----------------------------------------------------------------------------- the core


@dataclass(frozen=True)
class Identification:
    """Result of :func:`identify`, one entry per probe."""

    named: np.ndarray  # int64 person id of the top candidate above threshold, -1: nobody
    outcome: np.ndarray  # uint8: MATE, NON_MATE or NOBODY
    fpir: np.ndarray  # float64, the probe's false positive identification rate


def probe_fpir(
    gallery: Gallery,
    lookalike: np.ndarray,
    mated: np.ndarray,
    fmr: float,
    fmr_multiplier: np.ndarray | float = 1.0,
) -> np.ndarray:
    """FPIR of each probe: ``1 - (1 - FMR x c x mbar_L)^(N - mated)``; 0 without lookalikes."""
    lookalike = np.asarray(lookalike, np.int64)
    mated = np.asarray(mated, bool)
    size = gallery.lookalike_size[lookalike]
    mbar = gallery.mean_multiplier()[lookalike]
    fpir = expected_fpir(fmr * np.asarray(fmr_multiplier), gallery.size - mated, mbar)
    return np.where(size - mated > 0, fpir, 0.0)


def identify(
    rng: np.random.Generator,
    gallery: Gallery,
    lookalike: np.ndarray,
    mate: np.ndarray,
    *,
    fmr: float,
    fnir: np.ndarray | float,
    outrank: float,
    fmr_multiplier: np.ndarray | float = 1.0,
) -> Identification:
    """Search each probe against the gallery (the model in the module docstring).

    Args:
        rng: Random stream.
        gallery: The gallery.
        lookalike: Per probe, its lookalike cell (sex x age band of its subject).
        mate: Per probe, the enrolled person its face belongs to, or -1 when the subject is
            not in the gallery. A mate must belong to the probe's lookalike cell.
        fmr: Per-comparison false-match rate of a reference member.
        fnir: Per probe (or common) effective miss rate of a mated search, conditions
            included (:func:`expected_fnir`).
        outrank: Probability that a non-mate above threshold outranks the mate.
        fmr_multiplier: Per probe (or common) condition multiplier of the FMR.
    """
    lookalike = np.asarray(lookalike, np.int64)
    mate = np.asarray(mate, np.int64)
    n = len(lookalike)
    mated = mate >= 0
    fpir = probe_fpir(gallery, lookalike, mated, fmr, fmr_multiplier)
    u = rng.random((3, n))
    mate_hit = mated & (u[0] >= np.asarray(fnir))
    non_mate = (u[1] < fpir) & (~mate_hit | (u[2] < outrank))
    outcome = np.full(n, NOBODY, np.uint8)
    named = np.full(n, -1, np.int64)
    hit = mate_hit & ~non_mate
    outcome[hit] = MATE
    named[hit] = mate[hit]
    idx = np.flatnonzero(non_mate)
    outcome[idx] = NON_MATE
    named[idx] = draw_lookalike(rng, gallery, lookalike[idx], mate[idx])
    return Identification(named=named, outcome=outcome, fpir=fpir)


def draw_lookalike(
    rng: np.random.Generator, gallery: Gallery, lookalike: np.ndarray, exclude: np.ndarray
) -> np.ndarray:
    """A member of each lookalike cell other than ``exclude``, with probability ∝ multiplier.

    Picks the demographic sub-cell by cumulative weight, then a uniform member of it;
    draws that hit the excluded mate are redrawn (exact conditioning). Every cell must hold
    a member other than ``exclude`` (``identify`` only calls with FPIR > 0).
    """
    k = len(lookalike)
    out = np.empty(k, np.int64)
    if k == 0:
        return out
    g = gallery.n_groups
    lo = lookalike * g
    hi = lo + g - 1  # last demographic cell of the block
    cum = gallery.cum
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    top = cum[hi]
    pending = np.arange(k)
    for _ in range(64):
        b, t = base[pending], top[pending]
        x = np.minimum(b + rng.random(len(pending)) * (t - b), np.nextafter(t, -np.inf))
        d = np.clip(np.searchsorted(cum, x, side="right"), lo[pending], hi[pending])
        first, count = gallery.start[d], gallery.start[d + 1] - gallery.start[d]
        pos = first + np.minimum((rng.random(len(pending)) * count).astype(np.int64), count - 1)
        pick = gallery.members[pos].astype(np.int64)
        ok = pick != exclude[pending]
        out[pending[ok]] = pick[ok]
        pending = pending[~ok]
        if len(pending) == 0:
            return out
    # Only reachable when the mate holds (nearly) all of its cell's weight: fall back to a
    # uniform other member of the lookalike cell.
    first = gallery.start[lo[pending]]
    count = gallery.start[hi[pending] + 1] - first
    pos = first + rng.integers(0, np.maximum(count - 1, 1))
    pick = gallery.members[pos].astype(np.int64)
    last = gallery.members[first + count - 1].astype(np.int64)
    out[pending] = np.where(pick == exclude[pending], last, pick)
    return out


# ----------------------------------------------------------------------------- reporting


@dataclass(frozen=True)
class FpirTable:
    """Expected false positive identification per demographic group, and overall.

    Attributes:
        lookalike_size: Gallery members per lookalike cell (index ``male x N_BANDS + band``).
        mean_multiplier: Their mean FMR multiplier.
        fpir: FPIR of a non-mated probe of that sex and age band, averaged over conditions.
        probe_weight: Relative number of non-mated probes per lookalike cell assumed.
        overall: Probe-weighted mean FPIR.
        named_rate: Per demographic cell (lookalike x ethnic group), expected false namings
            per member per non-mated probe of its lookalike cell.
        group_names: Ethnic group names.
    """

    lookalike_size: np.ndarray
    mean_multiplier: np.ndarray
    fpir: np.ndarray
    probe_weight: np.ndarray
    overall: float
    named_rate: np.ndarray
    group_names: tuple[str, ...]

    def by_sex(self) -> dict[str, float]:
        """Probe-weighted FPIR of women's and men's probes."""
        out = {}
        for s, sex in enumerate(SEXES):
            sl = slice(s * N_BANDS, (s + 1) * N_BANDS)
            w = self.probe_weight[sl]
            out[sex] = float((self.fpir[sl] * w).sum() / w.sum()) if w.sum() > 0 else 0.0
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per non-empty demographic cell, for a report table."""
        rows: list[dict[str, Any]] = []
        g = len(self.group_names)
        for look in range(N_LOOKALIKE):
            sex, band = SEXES[look // N_BANDS], AGE_BANDS[look % N_BANDS]
            for j, name in enumerate(self.group_names):
                d = look * g + j
                rows.append(
                    {
                        "sex": sex,
                        "age_band": band,
                        "ethnic_group": name,
                        "lookalike_members": int(self.lookalike_size[look]),
                        "probe_fpir": float(self.fpir[look]),
                        "false_named_per_member_per_probe": float(self.named_rate[d]),
                    }
                )
        return [r for r in rows if r["lookalike_members"] > 0]


def fpir_table(
    gallery: Gallery,
    fmr: float,
    *,
    group_names: Sequence[str],
    condition_probability: Sequence[float] | np.ndarray = (1.0,),
    condition_fmr: Sequence[float] | np.ndarray = (1.0,),
    probe_weight: np.ndarray | None = None,
) -> FpirTable:
    """Closed-form FPIR per sex and age band, per member naming rates, and overall.

    Args:
        gallery: The run's gallery.
        fmr: Per-comparison FMR of a reference member.
        group_names: Ethnic group names (for the rows).
        condition_probability, condition_fmr: A mixture of capture conditions (from
            :func:`condition_mixture`); default: good conditions only.
        probe_weight: Relative non-mated probes per lookalike cell; default: proportional
            to the cell's gallery members.
    """
    p = np.asarray(condition_probability, np.float64)
    c = np.asarray(condition_fmr, np.float64)
    size = gallery.lookalike_size
    mbar = gallery.mean_multiplier()
    per = expected_fpir(fmr * c[None, :], gallery.size, mbar[:, None])
    fpir = np.where(size > 0, (np.atleast_2d(per) * p[None, :]).sum(axis=1), 0.0)
    w = size.astype(np.float64) if probe_weight is None else np.asarray(probe_weight, float)
    overall = float((fpir * w).sum() / w.sum()) if w.sum() > 0 else 0.0
    look_of_cell = np.repeat(np.arange(N_LOOKALIKE), gallery.n_groups)
    weight = gallery.lookalike_weight[look_of_cell]
    named = np.divide(
        fpir[look_of_cell] * gallery.multiplier,
        weight,
        out=np.zeros_like(weight),
        where=weight > 0,
    )
    return FpirTable(
        lookalike_size=size,
        mean_multiplier=mbar,
        fpir=fpir,
        probe_weight=w,
        overall=overall,
        named_rate=named,
        group_names=tuple(group_names),
    )


def match_scores(
    rng: np.random.Generator,
    outcome: np.ndarray,
    threshold: float,
    mate_law: tuple[float, float],
    non_mate_law: tuple[float, float],
) -> np.ndarray:
    """Similarity score of the named candidate (NaN when nobody is named).

    Scores lie above the threshold: ``threshold + (1 - threshold) x Beta(a, b)``, with the
    mate law for the mate and the non-mate law for a false match.
    """
    a = np.where(outcome == MATE, mate_law[0], non_mate_law[0])
    b = np.where(outcome == MATE, mate_law[1], non_mate_law[1])
    s = threshold + (1.0 - threshold) * rng.beta(a, b)
    return np.where(outcome == NOBODY, np.nan, s)
