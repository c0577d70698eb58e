"""Sensitivity of the headline figures to the Assumptions behind them.

Moves one Assumption at a time to the two ends of its plausible range (the ranges stated
in docs/components.md and in the packs) and prints, for each variant, the headline
figures of docs/calibration.md ("Parameters that are still Assumptions"):

- the calibration ratios of ``sclab calibrate`` (simulated / published): flight blocks,
  rail blocks, listings and standing stock at the end of 2018, Futian's busiest camera;
- Rongcheng's grade counts on the last day (AAA .. D);
- Nanjing's rule: people discredited (more than five identifications in a year), of them
  those named at least once by a false match, the most identifications of one person and
  the year's identifications.

Two worlds:

    python docs/sensitivity.py composite            # every variant, 1,000,000 people
    python docs/sensitivity.py nanjing              # street and camera variants, 9,314,700
    python docs/sensitivity.py composite --only baseline "own_share 0.5"
    python docs/sensitivity.py composite --out runs/sensitivity --keep

`composite` is the Nanjing world (the builtin `nanjing` scenario) with the five packs; a
run takes about 30-60 seconds on two cores. `nanjing` is the builtin `nanjing` scenario
alone at the full city (the Nanjing headline needs the city's gallery and its 186 cameras):
about 5 minutes and 3 GB a run. Runs are made one at a time, each deleted once measured
unless --keep is given; one JSON line per variant is appended to OUT/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import yaml

from sclab.calibration import calibrate
from sclab.run import run_scenario
from sclab.scenario.schema import Scenario
from sclab.targets import load_run_target

# Stage -> component -> parameters to set. Each range is the one its Field description
# (docs/components.md) or its pack states.
STREETS_AND_CAMERAS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "habit_variance 0.5": {"sources": {"streets": {"habit_variance": 0.5}}},
    "habit_variance 4": {"sources": {"streets": {"habit_variance": 4.0}}},
    "own_share 0.5": {"sources": {"streets": {"own_share": 0.5}}},
    "own_share 0.9": {"sources": {"streets": {"own_share": 0.9}}},
    "cross_district_commute_share 0.15": {
        "sources": {"streets": {"cross_district_commute_share": 0.15}}
    },
    "cross_district_commute_share 0.5": {
        "sources": {"streets": {"cross_district_commute_share": 0.5}}
    },
    "jaywalk_share 0.10": {"sources": {"streets": {"jaywalk_share": 0.10}}},
    "jaywalk_share 0.30": {"sources": {"streets": {"jaywalk_share": 0.30}}},
    "crossings_per_day 0.5": {"sources": {"streets": {"crossings_per_day": 0.5}}},
    "crossings_per_day 2": {"sources": {"streets": {"crossings_per_day": 2.0}}},
    "capture shenzhen-first-day": {
        "sensors": {"cameras": {"capture_preset": "shenzhen-first-day"}}
    },
    "matcher field-met-2019": {"sensors": {"cameras": {"matcher": {"preset": "field-met-2019"}}}},
    "matcher surveillance-nist-2019": {
        "sensors": {"cameras": {"matcher": {"preset": "surveillance-nist-2019"}}}
    },
    "matcher mugshot-grade": {"sensors": {"cameras": {"matcher": {"preset": "mugshot-grade"}}}},
}
COURTS_AND_LEARNING: dict[str, dict[str, Any]] = {
    "sued_per_adult_year 0.0047": {"sources": {"state_data": {"sued_per_adult_year": 0.0047}}},
    "sued_per_adult_year 0.0079": {"sources": {"state_data": {"sued_per_adult_year": 0.0079}}},
    **{
        f"{share} {value}": {"behaviour": {"learn_when_blocked": {share: value}}}
        for share, values in {
            "switch_share": (0.5, 1.0),
            "give_up_share": (0.05, 0.6),
            "known_at_start": (0.5, 0.99),
            "told_share": (0.2, 0.95),
        }.items()
        for value in values
    },
}
# Rongcheng's assumed point values (rule id -> the ends of the range its pack states).
RONGCHENG_POINTS = {
    "blood_donation": (2, 10),
    "charitable_donation": (1, 10),
    "court_defaulter_listed": (-30, -100),
}
RONGCHENG: dict[str, dict[str, Any]] = {
    f"rongcheng {rule} {value:+d}": {"rongcheng": {rule: value}}
    for rule, values in RONGCHENG_POINTS.items()
    for value in values
}
OTHER_PACKS = ("sesame", "rongcheng", "court-defaulters", "corporate")
RATIOS = {
    "flight": "spc_2018_flight_blocks",
    "rail": "spc_2018_rail_blocks",
    "listings": "spc_2018_listings",
    "standing": "spc_2018_listed_not_performed",
    "futian": "futian_2018_displayed",
}
GRADES = ("AAA", "AA", "A", "B", "C", "D")


def rongcheng_pack(deltas: dict[str, int], folder: Path) -> str:
    """A copy of the rongcheng pack with the given rules' point values, as a file."""
    text = (resources.files("sclab.policy") / "packs" / "rongcheng.yaml").read_text()
    pack = yaml.safe_load(text)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("rule_id") in deltas and "delta" in node:
                node["delta"] = deltas[node["rule_id"]]
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(pack)
    path = folder / "rongcheng.yaml"
    path.write_text(yaml.safe_dump(pack, sort_keys=False))
    return str(path)


def scenario(
    world: str, population: int, seed: int | None, change: dict[str, Any], tmp: Path
) -> Scenario:
    overrides = {"--population": population, "--seed": seed}
    doc = load_run_target("nanjing", overrides).model_dump(mode="json")
    if world == "composite":
        doc["policies"] += [{"use": "pack", "params": {"pack": p}} for p in OTHER_PACKS]
    for stage, components in change.items():
        if stage == "rongcheng":
            path = rongcheng_pack(components, tmp)
            for entry in doc["policies"]:
                if entry["params"]["pack"] == "rongcheng":
                    entry["params"] = {"pack": path}
            continue
        for entry in doc[stage]:
            if entry["use"] in components:
                entry["params"] = {**(entry.get("params") or {}), **components[entry["use"]]}
    return Scenario.model_validate(doc)


def measure(run: Path) -> dict[str, Any]:
    table = {r.figure: r for r in calibrate(run).rows}
    out: dict[str, Any] = {}
    for key, figure in RATIOS.items():
        ratio = table[figure].ratio
        out[key] = None if ratio is None else round(ratio, 3)
    out["discredited"] = table["nanjing_discredited"].simulated
    out["wrongly_named"] = table["nanjing_discredited_wrongly_identified"].simulated
    con = duckdb.connect(str(run / "run.duckdb"), read_only=True)
    try:
        grades = dict(
            con.execute(
                "SELECT grade::VARCHAR, count(*) FROM final_scores WHERE system = 'rongcheng' "
                "GROUP BY 1"
            ).fetchall()
        )
        out["grades"] = {g: grades.get(g, 0) for g in GRADES}
        out["identifications"], out["most_of_one_person"] = con.execute(
            "SELECT coalesce(sum(n), 0), coalesce(max(n), 0) FROM (SELECT attributed_to, "
            "count(*) AS n FROM events WHERE kind = 'jaywalk_identified' AND attributed_to "
            "IS NOT NULL GROUP BY 1)"
        ).fetchall()[0]
    finally:
        con.close()
    return out


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _composite_table(rows: list[dict[str, Any]], seeds: bool) -> list[str]:
    seed_head, seed_rule = ("| seed ", "| ---: ") if seeds else ("", "")
    lines = [
        f"| Assumption: value {seed_head}| flight blocks | rail blocks | listings | standing "
        "| Futian | discredited (wrongly named) | most of one person "
        "| Rongcheng AAA / AA / A / B / C / D |",
        f"| --- {seed_rule}| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        grades = " / ".join(f"{r['grades'][g]:,}" for g in GRADES)
        seed = f"| {r['seed']} " if seeds else ""
        lines.append(
            f"| {r['variant']} {seed}| {_ratio(r['flight'])} | {_ratio(r['rail'])} "
            f"| {_ratio(r['listings'])} | {_ratio(r['standing'])} | {_ratio(r['futian'])} "
            f"| {r['discredited']:.0f} ({r['wrongly_named']:.0f}) "
            f"| {r['most_of_one_person']} | {grades} |"
        )
    return [*lines, ""]


def tables(results: list[dict[str, Any]]) -> str:
    """The section's tables in Markdown, from the JSON lines of earlier runs (the last line
    of each world, variant and seed counts)."""
    latest = {(r["world"], r["variant"], r.get("seed")): r for r in results}
    lines: list[str] = []
    composite = [r for (w, _, seed), r in latest.items() if w == "composite" and seed is None]
    if composite:
        lines += _composite_table(composite, seeds=False)
    city = [r for (w, _, seed), r in latest.items() if w == "nanjing" and seed is None]
    if city:
        lines += [
            "| Assumption: value | identifications | Futian | discredited | of them wrongly "
            "named | most of one person |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in city:
            lines.append(
                f"| {r['variant']} | {r['identifications']:,} | {_ratio(r['futian'])} "
                f"| {r['discredited']:.0f} | {r['wrongly_named']:.0f} "
                f"| {r['most_of_one_person']} |"
            )
        lines.append("")
    seeds = [r for (w, _, seed), r in latest.items() if w == "composite" and seed is not None]
    if seeds:
        lines += _composite_table(sorted(seeds, key=lambda r: r["variant"]), seeds=True)
    return "\n".join(lines).rstrip("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("world", choices=("composite", "nanjing", "table"))
    parser.add_argument("--out", type=Path, default=Path("runs/sensitivity"))
    parser.add_argument("--only", nargs="*", help="variant names (default: all of the world)")
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    parser.add_argument("--population", type=int, help="instead of the world's (quick checks)")
    parser.add_argument("--seed", type=int, help="instead of the scenario's (noise checks)")
    args = parser.parse_args()
    if args.world == "table":
        with (args.out / "results.jsonl").open() as f:
            print(tables([json.loads(line) for line in f]))
        return
    if args.world == "composite":
        population, variants = (
            1_000_000,
            {**STREETS_AND_CAMERAS, **COURTS_AND_LEARNING, **RONGCHENG},
        )
    else:
        population, variants = 9_314_700, STREETS_AND_CAMERAS
    population = args.population or population
    if args.only:
        unknown = set(args.only) - set(variants)
        if unknown:
            parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
        variants = {k: v for k, v in variants.items() if k in args.only}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, change in variants.items():
        suffix = "" if args.seed is None else f"-seed{args.seed}"
        target = args.out / f"{args.world}-{name.replace(' ', '_')}{suffix}"
        with tempfile.TemporaryDirectory() as tmp:
            run_scenario(
                scenario(args.world, population, args.seed, change, Path(tmp)), target, force=True
            )
        result = {"world": args.world, "population": population, "variant": name}
        if args.seed is not None:
            result["seed"] = args.seed
        result.update(measure(target))
        print(json.dumps(result), flush=True)
        with (args.out / "results.jsonl").open("a") as f:
            f.write(json.dumps(result) + "\n")
        if not args.keep:
            shutil.rmtree(target)


if __name__ == "__main__":
    main()
