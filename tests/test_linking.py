"""Linking views on hand-built timelines (one per case, edges included), on the real
MIMIC-IV demo timeline, and at the scale of the generated sources."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.helpers import build_warehouse, run_cli

S1, S2, S3, S4 = 10000001, 10000002, 10000003, 10000004
A1, A3A, A3B = 21000001, 21000002, 21000003
E1, E2, I1 = 31000001, 31000002, 32000001

# study: (subject, [(StudyDate, StudyTime as the JPG file writes it), ...])
STUDIES = {
    50000001: (S1, [(21800101, "73000.0")]),  # 07:30 in the ED before admission
    50000002: (S1, [(21800102, "120000.0")]),  # ICU
    50000003: (S1, [(21800101, "100000.0")]),  # exactly at admittime
    50000004: (S1, [(21800105, "120000.0")]),  # exactly at dischtime
    50000005: (S1, [(21800102, "90000.0")]),  # exactly at a transfer boundary, ICU intime
    50000006: (S1, [(21800104, "5012.5")]),  # 00:50:12.500: StudyTime below 010000
    50000007: (S1, [(21800103, "93005.0")]),  # 09:30:05: below 100000, after the ICU
    50000008: (S1, [(21800104, "140000.0"), (21800104, "140500.0"), (21800104, "163000.0")]),
    50000009: (S1, [(21800301, "120000.0")]),  # between stays
    50000010: (S1, [(21800101, "60000.0")]),  # exactly at edregtime
    50000011: (S2, [(21810501, "120000.0")]),  # ED visit that led to no admission
    50000012: (S3, [(21820205, "80000.0")]),  # inside two overlapping admissions
    50000013: (S4, [(21830101, "120000.0")]),  # subject absent from MIMIC-IV
}


def write_csv_gz(path: Path, header: list[str], rows: list[list]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(buffer.getvalue().encode()))


def handmade_sources(root: Path) -> Path:
    cxr, jpg, iv = root / "mimic-cxr", root / "mimic-cxr-jpg", root / "mimiciv"
    study_rows, record_rows, metadata_rows = [], [], []
    for study, (subject, images) in STUDIES.items():
        report = f"files/p{str(subject)[:2]}/p{subject}/s{study}.txt"
        (cxr / report).parent.mkdir(parents=True, exist_ok=True)
        (cxr / report).write_text(" FINAL REPORT\n IMPRESSION:  No change.\n")
        study_rows.append([subject, study, report])
        for n, (date, time) in enumerate(images):
            dicom = f"{study:08x}-00000000-00000000-00000000-{n:08x}"
            record_rows.append([subject, study, dicom, f"{report[:-4]}/{dicom}.dcm"])
            metadata_rows.append(
                [dicom, subject, study, "CHEST", "PA", 10, 10, date, time, "CHEST", "", ""]
            )
    write_csv_gz(cxr / "cxr-study-list.csv.gz", ["subject_id", "study_id", "path"], study_rows)
    write_csv_gz(
        cxr / "cxr-record-list.csv.gz", ["subject_id", "study_id", "dicom_id", "path"], record_rows
    )
    write_csv_gz(
        jpg / "mimic-cxr-2.0.0-metadata.csv.gz",
        [
            "dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription",
            "ViewPosition", "Rows", "Columns", "StudyDate", "StudyTime",
            "ProcedureCodeSequence_CodeMeaning", "ViewCodeSequence_CodeMeaning",
            "PatientOrientationCodeSequence_CodeMeaning",
        ],
        metadata_rows,
    )  # fmt: skip
    write_csv_gz(
        iv / "hosp/patients.csv.gz",
        ["subject_id", "gender", "anchor_age", "anchor_year", "anchor_year_group", "dod"],
        [[s, "F", 60, 2180, "2011 - 2013", None] for s in (S1, S2, S3)],
    )
    admission = lambda subject, hadm, admit, disch, edreg=None, edout=None: [  # noqa: E731
        subject, hadm, admit, disch, None, "URGENT", None, "EMERGENCY ROOM", "HOME",
        "Other", "ENGLISH", "SINGLE", "WHITE", edreg, edout, 0,
    ]  # fmt: skip
    write_csv_gz(
        iv / "hosp/admissions.csv.gz",
        [
            "subject_id", "hadm_id", "admittime", "dischtime", "deathtime", "admission_type",
            "admit_provider_id", "admission_location", "discharge_location", "insurance",
            "language", "marital_status", "race", "edregtime", "edouttime",
            "hospital_expire_flag",
        ],
        [
            admission(S1, A1, "2180-01-01 10:00:00", "2180-01-05 12:00:00",
                      "2180-01-01 06:00:00", "2180-01-01 11:00:00"),
            admission(S3, A3A, "2182-02-01 08:00:00", "2182-02-06 08:00:00"),
            admission(S3, A3B, "2182-02-04 08:00:00", "2182-02-09 08:00:00"),
        ],
    )  # fmt: skip
    write_csv_gz(
        iv / "hosp/transfers.csv.gz",
        ["subject_id", "hadm_id", "transfer_id", "eventtype", "careunit", "intime", "outtime"],
        [
            [S1, A1, 1, "ED", "Emergency Department", "2180-01-01 06:00:00", "2180-01-01 11:00:00"],
            [S1, A1, 2, "admit", "Medicine", "2180-01-01 11:00:00", "2180-01-02 09:00:00"],
            [S1, A1, 3, "transfer", "Medical Intensive Care Unit (MICU)",
             "2180-01-02 09:00:00", "2180-01-03 09:00:00"],
            [S1, A1, 4, "transfer", "Medicine", "2180-01-03 09:00:00", "2180-01-05 12:00:00"],
            [S1, A1, 5, "discharge", None, "2180-01-05 12:00:00", None],
            [S2, None, 6, "ED", "Emergency Department", "2181-05-01 10:00:00",
             "2181-05-01 14:00:00"],
            [S3, A3A, 7, "admit", "Medicine", "2182-02-01 08:00:00", "2182-02-06 08:00:00"],
            [S3, A3B, 8, "admit", "Surgery", "2182-02-04 08:00:00", "2182-02-09 08:00:00"],
        ],
    )  # fmt: skip
    write_csv_gz(
        iv / "icu/icustays.csv.gz",
        ["subject_id", "hadm_id", "stay_id", "first_careunit", "last_careunit", "intime",
         "outtime", "los"],
        [[S1, A1, I1, "MICU", "MICU", "2180-01-02 09:00:00", "2180-01-03 09:00:00", 1.0]],
    )  # fmt: skip
    write_csv_gz(
        iv / "ed/edstays.csv.gz",
        ["subject_id", "hadm_id", "stay_id", "intime", "outtime", "gender", "race",
         "arrival_transport", "disposition"],
        [
            [S1, A1, E1, "2180-01-01 06:00:00", "2180-01-01 11:00:00", "F", "WHITE", "WALK IN",
             "ADMITTED"],
            [S2, None, E2, "2181-05-01 10:00:00", "2181-05-01 14:00:00", "F", "WHITE", "WALK IN",
             "HOME"],
        ],
    )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sources = handmade_sources(tmp_path_factory.mktemp("handmade"))
    return build_warehouse(sources, sources / "warehouse")


def rows(warehouse: Path, sql: str) -> dict[int, tuple]:
    """study_id -> the rest of the row."""
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        return {row[0]: row[1:] for row in con.execute(sql).fetchall()}


def test_study_times(handmade: Path) -> None:
    times = rows(
        handmade,
        "SELECT study_id, study_datetime, last_image_datetime, n_images, n_distinct_times, "
        "time_source FROM mimic_cxr_derived.study_times",
    )
    assert times[50000006][0] == datetime(2180, 1, 4, 0, 50, 12, 500000)
    assert times[50000007][0] == datetime(2180, 1, 3, 9, 30, 5)
    assert times[50000008] == (
        datetime(2180, 1, 4, 14, 0),
        datetime(2180, 1, 4, 16, 30),
        3,
        3,
        "jpg",
    )


def test_study_admission_rules(handmade: Path) -> None:
    linked = rows(
        handmade,
        "SELECT study_id, hadm_id, rule, n_candidates FROM mimic_cxr_derived.study_admission",
    )
    assert linked[50000001] == (A1, "ed_before_admission", 1)
    assert linked[50000010] == (A1, "ed_before_admission", 1)  # at edregtime: inclusive
    assert linked[50000003] == (A1, "during_admission", 1)  # at admittime: inclusive
    assert linked[50000004] == (A1, "during_admission", 1)  # at dischtime: inclusive
    assert linked[50000002] == (A1, "during_admission", 1)
    assert linked[50000006] == (A1, "during_admission", 1)
    assert linked[50000009] == (None, "none", 0)  # between stays
    assert linked[50000011] == (None, "none", 0)  # ED visit with no admission
    assert linked[50000012] == (A3B, "during_admission", 2)  # the later of two wins
    assert linked[50000013] == (None, "none", 0)  # not in MIMIC-IV


def test_study_edstay_icustay_transfer(handmade: Path) -> None:
    ed = rows(
        handmade, "SELECT study_id, stay_id, n_candidates FROM mimic_cxr_derived.study_edstay"
    )
    assert ed[50000001] == (E1, 1) and ed[50000003] == (E1, 1) and ed[50000011] == (E2, 1)
    assert ed[50000002] == (None, 0)
    icu = rows(handmade, "SELECT study_id, stay_id, rule FROM mimic_cxr_derived.study_icustay")
    assert icu[50000002] == (I1, "during_icustay")
    assert icu[50000005] == (I1, "during_icustay")  # at intime: inclusive
    assert icu[50000007] == (None, "none")  # after the ICU stay ended
    transfer = rows(
        handmade,
        "SELECT study_id, careunit, eventtype, n_candidates FROM mimic_cxr_derived.study_transfer",
    )
    # half-open: at 09:00 the patient has left Medicine and entered the MICU
    assert transfer[50000005] == ("Medical Intensive Care Unit (MICU)", "transfer", 1)
    assert transfer[50000004] == (None, None, 0)  # at dischtime: the discharge is a point
    assert transfer[50000001] == ("Emergency Department", "ED", 1)
    assert transfer[50000011] == ("Emergency Department", "ED", 1)
    assert transfer[50000007] == ("Medicine", "transfer", 1)


def test_link_candidates_publish_every_window_near_the_study(handmade: Path) -> None:
    with duckdb.connect(str(handmade / "mimic.duckdb"), read_only=True) as con:
        found = con.execute(
            "SELECT kind, hadm_id, inside, rank, hours_from_start, hours_from_end "
            "FROM mimic_cxr_derived.study_link_candidates WHERE study_id = 50000012 "
            "ORDER BY kind, rank"
        ).fetchall()
        assert found == [
            ("admission", A3B, True, 1, 24.0, -96.0),
            ("admission", A3A, True, 2, 96.0, -24.0),
        ]
        # 07:30 on day one: inside the ED window, 2.5 h before the admission began
        near = con.execute(
            "SELECT kind, inside, hours_from_start FROM mimic_cxr_derived.study_link_candidates "
            "WHERE study_id = 50000001 ORDER BY kind"
        ).fetchall()
        assert near == [
            ("admission", False, -2.5),
            ("ed_before_admission", True, 1.5),
            ("edstay", True, 1.5),
        ]
        far = con.execute(
            "SELECT count(*) FROM mimic_cxr_derived.study_link_candidates WHERE study_id = 50000009"
        ).fetchone()
        assert far == (0,)


def test_study_prior(handmade: Path) -> None:
    prior = rows(
        handmade,
        "SELECT study_id, seq, prev_study_id, next_study_id, hours_since_prev, time_tie "
        "FROM mimic_cxr_derived.study_prior WHERE subject_id = 10000001",
    )
    order = sorted(prior, key=lambda s: prior[s][0])
    assert order == [
        50000010, 50000001, 50000003, 50000005, 50000002, 50000007, 50000006, 50000008,
        50000004, 50000009,
    ]  # fmt: skip
    assert prior[50000001][1:4] == (50000010, 50000003, 1.5)
    assert not any(row[4] for row in prior.values())


def test_every_study_appears_once_in_each_view(handmade: Path) -> None:
    with duckdb.connect(str(handmade / "mimic.duckdb"), read_only=True) as con:
        for view in ("study_admission", "study_edstay", "study_icustay", "study_transfer",
                     "study_prior", "study_times"):  # fmt: skip
            assert con.execute(
                f"SELECT count(*), count(DISTINCT study_id) FROM mimic_cxr_derived.{view}"
            ).fetchone() == (len(STUDIES), len(STUDIES)), view


def test_qa_views_and_check_command(handmade: Path) -> None:
    spread = rows(
        handmade, "SELECT study_id, spread_hours FROM mimic_cxr_derived.qa_study_time_spread"
    )
    assert spread == {50000008: (2.5,)}
    missing = rows(
        handmade,
        "SELECT subject_id, n_studies FROM mimic_cxr_derived.qa_subjects_missing_from_mimiciv",
    )
    assert missing == {S4: (1,)}
    with duckdb.connect(str(handmade / "mimic.duckdb"), read_only=True) as con:
        ambiguous = con.execute(
            "SELECT study_id, kind FROM mimic_cxr_derived.qa_ambiguous_links ORDER BY ALL"
        ).fetchall()
    assert ambiguous == [(50000012, "admission"), (50000012, "transfer")]
    done = run_cli("check", "--warehouse", str(handmade))
    assert done.returncode == 0, done.stderr
    assert "subjects missing from MIMIC-IV" in done.stdout
    assert "studies whose images are more than an hour apart: 1" in done.stdout


def test_demo_timeline_links_every_study_to_its_expected_admission(
    demo_sources: Path, tmp_path: Path
) -> None:
    """On the real demo admissions: the generator's placement is the answer key."""
    warehouse = build_warehouse(demo_sources, tmp_path / "warehouse")
    truth = demo_sources / "truth" / "study_situations.csv.gz"
    expected_rule = {
        "during_admission": "during_admission",
        "icu": "during_admission",
        "overlapping_stays": "during_admission",
        "ed_before_admission": "ed_before_admission",
    }
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        pairs = con.execute(
            f"SELECT t.situation, t.slot_hadm_id, a.rule, a.hadm_id "
            f"FROM read_csv('{truth}') t JOIN mimic_cxr_derived.study_admission a USING (study_id)"
        ).fetchall()
        disagreeing = con.execute(
            "SELECT count(*) FROM mimic_cxr_derived.study_times t JOIN (SELECT study_id, "
            "min(study_datetime) AS parsed FROM mimic_cxr.metadata GROUP BY ALL) USING (study_id) "
            "WHERE t.study_datetime IS DISTINCT FROM parsed"
        ).fetchone()
    assert disagreeing == (0,)  # the SQL arithmetic agrees with the parsed text, to the ms
    assert len(pairs) > 300
    for situation, slot_hadm, rule, hadm in pairs:
        assert rule == expected_rule.get(situation, "none"), situation
        if rule != "none":
            assert hadm == slot_hadm


def test_link_window_is_configurable(tmp_path: Path) -> None:
    sources = handmade_sources(tmp_path)
    warehouse = tmp_path / "warehouse"
    done = run_cli(
        "build", "--warehouse", str(warehouse), "--mimic-cxr", str(sources / "mimic-cxr"),
        "--mimic-cxr-jpg", str(sources / "mimic-cxr-jpg"), "--mimiciv", str(sources / "mimiciv"),
        "--link-window-hours", "2000",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        far = con.execute(
            "SELECT kind, inside, hours_from_end FROM mimic_cxr_derived.study_link_candidates "
            "WHERE study_id = 50000009 AND kind = 'admission'"
        ).fetchall()
        setting = con.execute(
            "SELECT value FROM mimic_cxr_derived._metadata WHERE attribute = 'link_window_hours'"
        ).fetchone()
    assert far == [("admission", False, 56 * 24.0)]  # 2180 is a leap year
    assert setting == ("2000",)
