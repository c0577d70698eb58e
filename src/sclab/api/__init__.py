"""sclab from Python: run scenarios, open runs, analyse them (docs/api.md).

Core objects:
    :class:`Scenario` (:mod:`sclab.api.scenario`): load a scenario with keyword and path
        overrides, change its policies, run it (with its twin and replicates).
    :func:`simulate`: load and run in one call.
    :func:`resume`: continue a run with checkpoints that was stopped or killed.
    :func:`open_run` (``sclab.open``) and :class:`Run` (:mod:`sclab.api.runs`): a finished
        run's tables, SQL, export and analyses (audit, fairness, explain, calibrate,
        compare, report, charts), each an :class:`Analysis`.
    :func:`run_region` (:mod:`sclab.api.region`): several cities as partitions of one
        run, in one process or on Dask.
    :func:`sweep`, :func:`open_sweep` and :class:`Sweep` (:mod:`sclab.api.sweeps`): a
        scenario over a grid of parameter values and replicates, run as Dask tasks, every
        run audited and its headline metrics gathered into one database.
    :func:`check_policy`, :func:`packs`, :func:`scenarios`, :func:`components`
        (:mod:`sclab.api.catalogue`): what sclab offers to run, and a policy's verdicts.

The command line is this package printed: each command calls one of these. Nothing here
registers a component on import (they register when a run or a check first needs them).
"""

from sclab.api.catalogue import (
    PolicyCheck,
    check_policy,
    components,
    pack_text,
    packs,
    scenarios,
)
from sclab.api.frames import FrameError, as_frame
from sclab.api.overrides import OverrideError
from sclab.api.region import RegionResult, is_region, regions, run_region
from sclab.api.runs import Analysis, Run, UnknownTableError, open_run
from sclab.api.scenario import RunObserver, Scenario, resume, simulate
from sclab.api.sweeps import Sweep, open_sweep, sweep

__all__ = [
    "Analysis",
    "FrameError",
    "OverrideError",
    "PolicyCheck",
    "RegionResult",
    "Run",
    "RunObserver",
    "Scenario",
    "Sweep",
    "UnknownTableError",
    "as_frame",
    "check_policy",
    "components",
    "is_region",
    "open_run",
    "open_sweep",
    "pack_text",
    "packs",
    "regions",
    "resume",
    "run_region",
    "scenarios",
    "simulate",
    "sweep",
]
