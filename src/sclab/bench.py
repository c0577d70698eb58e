"""Benchmarks behind ``sclab bench``: time and peak memory, each in a fresh process.

Core objects:
    :func:`measure_generation`: time per generation stage (citizens, resident IDs, companies,
        social graph) and the peak resident memory of building the population alone.
    :func:`measure_run`: a whole ``sclab run`` of the Nanjing scenario at a given size.
    :func:`run_benchmarks`: both, for each requested size, printed as a table.

Each measurement runs in its own Python process so that one measurement's memory peak
cannot hide in another's, and the numbers are peak RSS as the operating system saw it.
Wall-clock numbers live here and in BENCHMARKS.md, never in tests.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def measure_generation(population: int) -> dict[str, Any]:
    """Generate the Nanjing population of the given size; stage times and peak memory."""
    from sclab.population import generate_population
    from sclab.rng import Streams
    from sclab.run import peak_rss_bytes
    from sclab.targets import load_scenario

    scenario = load_scenario("nanjing", {"--population": population})
    marks: dict[str, float] = {}
    start = time.perf_counter()
    last = [start]

    def progress(stage: str, done: float) -> None:
        if done >= 1.0 and stage not in marks:
            now = time.perf_counter()
            marks[stage] = now - last[0]
            last[0] = now

    pop = generate_population(scenario, Streams(scenario.seed), progress)
    total = time.perf_counter() - start
    return {
        "population": population,
        "stage_seconds": marks,
        "total_seconds": total,
        "ties": int(pop.graph.n_ties),
        "companies": len(pop.companies),
        "state_bytes": pop.nbytes,
        "graph_bytes": pop.graph.nbytes,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def measure_run(population: int, days: int, out: Path, target: str = "nanjing") -> dict[str, Any]:
    """A whole run (generation, database, simulation) of a scenario or pack at this size."""
    from sclab.run import run_scenario
    from sclab.targets import load_run_target

    scenario = load_run_target(target, {"--population": population, "--days": days})
    start = time.perf_counter()
    result = run_scenario(scenario, out, force=True)
    return {
        "target": target,
        "population": population,
        "days": days,
        "total_seconds": time.perf_counter() - start,
        "component_seconds": result.extra.get("component_seconds", {}),
        "timings": result.timings,
        "agent_days_per_second": result.agent_days_per_second,
        "peak_rss_bytes": result.peak_rss_bytes,
        "row_counts": result.row_counts,
    }


def _child(kind: str, population: int, days: int, out: Path, target: str = "") -> dict[str, Any]:
    code = (
        "import json, sys; from pathlib import Path; from sclab import bench; "
        f"r = bench.measure_{kind}({population}"
        + (f", {days}, Path({str(out)!r}), {target!r}" if kind == "run" else "")
        + "); print(json.dumps(r))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def run_benchmarks(
    populations: list[int],
    days: int,
    out: Path,
    repeat: int,
    console: Console,
    targets: tuple[str, ...] = ("nanjing",),
) -> list[dict[str, Any]]:
    """Measure generation and each target's run at each size ``repeat`` times."""
    console.print(f"machine: {machine()}")
    console.width = max(console.width, 150)
    results = []
    table = Table(title="sclab bench")
    for col in (
        "target", "people", "generate s", "graph s", "gen peak B/person", "ties",
        "run s", "days", "agent-days/s", "run peak B/person",
    ):  # fmt: skip
        table.add_column(col, justify="right")
    for n in populations:
        for _ in range(repeat):
            gen = _child("generation", n, days, out)
            for target in targets:
                run_dir = out / f"{target}-{n}"
                run = _child("run", n, days, run_dir, target)
                shutil.rmtree(run_dir, ignore_errors=True)
                results.append({"generation": gen, "run": run})
                table.add_row(
                    target,
                    f"{n:,}",
                    f"{gen['total_seconds']:.1f}",
                    f"{gen['stage_seconds'].get('social graph', float('nan')):.1f}",
                    f"{gen['peak_rss_bytes'] / n:.0f}",
                    f"{gen['ties']:,}",
                    f"{run['total_seconds']:.1f}",
                    str(days),
                    f"{run['agent_days_per_second'] / 1e6:,.1f}M"
                    if run["timings"]["simulate"] > 0.01
                    else "n/a (no components)",
                    f"{run['peak_rss_bytes'] / n:.0f}",
                )
    console.print(table)
    console.print(json.dumps(results, indent=1))
    return results
