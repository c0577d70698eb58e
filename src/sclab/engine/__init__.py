"""The generic engine: registry of components, event log, daily loop."""

from sclab.engine.events import EventBatch, EventLog
from sclab.engine.registry import REGISTRY, STAGES, register
from sclab.engine.simulation import Component, Simulation, State

__all__ = [
    "REGISTRY",
    "STAGES",
    "Component",
    "EventBatch",
    "EventLog",
    "Simulation",
    "State",
    "register",
]
