"""Fairness on a small real run: `sclab run demo`, then the tables, and the weighted cells
against Fairlearn on the full arrays of the same run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate
from tests.conftest import run_cli

from sclab.audit import fairness

POPULATION = 5000


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fairness") / "demo"
    done = run_cli("run", "demo", "--population", POPULATION, "--days", 30, "--out", out)
    assert done.returncode == 0, done.stderr
    return out / "run.duckdb"


@pytest.fixture(scope="module")
def tables(run: Path) -> dict[str, pa.Table]:
    with duckdb.connect(str(run), read_only=True) as con:
        return fairness.compute(con)


def test_tables_cover_every_decision_grouping_and_person(
    run: Path, tables: dict[str, pa.Table]
) -> None:
    assert set(tables) == {
        "fairness_groups",
        "fairness_summary",
        "fairness_decisions",
        "fairness_rules",
    }
    with duckdb.connect(str(run), read_only=True) as con:
        recipients = dict(
            con.execute(
                "SELECT system || '/' || kind || '/' || domain, count(DISTINCT entity_id) "
                "FROM sanctions WHERE entity_type = 'person' GROUP BY ALL"
            ).fetchall()
        )
        listed = dict(
            con.execute(
                "SELECT system || '/listed/' || list, count(DISTINCT entity_id) "
                "FROM list_entries WHERE entity_type = 'person' GROUP BY ALL"
            ).fetchall()
        )
    decided = tables["fairness_decisions"].to_pandas().set_index("decision")
    assert decided["recipients"].to_dict() == recipients | listed
    assert (decided["population"] == POPULATION).all()
    groups = tables["fairness_groups"].to_pandas()
    sums = groups.groupby(["grouping", "decision"])[["people", "recipients"]].sum()
    assert len(sums) == 21 * len(decided)
    assert (sums["people"] == POPULATION).all()
    assert (
        sums["recipients"] == decided.loc[sums.index.get_level_values(1), "recipients"].to_numpy()
    ).all()
    # Every rate lies in its interval; small groups are there, flagged.
    assert (groups["rate_lower"] <= groups["rate"] + 1e-12).all()
    assert (groups["rate"] <= groups["rate_upper"] + 1e-12).all()
    small = groups[groups["rate_small"]]
    assert len(small) and small["rate_small_reason"].notna().all()


@pytest.mark.parametrize(
    "by", [("sex",), ("ethnic_group",), ("age_band", "income_decile"), ("district", "migrant")]
)
def test_weighted_cells_equal_fairlearn_on_the_full_arrays(run: Path, by: tuple[str, ...]) -> None:
    with duckdb.connect(str(run), read_only=True) as con:
        for decision in fairness.decisions(con):
            arrays = fairness.person_arrays(con, decision, by)
            assert len(arrays.y_true) == POPULATION
            full = MetricFrame(
                metrics={"rate": selection_rate, "fpr": false_positive_rate, "people": count},
                y_true=arrays.y_true.astype(int),
                y_pred=arrays.y_pred.astype(int),
                sensitive_features=arrays.sensitive_features,
            )
            weighted = fairness.metric_frame(con, decision, by)
            cols = ["rate", "fpr", "people"]
            pd.testing.assert_frame_equal(
                weighted.by_group[cols], full.by_group[cols], check_dtype=False, rtol=1e-12
            )
            assert np.allclose(weighted.overall[cols], full.overall[cols], rtol=1e-12)
            assert np.allclose(weighted.ratio()[["rate"]], full.ratio()[["rate"]], rtol=1e-12)


def test_the_tables_hold_the_weighted_metric_frames_values(
    run: Path, tables: dict[str, pa.Table]
) -> None:
    groups = tables["fairness_groups"].to_pandas()
    with duckdb.connect(str(run), read_only=True) as con:
        decision = max(
            fairness.decisions(con),
            key=lambda d: fairness.person_arrays(con, d, "sex").y_pred.sum(),
        )
        mf = fairness.metric_frame(con, decision, "age_band")
    rows = groups[(groups["decision"] == decision.label) & (groups["grouping"] == "age_band")]
    got = rows.set_index("group_1")["rate"].sort_index()
    want = mf.by_group["rate"].sort_index()
    assert got.index.tolist() == want.index.tolist()
    assert np.allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12)
