"""Calibration as data: published figures beside a run's simulated counterparts, and the
mechanisms of a run that never did anything.

Core objects:
    :func:`calibrate` / :class:`CalibrationTable` (:mod:`sclab.calibration.table`): a
        run compared with the published figures of ``figures.yaml``.
    :func:`load_figures` / :class:`Figure` (:mod:`sclab.calibration.figures`): the
        figures, validated.
    :data:`METRICS` (:mod:`sclab.calibration.metrics`): the SQL queries that compute the
        simulated counterparts.
    :func:`find_inert` (:mod:`sclab.calibration.inert`): switched-on components that
        produced nothing, rules that never fired, joint measures that never applied.

This package reads a run's store and never imports the engine or a component: what it
reports is what the run recorded (an import-linter contract keeps it so).
"""

from sclab.calibration.figures import Figure, load_figures
from sclab.calibration.inert import Inert, find_inert
from sclab.calibration.metrics import METRICS, Metric
from sclab.calibration.table import CalibrationRow, CalibrationTable, calibrate

__all__ = [
    "METRICS",
    "CalibrationRow",
    "CalibrationTable",
    "Figure",
    "Inert",
    "Metric",
    "calibrate",
    "find_inert",
    "load_figures",
]
