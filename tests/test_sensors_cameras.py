"""The camera network over the streets source: probes, identifications, records; and the
nanjing policy deciding on them.

Runs a small scenario (streets + records + cameras + a spy behaviour) into a real run
database and checks that the rows are consistent with each other and with the true acts.
The cameras watch the places the streets publish (``sim.places``), whose jaywalk acts are
then exactly the captured jaywalks; with the streets' ``record_every_event`` every jaywalk
is an act and the cameras capture from them (both are tested, and give the same
detection share in expectation). The cameras only record: without a policy nobody is
sanctioned or caught; with the nanjing pack every identification is displayed and texted
by the pack, and its people are caught. Counts are
compared with their expectation within 5 standard errors of the binomial or Poisson count
(probability of a false failure below 1e-6); the error rates themselves are tested
against their closed forms in tests/test_face_recognition.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict
from tests.conftest import small_scenario

from sclab.engine import Simulation, register
from sclab.errors import ScenarioError
from sclab.population import generate_population
from sclab.rng import Streams
from sclab.scenario.loader import read_scenario
from sclab.store.database import RunDatabase
from sclab.targets import load_scenario
from sclab.world.streets import Streets

SE = 5.0  # tolerance in standard errors (see module docstring)


def cameras_module() -> Any:
    """The cameras module, imported (and so registered) only when a test runs.

    Until ``sclab.sensors`` imports it, importing it at collection time would add the
    component to the registry before tests/test_engine.py compares docs/components.md
    with the registry.
    """
    import sclab.sensors.cameras

    return sclab.sensors.cameras


class SpyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@register("behaviour", "test-cameras-spy", SpyParams)
class Spy:
    """Test behaviour: records what the cameras told the behaviour interface, and the truth."""

    def __init__(self, name: str, params: SpyParams) -> None:
        self.name = name

    def setup(self, sim: Simulation) -> None:
        self.caught: dict[int, np.ndarray] = {}
        self.visible: dict[int, np.ndarray] = {}
        self.jaywalks: dict[int, set[tuple[int, int]]] = {}
        self.daily_total: dict[int, int] = {}
        self.at_cameras = 0  # jaywalk acts at camera intersections
        self.camera_jaywalks = 0  # all jaywalks at camera intersections (streets' counts)

    def step(self, sim: Simulation, day: int) -> None:
        self.caught[day] = np.sort(sim.view.caught_today("jaywalk"))
        self.visible[day] = np.sort(sim.view.visible_sanctions_today)
        pairs: set[tuple[int, int]] = set()
        places = sim.places.of("jaywalk")
        self.daily_total[day] = int(places.today.sum())
        self.camera_jaywalks += int(places.today[places.camera].sum())
        for acts in sim.acts.of_kind("jaywalk"):
            cam = acts.extra["camera"]
            self.at_cameras += int(cam.sum())
            where = acts.extra["place_id"][cam].tolist()
            pairs |= set(zip(acts.actor[cam].tolist(), where, strict=True))
        self.jaywalks[day] = pairs

    def finish(self, sim: Simulation) -> None:
        pass


CAMERA_PARAMS: dict[str, Any] = {
    "capture": 0.5,
    "non_resident_share": 0.2,
    "non_person_faces_per_camera_day": 1.0,
    "printed_face_in_gallery_share": 0.5,
    "advert_faces": 5,
    "night_share": 0.3,
    "sunglasses_share": 0.2,
    "matcher": {"fmr": 1e-5},  # FPIR about 0.2-0.5 on this small gallery: errors are common
}


def build(
    write_scenario,
    tmp_path: Path,
    *,
    seed: int = 7,
    days: int = 15,
    cam=None,
    every: bool = False,
    more_sources: tuple[dict, ...] = (),
    **extra,
):
    """Run the scenario into a database (``every``: streets record every jaywalk)."""
    cameras_module()
    streets = {"camera_share": 0.5, "record_every_event": every}
    doc = small_scenario(
        seed=seed,
        days=days,
        population={"size": 20_000},
        sources=[{"use": "streets", "params": streets}, *more_sources],
        sensors=[{"use": "records"}, {"use": "cameras", "params": cam or CAMERA_PARAMS}],
        behaviour=[{"use": "test-cameras-spy"}],
        **extra,
    )
    scenario = load_scenario(str(write_scenario(doc)))
    streams = Streams(scenario.seed)
    sim = Simulation.assemble(
        scenario,
        streams,
        generate_population(scenario, streams),
        sink=lambda b: db.append("events", b.columns(), buffered=True),
        decision_sink=lambda table, cols: db.append(table, cols, buffered=True),
    )
    path = tmp_path / f"run-{seed}-{days}-{len(list(tmp_path.iterdir()))}.duckdb"
    db = RunDatabase(path, sim.labels())
    sim.setup()
    sim.run()
    db.flush()
    if hasattr(db, "wait"):  # inserts may run on a writer thread: let them land
        db.wait()
    return sim, db


def component(sim: Simulation, cls: type) -> Any:
    return next(c for _, c in sim.components if isinstance(c, cls))


def streets_of(sim: Simulation) -> Streets:
    return component(sim, Streets)


def q(db: RunDatabase, sql: str) -> list[tuple]:
    return db.con.execute(sql).fetchall()


def test_whole_run_writes_consistent_rows(write_scenario, tmp_path: Path) -> None:
    sim, db = build(write_scenario, tmp_path)
    cameras = cameras_module()
    cam, spy = component(sim, cameras.Cameras), component(sim, Spy)
    c = sim.population.citizens
    p = CAMERA_PARAMS

    # The gallery is exactly the people in the ID-photo or driver database.
    enrolled = c.in_id_photo_db | c.in_driver_db
    assert np.array_equal(np.sort(cam.gallery.members), np.flatnonzero(enrolled))

    # One identifications row per captured probe.
    (n_ident,) = q(db, "SELECT count(*) FROM identifications")[0]
    assert n_ident == cam.totals["captured"] > 1000
    counts = dict(((s, o), k) for s, o, k in q(db, "SELECT probe_subject, outcome, count(*) "
                                               "FROM identifications GROUP BY ALL"))  # fmt: skip
    for (s, o), k in counts.items():
        assert cam.totals[f"{s}/{o}"] == k
    n_sub = {s: sum(k for (s2, _), k in counts.items() if s2 == s) for s in cameras.SUBJECTS}

    # Probe counts: every jaywalk act is a captured resident (the streets drew only the
    # captured ones), ~ Binomial(camera jaywalks, capture); non-residents and printed
    # faces ~ Poisson.
    assert streets_of(sim).acts_are_captured
    assert n_sub["resident"] == spy.at_cameras
    assert sim.acts.totals["jaywalk"] == streets_of(sim).jaywalks_total.sum()
    assert cam.totals["jaywalks"] == streets_of(sim).jaywalks_total.sum()
    n_cam = spy.camera_jaywalks
    assert abs(n_sub["resident"] - p["capture"] * n_cam) <= SE * np.sqrt(n_cam * 0.25)
    share = p["non_resident_share"]
    lam = n_cam * share / (1 - share) * p["capture"]
    assert abs(n_sub["non_resident"] - lam) <= SE * np.sqrt(lam)
    lam = p["non_person_faces_per_camera_day"] * len(cam._cameras) * sim.scenario.days
    assert abs(n_sub["non_person"] - lam) <= SE * np.sqrt(lam) + 1

    # Outcome rules: only enrolled residents can be correctly identified.
    assert q(db, "SELECT count(*) FROM identifications WHERE outcome = 'correct' AND "
                 "(probe_subject <> 'resident' OR NOT subject_in_gallery)")[0][0] == 0  # fmt: skip
    for subject in ("non_resident", "non_person"):
        assert counts.get((subject, "false_match"), 0) > 0  # the scenario makes errors likely
    assert counts[("resident", "false_match")] > 0 and counts[("resident", "correct")] > 0
    assert q(db, "SELECT count(*) FROM identifications WHERE subject_in_gallery AND "
                 "probe_subject = 'non_resident'")[0][0] == 0  # fmt: skip

    # Misses have no event and no score; every other identification has exactly one event.
    sql = (
        "SELECT count(*) FROM identifications WHERE (outcome = 'miss') <> (event_id IS NULL) "
        "OR (outcome = 'miss') <> (match_score IS NULL)"
    )
    assert q(db, sql)[0][0] == 0
    (n_events,) = q(db, "SELECT count(*) FROM events WHERE kind = 'jaywalk_identified'")[0]
    assert n_events == n_ident - sum(k for (_, o), k in counts.items() if o == "miss")
    bad = q(db, """
        SELECT count(*) FROM identifications i JOIN events e USING (event_id)
        WHERE e.day <> i.day OR e.place_id <> i.place_id OR e.district_code <> i.district_code
           OR (i.outcome = 'correct') <> (e.true_actor IS NOT NULL AND
                                          e.true_actor = e.attributed_to)
           OR (e.error IS NOT NULL) <> (i.outcome = 'false_match')
           OR (e.true_actor IS NULL) <> (i.probe_subject <> 'resident')
           OR abs(e.match_score - i.match_score) > 1e-6 OR i.match_score < 0.8
    """)[0][0]  # fmt: skip
    assert bad == 0
    joined = q(db, "SELECT count(*) FROM identifications i JOIN events e USING (event_id)")
    assert joined[0][0] == n_events

    # The cameras only record (no policy here: see the tests below).
    assert q(db, "SELECT count(*) FROM sanctions")[0][0] == 0

    # Named people are enrolled; true actors really jaywalked there that day.
    named = np.array([r[0] for r in q(db, "SELECT attributed_to FROM events")])
    assert enrolled[named].all()
    truth = q(db, "SELECT day, true_actor, place_id FROM events WHERE true_actor IS NOT NULL")
    assert all((who, place) in spy.jaywalks[day] for day, who, place in truth)
    rows = q(db, "SELECT DISTINCT place_id, district_code FROM identifications")
    places = sim.places.of("jaywalk")
    codes = [d.code for d in sim.scenario.geography.districts]
    for place, code in rows:
        assert places.camera[place]
        assert codes[places.district[place]] == code
    # Printed faces of enrolled people name one of the advert faces (wrongfully).
    adverts = q(db, "SELECT DISTINCT e.attributed_to FROM identifications i JOIN events e "
                    "USING (event_id) WHERE i.probe_subject = 'non_person' AND "
                    "i.subject_in_gallery AND e.attributed_to IN "
                    f"({','.join(map(str, cam._adverts))})")  # fmt: skip
    assert len(adverts) > 0

    # Capture conditions.
    night, sun = q(db, "SELECT avg(night::INT), count(*) FILTER (WHERE night AND sunglasses) "
                       "FROM identifications")[0]  # fmt: skip
    assert abs(night - 0.3) <= SE * np.sqrt(0.3 * 0.7 / n_ident)
    assert sun == 0
    assert q(db, "SELECT count(*) FROM identifications WHERE probe_subject = 'non_person' "
                 "AND (helmet OR mask OR sunglasses)")[0][0] == 0  # fmt: skip
    assert q(db, "SELECT DISTINCT gallery_size FROM identifications")[0][0] == int(enrolled.sum())
    db.close()


def test_without_a_policy_cameras_record_but_nobody_is_sanctioned_or_caught(
    write_scenario, tmp_path: Path
) -> None:
    sim, db = build(write_scenario, tmp_path, days=5)
    spy = component(sim, Spy)
    assert sim.scenario.policies == []
    (n_ident,) = q(db, "SELECT count(*) FROM identifications")[0]
    (n_events,) = q(db, "SELECT count(*) FROM events WHERE kind = 'jaywalk_identified'")[0]
    assert n_ident > 300 and n_events > 200
    # No sanctions row at all, nobody caught for jaywalking or shown publicly on any day,
    # and no detection share published for behaviour.
    assert q(db, "SELECT count(*) FROM sanctions")[0][0] == 0
    assert len(spy.caught) == 5 and all(len(v) == 0 for v in spy.caught.values())
    assert all(len(v) == 0 for v in spy.visible.values())
    assert len(sim.view.caught_today("jaywalk")) == 0 and "jaywalk" not in sim.view.detection
    db.close()


def test_nanjing_pack_displays_and_texts_every_identification(
    write_scenario, tmp_path: Path
) -> None:
    """The pack's rule ``display``: one roadside display and one SMS per identification,
    under the pack's system name, wrongful exactly when the named person is not the true
    pedestrian; the people named (and those it lists) are caught, the displayed shown."""
    from sclab.policy.loader import load_policy

    system = load_policy("nanjing").system_name
    sim, db = build(
        write_scenario, tmp_path, days=10,
        policies=[{"use": "pack", "params": {"pack": "nanjing"}}],
        # The pack's measures name resource moments: their source runs too.
        more_sources=({"use": "resources"},),
    )  # fmt: skip
    spy = component(sim, Spy)
    (n_events,) = q(db, "SELECT count(*) FROM events WHERE kind = 'jaywalk_identified'")[0]
    assert n_events > 500
    rows = q(db, """
        SELECT s.kind, s.domain, s.system, count(*), count(DISTINCT s.event_id),
               count(*) FILTER (WHERE e.event_id IS NULL OR s.entity_id <> e.attributed_to
                                OR s.day <> e.day),
               count(*) FILTER (WHERE s.wrongful <> (e.true_actor IS NULL OR
                                                      e.attributed_to <> e.true_actor)),
               count(*) FILTER (WHERE s.wrongful)
        FROM sanctions s LEFT JOIN events e USING (event_id)
        WHERE s.rule_id = 'display' GROUP BY ALL ORDER BY 1
    """)  # fmt: skip
    assert [r[:3] for r in rows] == [
        ("notice", "sms", system),
        ("public_display", "roadside_screen", system),
    ]
    for r in rows:
        # Exactly one of each per identification event, on the named person that day.
        assert r[3] == r[4] == n_events and r[5] == 0 and r[6] == 0
        assert 0 < r[7] < n_events  # false matches are common in this scenario
    # Every sanction is the pack's: the display rule's, its listing's downgrade, or a
    # joint measure on the listed (habitual jaywalkers near a camera are listed within
    # days at this capture).
    assert q(db, "SELECT DISTINCT system FROM sanctions") == [(system,)]
    assert {r[0] for r in q(db, "SELECT DISTINCT rule_id FROM sanctions")} <= {
        "display",
        "discredited",
        "loans",
        "insurance",
        "jobs",
    }
    # What behaviour saw, day by day: caught = the named people (once per identification)
    # plus the people the rule `discredited` listed that day; shown = the named people.
    named = dict(q(db, "SELECT day, list(attributed_to) FROM events GROUP BY day"))
    listed = dict(q(db, "SELECT day, list(entity_id) FROM sanctions "
                        "WHERE rule_id = 'discredited' GROUP BY day"))  # fmt: skip
    for day in range(10):
        people = named.get(day, [])
        assert spy.caught[day].tolist() == sorted(people + listed.get(day, []))
        assert spy.visible[day].tolist() == sorted(people)
    db.close()


def test_every_jaywalk_as_acts_cameras_capture_and_detection_is_unchanged(
    write_scenario, tmp_path: Path
) -> None:
    """With the streets' record_every_event the cameras thin the acts by ``capture``
    themselves; the detection share (correctly named residents over all resident
    jaywalks) has the same expectation either way."""
    cameras = cameras_module()
    c = CAMERA_PARAMS["capture"]
    detection = {}
    for every in (False, True):
        sim, db = build(write_scenario, tmp_path, days=8, every=every)
        cam, spy = component(sim, cameras.Cameras), component(sim, Spy)
        streets = streets_of(sim)
        assert streets.acts_are_captured is not every
        n_res = sum(cam.totals[f"resident/{o}"] for o in cameras.OUTCOMES)
        n_cam = spy.camera_jaywalks
        if every:
            # Every jaywalk at a camera is an act; residents ~ Binomial(them, capture).
            assert spy.at_cameras == n_cam
            assert abs(n_res - c * n_cam) <= SE * np.sqrt(n_cam * c * (1 - c))
        else:
            assert n_res == spy.at_cameras
        assert sim.acts.totals["jaywalk"] == cam.totals["jaywalks"] == streets.jaywalks_total.sum()
        truth = q(db, "SELECT day, true_actor, place_id FROM events WHERE true_actor IS NOT NULL")
        assert len(truth) > 1000
        assert all((who, place) in spy.jaywalks[day] for day, who, place in truth)
        # The detection share, from the records: correct residents over all jaywalks.
        sql = ("SELECT count(*) FROM identifications WHERE outcome = 'correct' AND "
               "probe_subject = 'resident'")  # fmt: skip
        assert q(db, sql)[0][0] == cam.totals["resident/correct"]
        assert cam.totals["jaywalks"] == sum(spy.daily_total.values())
        share = cam.totals["resident/correct"] / cam.totals["jaywalks"]
        detection[every] = (share, share * (1 - share) / cam.totals["jaywalks"])
        db.close()
    # Correct identifications are (at most) binomial over the jaywalks: SE of the
    # difference of the two shares from the two binomial variances.
    (a, var_a), (b, var_b) = detection[False], detection[True]
    assert abs(a - b) <= SE * np.sqrt(var_a + var_b), detection


def _digest(db: RunDatabase) -> tuple[list, list, list]:
    return (
        q(db, "SELECT * FROM identifications ORDER BY day, event_id, place_id, match_score"),
        q(db, "SELECT * FROM events ORDER BY event_id"),
        q(db, "SELECT * FROM sanctions ORDER BY sanction_id"),
    )


def test_determinism(write_scenario, tmp_path: Path) -> None:
    _, a = build(write_scenario, tmp_path, days=4)
    _, b = build(write_scenario, tmp_path, days=4)
    _, c = build(write_scenario, tmp_path, days=4, seed=8)
    da, db_, dc = _digest(a), _digest(b), _digest(c)
    assert len(da[0]) > 100
    assert da == db_
    assert da[0] != dc[0]
    for d in (a, b, c):
        d.close()


@pytest.mark.parametrize(("start", "expected"), [("2020-01-06", 0.5), ("2019-07-08", 0.0)])
def test_masks_follow_the_season(write_scenario, tmp_path: Path, start: str, expected) -> None:
    cam = dict(CAMERA_PARAMS, mask_share=0.0, mask_share_winter=0.5)
    _, db = build(write_scenario, tmp_path, days=3, cam=cam, start_date=start)
    n, share = q(db, "SELECT count(*), avg(mask::INT) FROM identifications "
                     "WHERE probe_subject <> 'non_person'")[0]  # fmt: skip
    assert n > 500
    assert abs(share - expected) <= SE * np.sqrt(0.25 / n)
    db.close()


def test_setup_errors(write_scenario, tmp_path: Path) -> None:
    """What the cameras need of the scenario is checked before any work, as one located
    line; the engine's own refusal stays as the backstop for code that skips the check."""
    cam = dict(CAMERA_PARAMS, matcher={"ethnic_fmr": {"martian": 2.0}})
    with pytest.raises(ScenarioError, match=r"ethnic_fmr\.martian: ethnic group 'martian'"):
        build(write_scenario, tmp_path, days=1, cam=cam)
    cameras_module()
    path = write_scenario(small_scenario(sensors=[{"use": "cameras"}]))
    with pytest.raises(ScenarioError, match="produced by sources:streets"):
        load_scenario(str(path))
    scenario, _ = read_scenario(str(path))  # the schema alone: no component check
    with pytest.raises(LookupError, match="streets"):
        Simulation.build(scenario, Streams(1), generate_population(scenario, Streams(1)))
