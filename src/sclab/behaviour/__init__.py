"""Behaviour: how people respond to the scoring system (feedback into the next day).

Importing this package registers its components with the engine. Each reads only
``sim.view`` (what policies publish) and writes only per-person rate multipliers
(:func:`sclab.engine.propensity.update_propensity`), the classes people avoid
(:func:`sclab.engine.avoidance.avoid`) or ``sim.ties_active``.
"""

from sclab.behaviour import (  # noqa: F401
    barred,
    chilling,
    deterrence,
    purchases,
    repayment,
    ties,
)
