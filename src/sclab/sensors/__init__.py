"""Sensors: what the system records of the true acts, with errors.

Importing this package registers its components with the engine.
"""

from sclab.sensors import cameras, records  # noqa: F401
