"""autogen-doctor: find and prove conversation-state loss in scaled-out AutoGen services."""

# The one place the version is written: pyproject.toml reads it from here when the package is
# built (setuptools' `attr`), so start-up needs no importlib.metadata lookup (about 10 ms).
__version__ = "0.1.0"

__all__ = ["__version__"]
