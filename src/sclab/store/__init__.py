"""The run database: its schema, the atomic output directory, the writer (tables:
``docs/database.md``)."""
