"""DICOM headers through real builds: .dcm.gz record lists, replaced files, the
string table BigQuery users query, and each image's JPG path."""

from __future__ import annotations

import csv
import gzip
import io
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from pydicom import dcmread

from tests.helpers import BIGQUERY_DICOM_COLUMNS, run_cli, synth


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth(tmp_path_factory.mktemp("dicom-build"), "tiny", dicom=True)


def build(sources: Path, cxr: Path, warehouse: Path) -> subprocess.CompletedProcess:
    done = run_cli(
        "build", "--warehouse", str(warehouse), "--mimic-cxr", str(cxr),
        "--mimic-cxr-jpg", str(sources / "mimic-cxr-jpg"), "--jobs", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def read_record_list(path: Path) -> list[dict]:
    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def test_record_list_naming_dcm_gz_files_is_accepted(sources: Path, tmp_path: Path) -> None:
    """A mirror that gzips the images and lists them as .dcm.gz."""
    cxr = tmp_path / "mimic-cxr"
    shutil.copytree(sources / "mimic-cxr", cxr)
    records = read_record_list(cxr / "cxr-record-list.csv.gz")
    for record in records:
        image = cxr / record["path"]
        with open(image, "rb") as plain, gzip.open(f"{image}.gz", "wb") as packed:
            shutil.copyfileobj(plain, packed)
        image.unlink()
        record["path"] += ".gz"
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    (cxr / "cxr-record-list.csv.gz").write_bytes(gzip.compress(text.getvalue().encode()))

    warehouse = tmp_path / "warehouse"
    done = build(sources, cxr, warehouse)
    assert "does not agree" not in done.stdout
    assert query(warehouse, "SELECT count(*) FROM mimic_cxr._rejects") == [(0,)]
    listed = query(warehouse, "SELECT path FROM mimic_cxr.record_list ORDER BY path")
    assert [path for (path,) in listed] == sorted(r["path"] for r in records)
    read = query(
        warehouse,
        "SELECT count(*), count(*) FILTER (WHERE gzipped AND path LIKE '%.dcm.gz') "
        "FROM mimic_cxr.dicom_metadata",
    )
    assert read == [(len(records), len(records))]


def test_string_table_has_the_selected_attributes_as_the_files_hold_them(
    sources: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse"
    build(sources, sources / "mimic-cxr", warehouse)
    columns = ", ".join(f'"{name}"' for name in BIGQUERY_DICOM_COLUMNS)
    rows = query(warehouse, f"SELECT dicom, {columns} FROM mimic_cxr.dicom_metadata_string")
    records = {r["dicom_id"]: r["path"] for r in read_record_list(
        sources / "mimic-cxr" / "cxr-record-list.csv.gz"
    )}  # fmt: skip
    assert len(rows) == len(records)
    for dicom, *values in rows[:10]:
        ds = dcmread(sources / "mimic-cxr" / records[dicom], stop_before_pixels=True)
        for name, value in zip(BIGQUERY_DICOM_COLUMNS, values, strict=True):
            element = ds[name].value
            expected = "\\".join(map(str, element)) if ds[name].VM > 1 else str(element)
            assert value == expected, (dicom, name)
    typed = query(warehouse, "DESCRIBE mimic_cxr.dicom_metadata")
    assert "ImageType" not in [name for name, *_ in typed]  # the typed view is unchanged


def test_metadata_carries_each_images_jpg_path(sources: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    build(sources, sources / "mimic-cxr", warehouse)
    records = read_record_list(sources / "mimic-cxr" / "cxr-record-list.csv.gz")
    expected = sorted(r["path"].removesuffix(".dcm") + ".jpg" for r in records)
    paths = query(warehouse, "SELECT path FROM mimic_cxr.metadata ORDER BY path")
    assert [path for (path,) in paths] == expected


def test_a_replaced_dicom_is_noticed_even_with_its_mtime_kept(
    sources: Path, tmp_path: Path
) -> None:
    cxr = tmp_path / "mimic-cxr"
    shutil.copytree(sources / "mimic-cxr", cxr)
    warehouse = tmp_path / "warehouse"
    build(sources, cxr, warehouse)
    target = cxr / read_record_list(cxr / "cxr-record-list.csv.gz")[0]["path"]
    dicom = target.name.removesuffix(".dcm")
    before = query(
        warehouse,
        f"SELECT XRayTubeCurrent FROM mimic_cxr.dicom_metadata_string WHERE dicom = '{dicom}'",
    )
    ds = dcmread(target)
    ds.XRayTubeCurrent = "1" + str(ds.XRayTubeCurrent)[1:]  # 200-399 to 1xx: the same size
    assert [(str(ds.XRayTubeCurrent),)] != before
    replacement = tmp_path / "replacement.dcm"
    ds.save_as(replacement)
    assert replacement.stat().st_size == target.stat().st_size
    subprocess.run(["touch", "-r", str(target), str(replacement)], check=True)
    subprocess.run(["cp", "-p", str(replacement), str(target)], check=True)  # mtime kept
    assert target.stat().st_mtime_ns == replacement.stat().st_mtime_ns

    again = build(sources, cxr, warehouse)
    assert "1 files read" in again.stdout, again.stdout
    after = query(
        warehouse,
        f"SELECT XRayTubeCurrent FROM mimic_cxr.dicom_metadata_string WHERE dicom = '{dicom}'",
    )
    assert after == [(str(ds.XRayTubeCurrent),)]
    unchanged = build(sources, cxr, warehouse)
    assert "nothing to do" in unchanged.stdout
