"""Behaviour: how people respond to the scoring system (feedback into the next day)."""
