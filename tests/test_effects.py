"""Twins, replicates and effects: sclab run --twin, sclab compare, sclab.audit.effects."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pytest
from tests.conftest import run_cli

from sclab.audit.effects import t_interval
from sclab.rng import StreamKey, Streams
from sclab.world.sampling import LazyPoisson, RateClasses

SMALL = ("--population", "2500", "--days", "20", "--quiet")


@pytest.fixture(scope="module")
def twin_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("twin") / "run"
    done = run_cli("run", "demo", *SMALL, "--twin", "none", "--out", out)
    assert done.returncode == 0, done.stderr
    return out


def _aggregates(run: Path, kind: str) -> list[tuple[int, int]]:
    with duckdb.connect(str(run / "run.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT entity_id, count FROM aggregates WHERE kind = ? ORDER BY 1", [kind]
        ).fetchall()


def test_twin_layout_and_streams_no_policy_touches(twin_run: Path) -> None:
    twin = twin_run / "twin"
    assert (twin / "run.duckdb").is_file() and (twin_run / "effects.duckdb").is_file()
    manifest = json.loads((twin_run / "manifest.json").read_text())
    kinds = {entry["kind"] for entry in manifest["files"].values()}
    assert {"twin", "effects"} <= kinds
    with duckdb.connect(str(twin / "run.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM policies").fetchall()[0][0] == 0
    # Streams no behaviour adjusts: every person's total is the same draw.
    for kind in ("bill_paid_on_time", "post_neutral", "purchase_groceries"):
        assert _aggregates(twin_run, kind) == _aggregates(twin, kind), kind
        assert _aggregates(twin_run, kind)


def test_compare_a_run_with_itself_is_exactly_zero(twin_run: Path) -> None:
    done = run_cli("compare", twin_run, twin_run, "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["effects"]
    assert rows and all(r["value"] == 0.0 for r in rows)
    assert {r["effect"] for r in rows} >= {"chilling", "deterrence", "purchase_shifting"}
    shown = run_cli("compare", twin_run, twin_run / "twin")
    assert shown.returncode == 0 and "deterrence" in shown.stdout


def test_runs_of_other_worlds_are_refused(twin_run: Path, tmp_path: Path) -> None:
    for option, value, what in (("--seed", "5", "seed"), ("--population", "2000", "population")):
        args = [a for a in SMALL]
        if option == "--population":
            args[1] = value
        else:
            args += [option, value]
        other = tmp_path / what
        assert run_cli("run", "demo", *args, "--out", other).returncode == 0
        done = run_cli("compare", twin_run, other)
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and f"different {what}" in lines[0]
        assert "Traceback" not in done.stderr


def test_a_twin_that_is_no_policy_is_refused_in_one_line(tmp_path: Path) -> None:
    done = run_cli("run", "demo", *SMALL, "--twin", "no-such-pack", "--out", tmp_path / "x")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "x").exists()


def test_replicates_layout_and_intervals(tmp_path: Path) -> None:
    out = tmp_path / "reps"
    done = run_cli("run", "demo", *SMALL, "--twin", "none", "--replicates", "2", "--out", out)
    assert done.returncode == 0, done.stderr
    for k in (1, 2):
        assert (out / f"replicate-{k}" / "twin" / "run.duckdb").is_file()
    with duckdb.connect(str(out / "effects.duckdb"), read_only=True) as con:
        seeds = [
            duckdb.connect(str(out / f"replicate-{k}" / "run.duckdb"), read_only=True)
            .execute("SELECT seed FROM run_info")
            .fetchall()[0][0]
            for k in (1, 2)
        ]
        assert seeds[1] == seeds[0] + 1
        rows = con.execute(
            "SELECT replicates, mean, low, high FROM effects_summary "
            "WHERE effect = 'deterrence' AND \"group\" = 'jaywalk'"
        ).fetchall()
    (k, mean, low, high) = rows[0]
    assert k == 2 and low <= mean <= high


def _planted_pair(seed: int, n: int, days: int, rate: float, chill: float) -> float:
    """Paired difference twin − run of one stream's total, the run's multiplier lowered
    to ``chill`` for the first half of the people and read monthly for a focus group."""
    classes = RateClasses(np.arange(n), np.array([0, n]), n)
    totals = []
    for lowered in (False, True):
        key = StreamKey(Streams(seed), "test", "posts", days)
        lazy = LazyPoisson(classes, np.array([rate]), key)
        focus = np.arange(n) % 3 == 0
        if lowered:
            lazy.set_focus(focus)
            mult = np.ones(n, np.float32)
            mult[: n // 2] = chill
            got = np.zeros(n, np.int64)
            for day in range(days):
                lazy.accrue(mult)
                if day % 30 == 0:  # a monthly reader of the focus group, as Sesame's
                    got += lazy.draw_focus()
            got += lazy.draw()
        else:
            for _ in range(days):
                lazy.accrue()
            got = lazy.draw().astype(np.int64)
        totals.append(got)
    base, run = totals
    # Common random numbers: the people left at multiplier 1 have the very same totals.
    assert np.array_equal(base[n // 2 :], run[n // 2 :])
    assert np.all(run[: n // 2] <= base[: n // 2])  # a thinning of the same acts
    return float(base.sum() - run.sum())


def test_a_planted_effect_is_covered_at_the_stated_rate() -> None:
    # Planted: half of 400 people post at 0.7 of a rate of 0.2 a day for 90 days, so
    # 200 × 0.2 × 90 × 0.3 = 1,080 posts are not written. Each interval pairs K = 5
    # seeds; over 200 intervals (1,000 pairs) a 95% t interval must cover the planted
    # value between 89.5% and 100% of the time (3.5 binomial SDs of 1.5% below 95%).
    n, days, rate, chill, k_reps, intervals = 400, 90, 0.2, 0.7, 5, 200
    planted = (n // 2) * rate * days * (1 - chill)
    covered = 0
    for i in range(intervals):
        diffs = [_planted_pair(i * k_reps + k, n, days, rate, chill) for k in range(k_reps)]
        _, low, high = t_interval(diffs)
        assert not math.isnan(low)
        covered += low <= planted <= high
    assert 0.895 <= covered / intervals <= 1.0, covered


def test_chilling_by_every_group_adds_up_to_the_same_total(twin_run: Path) -> None:
    from sclab.audit.effects import paired_effects

    rows = paired_effects([(twin_run, twin_run / "twin")])["effects"].to_pylist()
    total = sum(r["value"] for r in rows if r["effect"] == "chilling")
    by_group = [r for r in rows if r["effect"] == "chilling_by_group"]
    dimensions = {r["group"].split(": ")[0] for r in by_group}
    assert dimensions == {"sex", "registration", "age"}
    for dim in dimensions:
        part = sum(r["value"] for r in by_group if r["group"].startswith(dim + ": "))
        assert part == pytest.approx(total), dim
