"""cxr-sql: MIMIC-CXR and MIMIC-IV as one local, versioned DuckDB warehouse."""

from importlib.metadata import version

__version__ = version("cxr-sql")
