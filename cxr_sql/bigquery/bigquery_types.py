"""BigQuery column types of the physionet-data tables translate and render read.

mimic_cxr's are facts of MIMIC-CXR-JPG 2.0.0's files as PhysioNet loads them
(the metadata's StudyDate is an INT64 yyyymmdd, StudyTime a FLOAT64 that lost
its leading zeros); MIMIC-IV's are those of the published DDL (cxr_sql.mimiciv_ddl),
for the release each dataset without a version in its name holds.
"""

from __future__ import annotations

from functools import cache

from cxr_sql.bigquery.names import SOURCE_PROJECT
from cxr_sql.mimiciv_ddl import RELEASES, bigquery_schema

CHEXPERT_LABELS = (
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged_Cardiomediastinum",
    "Fracture", "Lung_Lesion", "Lung_Opacity", "No_Finding", "Pleural_Effusion",
    "Pleural_Other", "Pneumonia", "Pneumothorax", "Support_Devices",
)  # fmt: skip
LABELS = (
    ("subject_id", "INT64"),
    ("study_id", "INT64"),
    *((label, "FLOAT64") for label in CHEXPERT_LABELS),
)
MIMIC_CXR: dict[str, tuple[tuple[str, str], ...]] = {
    "metadata": (
        ("dicom_id", "STRING"),
        ("subject_id", "INT64"),
        ("study_id", "INT64"),
        ("PerformedProcedureStepDescription", "STRING"),
        ("ViewPosition", "STRING"),
        ("Rows", "INT64"),
        ("Columns", "INT64"),
        ("StudyDate", "INT64"),
        ("StudyTime", "FLOAT64"),
        ("ProcedureCodeSequence_CodeMeaning", "STRING"),
        ("ViewCodeSequence_CodeMeaning", "STRING"),
        ("PatientOrientationCodeSequence_CodeMeaning", "STRING"),
    ),
    "study_list": (("subject_id", "INT64"), ("study_id", "INT64"), ("path", "STRING")),
    "record_list": (
        ("subject_id", "INT64"),
        ("study_id", "INT64"),
        ("dicom_id", "STRING"),
        ("path", "STRING"),
    ),
    "split": (
        ("dicom_id", "STRING"),
        ("study_id", "INT64"),
        ("subject_id", "INT64"),
        ("split", "STRING"),
    ),
    "chexpert": LABELS,
    "negbio": LABELS,
}


@cache
def table_types() -> dict[str, tuple[tuple[str, str], ...]]:
    """`dataset.table` -> ((column, BigQuery type), ...) for every table known here."""
    known = {f"mimic_cxr.{table}": columns for table, columns in MIMIC_CXR.items()}
    for module, releases in RELEASES.items():
        for table, columns in bigquery_schema(module, releases[-1]).items():
            known[f"mimiciv_{module}.{table}"] = tuple(columns)
    return known


@cache
def sqlglot_schema() -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    """The same, as the nested mapping sqlglot's type annotation reads."""
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for name, columns in table_types().items():
        dataset, table = name.split(".")
        schema.setdefault(dataset, {})[table] = dict(columns)
    return {SOURCE_PROJECT: schema}
