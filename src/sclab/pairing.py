"""What pairing gains: the variance of each effect estimated on a twin (same seed) against
the same estimate from an independent run (another seed).

Core object:
    :func:`measure`: runs K replicates of a scenario, each with its twin on the same seed
        and an independent twin on another seed, and returns per effect and group the
        variance of the K paired differences, of the K independent differences, and their
        ratio.

Run as ``python -m sclab.pairing SCENARIO --twin none --replicates K
[--population N] [--days D] --out DIR``; it prints the table as Markdown (the one in
``docs/effects.md`` was made so). Cost: 3K runs of the scenario.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from sclab.audit.effects import paired_effects


def _variances(pairs: list[tuple[Path, Path]], same_world: bool) -> dict[tuple[str, str], float]:
    table = paired_effects(pairs, same_world=same_world)["effects"].to_pylist()
    values: dict[tuple[str, str], list[float]] = {}
    for row in table:
        values.setdefault((row["effect"], row["group"]), []).append(row["value"])
    out = {}
    for key, v in values.items():
        k = len(v)
        mean = sum(v) / k
        out[key] = sum((x - mean) ** 2 for x in v) / (k - 1) if k > 1 else math.nan
    return out


def measure(
    scenario: str, twin: str, replicates: int, out: Path, overrides: dict[str, int | None]
) -> list[tuple[str, str, float, float, float]]:
    """(effect, group, paired variance, independent variance, ratio) per effect and group.

    Replicate k runs the scenario on seed s + k, its twin on the same seed, and an
    independent twin on seed s + replicates + k (another population and another world).
    """
    from sclab.run import run_scenario
    from sclab.targets import load_run_target, twin_scenario

    spec = load_run_target(scenario, {f"--{k}": v for k, v in overrides.items()})
    base_twin = twin_scenario(spec, twin)
    paired, independent = [], []
    for k in range(replicates):
        seed = spec.seed + k
        where = out / f"replicate-{k + 1}"
        run_scenario(spec.model_copy(update={"seed": seed}), where / "run", force=True)
        run_scenario(base_twin.model_copy(update={"seed": seed}), where / "twin", force=True)
        other = base_twin.model_copy(update={"seed": spec.seed + replicates + k})
        run_scenario(other, where / "independent", force=True)
        paired.append((where / "run", where / "twin"))
        independent.append((where / "run", where / "independent"))
    var_p = _variances(paired, True)
    var_i = _variances(independent, False)
    rows = []
    for key in sorted(set(var_p) | set(var_i)):
        vp, vi = var_p.get(key, math.nan), var_i.get(key, math.nan)
        ratio = vi / vp if vp > 0 else (math.inf if vi > 0 else math.nan)
        rows.append((key[0], key[1], vp, vi, ratio))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--twin", default="none")
    parser.add_argument("--replicates", type=int, default=8)
    parser.add_argument("--population", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--out", type=Path, required=True)
    a = parser.parse_args(argv)
    rows = measure(
        a.scenario, a.twin, a.replicates, a.out, {"population": a.population, "days": a.days}
    )
    print("| effect | group | variance, paired | variance, independent | ratio |")
    print("|---|---|---:|---:|---:|")
    for effect, group, vp, vi, ratio in rows:
        print(f"| {effect} | {group} | {vp:.4g} | {vi:.4g} | {ratio:.3g} |")


if __name__ == "__main__":
    main()
