"""The master database: schema, atomic output, writers (see DESIGN 4.2)."""
