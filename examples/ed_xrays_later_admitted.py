"""Chest x-rays taken in the ED of patients who were then admitted.

Lists each such study with how long before the admission it was taken, and
summarises by admission type.

    python examples/ed_xrays_later_admitted.py --warehouse warehouse
"""

from __future__ import annotations

import argparse

import polars as pl

import cxr_sql
from cxr_sql.cohort import ed_studies_later_admitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default="warehouse")
    args = parser.parse_args()
    with cxr_sql.connect(args.warehouse) as con:
        studies = ed_studies_later_admitted(con)
    print(f"ED x-rays of patients later admitted: {studies.height}")
    summary = (
        studies.group_by("admission_type")
        .agg(
            pl.len().alias("studies"),
            pl.col("hours_before_admission").median().round(1).alias("median_hours_before"),
        )
        .sort("studies", descending=True)
    )
    print(summary)


if __name__ == "__main__":
    main()
