"""Rows from ZetaSQL and from DuckDB in one comparable form."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from decimal import Decimal, localcontext
from typing import Any


def canonical(value: Any, bigquery_type: str) -> Any:
    """A value in a form both engines' results compare in: kind of value kept, floats to
    12 significant digits, NULL arrays as empty (BigQuery returns no NULL arrays)."""
    if bigquery_type.startswith("ARRAY<"):
        element = bigquery_type[6:-1]
        return ("array", tuple(canonical(v, element) for v in value or []))
    if value is None:
        return None
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else float(f"{value:.12g}"))
    if isinstance(value, Decimal):
        with localcontext(prec=100):  # the default 28 digits would round NUMERIC's 38
            return ("numeric", value.normalize())
    if isinstance(value, dt.datetime):  # TIMESTAMP as naive UTC, as translate holds it
        if value.tzinfo:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return ("timestamp" if bigquery_type == "TIMESTAMP" else "datetime", value)
    return (type(value).__name__, value)


def normalised(rows: list[tuple], types: list[str], ordered: bool) -> list[tuple] | Counter:
    shaped = [tuple(canonical(v, t) for v, t in zip(row, types, strict=True)) for row in rows]
    return shaped if ordered else Counter(shaped)
