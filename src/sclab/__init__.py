"""sclab: a simulation-and-audit laboratory for social-scoring systems.

sclab runs social-scoring systems as executable models over synthetic populations and
records, beside every decision, the truth it rests on. It models people who do not exist:
populations are drawn from aggregate marginals, and face recognition is a statistical
model of a matcher calibrated to published error rates.

The data flow, one package per step::

    scenario → population → world → sensors → policy → store → audit → report

Quick start from Python (docs/api.md)::

    import sclab
    run = sclab.simulate("composite", population=20_000, days=60, out="runs/mine")
    run.audit().result.harm                  # adverse decisions by harm class
    run.fairness(by=["sex", "migrant"])      # rates by group, with the report's charts
    run.explain(person=42).result.rows       # one person's story
    other = run.scenario.with_policies("rongcheng").run("runs/other")
    run.compare(other)                       # what the difference in policies changed
    sw = sclab.sweep("nanjing", "grid.yaml", replicates=3, population=200_000)
    sw.summary("harmed.people")              # a metric at each grid point, with intervals
"""

from sclab.api import (
    Analysis,
    Run,
    RunObserver,
    Scenario,
    Sweep,
    check_policy,
    components,
    open_sweep,
    pack_text,
    packs,
    resume,
    run_region,
    scenarios,
    simulate,
    sweep,
)
from sclab.api import open_run as open  # noqa: F401  (sclab.open; see __all__)
from sclab.run import RunResult, run_scenario
from sclab.targets import load_scenario
from sclab.version import __version__

# ``sclab.open`` is left out of ``__all__``: ``from sclab import *`` must not shadow the
# built-in ``open``.
__all__ = [
    "Analysis",
    "Run",
    "RunObserver",
    "RunResult",
    "Scenario",
    "Sweep",
    "__version__",
    "check_policy",
    "components",
    "load_scenario",
    "open_sweep",
    "pack_text",
    "packs",
    "resume",
    "run_region",
    "run_scenario",
    "scenarios",
    "simulate",
    "sweep",
]
