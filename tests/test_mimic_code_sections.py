"""mimic_cxr.sectioned_mimic_code and `cxr-sql export sectioned-csv` against mimic-code.

The expected CSVs in tests/data/mimic_code/ are the output of MIT-LCP mimic-code's
own create_section_files.py, run on the same report trees (regenerate.py there
says how); the export must equal them byte for byte.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from cxr_sql.build import BuildOptions, run_build
from cxr_sql.publish import data_root
from tests.helpers import REPO, run_cli

DATA = REPO / "tests" / "data" / "mimic_code"


def write_lists(cxr: Path) -> None:
    """A study list naming every report of the tree, and an empty record list."""
    reports = sorted((cxr / "files").glob("p*/p*/s*.txt"))
    rows = [f"{p.parent.name[1:]},{p.stem[1:]},{p.relative_to(cxr).as_posix()}" for p in reports]
    with gzip.open(cxr / "cxr-study-list.csv.gz", "wt", newline="") as handle:
        handle.write("\n".join(["subject_id,study_id,path", *rows]) + "\n")
    with gzip.open(cxr / "cxr-record-list.csv.gz", "wt", newline="") as handle:
        handle.write("subject_id,study_id,dicom_id,path\n")


def build_reports_only(cxr: Path, warehouse: Path) -> Path:
    report = run_build(BuildOptions(warehouse, cxr, jobs=2, dicom="no", show_progress=False))
    assert report.exit_code == 0, [s.line() for s in report.stages]
    return warehouse


@pytest.fixture(scope="module")
def handwritten(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cxr = tmp_path_factory.mktemp("handwritten") / "mimic-cxr"
    shutil.copytree(DATA / "handwritten", cxr)
    write_lists(cxr)
    return build_reports_only(cxr, cxr.parent / "warehouse")


def exported(warehouse: Path, out: Path) -> bytes:
    result = run_cli("export", "sectioned-csv", "--warehouse", str(warehouse), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o077 == 0  # report text: readable by its owner only
    return out.read_bytes()


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_export_equals_mimic_codes_csv_on_handwritten_reports(
    handwritten: Path, tmp_path: Path
) -> None:
    expected = (DATA / "handwritten.sectioned.csv").read_bytes()
    assert exported(handwritten, tmp_path / "sectioned.csv") == expected


def test_export_equals_mimic_codes_csv_on_synthetic_reports(
    tiny_sources: Path, tmp_path: Path
) -> None:
    warehouse = build_reports_only(tiny_sources / "mimic-cxr", tmp_path / "warehouse")
    expected = (DATA / "synth-tiny.sectioned.csv").read_bytes()
    assert exported(warehouse, tmp_path / "sectioned.csv") == expected


def test_studies_mimic_code_special_cases_are_left_out_and_explained(handwritten: Path) -> None:
    studies = {s for (s,) in rows(handwritten, "SELECT study FROM mimic_cxr.sectioned_mimic_code")}
    assert "s50913680" not in studies  # its custom_section_names
    assert "s58235663" not in studies  # its custom_indices
    assert rows(
        handwritten,
        "SELECT study_id, columns, reason FROM mimic_cxr_derived.qa_sectioned_vs_mimic_code "
        "WHERE study_id IN (50913680, 58235663) ORDER BY study_id",
    ) == [
        (50913680, "left out by mimic-code",
         "mimic-code rule for this study id (custom_section_names)"),
        (58235663, "left out by mimic-code", "mimic-code rule for this study id (custom_indices)"),
    ]  # fmt: skip


def test_qa_view_names_the_differing_columns_and_why(handwritten: Path) -> None:
    found = dict(
        ((study, (columns, reason)))
        for study, columns, reason in rows(
            handwritten,
            "SELECT study_id, columns, reason FROM mimic_cxr_derived.qa_sectioned_vs_mimic_code",
        )
    )
    assert found[50000201] == (
        "impression, findings, last_paragraph",
        "header in lower or mixed case",
    )
    assert found[50000301] == ("findings", "CR line endings")
    assert found[50000303] == ("impression, last_paragraph", "header with &")
    assert found[50000401][1] == "NDICATION (impression in mimic-code)"
    assert found[50000403][1] == "header not indented by exactly one space"
    assert found[50000404][1] == "blank line not written as newline, space, newline"
    assert found[50000501][1] == "addendum above an underscore line"
    # Ordinary reports agree: the synthetic-looking first one is not listed.
    assert 50000101 not in found
    assert 50000202 not in found  # History: on a wrapped line stays text in both


def test_wet_read_has_its_own_columns_and_is_no_addendum(handwritten: Path) -> None:
    assert rows(
        handwritten,
        "SELECT study_id, wet_read, wet_read_note, addendum, impression "
        "FROM mimic_cxr.sectioned WHERE study_id IN (50000102, 50000501) ORDER BY study_id",
    ) == [
        (50000102, "Left lower lobe opacity, possibly pneumonia.\n  No pneumothorax.",
         "___ ___ 10:22 PM", None, "Left lower lobe pneumonia."),
        (50000501, None, None, "The tube tip is in the stomach.", None),
    ]  # fmt: skip
    assert rows(
        handwritten, "SELECT has_addendum FROM mimic_cxr.reports WHERE study_id = 50000102"
    ) == [(False,)]


def test_a_report_with_40000_headers_builds_and_is_counted(tmp_path: Path) -> None:
    """Counts and ordinals are 32-bit: 16-bit ones overflowed at 32,767 sections."""
    cxr = tmp_path / "mimic-cxr"
    report = cxr / "files" / "p10" / "p10000032" / "s50000101.txt"
    report.parent.mkdir(parents=True)
    report.write_text(
        "                                 FINAL REPORT\n"
        + "".join(f" FINDINGS:  Line {n}.\n" for n in range(40_000))
    )
    write_lists(cxr)
    warehouse = build_reports_only(cxr, tmp_path / "warehouse")
    assert rows(
        warehouse,
        "SELECT n_sections, (SELECT count(*) FROM mimic_cxr.report_sections), "
        "(SELECT max(ordinal) FROM mimic_cxr.report_sections) FROM mimic_cxr.reports",
    ) == [(40_001, 40_001, 40_000)]
    assert rows(warehouse, "SELECT findings FROM mimic_cxr.sectioned_mimic_code") == [
        ("Line 39999.",)
    ]


def test_parts_of_another_sectioner_version_are_sectioned_again(tmp_path: Path) -> None:
    """File-level reuse never keeps sections cut by another version of a sectioner."""
    cxr = tmp_path / "mimic-cxr"
    shutil.copytree(DATA / "handwritten", cxr)
    write_lists(cxr)
    warehouse = build_reports_only(cxr, tmp_path / "warehouse")
    for index in (data_root(warehouse) / "mimic_cxr" / "reports" / "_index").glob("*.parquet"):
        table = pq.read_table(index)
        metadata = {**table.schema.metadata, b"sectioner_version": b"cxr-sql-sections/1"}
        index.unlink()  # a hard link shared with nothing else here, replaced whole
        pq.write_table(table.replace_schema_metadata(metadata), index)
    new_report = cxr / "files" / "p10" / "p10000032" / "s50000199.txt"
    new_report.write_text(" FINDINGS:  Clear.\n")  # something changed: the stage runs
    report = run_build(BuildOptions(warehouse, cxr, jobs=2, dicom="no", show_progress=False))
    assert report.exit_code == 0
    (stage,) = [s for s in report.stages if s.name == "reports"]
    assert f"{len(list(cxr.glob('files/p*/p*/s*.txt')))} files read, 0 reused" in stage.line()
