"""Names shared by translate and render: PhysioNet's BigQuery project, the
datasets this warehouse holds under their BigQuery names, the datasets of older
MIMIC-IV releases there with the schema each maps to here, and the views
`render` writes into a user's own dataset."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cxr_sql.catalog import DERIVED

SOURCE_PROJECT = "physionet-data"

# Schemas of a warehouse, named as PhysioNet's BigQuery datasets (mimiciv_derived holds
# mimic-code's concepts when built with --concepts).
DATASETS = (
    "mimic_cxr",
    DERIVED,
    "mimiciv_hosp",
    "mimiciv_icu",
    "mimiciv_ed",
    "mimiciv_note",
    "mimiciv_derived",
)

# BigQuery dataset -> schema here, where they differ; others keep their name.
RENAMED_DATASETS = {
    "mimic_core": "mimiciv_hosp",  # MIMIC-IV 1.0 kept patients, admissions, transfers here
    "mimic_hosp": "mimiciv_hosp",
    "mimic_icu": "mimiciv_icu",
    "mimic_ed": "mimiciv_ed",
    "mimic_note": "mimiciv_note",
}

# The derived views `cxr-sql render` writes to a user's dataset on BigQuery.
RENDERED = (
    "admission_windows",
    "study_times",
    "study_admission",
    "study_edstay",
    "study_icustay",
    "study_transfer",
    "study_link_candidates",
    "study_prior",
    "qa_images_without_view_position",
    "qa_subjects_missing_from_mimiciv",
    "qa_study_time_spread",
    "qa_ambiguous_links",
)


def warehouse_tables(catalog: Path) -> frozenset[str]:
    """`schema.table` of every view and table a warehouse's catalog holds."""
    with duckdb.connect(str(catalog), read_only=True) as con:
        rows = con.execute(
            "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal "
            "UNION SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal"
        ).fetchall()
    return frozenset(f"{schema}.{table}" for schema, table in rows)
