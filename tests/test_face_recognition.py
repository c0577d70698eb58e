"""The 1:N face-recognition error model: closed forms, the vectorised core, presets.

Statistical checks compare a count with its closed-form expectation and allow 5 standard
errors of the (Poisson-)binomial count, sqrt(sum p(1 - p)): a correct implementation fails
such a check with probability below 1e-6. The expectations are computed here from the
synthetic gallery arrays directly (per-member multipliers, cell means), not from the
``Gallery`` internals, so a bookkeeping error in the core shows up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import small_scenario

from sclab.sensors import face_recognition as fr
from sclab.sensors.cameras import CamerasParams

SE = 5.0  # tolerance in standard errors (see module docstring)
GROUPS = ("han", "minority")
K_FEMALE = 3.0
K_MINORITY = 3.0


def matcher(**overrides) -> fr.MatcherSettings:
    base = {
        "female_fmr": K_FEMALE,
        "other_ethnic_fmr": K_MINORITY,
        "age_fmr": {},
    }
    base.update(overrides)
    return fr.MatcherParams(**base).settings()


def synthetic_gallery(n: int, seed: int, s: fr.MatcherSettings):
    """n enrolled people aged 16-79, half women, 10% minority; returns arrays and Gallery."""
    rng = np.random.default_rng(seed)
    male = rng.random(n) < 0.5
    age = rng.integers(16, 80, n)
    group = (rng.random(n) < 0.1).astype(np.int64)
    look = fr.lookalike_cell(male, age)
    ids = np.arange(n) * 3 + 1  # person ids need not be dense
    mult_table = s.demographic_multipliers(GROUPS)
    gallery = fr.Gallery.build(ids, look, group, mult_table)
    # Per-member multiplier computed straight from the settings, for the expectations.
    m = np.where(male, 1.0, K_FEMALE) * np.where(group == 1, K_MINORITY, 1.0)
    return ids, male, look, group, m, gallery


def cell_fpir(look: np.ndarray, m: np.ndarray, fmr: float, n_compare: int) -> np.ndarray:
    """Closed-form FPIR per lookalike cell: 1 - (1 - fmr x mean multiplier)^N."""
    sums = np.bincount(look, weights=m, minlength=fr.N_LOOKALIKE)
    size = np.bincount(look, minlength=fr.N_LOOKALIKE)
    mbar = np.where(size > 0, sums / np.maximum(size, 1), 0.0)
    return np.where(size > 0, 1.0 - (1.0 - fmr * mbar) ** n_compare, 0.0)


def within(observed: float, p: np.ndarray) -> None:
    expected = float(p.sum())
    sd = float(np.sqrt((p * (1 - p)).sum()))
    assert abs(observed - expected) <= SE * sd + 1e-9, (observed, expected, sd)


# ----------------------------------------------------------------------------- closed forms


def test_closed_forms_and_preset_arithmetic() -> None:
    # FPIR = 1 - (1 - FMR)^N, and its inverse.
    assert fr.expected_fpir(1e-3, 1000) == pytest.approx(1 - 0.999**1000, rel=1e-12)
    assert fr.expected_fpir(1e-3, 1000, multiplier=2.0) == pytest.approx(1 - 0.998**1000)
    assert fr.expected_fpir(0.5, 0) == 0.0
    assert fr.expected_fpir(2.0, 3) == 1.0
    for fpir, n in ((0.003, 12e6), (0.01, 12e6), (0.2, 20_000)):
        assert fr.expected_fpir(fr.fmr_for_fpir(fpir, n), n) == pytest.approx(fpir, rel=1e-9)
    # The presets' documented derivations.
    mug, surv = fr.PRESETS["mugshot-grade"], fr.PRESETS["surveillance-grade"]
    assert mug.fmr == pytest.approx(2.504e-10, rel=1e-3)
    assert mug.fnir == 0.002
    assert fr.expected_fpir(mug.fmr, 12_000_000) == pytest.approx(0.003, rel=1e-9)
    assert surv.fmr == pytest.approx(8.375e-10, rel=1e-3)
    assert fr.expected_fpir(surv.fmr, 12_000_000) == pytest.approx(0.01, rel=1e-9)
    assert surv.fnir / mug.fnir == pytest.approx(25.0)
    assert fr.expected_fnir(0.05, 10.0) == pytest.approx(0.5)
    assert fr.expected_fnir(0.2, 10.0) == 1.0
    p = fr.outcome_probabilities(0.1, 0.2, 0.5, True)
    assert sum(float(x) for x in p) == pytest.approx(1.0)
    assert float(p[0]) == pytest.approx(0.9 * 0.9)
    mate, non, _ = fr.outcome_probabilities(0.1, 0.2, 0.5, False)
    assert float(mate) == 0.0 and float(non) == pytest.approx(0.2)


def test_matcher_params_presets_overrides_and_validation() -> None:
    # The default resolves to the street cameras' preset, field and rank rule included.
    default = fr.PRESETS[fr.DEFAULT_PRESET]
    assert fr.DEFAULT_PRESET == "field-south-wales-2017"
    s = fr.MatcherParams().settings()
    assert (s.fmr, s.fnir, s.outrank_share) == (default.fmr, default.fnir, default.outrank_share)
    assert CamerasParams().matcher.settings() == s
    # The former name of the NIST surveillance point resolves to the same numbers.
    old, new = (
        fr.MatcherParams(preset=n).settings()
        for n in ("surveillance-grade", "surveillance-nist-2019")
    )
    assert old == new and old.fmr == pytest.approx(8.375e-10, rel=1e-3)
    assert (
        fr.MatcherParams(preset="field-met-2019", outrank_share=0.2).settings().outrank_share == 0.2
    )
    s = fr.MatcherParams(preset="mugshot-grade", fnir=0.01).settings()
    assert s.fmr == fr.PRESETS["mugshot-grade"].fmr and s.fnir == 0.01
    table = fr.MatcherParams(female_fmr=4.0, age_fmr={"90+": 2.0}).settings()
    mult = table.demographic_multipliers(["han", "hui"])
    assert mult.shape == (fr.N_LOOKALIKE, 2)
    female_90, male_20 = 0 * fr.N_BANDS + 9, 1 * fr.N_BANDS + 2
    assert mult[female_90, 0] == pytest.approx(8.0)
    assert mult[male_20, 1] == pytest.approx(3.0)  # hui falls back to other_ethnic_fmr
    with pytest.raises(ValidationError) as err:
        fr.MatcherParams(preset="phone-grade")
    message = err.value.errors()[0]["msg"]
    assert "'phone-grade'" in message and "\n" not in message
    assert all(name in message for name in fr.PRESETS)
    with pytest.raises(ValidationError):
        fr.MatcherParams(age_fmr={"20-25": 2.0})
    with pytest.raises(ValidationError):
        fr.MatcherParams(fmr=1.5)
    with pytest.raises(ValidationError):
        fr.MatcherParams(speed=3)


def test_condition_mixture() -> None:
    s = matcher()
    prob, fmr_m, fnir_m = fr.condition_mixture(s, 0.2, 0.1, 0.05, 0.3)
    assert prob.sum() == pytest.approx(1.0)
    # P(night) and P(sunglasses) = (1 - night) x share: never both.
    combos = np.array(np.meshgrid([0, 1], [0, 1], [0, 1], [0, 1], indexing="ij")).reshape(4, -1)
    assert prob[combos[0] == 1].sum() == pytest.approx(0.2)
    assert prob[(combos[0] == 1) & (combos[2] == 1)].sum() == 0.0
    assert prob[combos[2] == 1].sum() == pytest.approx(0.8 * 0.05)
    worst = (combos == 1).all(axis=0)
    assert fnir_m[worst][0] == pytest.approx(2.0 * 3.0 * 3.0 * 10.0)
    assert fmr_m[combos.sum(axis=0) == 0][0] == 1.0


# ----------------------------------------------------------------------------- the core


@pytest.mark.parametrize("n", [20_000, 200_000])
def test_simulated_fpir_matches_closed_form_at_two_gallery_sizes(n: int) -> None:
    s = matcher()
    _, _, look, _, m, gallery = synthetic_gallery(n, seed=1, s=s)
    fmr = 4e-7  # FPIR about 0.02 at 20k and 0.17 at 200k
    rng = np.random.default_rng(2)
    k = 100_000
    probe_look = look[rng.integers(0, n, k)]  # non-mated probes of the gallery's mix
    res = fr.identify(rng, gallery, probe_look, np.full(k, -1), fmr=fmr, fnir=0.0, outrank=0.5)
    p = cell_fpir(look, m, fmr, n)[probe_look]
    np.testing.assert_allclose(res.fpir, p, rtol=1e-9)
    named = res.named >= 0
    within(int(named.sum()), p)
    assert not (res.outcome == fr.MATE).any()  # nobody was enrolled: never a correct hit
    assert np.isin(res.named[named], np.arange(n) * 3 + 1).all()
    # The named person is always a lookalike: same sex and age band.
    member_look = dict(zip((np.arange(n) * 3 + 1).tolist(), look.tolist(), strict=True))
    assert all(
        member_look[w] == c for w, c in zip(res.named[named], probe_look[named], strict=True)
    )
    # Closed-form FPIR grows with the gallery as 1 - (1 - FMR_eff)^N.
    mean = float(p.mean())
    assert (0.015 < mean < 0.03) if n == 20_000 else (0.14 < mean < 0.22)


def test_false_matches_land_in_proportion_to_the_fmr_multiplier() -> None:
    s = matcher()
    n = 100_000
    _, male, look, group, m, gallery = synthetic_gallery(n, seed=3, s=s)
    fmr = 1e-7  # small FPIR (about 0.025), so per-member rates are ~ proportional to m
    rng = np.random.default_rng(4)
    k = 600_000
    probe_look = look[rng.integers(0, n, k)]  # as many probes per member in every cell
    res = fr.identify(rng, gallery, probe_look, np.full(k, -1), fmr=fmr, fnir=0.0, outrank=0.5)
    hit = res.named[res.named >= 0]
    pos = (hit - 1) // 3  # back to the synthetic row
    named_female = np.bincount(~male[pos], minlength=2)[1]
    named_male = len(hit) - named_female
    # Expected namings per sex from the closed form: a probe names a member of its own
    # cell, so women receive exactly the false matches of female probes.
    p = cell_fpir(look, m, fmr, n)[probe_look]
    female_probe = probe_look < fr.N_BANDS
    within(int(named_female), p[female_probe])
    within(int(named_male), p[~female_probe])
    per_member = (named_female / (~male).sum()) / (named_male / male.sum())
    assert 0.85 * K_FEMALE < per_member < 1.15 * K_FEMALE  # ~k times as often per member
    # Within a cell, minority members (multiplier 3) are named 3x as often per member.
    minority = group[pos] == 1
    rate_min = minority.sum() / (group == 1).sum()
    rate_han = (~minority).sum() / (group == 0).sum()
    assert 0.8 * K_MINORITY < rate_min / rate_han < 1.2 * K_MINORITY
    # Never uniform: the women's share of false matches is far above their gallery share.
    assert named_female / len(hit) > 0.7


def test_misses_at_fnir_and_condition_multipliers_raise_them() -> None:
    s = matcher(fnir=0.05)
    n = 20_000
    ids, _, look, _, _, gallery = synthetic_gallery(n, seed=5, s=s)
    rng = np.random.default_rng(6)
    k = 200_000
    who = rng.integers(0, n, k)
    night = rng.random(k) < 0.3
    mask = rng.random(k) < 0.3
    none = np.zeros(k, bool)
    _, fnir_m = s.condition_multipliers(night, none, none, mask)
    fnir = fr.expected_fnir(s.fnir, fnir_m)
    res = fr.identify(rng, gallery, look[who], ids[who], fmr=0.0, fnir=fnir, outrank=0.5)
    miss = res.outcome == fr.NOBODY
    assert (res.named[~miss] == ids[who][~miss]).all()  # FPIR 0: a hit is always the mate
    for sel, rate in (
        (~night & ~mask, 0.05),
        (night & ~mask, 0.10),
        (~night & mask, 0.50),
        (night & mask, 1.0),
    ):
        np.testing.assert_allclose(fnir[sel], rate)
        within(int(miss[sel].sum()), np.full(int(sel.sum()), rate))
    assert miss[mask].mean() > 4 * miss[~night & ~mask].mean()


def test_mated_outcomes_match_their_closed_form() -> None:
    s = matcher()
    n = 20_000
    ids, _, look, _, m, gallery = synthetic_gallery(n, seed=7, s=s)
    fmr = 2e-5  # FPIR about 0.4: both error kinds are frequent
    rng = np.random.default_rng(8)
    k = 100_000
    who = rng.integers(0, n, k)
    fnir = np.where(rng.random(k) < 0.5, 0.05, 0.4)
    res = fr.identify(rng, gallery, look[who], ids[who], fmr=fmr, fnir=fnir, outrank=0.3)
    p_fpir = cell_fpir(look, m, fmr, n - 1)[look[who]]
    np.testing.assert_allclose(res.fpir, p_fpir, rtol=1e-9)
    p_mate, p_non, p_none = fr.outcome_probabilities(fnir, p_fpir, 0.3, True)
    within(int((res.outcome == fr.MATE).sum()), p_mate)
    within(int((res.outcome == fr.NON_MATE).sum()), p_non)
    within(int((res.outcome == fr.NOBODY).sum()), p_none)
    wrong = res.outcome == fr.NON_MATE
    assert (res.named[wrong] != ids[who][wrong]).all()  # a false match is never the mate
    assert (res.named[res.outcome == fr.MATE] == ids[who][res.outcome == fr.MATE]).all()


def test_lookalike_draw_skips_the_mate_even_in_a_tiny_cell() -> None:
    s = matcher()
    # Cell of women aged 30-39: exactly two members, 10 and 11; everyone else a man of 50.
    ids = np.array([10, 11, 12, 13, 14])
    male = np.array([False, False, True, True, True])
    age = np.array([33, 35, 50, 51, 52])
    look = fr.lookalike_cell(male, age)
    gallery = fr.Gallery.build(ids, look, np.zeros(5, int), s.demographic_multipliers(GROUPS))
    rng = np.random.default_rng(9)
    k = 2_000
    probe_look = np.full(k, look[0])
    drawn = fr.draw_lookalike(rng, gallery, probe_look, np.full(k, 10))
    assert (drawn == 11).all()
    # A probe whose only lookalike is its own mate cannot be falsely matched.
    only = fr.Gallery.build(ids[:1], look[:1], np.zeros(1, int), s.demographic_multipliers(GROUPS))
    res = fr.identify(rng, only, look[:1].repeat(k), np.full(k, 10), fmr=0.5, fnir=1.0, outrank=1)
    assert (res.fpir == 0).all() and (res.outcome == fr.NOBODY).all()


def test_fpir_table_is_consistent() -> None:
    s = matcher()
    n = 50_000
    _, _, look, _, m, gallery = synthetic_gallery(n, seed=10, s=s)
    fmr = 1e-7
    table = fr.fpir_table(gallery, fmr, group_names=GROUPS)
    np.testing.assert_allclose(table.fpir, cell_fpir(look, m, fmr, n), rtol=1e-9)
    size = np.bincount(look, minlength=fr.N_LOOKALIKE)
    assert table.overall == pytest.approx(float((table.fpir * size).sum() / size.sum()))
    by_sex = table.by_sex()
    assert 2.5 < by_sex["female"] / by_sex["male"] < 3.0  # about K_FEMALE at small FPIR
    # Per-member naming rates add up to the cell's FPIR.
    counts = gallery.counts.reshape(fr.N_LOOKALIKE, len(GROUPS))
    rates = table.named_rate.reshape(fr.N_LOOKALIKE, len(GROUPS))
    np.testing.assert_allclose((counts * rates).sum(axis=1), table.fpir, rtol=1e-9, atol=0)
    rows = table.rows()
    assert {r["sex"] for r in rows} == {"female", "male"}
    assert all(r["lookalike_members"] > 0 for r in rows)
    # Conditions: doubling the FMR for half the probes raises the mean FPIR.
    worse = fr.fpir_table(
        gallery, fmr, group_names=GROUPS, condition_probability=[0.5, 0.5],
        condition_fmr=[1.0, 2.0],
    )  # fmt: skip
    assert worse.overall > table.overall * 1.4


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(0, 300))
def test_identify_is_deterministic_and_named_people_are_enrolled(seed: int, k: int) -> None:
    s = matcher()
    ids, _, look, _, _, gallery = _SMALL
    rng_probe = np.random.default_rng(seed)
    who = rng_probe.integers(0, len(ids), k)
    mate = np.where(rng_probe.random(k) < 0.5, ids[who], -1)
    kwargs = {"fmr": 1e-3, "fnir": 0.2, "outrank": 0.5}
    a = fr.identify(np.random.default_rng(seed), gallery, look[who], mate, **kwargs)
    b = fr.identify(np.random.default_rng(seed), gallery, look[who], mate, **kwargs)
    assert np.array_equal(a.named, b.named) and np.array_equal(a.outcome, b.outcome)
    named = a.named >= 0
    assert np.isin(a.named[named], ids).all()
    assert not ((a.outcome == fr.MATE) & (mate < 0)).any()
    assert (a.named[a.outcome == fr.NON_MATE] != mate[a.outcome == fr.NON_MATE]).all()
    del s


_SMALL = synthetic_gallery(2_000, seed=11, s=matcher())


def test_match_scores() -> None:
    rng = np.random.default_rng(12)
    outcome = np.repeat(np.array([fr.MATE, fr.NON_MATE, fr.NOBODY], np.uint8), 20_000)
    score = fr.match_scores(rng, outcome, 0.8, (3.0, 1.0), (1.0, 4.0))
    assert np.isnan(score[outcome == fr.NOBODY]).all()
    mate, non = score[outcome == fr.MATE], score[outcome == fr.NON_MATE]
    assert (mate >= 0.8).all() and (non >= 0.8).all() and (score[~np.isnan(score)] <= 1).all()
    assert mate.mean() == pytest.approx(0.8 + 0.2 * 0.75, abs=0.005)
    assert non.mean() == pytest.approx(0.8 + 0.2 * 0.2, abs=0.005)


# ----------------------------------------------------------------------------- presets


FIELD = [name for name, p in fr.PRESETS.items() if p.deployment is not None]


def test_every_preset_is_documented_and_field_presets_carry_their_deployment() -> None:
    assert set(FIELD) == {"field-south-wales-2017", "field-met-2019"}
    assert fr.DEFAULT_PRESET in FIELD
    for p in fr.PRESETS.values():
        assert p.source and 0 < p.fmr < 1e-5 and 0 < p.fnir < 1 and 0 <= p.outrank_share <= 1
        assert p.alias_of is None or fr.PRESETS[p.alias_of].fmr == p.fmr
    docs = fr.matcher_markdown()
    for name, p in fr.PRESETS.items():
        assert f"| `{name}`" in docs and p.source in docs
    assert fr.DEFAULT_PRESET_REASON in docs


def test_field_derivations_written_in_the_sources() -> None:
    swp, met = fr.PRESETS["field-south-wales-2017"], fr.PRESETS["field-met-2019"]
    mug = fr.PRESETS["mugshot-grade"]
    # South Wales: FPIR 2,297 / 170,000 per face against 500,000 images.
    assert swp.fmr == pytest.approx(2.72e-8, rel=1e-3)
    assert fr.expected_fpir(swp.fmr, 500_000) == pytest.approx(2_297 / 170_000, rel=1e-9)
    assert 80 < swp.fmr / mug.fmr < 130  # "about 100x the NIST mugshot figure"
    # Its range: 85,000 and 850,000 scans.
    assert fr.fmr_for_fpir(2_297 / 85_000, 500_000) == pytest.approx(5.5e-8, rel=0.01)
    assert fr.fmr_for_fpir(2_297 / 850_000, 500_000) == pytest.approx(5.4e-9, rel=0.01)
    assert swp.deployment is not None
    assert swp.deployment.false_share == pytest.approx(0.93, abs=0.005)  # "92%" published
    # The Met: 1 false alert per 1,000 faces against about 2,000 people.
    assert met.fmr == pytest.approx(5.0e-7, rel=1e-3)
    assert fr.expected_fpir(met.fmr, 2_000) == pytest.approx(0.001, rel=1e-9)
    assert met.deployment is not None
    assert met.deployment.false_share == pytest.approx(34 / 42)  # the review's 81%
    # The default's defence: at the Met's FMR a 500,000 gallery names a wrong person for
    # 22% of passers-by.
    assert fr.expected_fpir(met.fmr, 500_000) == pytest.approx(0.22, abs=0.005)


@pytest.mark.parametrize("name", FIELD)
def test_field_preset_reproduces_its_published_false_alerts_at_deployment_scale(name: str) -> None:
    """Simulate the deployment: its watchlist as the gallery, every face scanned as a probe
    of somebody not on it, and as many mated probes as the published true alerts need.

    Tolerance: 5 standard errors of the simulated counts (see the module docstring).
    """
    preset = fr.PRESETS[name]
    dep = preset.deployment
    assert dep is not None
    # Multipliers 1: the deployment's figures are averages over its crowd.
    s = matcher(preset=name, female_fmr=1.0, other_ethnic_fmr=1.0)
    ids, _, look, _, _, gallery = synthetic_gallery(int(dep.watchlist), seed=13, s=s)
    rng = np.random.default_rng(14)
    scans = int(dep.scans)
    fpir = fr.expected_fpir(preset.fmr, dep.watchlist)
    p_mate, p_non, _ = fr.outcome_probabilities(preset.fnir, fpir, preset.outrank_share, True)
    n_mated = round(dep.true_alerts / float(p_mate))
    probe_look = np.concatenate([look[rng.integers(0, len(ids), scans)], look[:n_mated]])
    mate = np.concatenate([np.full(scans, -1), ids[:n_mated]])
    res = fr.identify(
        rng,
        gallery,
        probe_look,
        mate,
        fmr=preset.fmr,
        fnir=preset.fnir,
        outrank=preset.outrank_share,
    )
    false_alerts = int((res.outcome == fr.NON_MATE).sum())
    true_alerts = int((res.outcome == fr.MATE).sum())
    p_false = np.concatenate([np.full(scans, fpir), np.full(n_mated, float(p_non))])
    # Expected false alerts are the published count (to within the mated probes' few)...
    assert float(p_false.sum()) == pytest.approx(dep.false_alerts, rel=0.01)
    # ... and the simulation at the deployment's scale reproduces them.
    within(false_alerts, np.full(len(p_false), float(p_false.mean())))
    within(true_alerts, np.full(n_mated, float(p_mate)))
    share = false_alerts / (false_alerts + true_alerts)
    se = np.sqrt(dep.false_share * (1 - dep.false_share) / (dep.false_alerts + dep.true_alerts))
    assert abs(share - dep.false_share) <= SE * se, (share, dep.false_share)


def test_lab_presets_reproduce_their_nist_operating_points() -> None:
    for name, fpir in (("mugshot-grade", 0.003), ("surveillance-nist-2019", 0.01)):
        assert fr.expected_fpir(fr.PRESETS[name].fmr, 12_000_000) == pytest.approx(fpir)


def test_unknown_preset_is_one_line_listing_the_presets(tmp_path) -> None:
    doc = small_scenario(
        sources=[{"use": "streets"}],
        sensors=[{"use": "cameras", "params": {"matcher": {"preset": "street-grade"}}}],
    )
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    sclab = Path(sys.executable).parent / "sclab"
    proc = subprocess.run(
        [str(sclab), "run", str(path), "--out", str(tmp_path / "run"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "matcher.preset" in lines[0] and "street-grade" in lines[0]
    assert all(name in lines[0] for name in fr.PRESETS)
    assert not (tmp_path / "run").exists()
