"""Every situation the linking must handle is present in the generated sources.

The checks read the generated CSV files with DuckDB, independently of the
generator's own record of where it placed each study.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

# Study time = earliest image time; StudyTime lost its leading zeros: pad it.
STUDY_TIMES = """
CREATE VIEW image_time AS
SELECT subject_id, study_id, StudyTime,
       strptime(StudyDate::VARCHAR, '%Y%m%d')
       + to_milliseconds(CAST(round(
             (floor(StudyTime / 10000) * 3600 + floor(StudyTime / 100) % 100 * 60
              + StudyTime % 100) * 1000) AS BIGINT)) AS t
FROM read_csv('{jpg}/mimic-cxr-2.0.0-metadata.csv.gz');
CREATE VIEW study AS
SELECT subject_id, study_id, min(t) AS t, count(DISTINCT t) AS n_times,
       max(t) - min(t) AS spread
FROM image_time GROUP BY ALL;
CREATE VIEW adm AS SELECT * FROM read_csv('{iv}/hosp/admissions.csv.gz');
CREATE VIEW icu AS SELECT * FROM read_csv('{iv}/icu/icustays.csv.gz');
CREATE VIEW ed AS SELECT * FROM read_csv('{iv}/ed/edstays.csv.gz');
CREATE VIEW pat AS SELECT * FROM read_csv('{iv}/hosp/patients.csv.gz');
"""


def connect(sources: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(STUDY_TIMES.format(jpg=sources / "mimic-cxr-jpg", iv=sources / "mimiciv"))
    return con


CASES = {
    "inside an admission, outside ED and ICU": """
        SELECT count(*) FROM study s WHERE EXISTS (
            SELECT 1 FROM adm a WHERE a.subject_id = s.subject_id
            AND s.t BETWEEN a.admittime AND a.dischtime
            AND (a.edouttime IS NULL OR s.t > a.edouttime))
        AND NOT EXISTS (SELECT 1 FROM icu i WHERE i.subject_id = s.subject_id
                        AND s.t BETWEEN i.intime AND i.outtime)""",
    "in the ED before the admission it led to": """
        SELECT count(*) FROM study s JOIN adm a USING (subject_id)
        WHERE s.t >= a.edregtime AND s.t < a.admittime""",
    "in an ED visit that did not lead to admission": """
        SELECT count(*) FROM study s JOIN ed e USING (subject_id)
        WHERE e.hadm_id IS NULL AND s.t BETWEEN e.intime AND e.outtime""",
    "in an ICU stay": """
        SELECT count(*) FROM study s JOIN icu i USING (subject_id)
        WHERE s.t BETWEEN i.intime AND i.outtime""",
    "between stays": """
        SELECT count(*) FROM study s WHERE s.subject_id IN (SELECT subject_id FROM pat)
        AND NOT EXISTS (SELECT 1 FROM adm a WHERE a.subject_id = s.subject_id
            AND s.t BETWEEN least(a.admittime, a.edregtime) AND greatest(a.dischtime, a.edouttime))
        AND NOT EXISTS (SELECT 1 FROM ed e WHERE e.subject_id = s.subject_id
            AND s.t BETWEEN e.intime AND e.outtime)""",
    "in two overlapping admissions": """
        SELECT count(*) FROM (
            SELECT s.study_id FROM study s JOIN adm a USING (subject_id)
            WHERE s.t BETWEEN a.admittime AND a.dischtime GROUP BY ALL HAVING count(*) > 1)""",
    "at a StudyTime before 01:00": "SELECT count(*) FROM image_time WHERE StudyTime < 10000",
    "at a StudyTime between 01:00 and 10:00": """
        SELECT count(*) FROM image_time WHERE StudyTime >= 10000 AND StudyTime < 100000""",
    "several images of one study at different times": """
        SELECT count(*) FROM study WHERE n_times > 1""",
    "images of one study more than an hour apart": """
        SELECT count(*) FROM study WHERE spread > INTERVAL 1 HOUR""",
    "a subject with no MIMIC-IV rows": """
        SELECT count(DISTINCT subject_id) FROM study
        WHERE subject_id NOT IN (SELECT subject_id FROM pat)""",
}


@pytest.mark.parametrize("case", list(CASES))
def test_case_present_at_tiny_scale(tiny_sources: Path, case: str) -> None:
    (count,) = connect(tiny_sources).execute(CASES[case]).fetchone()
    assert count > 0, case


@pytest.mark.parametrize("case", list(CASES))
def test_case_present_on_the_demo_timeline(demo_sources: Path, case: str) -> None:
    if case == "in two overlapping admissions":
        pytest.skip("the real demo has no overlapping admissions")
    (count,) = connect(demo_sources).execute(CASES[case]).fetchone()
    assert count > 0, case


def test_ed_stays_overlap_their_admission_on_the_demo(demo_sources: Path) -> None:
    """On the demo, the overlapping stays are an ED stay and the admission it led to."""
    (count,) = (
        connect(demo_sources)
        .execute("""
        SELECT count(*) FROM study s JOIN adm a USING (subject_id) JOIN ed e USING (hadm_id)
        WHERE s.t BETWEEN a.admittime AND a.dischtime AND s.t BETWEEN e.intime AND e.outtime
    """)
        .fetchone()
    )
    assert count > 0


def test_truth_agrees_with_the_files(small_sources: Path) -> None:
    """The generator's record of each study's situation matches what the files say."""
    con = connect(small_sources)
    truth_file = small_sources / "truth" / "study_situations.csv.gz"
    con.execute(f"CREATE VIEW truth AS SELECT * FROM read_csv('{truth_file}')")
    mismatched = con.execute("""
        SELECT count(*) FROM truth JOIN study s USING (study_id)
        WHERE s.t <> truth.study_datetime
    """).fetchone()[0]
    assert mismatched == 0
    icu = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM icu i WHERE i.subject_id = s.subject_id
            AND s.t BETWEEN i.intime AND i.outtime AND i.hadm_id = truth.slot_hadm_id))
        FROM truth JOIN study s USING (study_id) WHERE situation = 'icu'
    """).fetchone()
    assert icu[0] > 0 and icu[0] == icu[1]
    ed_before = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM adm a WHERE a.hadm_id = truth.slot_hadm_id
            AND s.t >= a.edregtime AND s.t < a.admittime))
        FROM truth JOIN study s USING (study_id) WHERE situation = 'ed_before_admission'
    """).fetchone()
    assert ed_before[0] > 0 and ed_before[0] == ed_before[1]
