"""Bad MIMIC-CXR input: a clear message and a rejects row, never a stack trace.

Each test copies generated sources, breaks them the way real downloads break,
and builds with the real command.
"""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

from tests.helpers import run_cli


@pytest.fixture
def sources(tiny_sources: Path, tmp_path: Path) -> Path:
    """A writable copy of the tiny MIMIC-CXR folder (without DICOMs)."""
    copy = tmp_path / "mimic-cxr"
    shutil.copytree(
        tiny_sources / "mimic-cxr", copy, ignore=shutil.ignore_patterns("*.dcm", "*.dcm.gz")
    )
    return copy


def build(sources: Path, *extra: str) -> tuple[int, str, Path]:
    warehouse = sources.parent / "warehouse"
    done = run_cli("build", "--warehouse", str(warehouse), "--mimic-cxr", str(sources), *extra)
    assert "Traceback" not in done.stderr + done.stdout
    return done.returncode, done.stdout + done.stderr, warehouse


def rejects(warehouse: Path) -> list[tuple[str, int | None, str, str]]:
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT file, line, reason, action FROM mimic_cxr._rejects ORDER BY ALL"
        ).fetchall()


def one(warehouse: Path, sql: str):
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchone()


def reports_of(sources: Path) -> list[Path]:
    return sorted((sources / "files").glob("p*/p*/s*.txt"))


def rewrite_csv_gz(path: Path, edit) -> None:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress(("\n".join(edit(lines)) + "\n").encode()))


def test_undecodable_bytes_are_replaced_and_counted(sources: Path) -> None:
    report = reports_of(sources)[0]
    report.write_bytes(report.read_bytes().replace(b"FINAL", b"FIN\xff\xfeAL", 1))
    code, _, warehouse = build(sources)
    assert code == 0
    (file, line, reason, _), *_ = [r for r in rejects(warehouse) if r[3] == "replaced"]
    assert file.endswith(report.name) and line is None
    assert "2 undecodable byte sequence(s)" in reason
    text, replaced = one(
        warehouse,
        f"SELECT text, n_replaced FROM mimic_cxr.reports WHERE path LIKE '%{report.name}'",
    )
    assert replaced == 2 and "FIN\ufffd\ufffdAL" in text


def test_empty_report_is_kept_and_noted(sources: Path) -> None:
    report = reports_of(sources)[1]
    report.write_bytes(b"")
    code, _, warehouse = build(sources)
    assert code == 0
    assert (str(report), None, "empty report", "kept") in rejects(warehouse)
    assert one(
        warehouse,
        f"SELECT empty, n_sections FROM mimic_cxr.reports WHERE path LIKE '%{report.name}'",
    ) == (True, 0)


def test_badly_named_and_unlisted_reports_and_missing_files(sources: Path) -> None:
    first, second = reports_of(sources)[:2]
    badly_named = first.parent / "s123.txt"
    badly_named.write_text(" FINAL REPORT\n")
    unlisted = first.parent / "s59999999.txt"
    unlisted.write_text(" FINAL REPORT\n IMPRESSION:  Clear.\n")
    second.unlink()
    code, _, warehouse = build(sources)
    assert code == 0
    found = rejects(warehouse)
    assert (
        str(badly_named),
        None,
        "report name 's123.txt' is not s<8 digits>.txt",
        "dropped",
    ) in found
    assert (str(unlisted), None, "no row in the study list", "kept") in found
    study = second.stem[1:]
    missing = [r for r in found if r[2] == f"no report file for study {study}"]
    assert missing and missing[0][0].endswith("cxr-study-list.csv.gz") and missing[0][1] >= 2
    assert one(warehouse, "SELECT count(*) FROM mimic_cxr.reports WHERE study_id = 59999999") == (
        1,
    )


def test_record_list_row_checks(sources: Path) -> None:
    def corrupt(lines: list[str]) -> list[str]:
        header, rows = lines[0], lines[1:]
        fields = [row.split(",") for row in rows]
        fields[0][0] = "2" + fields[0][0][1:]  # subject_id must start with 1
        fields[1][3] = fields[1][3].replace(".dcm", ".jpg")  # path disagrees
        fields[3] = list(fields[2])  # duplicate dicom_id
        subject, dicom = fields[4][0], "00000000-00000000-00000000-00000000-00000001"
        orphan = [
            subject,
            "59999998",
            dicom,
            f"files/p{subject[:2]}/p{subject}/s59999998/{dicom}.dcm",
        ]
        fields.append(orphan)  # study missing from the study list
        return [header, *(",".join(f) for f in fields)]

    rewrite_csv_gz(sources / "cxr-record-list.csv.gz", corrupt)
    code, _, warehouse = build(sources)
    assert code == 0
    record_rejects = [r for r in rejects(warehouse) if r[0].endswith("cxr-record-list.csv.gz")]
    by_line = {line: (reason, action) for _, line, reason, action in record_rejects}
    assert by_line[2][0].startswith("subject_id is not 8 digits starting with 1: 2")
    assert "does not agree with the IDs" in by_line[3][0]
    assert by_line[5][0].startswith("duplicate dicom_id") and "first at line 4" in by_line[5][0]
    assert by_line[2][1] == by_line[3][1] == by_line[5][1] == "dropped"
    last = max(by_line)
    assert by_line[last] == ("study 59999998 is not in cxr-study-list.csv.gz", "kept")


def test_truncated_gzip_csv_is_one_clear_error_and_the_rest_builds(sources: Path) -> None:
    record_list = sources / "cxr-record-list.csv.gz"
    data = record_list.read_bytes()
    record_list.write_bytes(data[: len(data) // 2])
    code, output, warehouse = build(sources)
    assert code == 3
    assert f"{record_list}: not a complete gzip file" in output
    assert one(warehouse, "SELECT count(*) FROM mimic_cxr.reports")[0] > 0


def test_csv_with_a_missing_column(sources: Path) -> None:
    rewrite_csv_gz(
        sources / "cxr-study-list.csv.gz",
        lambda lines: [",".join(line.split(",")[:2]) for line in lines],
    )
    code, output, _ = build(sources)
    assert code == 3
    assert f"{sources / 'cxr-study-list.csv.gz'}:1: missing column(s) path" in output


def test_corrupt_or_truncated_zip_is_one_clear_error(sources: Path) -> None:
    archive = sources / "mimic-cxr-reports.zip"
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    code, output, warehouse = build(sources, "--reports-from", "zip")
    assert code == 3
    assert f"{archive}: not a readable zip archive" in output
    assert one(warehouse, "SELECT count(*) FROM mimic_cxr.study_list")[0] > 0


def test_corrupt_zip_member_is_rejected_and_the_others_read(sources: Path) -> None:
    archive = sources / "mimic-cxr-reports.zip"
    with zipfile.ZipFile(archive) as handle:
        victim = handle.infolist()[0]
        total = len(handle.infolist())
    data = bytearray(archive.read_bytes())
    start = victim.header_offset + 30 + len(victim.filename.encode()) + len(victim.extra)
    for i in range(start, start + min(victim.compress_size, 20)):
        data[i] ^= 0xFF
    archive.write_bytes(bytes(data))
    code, _, warehouse = build(sources, "--reports-from", "zip")
    assert code == 0
    member = [r for r in rejects(warehouse) if r[0] == f"{archive}!{victim.filename}"]
    assert member and member[0][2].startswith("unreadable (") and member[0][3] == "dropped"
    assert one(warehouse, "SELECT count(*) FROM mimic_cxr.reports") == (total - 1,)
