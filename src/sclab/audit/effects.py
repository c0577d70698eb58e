"""Effects of a system: paired differences between a run and its twin, with intervals.

Core objects:
    :func:`check_comparable`: refuse (one line) two runs that do not share a population,
        a seed and a scenario apart from its policies; warn when sclab versions differ.
    :func:`run_measures`: per run, the quantities the effects are differences of.
    :func:`paired_effects`: the ``effects`` tables of K (run, twin) pairs: each effect per
        replicate, and its mean with a t interval over the K paired differences.
    :func:`save_effects`: write them to a DuckDB file beside the runs.

A twin is the same scenario on the same seed without the policies (or with a baseline
policy), so its acts are drawn from the same random numbers wherever behaviour is the
same (docs/architecture.md, Determinism): the difference run − twin is the system's
effect in that world, without the noise of another realisation. Each effect is signed so
that a positive value is what its name says (posts *not written*, violations
*prevented*, losses *added*).

Measures (all from the stored tables; ``docs/effects.md``):
    * ``chilling``: lawful critical posts not written, by education (twin − run);
      ``chilling_by_group`` the same by sex, registration (local or migrant) and age band
      (each dimension adds up to the same total);
    * ``network``: adverse decisions (score losses, list entries, sanctions) on people
      that name someone other than the one whose record triggered them, by system (run −
      twin);
    * ``deterrence``: violations prevented (jaywalks, late bills, missed loan instalments,
      non-performance of judgments), and ``debts_repaid`` (judgments performed, run −
      twin);
    * ``purchase_shifting``: purchases by category (run − twin, negative: not made);
    * ``tie_pruning``: online interactions lost (twin − run): likes and shares that
      pruned ties (and posts not written) no longer bring;
    * ``innocent_sanctioned``: people with an adverse decision that is not rightful
      (error, someone else's conduct, by design), by system (run − twin);
    * ``price``: innocent people sanctioned per violation prevented, by system (the
      ratio of the two differences, per replicate).

Cost: a few SQL aggregates per run, plus the harm classification (``sclab.audit.harm``).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import duckdb
import pyarrow as pa
import yaml

from sclab.errors import SclabError

#: Age bands of chilling_by_group (SQL over the citizens' age on day 0): the young adults
#: who post most, then decades.
_AGE_BANDS = (
    "CASE WHEN age < 18 THEN 'under 18' WHEN age < 30 THEN '18-29' WHEN age < 45 THEN '30-44' "
    "WHEN age < 60 THEN '45-59' ELSE '60 and over' END"
)

#: True act kinds whose prevention is deterrence.
VIOLATIONS = ("jaywalk", "bill_late", "loan_instalment_missed", "non_performance")


class NotComparableError(SclabError):
    """Two runs that are not the same world (population, seed, scenario apart from policies)."""


def _info(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    cols = [r[0] for r in con.execute("DESCRIBE run_info").fetchall()]
    row = con.execute("SELECT * FROM run_info").fetchall()[0]
    return dict(zip(cols, row, strict=True))


def _world(info: dict[str, object]) -> dict[str, object]:
    """The scenario as run, without what a twin may change (policies, name, text)."""
    doc = yaml.safe_load(str(info["scenario_yaml"])) or {}
    for key in ("policies", "name", "description"):
        doc.pop(key, None)
    return dict(doc)


def check_comparable(a: Path, b: Path) -> None:
    """Refuse two runs that are not the same world; warn on different sclab versions.

    Raises:
        NotComparableError: different seed, population or scenario apart from policies.
    """
    infos = []
    for d in (a, b):
        db = Path(d) / "run.duckdb"
        if not db.is_file():
            raise NotComparableError("is not a run directory (no run.duckdb)", source=str(d))
        with duckdb.connect(str(db), read_only=True) as con:
            infos.append(_info(con))
    ia, ib = infos
    for field in ("seed", "population", "days"):
        if ia[field] != ib[field]:
            raise NotComparableError(
                f"not comparable with {b}: different {field} ({ia[field]} against {ib[field]})",
                source=str(a),
            )
    wa, wb = _world(ia), _world(ib)
    if wa != wb:
        differ = sorted(k for k in set(wa) | set(wb) if wa.get(k) != wb.get(k))
        raise NotComparableError(
            f"not comparable with {b}: the scenarios differ in more than their policies "
            f"({', '.join(differ)})",
            source=str(a),
        )
    if ia["sclab_version"] != ib["sclab_version"]:
        warnings.warn(
            f"{a} and {b} come from different sclab versions "
            f"({ia['sclab_version']} and {ib['sclab_version']})",
            stacklevel=2,
        )


def run_measures(run_dir: Path) -> dict[tuple[str, str], float]:
    """Per (measure, group), the run's value (see the module's list)."""
    import tempfile

    from sclab.audit.harm import _materialise
    from sclab.audit.storage import memory_limit_bytes

    out: dict[tuple[str, str], float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="sclab-effects-") as spill,
        duckdb.connect(str(Path(run_dir) / "run.duckdb"), read_only=True) as con,
    ):
        con.execute("SET enable_progress_bar = false")
        # The audit's memory rule: the decisions classified (a row each) spill to a
        # temporary directory of the system's rather than grow without bound.
        people = con.execute("SELECT count(*) FROM citizens").fetchall()[0][0]
        con.execute(f"SET memory_limit = '{memory_limit_bytes(int(people))}B'")
        con.execute(f"SET temp_directory = '{spill.replace(chr(39), chr(39) * 2)}'")
        for edu, n in con.execute(
            "SELECT c.education::VARCHAR, coalesce(sum(a.count), 0) FROM citizens c "
            "LEFT JOIN aggregates a ON a.entity_id = c.person_id "
            "AND a.entity_type = 'person' AND a.kind = 'post_critical' GROUP BY 1"
        ).fetchall():
            out[("critical_posts", str(edu))] = float(n)
        for group, n in con.execute(
            "SELECT g, coalesce(sum(n), 0) FROM (SELECT c.person_id, c.sex, c.migrant, c.age, "
            "sum(a.count) AS n FROM citizens c LEFT JOIN aggregates a "
            "ON a.entity_id = c.person_id AND a.entity_type = 'person' "
            "AND a.kind = 'post_critical' GROUP BY ALL) "
            "CROSS JOIN LATERAL (VALUES ('sex: ' || sex::VARCHAR), "
            "('registration: ' || CASE WHEN migrant THEN 'migrant' ELSE 'local' END), "
            f"('age: ' || {_AGE_BANDS})) t(g) GROUP BY g"
        ).fetchall():
            out[("critical_posts_by", str(group))] = float(n)
        acts = dict(con.execute("SELECT kind::VARCHAR, acts FROM true_act_totals").fetchall())
        for kind in (*VIOLATIONS, "judgment_performed"):
            out[("acts", kind)] = float(acts.get(kind, 0))
        for kind, n in con.execute(
            "SELECT kind::VARCHAR, sum(count) FROM aggregates "
            "WHERE kind::VARCHAR LIKE 'purchase_%' OR kind::VARCHAR = 'online_interactions' "
            "GROUP BY 1"
        ).fetchall():
            if kind == "online_interactions":
                out[("interactions", "online")] = float(n)
            else:
                out[("purchases", kind.removeprefix("purchase_"))] = float(n)
        _materialise(con)
        # Every system the run has counts, with 0 where nobody was touched, so that a
        # system that spilled over onto nobody shows a measured 0, not a missing row.
        for (system,) in con.execute("SELECT DISTINCT system::VARCHAR FROM policies").fetchall():
            out[("spillover", system)] = 0.0
            out[("innocent", system)] = 0.0
        for system, n in con.execute(
            "SELECT system::VARCHAR, count(*) FROM audit_harm_decisions "
            "WHERE spillover AND entity_type = 'person' GROUP BY 1"
        ).fetchall():
            out[("spillover", system)] = float(n)
        for system, n in con.execute(
            "SELECT system::VARCHAR, count(DISTINCT entity) FROM audit_harm_decisions "
            "WHERE class <> 'rightful' AND entity_type = 'person' GROUP BY 1"
        ).fetchall():
            out[("innocent", system)] = float(n)
    return out


def _effects_of(
    run: dict[tuple[str, str], float],
    twin: dict[tuple[str, str], float],
    keys: set[tuple[str, str]],
) -> list[tuple[str, str, float]]:
    """(effect, group, value) of one pair, for the measures ``keys`` (absent: 0)."""

    def diff(key: tuple[str, str]) -> float:
        return run.get(key, 0.0) - twin.get(key, 0.0) + 0.0  # + 0.0: no negative zero

    rows: list[tuple[str, str, float]] = []
    for measure, group in sorted(keys):
        if measure == "critical_posts":
            rows.append(("chilling", group, 0.0 - diff((measure, group))))
        elif measure == "critical_posts_by":
            rows.append(("chilling_by_group", group, 0.0 - diff((measure, group))))
        elif measure == "acts" and group in VIOLATIONS:
            rows.append(("deterrence", group, 0.0 - diff((measure, group))))
        elif measure == "acts":
            rows.append(("debts_repaid", group, diff((measure, group))))
        elif measure == "purchases":
            rows.append(("purchase_shifting", group, diff((measure, group))))
        elif measure == "interactions":
            rows.append(("tie_pruning", "interactions_lost", 0.0 - diff((measure, group))))
        elif measure == "spillover":
            rows.append(("network", group, diff((measure, group))))
        elif measure == "innocent":
            rows.append(("innocent_sanctioned", group, diff((measure, group))))
    prevented = sum(0.0 - diff(("acts", k)) for k in VIOLATIONS)
    for measure, group in sorted(keys):
        if measure == "innocent":
            added = diff((measure, group))
            # Nobody more sanctioned costs nothing, whatever was prevented.
            price = 0.0 if added == 0 else (added / prevented if prevented else math.nan)
            rows.append(("price", group, price))
    return rows


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student's t interval over paired differences (NaN bounds for
    fewer than two, or when a value is NaN)."""
    from scipy import stats

    k = len(values)
    mean = sum(values) / k if k else math.nan
    if k < 2 or any(math.isnan(v) for v in values):
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
    half = float(stats.t.ppf(0.5 + level / 2, k - 1)) * sd / math.sqrt(k)
    return mean, mean - half, mean + half


def paired_effects(
    pairs: list[tuple[Path, Path]], level: float = 0.95, *, same_world: bool = True
) -> dict[str, pa.Table]:
    """The effects of K (run, twin) pairs: ``effects`` (one row per effect, group and
    replicate: run − twin signed as named) and ``effects_summary`` (mean and the t
    interval over the K paired differences, at ``level``). ``same_world=False`` skips
    the check that each pair is one world (only to measure what pairing gains against
    independent seeds, :mod:`sclab.pairing`)."""
    per: dict[tuple[str, str], list[float]] = {}
    cols: dict[str, list[object]] = {"effect": [], "group": [], "replicate": [], "value": []}
    for run, twin in pairs:
        if same_world:
            check_comparable(run, twin)
    measured = [(run_measures(run), run_measures(twin)) for run, twin in pairs]
    # Every group any replicate has: a replicate without it counts 0 on both sides.
    keys = {key for pair in measured for side in pair for key in side}
    for k, (run_m, twin_m) in enumerate(measured):
        for effect, group, value in _effects_of(run_m, twin_m, keys):
            for name, v in zip(cols, (effect, group, k, value), strict=True):
                cols[name].append(v)
            per.setdefault((effect, group), []).append(value)
    summary: dict[str, list[object]] = {
        "effect": [], "group": [], "replicates": [], "mean": [], "low": [], "high": [],
        "interval": [],
    }  # fmt: skip
    for (effect, group), values in sorted(per.items()):
        mean, low, high = t_interval(values, level)
        for name, v in zip(
            summary,
            (effect, group, len(values), mean, low, high, f"t {level:.0%} over paired differences"),
            strict=True,
        ):
            summary[name].append(v)
    return {"effects": pa.table(cols), "effects_summary": pa.table(summary)}


def save_effects(tables: dict[str, pa.Table], path: Path) -> None:
    """Write the effects tables to a DuckDB file (replaced through a temporary file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    with duckdb.connect(str(tmp)) as con:
        for name, table in tables.items():
            con.register("t", table)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM t")
            con.unregister("t")
    tmp.replace(path)
