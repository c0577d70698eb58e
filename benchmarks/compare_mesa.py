"""sclab against Mesa on the Nanjing jaywalking model: speed, and the outputs side by side.

Runs the same model twice on the same synthetic people and days: in sclab (the ``nanjing``
scenario with only its streets, its cameras and the ``nanjing`` pack, through the Python
API) and in Mesa (:mod:`mesa_nanjing`, one agent at a time), then prints

* agent-days per second of each (people x days / the simulated days' seconds) and
  their ratio, and the set-up of each apart; and Mesa's floor: as many agents whose
  ``step`` does nothing, under the same ``shuffle_do("step")`` (what Mesa's scheduling
  alone costs, whatever the model);
* both models' outputs side by side (crossings, jaywalks per person-year, probes,
  identifications, false identifications, displays, discredited people and their
  entries), each difference against the difference two independent runs of the same
  model are expected to show;
* unless ``--skip-big``, sclab alone at ``--big-population`` (default 9,314,700: Nanjing)
  over the same days.

Usage (from the repository root, with Mesa installed: ``pip install -e '.[bench]'``)::

    python benchmarks/compare_mesa.py --population 100000 --days 365 [--skip-big]

What "nanjing alone" is: the ``nanjing`` scenario runs every source, the records sensor,
six behaviours and the pack; here the sources are the streets alone, the sensors the
cameras alone (their parameters as the scenario sets them), no behaviour, and the pack
without its joint punishments (they act on loan, insurance and job moments that only the
``resources`` source makes, and that the Mesa model does not have). The Mesa model reads
every number from that same scenario (:meth:`mesa_nanjing.NanjingParams.from_scenario`)
and takes sclab's people and intersections (``places``): the population and the city are
the same, every draw of a day (routes, habits, crossings, captures, searches) is each
model's own.

Expected agreement: two independent runs of one model differ by about ``sd``. For a total
of per-person counts x_i over n people, sd = sqrt(2 n var(x)) with var(x) measured on the
Mesa run: an upper bound, since var(x) also holds the differences between people, which
both runs share. Counts not tied to residents are Poisson, and the non-residents' probes
also carry the relative spread of the residents' probes (their number follows the
resident jaywalks at the cameras). No sd is taken below Poisson's sqrt(a + b), so that a
rare count the Mesa run did not see still has a spread. ``|z| <= 3`` is agreement.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mesa
import mesa_nanjing as mn

import sclab

#: Metrics compared, in print order: (key, what it is).
METRICS = (
    ("crossings", "busy-intersection crossings"),
    ("jaywalks", "jaywalks"),
    ("resident_probes", "residents' jaywalks captured as probes"),
    ("non_resident_probes", "non-residents' probes"),
    ("printed_probes", "printed faces' probes"),
    ("identifications", "identifications (named somebody)"),
    ("false_identifications", "false identifications (named the wrong person)"),
    ("displays", "roadside-screen displays"),
    ("list_entries", "discredited listings (more than 5 in 365 days)"),
    ("people_listed", "people listed as discredited"),
    ("wrongful_entries", "wrongful listings (not without false matches)"),
)
#: Per-person counts of the Mesa run that give each metric's spread (see the docstring).
SPREAD_OF = {"displays": "identifications"}


def nanjing_alone(
    population: int,
    days: int,
    *,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    policy_dir: str | Path | None = None,
) -> sclab.Scenario:
    """The ``nanjing`` scenario with only its streets, its cameras and the ``nanjing`` pack
    (without its joint punishments), then ``overrides`` (``{"cameras.capture": 0.1}``)."""
    import yaml

    base = sclab.Scenario.load("nanjing", population=population, days=days, seed=seed)
    pack = yaml.safe_load(sclab.pack_text("nanjing"))
    pack.pop("joint", None)
    where = Path(policy_dir) if policy_dir is not None else Path(tempfile.mkdtemp())
    policy = where / "nanjing-alone.yaml"
    policy.write_text(yaml.safe_dump(pack, sort_keys=False, allow_unicode=True))
    keep = {
        "sources": [c.model_dump() for c in base.spec.sources if c.use == "streets"],
        "sensors": [c.model_dump() for c in base.spec.sensors if c.use == "cameras"],
        "behaviour": [],
        "output.ties": False,  # the population's ties: not read by this model
    }
    return base.with_policies(str(policy)).with_overrides(keep).with_overrides(overrides or {})


def sclab_places(scenario: sclab.Scenario) -> list[list[tuple[float, bool]]]:
    """sclab's intersections for this scenario, per district (weight, has camera): the
    streets' set-up alone, on the run's own streams (the run draws the same ones)."""
    from sclab.engine.simulation import Simulation
    from sclab.population import generate_population
    from sclab.rng import Streams
    from sclab.run import load_builtin_components

    load_builtin_components()
    spec = scenario.with_policies().with_overrides({"sensors": []}).spec
    streams = Streams(spec.seed)
    sim = Simulation.build(spec, streams, generate_population(spec, streams))
    from sclab.world.streets import Streets

    streets = next(c for _, c in sim.components if isinstance(c, Streets))
    places = streets.intersections
    out: list[list[tuple[float, bool]]] = []
    for d in range(len(places.first) - 1):
        lo, hi = int(places.first[d]), int(places.first[d + 1])
        out.append([(float(places.weight[i]), bool(places.has_camera[i])) for i in range(lo, hi)])
    return out


def sclab_outputs(run: Any) -> dict[str, int]:
    """The compared totals of a sclab run, from its database."""

    def one(sql: str) -> int:
        return int(run.sql(sql, as_="pandas").iloc[0, 0] or 0)

    probes = "SELECT count(*) FROM identifications WHERE probe_subject = "
    return {
        "crossings": one("SELECT sum(count) FROM aggregates WHERE kind = 'crossing'"),
        "jaywalks": one("SELECT sum(count) FROM aggregates WHERE kind = 'jaywalk'"),
        "resident_probes": one(probes + "'resident'"),
        "non_resident_probes": one(probes + "'non_resident'"),
        "printed_probes": one(probes + "'non_person'"),
        "identifications": one("SELECT count(*) FROM events WHERE kind = 'jaywalk_identified'"),
        "false_identifications": one(
            "SELECT count(*) FROM events WHERE kind = 'jaywalk_identified' "
            "AND error = 'false_match'"
        ),
        "displays": one("SELECT count(*) FROM sanctions WHERE kind = 'public_display'"),
        "list_entries": one("SELECT count(*) FROM list_entries WHERE list = 'discredited'"),
        "people_listed": one(
            "SELECT count(DISTINCT entity_id) FROM list_entries WHERE list = 'discredited'"
        ),
        "wrongful_entries": one(
            "SELECT count(*) FROM list_entries WHERE list = 'discredited' AND wrongful"
        ),
    }


def agreement(
    ours: dict[str, int], theirs: dict[str, Any], per_person: dict[str, list[int]]
) -> list[dict[str, Any]]:
    """Per metric: both values, their difference and its expected standard deviation
    (module docstring), and the difference in those deviations (z)."""
    rows: list[dict[str, Any]] = []
    for key, what in METRICS:
        a, b = ours[key], theirs[key]
        xs = per_person.get(SPREAD_OF.get(key, key))
        if xs is not None:
            n = len(xs)
            mean = sum(xs) / n if n else 0.0
            var = sum((x - mean) ** 2 for x in xs) / n if n else 0.0
            # At least Poisson's: a rare count the Mesa run did not see has no spread there.
            sd = max(math.sqrt(2.0 * n * var), math.sqrt(a + b))
        else:
            sd = math.sqrt(a + b)
            if key == "non_resident_probes":
                # Poisson given the resident jaywalks at cameras, which vary as the
                # residents' probes do: add that relative spread.
                rp = next(r for r in rows if r["metric"] == "resident_probes")
                rel = rp["sd"] / max(rp["mesa"], 1)
                sd = math.sqrt(a + b + (0.5 * (a + b) * rel) ** 2)
        z = (a - b) / sd if sd > 0 else (0.0 if a == b else math.inf)
        rows.append({"metric": key, "what": what, "sclab": a, "mesa": b, "sd": sd, "z": z})
    return rows


def rss_bytes() -> int:
    """Resident memory of this process now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def run_sclab(scenario: sclab.Scenario, out: Path, repeat: int = 1) -> dict[str, Any]:
    """sclab's run of ``scenario``, ``repeat`` times (the same seed: the same tables): the
    median simulated seconds, and the outputs."""
    sims, setups, walls = [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run = scenario.run(out, force=True)
        walls.append(time.perf_counter() - t0)
        info = run.manifest.info
        sims.append(float(info["timings_seconds"]["simulate"]))
        setups.append(float(info["timings_seconds"]["setup_components"]))
    simulate = statistics.median(sims)
    return {
        "people": scenario.population,
        "days": scenario.days,
        "simulate_seconds": simulate,
        "simulate_seconds_each": sims,
        "setup_seconds": statistics.median(setups),
        "wall_seconds": statistics.median(walls),
        "agent_days_per_second": scenario.population * scenario.days / simulate,
        "peak_rss_bytes": int(info["memory"]["peak_rss_bytes"]),
        "outputs": sclab_outputs(run),
    }


def run_mesa(
    scenario: sclab.Scenario, places: list[list[tuple[float, bool]]] | None, seed: int
) -> dict[str, Any]:
    """The Mesa model on the scenario's people (and ``places``): timings and outputs."""
    params = mn.NanjingParams.from_scenario(scenario)
    people = mn.people_of(scenario)
    before = rss_bytes()
    timed = mn.run(people, params, scenario.days, places=places, seed=seed)
    grown = rss_bytes() - before
    totals = timed.model.totals()
    per_person = totals.pop("per_person")
    return {
        "people": len(people),
        "days": scenario.days,
        "simulate_seconds": timed.simulate_seconds,
        "setup_seconds": timed.setup_seconds,
        "agent_days_per_second": len(people) * scenario.days / timed.simulate_seconds,
        "model_bytes": grown,
        "outputs": totals,
        "per_person": per_person,
        "daily": timed.model.datacollector.get_model_vars_dataframe(),
    }


class _Idle(mesa.Agent):
    """An agent whose day does nothing: what Mesa itself costs per agent-day."""

    def step(self) -> None:
        pass


def mesa_floor(people: int, days: int = 30) -> float:
    """Agent-days per second of ``people`` idle agents under ``shuffle_do("step")``: no
    Mesa model of that many agents steps faster on this machine."""
    import mesa

    model = mesa.Model(seed=1)
    for _ in range(people):
        _Idle(model)
    t0 = time.perf_counter()
    for _ in range(days):
        model.agents.shuffle_do("step")
    return people * days / (time.perf_counter() - t0)


def versions() -> dict[str, str]:
    import platform

    import duckdb
    import mesa
    import numpy

    return {
        "python": platform.python_version(),
        "sclab": sclab.__version__,
        "mesa": mesa.__version__,
        "numpy": numpy.__version__,
        "duckdb": duckdb.__version__,
        "cpus": str(os.cpu_count()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--population", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=None, help="default: the scenario's")
    ap.add_argument("--mesa-seed", type=int, default=1)
    ap.add_argument("--big-population", type=int, default=9_314_700)
    ap.add_argument("--repeat", type=int, default=3, help="sclab runs at --population (median)")
    ap.add_argument("--skip-big", action="store_true", help="no sclab run at --big-population")
    ap.add_argument("--out", type=Path, default=Path("runs/compare-mesa"))
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument(
        "--set", action="append", default=[], metavar="PATH=VALUE",
        help="an override of the scenario, as the API takes them (cameras.capture=0.1)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    import yaml

    overrides = {}
    for item in args.set:
        path, _, value = item.partition("=")
        overrides[path] = yaml.safe_load(value)
    args.out.mkdir(parents=True, exist_ok=True)

    print(f"versions: {versions()}")
    scenario = nanjing_alone(
        args.population, args.days, seed=args.seed, overrides=overrides, policy_dir=args.out
    )
    print(f"scenario: {scenario.components} with {scenario.policies}")
    print(f"sclab: {args.population:,} people x {args.days} days, {args.repeat} runs ...",
          flush=True)  # fmt: skip
    ours = run_sclab(scenario, args.out / "sclab", repeat=args.repeat)
    places = sclab_places(scenario)
    cameras = sum(cam for table in places for _, cam in table)
    print(f"mesa:  the same people and {sum(map(len, places))} intersections "
          f"({cameras} with a camera) ...", flush=True)  # fmt: skip
    theirs = run_mesa(scenario, places, args.mesa_seed)
    agent_days = args.population * args.days

    print()
    print(f"{'':24}{'sclab':>16}{'mesa':>16}")
    for label, key in (
        ("set-up s", "setup_seconds"),
        ("simulate s", "simulate_seconds"),
        ("agent-days/s", "agent_days_per_second"),
    ):
        print(f"{label:24}{ours[key]:>16,.2f}{theirs[key]:>16,.2f}")
    each = ", ".join(f"{x:.2f}" for x in ours["simulate_seconds_each"])
    print(f"sclab simulate s of each run: {each} (median above)")
    ratio = ours["agent_days_per_second"] / theirs["agent_days_per_second"]
    print(f"sclab / mesa agent-days per second: {ratio:,.0f}x "
          f"({agent_days:,} agent-days)")  # fmt: skip
    floor = mesa_floor(args.population)
    print(f"mesa floor (agents whose step does nothing, 30 days): {floor:,.0f} agent-days/s; "
          f"sclab / floor {ours['agent_days_per_second'] / floor:,.0f}x")  # fmt: skip
    print(f"mesa model memory: {theirs['model_bytes'] / theirs['people']:,.0f} B a person "
          f"(RSS growth while built and run); sclab run peak "
          f"{ours['peak_rss_bytes'] / ours['people']:,.0f} B a person (process)")  # fmt: skip

    rows = agreement(ours["outputs"], theirs["outputs"], theirs["per_person"])
    print()
    print("Outputs (same people, same intersections, each model's own draws). Two runs of")
    print("one model differ by about sd (module docstring); |z| <= 3 is agreement.")
    print(f"{'metric':24}{'sclab':>14}{'mesa':>14}{'sd':>10}{'z':>7}")
    for r in rows:
        flag = "" if abs(r["z"]) <= 3 else "  <- outside 3 sd"
        print(f"{r['metric']:24}{r['sclab']:>14,}{r['mesa']:>14,}{r['sd']:>10,.1f}"
              f"{r['z']:>7.2f}{flag}")  # fmt: skip
    years = args.population * args.days / 365.0
    for name, out in (("sclab", ours["outputs"]), ("mesa", theirs["outputs"])):
        ids = max(out["identifications"], 1)
        print(f"{name}: {out['jaywalks'] / years:.2f} jaywalks per person-year, "
              f"{out['crossings'] / agent_days:.4f} crossings per person-day, "
              f"{out['identifications'] / max(out['jaywalks'], 1) * 1e3:.3f} "
              f"identifications per 1,000 jaywalks, "
              f"{out['false_identifications'] / ids:.1%} of them false")  # fmt: skip

    big = None
    if not args.skip_big:
        print(f"\nsclab alone: {args.big_population:,} people x {args.days} days ...", flush=True)
        big_scenario = nanjing_alone(
            args.big_population, args.days, seed=args.seed, overrides=overrides,
            policy_dir=args.out,
        )  # fmt: skip
        big = run_sclab(big_scenario, args.out / "sclab-big")
        print(f"simulate {big['simulate_seconds']:.1f} s, "
              f"{big['agent_days_per_second']:,.0f} agent-days/s, peak "
              f"{big['peak_rss_bytes'] / big['people']:,.0f} B a person")  # fmt: skip
        hours = big["people"] * args.days / theirs["agent_days_per_second"] / 3600
        print(f"mesa at that size, from its agent-days/s: about {hours:,.1f} h of simulation")
    if args.json is not None:
        doc = {
            "versions": versions(),
            "sclab": ours,
            "mesa": {k: v for k, v in theirs.items() if k not in ("per_person", "daily")},
            "agreement": rows,
            "mesa_floor_agent_days_per_second": floor,
            "big": big,
        }
        args.json.write_text(json.dumps(doc, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
