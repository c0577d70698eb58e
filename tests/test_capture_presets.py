"""Capture presets against the published per-camera figures, and the metrics of who
Nanjing's rule discredits.

The presets were calibrated on the 9.3-million-person `nanjing` scenario, whose gallery
(about 7 million faces) makes false matches far more frequent than a small run's. The
preset test runs half a million people with the matcher's per-comparison FMR scaled so
that the false-positive identification rate is the city's (FPIR depends on FMR x N for
small FMR), so that a probe names somebody as often as at city scale. Tolerance: the
counts are Poisson (a few hundred identifications: 5-13% standard error) and a small
run's cameras see slightly fewer pedestrians (docs/calibration.md); 35% for the low end,
25% for the high end.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sclab.calibration import calibrate
from sclab.run import run_scenario
from sclab.sensors import face_recognition as fr
from sclab.sensors.cameras import CAPTURE_PRESETS, DEFAULT_CAPTURE_PRESET, CamerasParams
from sclab.targets import load_run_target

CITY = 9_314_700
PEOPLE = 500_000
DAYS = 4


def _with_cameras(target: str, overrides: dict, cameras: dict) -> dict:
    doc = load_run_target(target, overrides).model_dump(mode="json")
    for entry in doc["sensors"]:
        if entry["use"] == "cameras":
            entry["params"] = {**(entry.get("params") or {}), **cameras}
    return doc


def test_presets_and_default() -> None:
    assert DEFAULT_CAPTURE_PRESET == "futian-busiest"
    assert CamerasParams().capture_probability == CAPTURE_PRESETS["futian-busiest"].capture
    low, high = CAPTURE_PRESETS["shenzhen-first-day"], CAPTURE_PRESETS["futian-busiest"]
    assert low.target == pytest.approx(58 / 40) and high.target == pytest.approx(13930 / 304)
    assert low.capture < high.capture
    assert CamerasParams(capture=0.25).capture_probability == 0.25  # a number replaces it
    with pytest.raises(ValueError, match="unknown capture preset 'nope'"):
        CamerasParams(capture_preset="nope")


@pytest.mark.parametrize("preset", ["shenzhen-first-day", "futian-busiest"])
def test_each_preset_identifies_per_camera_near_its_figure(tmp_path: Path, preset: str) -> None:
    from sclab.scenario.schema import Scenario

    fmr = fr.PRESETS[fr.DEFAULT_PRESET].fmr * CITY / PEOPLE  # the city's FPIR
    doc = _with_cameras(
        "nanjing",
        {"--population": PEOPLE, "--days": DAYS, "--seed": 20190708},
        {"capture_preset": preset, "matcher": {"fmr": fmr}},
    )
    run_scenario(Scenario.model_validate(doc), tmp_path / preset)
    con = duckdb.connect(str(tmp_path / preset / "run.duckdb"), read_only=True)
    try:
        named, cameras = con.execute(
            "SELECT count(*), count(DISTINCT place_id) FROM events "
            "WHERE kind = 'jaywalk_identified'"
        ).fetchall()[0]
    finally:
        con.close()
    assert cameras >= 5
    per_camera_day = named / cameras / DAYS
    low = CAPTURE_PRESETS["shenzhen-first-day"]
    if preset == "shenzhen-first-day":
        # Shenzhen: 58 cases over 40 devices on their first day.
        assert per_camera_day == pytest.approx(low.target, rel=0.35)
    else:
        # Futian's count is the busiest camera's; the mean camera identifies in
        # proportion to the capture what it does at the low end.
        capture = CAPTURE_PRESETS[preset].capture
        assert per_camera_day == pytest.approx(low.target * capture / low.capture, rel=0.25)


def test_discredited_metrics_count_the_listed_and_the_wrongly_named(tmp_path: Path) -> None:
    # Cameras at every intersection capturing every jaywalk, and a lenient matcher: within
    # a month many people are identified six times, some of them by false matches.
    from sclab.scenario.schema import Scenario

    doc = _with_cameras(
        "nanjing",
        {"--population": 3000, "--days": 30, "--seed": 2},
        {"capture": 1.0, "matcher": {"fmr": 1e-4}},
    )
    for entry in doc["sources"]:
        if entry["use"] == "streets":
            entry["params"] = {
                **(entry.get("params") or {}),
                "camera_share": 1.0,
                "residents_per_intersection": 300,
            }
    run_scenario(Scenario.model_validate(doc), tmp_path / "nj")
    con = duckdb.connect(str(tmp_path / "nj" / "run.duckdb"), read_only=True)
    try:
        six = con.execute(
            "SELECT attributed_to, bool_or(error IS NOT NULL) FROM events "
            "WHERE kind = 'jaywalk_identified' GROUP BY attributed_to HAVING count(*) > 5"
        ).fetchall()
    finally:
        con.close()
    assert len(six) > 10 and 0 < sum(w for _, w in six) < len(six)
    rows = {r.figure: r for r in calibrate(tmp_path / "nj").role("informational")}
    listed, wrongly = rows["nanjing_discredited"], rows["nanjing_discredited_wrongly_identified"]
    assert listed.simulated == len(six)
    assert wrongly.simulated == sum(w for _, w in six)
    assert listed.published is None and listed.ratio is None
    assert listed.verdict == "no published figure"


def test_discredited_metrics_are_not_comparable_without_the_rule(tmp_path: Path) -> None:
    scenario = load_run_target("court-defaulters", {"--population": 2000, "--days": 2})
    run_scenario(scenario, tmp_path / "court")
    rows = {r.figure: r for r in calibrate(tmp_path / "court").role("informational")}
    assert rows["nanjing_discredited"].verdict == "not comparable"
    assert "nanjing" in rows["nanjing_discredited"].note
