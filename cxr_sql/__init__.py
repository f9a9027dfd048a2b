"""cxr-sql: MIMIC-CXR and MIMIC-IV as one local, versioned DuckDB warehouse."""

from importlib.metadata import version

__version__ = version("cxr-sql")

from cxr_sql.warehouse import connect

__all__ = ["__version__", "connect"]
