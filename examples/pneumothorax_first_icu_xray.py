"""Pneumothorax on the first frontal chest x-ray of each ICU stay.

For every ICU stay, take the first AP or PA study of its first 24 hours and
count what CheXpert said about pneumothorax in its report.

    python examples/pneumothorax_first_icu_xray.py --warehouse warehouse
"""

from __future__ import annotations

import argparse

import polars as pl

import cxr_sql
from cxr_sql.cohort import first_frontal_per_icu_stay, reports_and_labels

LABELS = {1.0: "positive", 0.0: "negative", -1.0: "uncertain"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default="warehouse")
    parser.add_argument("--hours", type=float, default=24.0, help="first hours of the stay")
    args = parser.parse_args()
    with cxr_sql.connect(args.warehouse) as con:
        first = first_frontal_per_icu_stay(con, within_hours=args.hours)
        labels = reports_and_labels(con, first["study_id"].to_list())
    cohort = first.join(labels.select("study_id", "Pneumothorax"), on="study_id", how="left")
    cohort = cohort.with_columns(
        pl.col("Pneumothorax").replace_strict(LABELS, default="not mentioned").alias("pneumothorax")
    )
    print(f"ICU stays with a frontal x-ray in their first {args.hours:g} h: {cohort.height}")
    print(cohort.group_by("pneumothorax").len().sort("pneumothorax"))


if __name__ == "__main__":
    main()
