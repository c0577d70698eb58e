"""sclab's version, in a module of its own so that any layer can name it without importing
the package's top level (which imports the run and everything below it)."""

#: The release this code is; pyproject.toml's ``version`` says the same
#: (``tests/test_layers.py`` checks that they agree).
__version__ = "0.1.0"
