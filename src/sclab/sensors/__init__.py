"""Sensors: what the system records of the true acts, with errors."""
