"""sclab: a simulation-and-audit laboratory for social-scoring systems.

sclab runs social-scoring systems as executable models over synthetic populations and
records, beside every decision, the truth it rests on. It models people who do not exist:
populations are drawn from aggregate marginals, and face recognition is a statistical
model of a matcher calibrated to published error rates.

The data flow, one package per step::

    scenario → population → world → sensors → policy → store → audit → report

Quick start from Python::

    from sclab import load_scenario, run_scenario
    result = run_scenario(load_scenario("demo"), "runs/demo")
    print(result.database)
"""

from sclab.run import RunResult, run_scenario
from sclab.targets import load_scenario
from sclab.version import __version__

__all__ = ["RunResult", "__version__", "load_scenario", "run_scenario"]
