"""Benchmarks behind ``sclab bench``: time and peak memory, each in a fresh process.

Core objects:
    :func:`measure_generation`: time per generation stage (citizens, resident IDs, companies,
        social graph) and the peak resident memory of building the population alone.
    :func:`measure_run`: a whole ``sclab run`` of the Nanjing scenario at a given size.
    :func:`check_benchmarks`: every requested size and target validated (and checked to
        fit this machine) before the first measurement starts.
    :func:`run_benchmarks`: both, for each requested size, printed as a table.

Each measurement runs in its own Python process so that one measurement's memory peak
cannot hide in another's, and the numbers are peak RSS as the operating system saw it.
Wall-clock numbers live here and in BENCHMARKS.md, never in tests.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sclab.errors import SclabError

#: What a generation measurement runs (see :func:`measure_generation`).
GENERATION_SCENARIO = "nanjing"


def measure_generation(population: int) -> dict[str, Any]:
    """Generate the Nanjing population of the given size; stage times and peak memory."""
    from sclab.population import generate_population
    from sclab.run import peak_rss_bytes
    from sclab.targets import load_scenario

    scenario = load_scenario(GENERATION_SCENARIO, {"--population": population})
    marks: dict[str, float] = {}
    start = time.perf_counter()
    last = [start]

    def progress(stage: str, done: float) -> None:
        if done >= 1.0 and stage not in marks:
            now = time.perf_counter()
            marks[stage] = now - last[0]
            last[0] = now

    pop = generate_population(scenario, scenario.streams(), progress)
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


def measure_run(
    population: int, days: int, out: Path, target: str = "nanjing", check_memory: bool = True
) -> dict[str, Any]:
    """A whole run (generation, database, simulation) of a scenario or pack at this size."""
    from sclab.run import run_scenario
    from sclab.targets import load_run_target

    scenario = load_run_target(target, {"--population": population, "--days": days})
    start = time.perf_counter()
    result = run_scenario(scenario, out, force=True, check_memory=check_memory)
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


def _child(
    kind: str, population: int, days: int, out: Path, target: str = "", check_memory: bool = True
) -> dict[str, Any]:
    args = f"{population}" + (
        f", {days}, Path({str(out)!r}), {target!r}, {check_memory!r}" if kind == "run" else ""
    )
    # A one-line error in the child (the machine's memory changed since the check, say)
    # comes back as one line; anything else is a bug and keeps its traceback.
    code = (
        "import json, sys; from pathlib import Path; from sclab import bench\n"
        "from sclab.errors import SclabError\n"
        f"try:\n    r = bench.measure_{kind}({args})\n"
        "except SclabError as exc:\n"
        "    print(json.dumps({'error': exc.one_line()})); sys.exit(2)\n"
        "print(json.dumps(r))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 2 and lines:
        raise SclabError(json.loads(lines[-1])["error"])
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr}")
    return json.loads(lines[-1])


def run_dir_name(target: str, population: int) -> str:
    """The run directory of a target inside ``--out``: a plain name even for a file path,
    so that a target such as ``../scenario.yaml`` never puts (or deletes) a run elsewhere."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(target).name).strip(".") or "target"
    return f"{name}-{population}"


def check_benchmarks(
    populations: list[int], days: int, targets: tuple[str, ...], check_memory: bool = True
) -> None:
    """Validate every (size, target) pair and check it fits this machine, before any
    measurement: a bad size or an unknown scenario is one line now, not a failed child
    process an hour into the benchmark.

    Raises:
        SclabError: the first pair that cannot run, as :func:`sclab.run.run_scenario`
            would report it.
    """
    from sclab.feasibility import check_feasibility
    from sclab.targets import load_run_target, load_scenario

    if not populations:
        raise SclabError("expected at least one size", source="--population")
    for n in populations:
        load_scenario(GENERATION_SCENARIO, {"--population": n})
        for target in targets:
            scenario = load_run_target(target, {"--population": n, "--days": days})
            check_feasibility(scenario, memory=check_memory)


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
    check_memory: bool = True,
) -> list[dict[str, Any]]:
    """Measure generation and each target's run at each size ``repeat`` times.

    Raises:
        SclabError: a size or target that cannot run (see :func:`check_benchmarks`).
    """
    check_benchmarks(populations, days, targets, check_memory)
    console.print(f"machine: {escape(machine())}")
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
                run_dir = out / run_dir_name(target, n)
                run = _child("run", n, days, run_dir, target, check_memory)
                shutil.rmtree(run_dir, ignore_errors=True)
                results.append({"generation": gen, "run": run})
                table.add_row(
                    escape(target),
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
