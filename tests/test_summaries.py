"""``daily_stats`` and ``score_histograms`` against counts made independently, in Python,
from the recorded tables."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sclab.parallel import BLOCK
from sclab.policy.histograms import ScoreHistograms, _nice_floor, bin_width
from sclab.policy.loader import load_policy
from sclab.run import run_scenario
from sclab.targets import load_run_target

DAYS = 75  # from 8 July: the ends of July and August, and 20 September


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    scenario = load_run_target("composite", {"--population": 30000, "--days": DAYS})
    out: Path = tmp_path_factory.mktemp("runs") / "composite"
    run_scenario(scenario, out)
    con = duckdb.connect(str(out / "run.duckdb"), read_only=True)
    yield con
    con.close()


def stats(con, measure: str) -> dict[tuple, tuple[int, int]]:
    got = con.execute(
        "SELECT day, CAST(system AS VARCHAR), item, count, wrongful FROM daily_stats "
        "WHERE measure = ?",
        [measure],
    ).fetchall()
    return {(d, s, i): (n, w) for d, s, i, n, w in got}


def dense(counts: Counter, wrong: Counter) -> dict[tuple, tuple[int, int]]:
    """Every day for each (system, item) that occurs, zeros included."""
    series = {(s, i) for _, s, i in counts}
    return {
        (d, s, i): (counts[(d, s, i)], wrong[(d, s, i)]) for s, i in series for d in range(DAYS)
    }


def test_flows_match_the_recorded_rows(con) -> None:
    sources = {
        "events_recorded": "SELECT recorded_day, NULL, CAST(kind AS VARCHAR), "
        "error IS NOT NULL FROM events",
        "score_changes": "SELECT day, CAST(system AS VARCHAR), CAST(score AS VARCHAR), "
        "wrongful FROM score_changes",
        "list_entries": "SELECT start_day, CAST(system AS VARCHAR), CAST(list AS VARCHAR), "
        "wrongful FROM list_entries",
        "list_exits": "SELECT end_day, CAST(system AS VARCHAR), CAST(list AS VARCHAR), "
        "wrongful FROM list_entries WHERE end_day IS NOT NULL",
        "sanctions": "SELECT day, CAST(system AS VARCHAR), CAST(kind AS VARCHAR), wrongful "
        "FROM sanctions",
    }
    for measure, sql in sources.items():
        counts, wrong = Counter(), Counter()
        for day, system, item, wrongful in con.execute(sql).fetchall():
            if 0 <= day < DAYS:
                counts[(day, system, item)] += 1
                wrong[(day, system, item)] += bool(wrongful)
        assert counts, measure  # the run records some of each
        assert stats(con, measure) == dense(counts, wrong), measure
    assert any(w for _, w in stats(con, "events_recorded").values())  # some erroneous


def test_listed_is_the_stock_at_the_end_of_each_day(con) -> None:
    entries = con.execute(
        "SELECT CAST(system AS VARCHAR), CAST(list AS VARCHAR), start_day, end_day, wrongful "
        "FROM list_entries"
    ).fetchall()
    assert any(e[3] is not None for e in entries) and any(e[2] < 0 for e in entries)
    counts, wrong = Counter(), Counter()
    for system, name, start, end, wrongful in entries:
        for day in range(DAYS):
            if start <= day and (end is None or end > day):
                counts[(day, system, name)] += 1
                wrong[(day, system, name)] += bool(wrongful)
    got = stats(con, "listed")
    expected = dense(counts, wrong)
    assert {k: v for k, v in got.items() if k in expected} == expected
    # A list nobody is on during the run (all its entries ended before day 0) has zeros.
    assert all(v == (0, 0) for k, v in got.items() if k not in expected)


def test_histograms_are_taken_at_month_ends(con) -> None:
    snapshots = con.execute(
        "SELECT DISTINCT month, day FROM score_histograms ORDER BY day"
    ).fetchall()
    start = dt.date(2019, 7, 8)
    assert snapshots == [
        (dt.date(2019, 7, 1), (dt.date(2019, 7, 31) - start).days),
        (dt.date(2019, 8, 1), (dt.date(2019, 8, 31) - start).days),
        (dt.date(2019, 9, 1), DAYS - 1),
    ]
    # Every scored entity is in one bin of each snapshot.
    totals = con.execute(
        "SELECT day, CAST(system AS VARCHAR), CAST(score AS VARCHAR), sum(count) "
        "FROM score_histograms GROUP BY ALL"
    ).fetchall()
    scored = dict(
        con.execute(
            "SELECT CAST(system AS VARCHAR) || '.' || CAST(score AS VARCHAR), count(*) "
            "FROM final_scores GROUP BY ALL"
        ).fetchall()
    )
    assert {f"{s}.{c}" for _, s, c, _ in totals} == set(scored)
    for _, system, score, n in totals:
        assert n == scored[f"{system}.{score}"]


def test_the_last_histogram_is_that_of_the_final_scores(con) -> None:
    for system, score in con.execute(
        "SELECT DISTINCT CAST(system AS VARCHAR), CAST(score AS VARCHAR) FROM final_scores"
    ).fetchall():
        spec = next(s for s in load_policy(system).scores if s.id == score)
        width = bin_width(spec)
        values = np.array(
            [
                v
                for (v,) in con.execute(
                    "SELECT value FROM final_scores WHERE system = ? AND score = ?",
                    [system, score],
                ).fetchall()
            ]
        )
        bins = Counter(np.floor(values / width).astype(int).tolist())
        got = con.execute(
            "SELECT lower, upper, count FROM score_histograms "
            "WHERE day = ? AND system = ? AND score = ? ORDER BY lower",
            [DAYS - 1, system, score],
        ).fetchall()
        assert got == [(k * width, (k + 1) * width, n) for k, n in sorted(bins.items())]
        # The earlier months differ (scores move), so they are not copies of the end.
    months = con.execute(
        "SELECT day, list(lower ORDER BY lower), list(count ORDER BY lower) "
        "FROM score_histograms WHERE system = 'sesame' GROUP BY day ORDER BY day"
    ).fetchall()
    assert months[0][1:] != months[-1][1:]


def test_bin_widths() -> None:
    scores = {s.id: s for p in ("sesame", "rongcheng") for s in load_policy(p).scores}
    assert bin_width(scores["credit_score"]) == 1.0  # 600 points / 500, rounded down
    assert bin_width(scores["credit_points"]) == 2.0  # the smallest change (volunteering)


@given(st.floats(1e-6, 1e9))
def test_nice_floor_is_one_two_or_five_times_a_power_of_ten_at_most_x(x: float) -> None:
    nice = _nice_floor(x)
    mantissa = nice / 10 ** np.floor(np.log10(nice))
    assert any(np.isclose(mantissa, m) for m in (1, 2, 5))
    assert nice <= x * (1 + 1e-9) and x < 2.5 * nice * (1 + 1e-9)


@pytest.mark.parametrize("dense_bins", [ScoreHistograms.MAX_DENSE_BINS, 3])
def test_histogram_blocks_add_up_whatever_the_spread(dense_bins: int, monkeypatch) -> None:
    monkeypatch.setattr(ScoreHistograms, "MAX_DENSE_BINS", dense_bins)
    spec = next(s for s in load_policy("rongcheng").scores if s.id == "credit_points")
    rng = np.random.default_rng(5)
    values = 1000 - 5 * rng.poisson(2.0, 3 * BLOCK + 17) + rng.random(3 * BLOCK + 17) * 4.9
    values = values.astype(np.float32)
    values[rng.random(len(values)) < 0.3] = np.nan  # non-participants
    values[-5:] = [-1e7, 3e6, 1000.0, 995.0, np.nan]  # far apart: a wide spread
    hist = ScoreHistograms(sim=None)  # type: ignore[arg-type]  (only _count is used)
    hist._count(9, dt.date(2019, 7, 1), "rongcheng", "credit_points", spec, values)
    cols = hist.columns()
    finite = values[~np.isnan(values)].astype(np.float64)
    w = bin_width(spec)
    expected = Counter(np.floor(finite / w).astype(int).tolist())
    got = {round(lo / w): n for lo, n in zip(cols["lower"], cols["count"], strict=True)}
    assert got == dict(expected)
    assert all(hi - lo == w for lo, hi in zip(cols["lower"], cols["upper"], strict=True))
    assert cols["count"].dtype == np.int64 and set(cols["day"]) == {9}
