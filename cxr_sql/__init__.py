"""cxr-sql: MIMIC-CXR and MIMIC-IV as one local, versioned DuckDB warehouse."""

from importlib.metadata import version

__version__ = version("cxr-sql")

__all__ = ["__version__", "connect"]


def __getattr__(name: str):
    """`cxr_sql.connect` is imported on first use: the report workers, which import this
    package, never need DuckDB (importing it costs each of them about 0.25 s)."""
    if name == "connect":
        from cxr_sql.warehouse import connect

        return connect
    raise AttributeError(f"module 'cxr_sql' has no attribute {name!r}")
