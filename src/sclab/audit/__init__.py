"""The audit of a finished run: tables computed from its store (run.duckdb), never from the
simulation itself."""
