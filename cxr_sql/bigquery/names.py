"""Names shared by translate and render: PhysioNet's BigQuery project and the
datasets of older MIMIC-IV releases there, with the schema each maps to here."""

from __future__ import annotations

SOURCE_PROJECT = "physionet-data"

# BigQuery dataset -> schema here, where they differ; others keep their name.
RENAMED_DATASETS = {
    "mimic_core": "mimiciv_hosp",  # MIMIC-IV 1.0 kept patients, admissions, transfers here
    "mimic_hosp": "mimiciv_hosp",
    "mimic_icu": "mimiciv_icu",
    "mimic_ed": "mimiciv_ed",
    "mimic_note": "mimiciv_note",
}
