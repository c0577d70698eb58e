"""Provenance of factor-score assessments (Sesame): every change row is linked to the
recorded events inside the score's event windows, and carries the latest of them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import small_scenario

from sclab.policy.loader import load_policy
from sclab.policy.schema import FactorScore
from sclab.policy.state import search_sorted
from sclab.run import run_scenario
from sclab.targets import load_scenario

# The kinds of the recorded events Sesame's factors read.
SESAME_EVENT_KINDS = sorted(
    {
        kind
        for score in load_policy("sesame").scores
        if isinstance(score, FactorScore)
        for factor in score.factors
        for i in factor.inputs
        if i.events is not None
        for kind in i.events.kinds
    }
)


def test_assessment_rows_link_every_event_in_their_windows(tmp_path: Path, write_scenario):
    doc = small_scenario(
        days=61,
        population={"size": 6000},
        # Many late bills, loans and court cases, with record errors, so that the
        # assessments on days 30 and 60 rest on recorded events, some of them erroneous.
        sources=[
            {"use": "payments", "params": {"rate_multiplier": 4}},
            {"use": "state_data", "params": {"rate_multiplier": 20}},
            # What the rest of the pack reads: posts, and the moments of its measures.
            {"use": "social_media"},
            {"use": "resources"},
            {"use": "company_conduct"},  # the court pack lists company debtors too
        ],
        sensors=[{"use": "records", "params": {"id_typo_rate": 0.05}}],
        policies=[
            {"use": "pack", "params": {"pack": "court-defaulters"}},
            {"use": "pack", "params": {"pack": "sesame"}},
        ],
    )
    result = run_scenario(load_scenario(str(write_scenario(doc))), tmp_path / "run")
    con = duckdb.connect(str(result.database), read_only=True)
    kinds = ", ".join(f"'{k}'" for k in SESAME_EVENT_KINDS)

    rows = con.execute(
        "SELECT count(*), count(event_id) FROM score_changes WHERE rule_id LIKE '%:assessment'"
    ).fetchone()
    assert rows is not None
    assert rows[1] > 50 and rows[0] > rows[1]  # many rest on events, not all do

    # Every link joins a change to an event of one of the score's input kinds, attributed
    # to the scored person and recorded no later than the assessment.
    bad = con.execute(f"""
        SELECT count(*) FROM decision_events d
        JOIN score_changes s ON d.decision_table = 'score_changes' AND d.decision_key = s.change_id
        JOIN events e ON e.event_id = d.event_id
        LEFT JOIN list_entries l ON l.event_id = e.event_id AND l.entity_id = s.entity_id
                                 AND l.system = 'court-defaulters'
                                 AND l.entity_type = 'person'
        WHERE e.attributed_to <> s.entity_id OR e.recorded_day > s.day
           OR (e.kind NOT IN ({kinds}) AND l.entry_id IS NULL)
    """).fetchone()[0]  # fmt: skip
    assert bad == 0

    # The row's event_id is the latest linked event; rows without links have none.
    mismatch = con.execute("""
        WITH l AS (
            SELECT decision_key AS change_id, max(event_id) AS latest, count(*) AS n
            FROM decision_events WHERE decision_table = 'score_changes' GROUP BY 1)
        SELECT count(*) FROM score_changes s LEFT JOIN l USING (change_id)
        WHERE s.rule_id LIKE '%:assessment'
          AND (s.event_id IS DISTINCT FROM l.latest)
    """).fetchone()[0]  # fmt: skip
    assert mismatch == 0

    # Every event in the window is linked: recount them from the events table (the
    # windows are 5 years: a record made before the run counts from its own day).
    expected = con.execute(f"""
        SELECT count(*) FROM score_changes s JOIN events e
          ON e.attributed_to = s.entity_id AND e.kind IN ({kinds}) AND e.recorded_day <= s.day
         AND e.recorded_day > s.day - 1825
        WHERE s.rule_id LIKE '%:assessment'
    """).fetchone()[0]  # fmt: skip
    # ... and the record of the court's entry for those on the court's list, as the list
    # stood at the end of the day before the assessment (the credit history's list input).
    on_list = con.execute("""
        SELECT count(*) FROM score_changes s JOIN list_entries l
          ON l.entity_id = s.entity_id AND l.system = 'court-defaulters'
             AND l.entity_type = 'person'
         AND l.start_day < s.day AND coalesce(l.end_day, 1000000) >= s.day
        WHERE s.rule_id LIKE '%:assessment'
    """).fetchone()[0]  # fmt: skip
    linked = con.execute(
        "SELECT count(*) FROM decision_events WHERE decision_table = 'score_changes'"
    ).fetchone()[0]
    assert on_list > 0
    assert linked == expected + on_list > 0

    # Wrongful exactly when a linked event is erroneous (misattributed or a record error).
    disagree = con.execute("""
        WITH w AS (
            SELECT d.decision_key AS change_id,
                   bool_or(e.error IS NOT NULL OR e.true_actor IS DISTINCT FROM e.attributed_to)
                       AS any_bad
            FROM decision_events d JOIN events e ON e.event_id = d.event_id
            WHERE d.decision_table = 'score_changes' GROUP BY 1)
        SELECT count(*) FROM score_changes s LEFT JOIN w USING (change_id)
        WHERE s.rule_id LIKE '%:assessment' AND s.wrongful <> coalesce(w.any_bad, false)
    """).fetchone()[0]  # fmt: skip
    assert disagree == 0
    distinct = "SELECT count(DISTINCT change_id) = count(*) FROM score_changes"
    assert con.execute(distinct).fetchone()[0]


def test_voluntary_score_keeps_platform_state_for_participants_only(tmp_path, write_scenario):
    """Sesame is voluntary: its inputs' state is carried per participant, and the
    assessment scores exactly the participants, from their own platform totals."""
    import numpy as np
    from tests.conftest import build_simulation

    doc = small_scenario(
        days=61,
        population={"size": 5000},
        # Every source and sensor the pack reads (its inputs, its measures' moments).
        sources=[
            {"use": "payments"},
            {"use": "social_media"},
            {"use": "state_data"},
            {"use": "resources"},
            {"use": "company_conduct"},  # the court pack lists company debtors too
        ],
        sensors=[{"use": "records"}],
        policies=[
            {"use": "pack", "params": {"pack": "court-defaulters"}},
            {"use": "pack", "params": {"pack": "sesame"}},
        ],
    )
    sim = build_simulation(write_scenario(doc))
    engine = next(c for _, c in sim.components if c.name == "policy:sesame")
    f = next(iter(engine.scores.factors.values()))
    members = engine.members["person"]
    assert 0 < members.sum() < len(members)  # a voluntary score: some join, not all
    assert f.who is not None and np.array_equal(f.who, np.flatnonzero(members))
    inputs = [i for fac in f.spec.factors for i in fac.inputs]
    platform = [k for k, i in enumerate(inputs) if i.source in ("platform", "posts")]
    assert platform and all(len(f.decayed[k]) == len(f.who) for k in platform)
    assert all(len(h.count) == len(f.who) for h in f.hidden if h is not None)

    def total(kind: str) -> np.ndarray:  # a kind nobody has acted on yet has no counter
        counts = sim.aggregates.counts.get(("person", kind))
        return np.zeros(len(f.who), np.uint32) if counts is None else counts[f.who]

    # Any entity may be asked about (a joint-punishment check reads whoever attempts a
    # moment): non-participants, the last ids included, never rest on a wrongful record.
    everyone = np.arange(len(members))
    sid = next(iter(engine.scores.factors))
    assert not engine.provenance.factor_wrongful(sid, everyone)[~members].any()

    sim.step()  # day 0: the first assessment
    first = {}
    for k in platform:
        # Nothing decayed yet: the input is the participant's platform total.
        first[k] = total(inputs[k].kind).astype(np.uint32)
        assert np.array_equal(f.decayed[k], first[k].astype(np.float32))
    while sim.day < 30:  # the next assessment
        sim.step()
    assert np.isnan(f.value[~members]).all() and np.isfinite(f.value[members]).all()
    for k in platform:
        now = total(inputs[k].kind)
        keep = 0.5 ** (30 / inputs[k].half_life_days)
        expected = first[k] * keep + (now - first[k])
        np.testing.assert_allclose(f.decayed[k], expected, rtol=1e-5)
        assert np.array_equal(f.last_total[k], now)
        assert f.last_total[k].dtype == np.uint16  # as narrow as the platform's counter

    # A platform count past 65,535 widens the platform's counter; the last totals follow
    # it at the next assessment and the difference stays exact.
    k = platform[0]
    kind, one = inputs[k].kind, f.who[:1]
    before, last = float(f.decayed[k][0]), int(f.last_total[k][0])
    sim.aggregates.add_counts(kind, np.array([70_000], np.uint32), people=one)
    assert sim.aggregates.counts[("person", kind)].dtype == np.uint32
    while sim.day < 60:
        sim.step()
    now = int(total(kind)[0])
    assert now >= last + 70_000
    assert f.last_total[k].dtype == np.uint32 and int(f.last_total[k][0]) == now
    keep = 0.5 ** (30 / inputs[k].half_life_days)
    assert float(f.decayed[k][0]) == pytest.approx(before * keep + (now - last), rel=1e-5)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(2**31), 2**31 - 1), max_size=50),
    st.lists(st.integers(-(2**40), 2**40), max_size=50),
    st.sampled_from([np.int32, np.int64, np.uint32]),
    st.sampled_from(["left", "right"]),
)
def test_search_sorted_matches_numpy_whatever_the_types(hay, needles, hay_type, side) -> None:
    # Narrowing the needles is a speed-up only: positions equal NumPy's in every case,
    # including needles outside the haystack's type (left to NumPy's common type).
    info = np.iinfo(hay_type)
    haystack = np.sort(np.clip(np.array(hay, np.int64), info.min, info.max).astype(hay_type))
    wanted = np.array(needles, np.int64)
    got = search_sorted(haystack, wanted, side=side)
    assert np.array_equal(got, np.searchsorted(haystack, wanted, side=side))
