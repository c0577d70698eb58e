"""The policy engine: scoring systems as data (schema), compiled to array operations."""
