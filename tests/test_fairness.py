"""Fairness by group: truth and decisions on a hand-made store, values against Fairlearn,
the small-group rule, and the intervals."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.audit import fairness
from sclab.audit.fairness import Decision

PEOPLE = 200
START = "2020-01-01"


def _store() -> duckdb.DuckDBPyConnection:
    """A store with only what the fairness audit reads, and known answers.

    Person 1 truly failed to perform (events 1 and 5) and is listed and blocked; person 3
    is listed and blocked on person 2's act recorded under 3's name (event 2); person 4
    failed to perform and received nothing; person 6's school place is blocked on the
    listing of person 1 (a parent); person 5 is blocked as the legal representative of
    company 5 (a company's record, event 4); people 100-139 get a reward resting on no
    event. People 0-9 are the only 'hui' (a group of 10).
    """
    con = duckdb.connect()
    con.execute(f"CREATE TABLE run_info AS SELECT DATE '{START}' AS start_date")
    con.execute(
        """CREATE TABLE citizens AS SELECT range::INTEGER AS person_id,
               CASE WHEN range % 2 = 0 THEN 'female' ELSE 'male' END AS sex,
               CASE WHEN range < 10 THEN 'hui' ELSE 'han' END AS ethnic_group,
               CASE WHEN range = 10 THEN DATE '2002-01-02'
                    WHEN range = 11 THEN DATE '2002-01-01'
                    ELSE DATE '1990-01-01' END AS birth_date,
               320106 + (range % 3) AS district_code, range % 4 = 0 AS migrant,
               (1 + range % 10)::TINYINT AS income_decile
           FROM range(?)""",
        [PEOPLE],
    )
    con.execute(
        """CREATE TABLE events AS SELECT * FROM (VALUES
               (1, 'non_performance', 'person', 1, 1),
               (2, 'non_performance', 'person', 2, 3),
               (3, 'non_performance', 'person', 4, 4),
               (4, 'company_tax_arrears', 'company', 5, 5),
               (5, 'non_performance', 'person', 1, 1))
           t(event_id, kind, entity_type, true_actor, attributed_to)"""
    )
    con.execute(
        """CREATE TABLE list_entries AS SELECT * FROM (VALUES
               (1, 1, 'person', 'court', 'debtors', 1),
               (2, 3, 'person', 'court', 'debtors', 2))
           t(entry_id, entity_id, entity_type, system, list, event_id)"""
    )
    rewards = ", ".join(
        f"({10 + i}, {100 + i}, 'person', 'score', 'reward', 'hotel_booking', NULL)"
        for i in range(40)
    )
    con.execute(
        f"""CREATE TABLE sanctions AS SELECT * FROM (VALUES
               (1, 1, 'person', 'court', 'blocked', 'rail_ticket', 1),
               (2, 3, 'person', 'court', 'blocked', 'rail_ticket', 2),
               (3, 6, 'person', 'court', 'blocked', 'school_place', 1),
               (4, 5, 'person', 'court', 'blocked', 'rail_ticket', 4),
               (5, 5, 'company', 'court', 'blocked', 'rail_ticket', 4),
               {rewards})
           t(sanction_id, entity_id, entity_type, system, kind, domain, event_id)"""
    )
    con.execute(
        """CREATE TABLE decision_events AS SELECT * FROM (VALUES
               ('list_entries', 1, 1), ('list_entries', 1, 5))
           t(decision_table, decision_key, event_id)"""
    )
    return con


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return fairness.compute(_store())


RAIL = Decision("sanctions", "court", "blocked", "rail_ticket")
SCHOOL = Decision("sanctions", "court", "blocked", "school_place")
LISTED = Decision("list_entries", "court", "listed", "debtors")
REWARD = Decision("sanctions", "score", "reward", "hotel_booking")


def _rows(table, **where):
    df = table.to_pandas()
    for k, v in where.items():
        df = df[df[k].isna()] if v is None else df[df[k] == v]
    return df


def test_decisions_are_per_person_and_company_rows_are_left_out() -> None:
    assert fairness.decisions(_store()) == sorted([LISTED, RAIL, SCHOOL, REWARD])


@pytest.mark.parametrize(
    ("decision", "received", "committed"),
    [
        # Listed on their own act (1), and on someone else's act recorded under their name (3).
        (LISTED, {1, 3}, {1, 2, 4}),
        # Blocked on a listing: its events are the entry's (1); the legal representative (5)
        # is blocked on a company's record, which is not his own act.
        (RAIL, {1, 3, 5}, {1, 2, 4}),
        # A child blocked for a parent's listing did not commit the parent's act.
        (SCHOOL, {6}, {1, 2, 4}),
    ],
)
def test_truth_and_decision_per_person(
    decision: Decision, received: set[int], committed: set[int], tables: dict[str, pa.Table]
) -> None:
    arrays = fairness.person_arrays(_store(), decision, "sex")
    assert set(np.flatnonzero(arrays.y_pred)) == received
    assert set(np.flatnonzero(arrays.y_true)) == committed
    decided = _rows(tables["fairness_decisions"], decision=decision.label)
    assert decided["recipients"].item() == len(received)
    assert decided["wrongly_received"].item() == len(received - committed)
    assert decided["doers"].item() == len(committed)
    assert decided["acts"].item() in {"non_performance", "company_tax_arrears,non_performance"}


def test_a_decision_resting_on_no_event_has_no_false_positive_rate(
    tables: dict[str, pa.Table],
) -> None:
    decided = _rows(tables["fairness_decisions"], decision=REWARD.label)
    assert decided["beneficial"].item()
    assert decided["acts"].isna().item() and decided["doers"].isna().item()
    assert decided["wrongly_received"].isna().item()
    groups = _rows(tables["fairness_groups"], decision=REWARD.label, grouping="sex")
    assert groups["fpr"].isna().all() and groups["fpr_best_off"].isna().all()
    assert groups["rate"].notna().all()
    assert groups["non_doers"].isna().all() and groups["false_positives"].isna().all()


@pytest.mark.parametrize(
    "by", [("sex",), ("ethnic_group",), ("district", "migrant"), ("age_band", "income_decile")]
)
@pytest.mark.parametrize("decision", [LISTED, RAIL, SCHOOL, REWARD])
def test_weighted_cells_equal_full_arrays(decision: Decision, by: tuple[str, ...]) -> None:
    con = _store()
    arrays = fairness.person_arrays(con, decision, by)
    full = MetricFrame(
        metrics={"rate": selection_rate, "fpr": false_positive_rate, "people": count},
        y_true=arrays.y_true.astype(int),
        y_pred=arrays.y_pred.astype(int),
        sensitive_features=arrays.sensitive_features,
    )
    cells = fairness.metric_frame(con, decision, by)
    assert len(fairness.cells(con, by, [decision])) < PEOPLE
    pd.testing.assert_frame_equal(
        cells.by_group[["rate", "fpr", "people"]],
        full.by_group[["rate", "fpr", "people"]],
        check_dtype=False,
        rtol=1e-12,
    )
    for metric in ("rate", "fpr"):
        assert cells.overall[metric] == pytest.approx(full.overall[metric], rel=1e-12)
        assert cells.difference()[metric] == pytest.approx(full.difference()[metric], abs=1e-12)


def test_tables_hold_fairlearns_values(tables: dict[str, pa.Table]) -> None:
    con = _store()
    table = tables["fairness_groups"]
    for decision in (LISTED, RAIL, REWARD):
        mf = fairness.metric_frame(con, decision, ("sex", "district"))
        rows = _rows(table, decision=decision.label, grouping="sex x district")
        got = rows.set_index(["group_1", "group_2"])
        want = mf.by_group
        assert len(got) == len(want) == 6
        for (sex, district), row in want.iterrows():
            assert got.loc[(sex, district), "rate"] == pytest.approx(row["rate"], rel=1e-12)
            assert got.loc[(sex, district), "people"] == row["people"]
            assert got.loc[(sex, district), "recipients"] == row["recipients"]
            if decision is not REWARD:
                assert got.loc[(sex, district), "non_doers"] == row["non_doers"]
                assert got.loc[(sex, district), "fpr"] == pytest.approx(row["fpr"], rel=1e-12)
                assert got.loc[(sex, district), "false_positives"] == row["false_positives"]


def test_every_grouping_covers_everyone_once(tables: dict[str, pa.Table]) -> None:
    groups = tables["fairness_groups"].to_pandas()
    assert groups["grouping"].nunique() == 6 + 15
    people = groups.groupby(["grouping", "decision"])["people"].sum()
    assert (people == PEOPLE).all()


def test_age_bands_count_completed_years_at_the_start() -> None:
    ppl = fairness.people(_store()).set_index("person_id")
    # Born 2002-01-02: 17 on 2020-01-01; born 2002-01-01: 18 that day.
    assert ppl.loc[10, "age_band"] == "0-17"
    assert ppl.loc[11, "age_band"] == "18-24"
    assert ppl.loc[12, "age_band"] == "25-34"


def test_small_groups_are_flagged_with_the_rule_not_dropped(tables: dict[str, pa.Table]) -> None:
    groups = tables["fairness_groups"]
    reward = _rows(groups, decision=REWARD.label, grouping="ethnic_group").set_index("group_1")
    # 10 people: shown, flagged, with the reason.
    assert reward.loc["hui", "people"] == 10
    assert reward.loc["hui", "rate_small"]
    assert f"10 people < {fairness.MIN_GROUP_SIZE}" in reward.loc["hui", "rate_small_reason"]
    assert not math.isnan(reward.loc["hui", "rate"])
    # 190 people at an overall rate of 0.2: 38 expected, large enough.
    assert not reward.loc["han", "rate_small"]
    assert pd.isna(reward.loc["han", "rate_small_reason"])
    assert reward.loc["han", "rate_best_off"]  # the only judgeable group
    # 190 people but 3 recipients in 200 overall: 2.85 expected, flagged by the count.
    rail = _rows(groups, decision=RAIL.label, grouping="ethnic_group").set_index("group_1")
    assert rail.loc["han", "rate_small"]
    assert "expected count 2.85 < 5" in rail.loc["han", "rate_small_reason"]
    rules = tables["fairness_rules"].to_pandas().set_index("name")
    assert rules.loc["min_group_size", "value"] == str(fairness.MIN_GROUP_SIZE)


def test_best_off_group_differences_and_ratios(tables: dict[str, pa.Table]) -> None:
    groups = tables["fairness_groups"]
    rail = _rows(groups, decision=RAIL.label, grouping="sex").set_index("group_1")
    # Recipients 1, 3, 5 are all male (odd ids): females are best off at rate 0.
    assert rail.loc["female", "rate_best_off"] and rail.loc["female", "rate"] == 0
    assert rail.loc["male", "rate_difference"] == pytest.approx(3 / 100)
    assert rail.loc["female", "rate_difference"] == 0
    assert math.isnan(rail.loc["male", "rate_ratio"])  # the best-off rate is 0
    assert math.isnan(rail.loc["male", "rate_ratio_upper"])  # unbounded
    lo, hi = rail.loc["male", ["rate_difference_lower", "rate_difference_upper"]]
    assert lo < 3 / 100 < hi
    # False positives 3 and 5 among the males who did not commit the act (100 - 1).
    assert rail.loc["male", "fpr"] == pytest.approx(2 / 99)
    # A reward: the best-off group has the highest rate.
    reward = _rows(groups, decision=REWARD.label, grouping="sex").set_index("group_1")
    assert reward["rate"].to_dict() == {"female": 0.2, "male": 0.2}
    assert reward["rate_best_off"].sum() == 1
    best = reward[reward["rate_best_off"]].iloc[0]
    assert best["rate_ratio"] == 1.0 and best["rate_difference"] == 0.0


def test_summary_reports_fairlearns_between_group_difference(tables: dict[str, pa.Table]) -> None:
    con = _store()
    summary = _rows(tables["fairness_summary"], grouping="district")
    for decision in (RAIL, LISTED):
        mf = fairness.metric_frame(con, decision, "district")
        row = summary[summary["decision"] == decision.label].iloc[0]
        assert row["rate_difference_max"] == pytest.approx(mf.difference()["rate"])
        assert row["fpr_difference_max"] == pytest.approx(mf.difference()["fpr"])
        assert row["overall_rate"] == pytest.approx(mf.overall["rate"])
        assert row["groups"] == 3 and row["small_groups"] == 3


def test_tables_are_prefixed_and_typed_when_the_run_decided_nothing() -> None:
    con = _store()
    con.execute("DELETE FROM sanctions; DELETE FROM list_entries")
    tables = fairness.compute(con)
    assert all(name.startswith("fairness_") for name in tables)
    assert tables["fairness_groups"].num_rows == 0
    assert tables["fairness_groups"].schema.names[:3] == ["grouping", "attribute_1", "group_1"]
    assert tables["fairness_rules"].num_rows > 0


def test_an_unknown_grouping_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one or two distinct attributes"):
        fairness.metric_frame(_store(), RAIL, ("sex", "height"))
    with pytest.raises(ValueError, match="no decision"):
        fairness.metric_frame(_store(), Decision("sanctions", "x", "blocked", "y"), "sex")


# -- intervals ---------------------------------------------------------------------------


def test_wilson_interval_known_values() -> None:
    # Wilson (1927) for 5 of 10 at 95%: 0.2366 to 0.7634; 0 of 10: 0 to 0.2775.
    lo, hi = fairness.wilson_interval(np.array([5, 0, 10]), np.array([10, 10, 10]))
    assert lo[0] == pytest.approx(0.2366, abs=1e-4) and hi[0] == pytest.approx(0.7634, abs=1e-4)
    assert lo[1] == 0 and hi[1] == pytest.approx(0.2775, abs=1e-4)
    assert hi[2] == 1
    lo, hi = fairness.wilson_interval(np.array([0]), np.array([0]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])


def test_newcombe_difference_known_values() -> None:
    # Newcombe (1998), Table II example (56/70 vs 48/80), method 10: 0.0524 to 0.3339.
    d, lo, hi = fairness.newcombe_difference(
        np.array([56]), np.array([70]), np.array([48]), np.array([80])
    )
    assert d[0] == pytest.approx(0.2)
    assert lo[0] == pytest.approx(0.0524, abs=1e-4) and hi[0] == pytest.approx(0.3339, abs=1e-4)


sizes = st.integers(min_value=1, max_value=5_000)
scales = st.integers(min_value=2, max_value=50)


@settings(max_examples=200, deadline=None)
@given(n=sizes, share=st.floats(0, 1), m=scales)
def test_rate_intervals_shrink_with_group_size(n: int, share: float, m: int) -> None:
    k = round(share * n)
    lo, hi = fairness.wilson_interval(np.array([k, m * k]), np.array([n, m * n]))
    assert hi[1] - lo[1] < hi[0] - lo[0]
    assert lo[0] <= k / n <= hi[0] and lo[1] <= k / n <= hi[1]


@settings(max_examples=200, deadline=None)
@given(n1=sizes, n2=sizes, s1=st.floats(0, 1), s2=st.floats(0, 1), m=scales)
def test_difference_and_ratio_intervals_shrink_with_group_size(
    n1: int, n2: int, s1: float, s2: float, m: int
) -> None:
    k1, k2 = round(s1 * n1), max(1, round(s2 * n2))
    args = (np.array([k1, m * k1]), np.array([n1, m * n1]))
    more = (np.array([k2, m * k2]), np.array([n2, m * n2]))
    d, lo, hi = fairness.newcombe_difference(*args, *more)
    assert hi[1] - lo[1] < hi[0] - lo[0]
    assert lo[0] <= d[0] <= hi[0]
    r, rlo, rhi = fairness.ratio_interval(*args, *more)
    assert rhi[1] - rlo[1] < rhi[0] - rlo[0] or math.isinf(rhi[0])
    assert rlo[0] <= r[0] <= rhi[0]
