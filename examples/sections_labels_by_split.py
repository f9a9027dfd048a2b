"""Report sections with CheXpert labels for each train / validate / test split.

Writes one Parquet file per split with the impression, findings and conclusion of
each report beside its labels: the table a report-generation or labelling model
is trained on. Report text is credentialed data: it goes only where --out says,
readable by its owner only (folders 700, files 600).

    python examples/sections_labels_by_split.py --warehouse warehouse --out exports/splits
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cxr_sql
from cxr_sql.cohort import reports_and_labels
from cxr_sql.publish import owner_only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default="warehouse")
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for the Parquet files (created)"
    )
    args = parser.parse_args()
    with cxr_sql.connect(args.warehouse) as con:
        studies = con.sql("SELECT study_id FROM mimic_cxr.study_list").pl()
        table = reports_and_labels(con, studies["study_id"].to_list(), labeler="chexpert")
    with owner_only():  # umask 077: folders 700, files 600
        args.out.mkdir(parents=True, exist_ok=True)
        for (split,), rows in table.group_by("split", maintain_order=True):
            name = split or "unassigned"
            path = args.out / f"{name}.parquet"
            path.unlink(missing_ok=True)  # a file of an earlier run keeps its mode otherwise
            rows.write_parquet(path)
            with_conclusion = rows["conclusion"].is_not_null().sum()
            print(f"{name}: {rows.height} reports, {with_conclusion} with a conclusion")


if __name__ == "__main__":
    main()
