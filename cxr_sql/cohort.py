"""Cohorts researchers ask for first, as polars DataFrames, on top of the SQL views.

Every function takes a connection from `cxr_sql.connect()` and plain Python
values. Values are always bound as parameters, never pasted into SQL, so a code
list holding quotes or SQL is only ever data. The SQL of each function reads
the same views a researcher would query by hand (mimic_cxr_derived, mimic_cxr,
mimiciv_*).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb
import polars as pl

FRONTAL_VIEWS = ("AP", "PA")
LABELERS = ("chexpert", "negbio")


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> pl.DataFrame:
    return con.execute(sql, params).pl()


def _values(name: str, given: Iterable) -> list:
    """The values of a list argument; a bare string, which would be split into its
    characters and give a wrong cohort without a word, is a TypeError."""
    if isinstance(given, str | bytes) or not isinstance(given, Iterable):
        raise TypeError(f"{name} must be a list of values, not {type(given).__name__} {given!r}")
    return list(given)


def studies_with_diagnoses(
    con: duckdb.DuckDBPyConnection,
    icd_codes: Sequence[str],
    *,
    icd_version: int | None = None,
    prefix: bool = False,
) -> pl.DataFrame:
    """Studies taken during an admission (or in the ED before it) that was coded with any
    of the ICD codes; with `prefix`, a code matches every code it starts ('J93' for all
    pneumothorax codes). Needs mimiciv_hosp.diagnoses_icd (build with --tables)."""
    sql = """
        SELECT DISTINCT a.subject_id, a.study_id, a.study_datetime, a.hadm_id, a.rule,
               d.icd_code, d.icd_version
        FROM mimic_cxr_derived.study_admission AS a
        JOIN mimiciv_hosp.diagnoses_icd AS d USING (hadm_id)
        WHERE a.hadm_id IS NOT NULL
          AND (? IS NULL OR d.icd_version = ?)
          AND EXISTS (
              SELECT 1 FROM unnest(?::VARCHAR[]) AS wanted(code)
              WHERE d.icd_code = wanted.code OR (? AND starts_with(d.icd_code, wanted.code))
          )
        ORDER BY a.subject_id, a.study_datetime, d.icd_code
    """
    codes = _values("icd_codes", icd_codes)
    return _frame(con, sql, [icd_version, icd_version, codes, prefix])


def first_frontal_per_icu_stay(
    con: duckdb.DuckDBPyConnection, within_hours: float = 24.0
) -> pl.DataFrame:
    """For each ICU stay, the first study with a frontal (AP or PA) image taken in the
    stay's first `within_hours` hours."""
    sql = """
        WITH frontal AS (
            SELECT DISTINCT study_id FROM mimic_cxr.metadata
            WHERE ViewPosition IN (SELECT unnest(?::VARCHAR[]))
        )
        SELECT
            c.stay_id, c.hadm_id, c.subject_id,
            arg_min(c.study_id, c.study_datetime) AS study_id,
            min(c.study_datetime) AS study_datetime,
            min(c.hours_from_start) AS hours_after_icu_admission
        FROM mimic_cxr_derived.study_link_candidates AS c
        JOIN frontal USING (study_id)
        WHERE c.kind = 'icustay' AND c.inside AND c.hours_from_start <= ?
        GROUP BY c.stay_id, c.hadm_id, c.subject_id
        ORDER BY c.subject_id, study_datetime
    """
    return _frame(con, sql, [list(FRONTAL_VIEWS), within_hours])


def ed_studies_later_admitted(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Studies taken in the ED before the admission the visit led to."""
    sql = """
        SELECT a.subject_id, a.study_id, a.study_datetime, a.hadm_id,
               adm.admission_type, adm.admittime, a.hours_to_end AS hours_before_admission,
               e.stay_id AS ed_stay_id
        FROM mimic_cxr_derived.study_admission AS a
        JOIN mimiciv_hosp.admissions AS adm USING (hadm_id)
        LEFT JOIN mimic_cxr_derived.study_edstay AS e USING (study_id)
        WHERE a.rule = 'ed_before_admission'
        ORDER BY a.subject_id, a.study_datetime
    """
    return _frame(con, sql, [])


def reports_and_labels(
    con: duckdb.DuckDBPyConnection, study_ids: Sequence[int], labeler: str = "chexpert"
) -> pl.DataFrame:
    """Report sections and the labeler's labels of the given studies, with their split."""
    if labeler not in LABELERS:
        raise ValueError(f"labeler must be one of {', '.join(LABELERS)}, not {labeler!r}")
    sql = f"""
        WITH split AS (
            SELECT study_id, min(split) AS split FROM mimic_cxr.split GROUP BY study_id
        )
        SELECT s.subject_id, s.study_id, sp.split, s.impression, s.findings, s.conclusion,
               l.* EXCLUDE (subject_id, study_id)
        FROM mimic_cxr.sectioned AS s
        LEFT JOIN mimic_cxr.{labeler} AS l USING (study_id)
        LEFT JOIN split AS sp USING (study_id)
        WHERE s.study_id IN (SELECT unnest(?::INTEGER[]))
        ORDER BY s.subject_id, s.study_id
    """
    return _frame(con, sql, [_values("study_ids", study_ids)])
