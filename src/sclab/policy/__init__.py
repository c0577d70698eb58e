"""The policy engine: scoring systems as data (schema), compiled to array operations.

Importing this package registers the ``pack`` component with the engine.
"""

from sclab.policy import engine  # noqa: F401
