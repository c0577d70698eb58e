"""The master database: schema, atomic output, writers (tables: ``docs/database.md``)."""
