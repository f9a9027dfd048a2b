"""DICOM headers: typed rows from real and generated files, resumable, never stopped by one file.

Real files nobody here wrote (pydicom's and pydicom-data's test files, highdicom's
dx_image.dcm) are placed in a MIMIC-style tree at test time; their typed values
are checked against pydicom's own reading of the same headers.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import warnings
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from pydicom import dcmread
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.datadict import tag_for_keyword
from pydicom.multival import MultiValue

from cxr_sql.catalog import SQL_DIR, render
from cxr_sql.ingest import dicom_headers
from cxr_sql.ingest.dicom_headers import (
    TEXT_FIELDS,
    build_dicom_metadata,
    has_images,
    images_fingerprint,
    read_image,
)
from cxr_sql.ingest.dicom_values import parse_date, parse_datetime, parse_time
from cxr_sql.mimic_ids import image_path
from cxr_sql.synth.dicom_writer import dicom_dataset
from cxr_sql.synth.imaging import Image
from tests.helpers import BIGQUERY_DICOM_COLUMNS, REPO, synth

DX_IMAGE = REPO.parent / "shared" / "data" / "dicom" / "dx_image.dcm"  # highdicom's, MIT
RG1 = Path(get_testdata_file("RG1_UNCR.dcm"))
JAPANESE = Path(get_charset_files("chrJapMulti.dcm")[0])
KOREAN = Path(get_charset_files("chrKoreanMulti.dcm")[0])
REAL = {"rg1": RG1, "dx": DX_IMAGE, "japanese": JAPANESE, "korean": KOREAN}
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}


# ---------------------------------------------------------------- helpers


def dicom_id(n: int) -> str:
    return f"{n:08x}-0000abcd-0000abcd-0000abcd-0000abcd"


def place(root: Path, files: dict[str, bytes], gzipped: set[str] = frozenset()) -> pl.DataFrame:
    """Write each file at the record-list path of its own subject and study (as .dcm.gz
    when named in `gzipped`); the record list for them, with a `name` column."""
    rows = []
    for n, (name, data) in enumerate(files.items()):
        subject, study = 10_000_100 + n, 50_000_100 + n
        path = image_path(subject, study, dicom_id(n))
        target = root / (path + ".gz" if name in gzipped else path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(data, 1) if name in gzipped else data)
        rows.append((subject, study, dicom_id(n), path, name))
    return pl.DataFrame(
        rows,
        schema={
            "subject_id": pl.Int32,
            "study_id": pl.Int32,
            "dicom_id": pl.String,
            "path": pl.String,
            "name": pl.String,
        },
        orient="row",
    )


def table(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "dicom_metadata" / "*.parquet")


def by_name(out: Path, listed: pl.DataFrame) -> dict[str, dict]:
    rows = table(out).join(listed.select("dicom_id", "name"), on="dicom_id")
    return {row["name"]: row for row in rows.to_dicts()}


def reasons(result, listed: pl.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """Rejects by file name in `listed`: (action, reason)."""
    names = dict(zip(listed["dicom_id"], listed["name"], strict=True))
    found: dict[str, list[tuple[str, str]]] = {}
    for reject in result.rejects:
        key = names[Path(reject.file).name.split(".")[0]]
        found.setdefault(key, []).append((reject.action, reject.reason))
    return found


def header_text(ds, keyword: str) -> str | None:
    """pydicom's reading of one attribute, as text."""
    if keyword not in ds:
        return None
    value = ds[keyword].value
    if isinstance(value, MultiValue):
        return "\\".join(str(v) for v in value)
    return "" if value is None else str(value)


def synthetic_dicom(**values) -> bytes:
    """A generated chest DICOM with some header values replaced (None deletes one)."""
    image = Image(dicom_id(999), 0, "PA", "postero-anterior", "Erect", "CHEST (PA)", "DX", 8, 8)
    ds = dicom_dataset(image, 10_000_100, 50_000_100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # odd values on purpose
        for keyword, value in values.items():
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def without_file_meta(data: bytes) -> bytes:
    """The dataset alone, as old files are: no preamble, no DICM, no file meta."""
    assert data[128:132] == b"DICM" and data[132:136] == b"\x02\x00\x00\x00"
    group_length = int.from_bytes(data[140:144], "little")  # (0002,0000) UL, explicit VR
    return data[144 + group_length :]


class CountingFile(io.FileIO):
    """A file that counts the bytes read from the operating system."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), "r")
        self.count = 0

    def readinto(self, buffer) -> int | None:
        n = super().readinto(buffer)
        self.count += n or 0
        return n

    def readall(self) -> bytes:
        data = super().readall()
        self.count += len(data)
        return data


def render_view(view: str, parquet: Path) -> str:
    """The SELECT of sql/mimic_cxr/<view>.sql as the catalog renders it over the
    Parquet folder `parquet` (which holds mimic_cxr/<table>/*.parquet)."""
    return render(SQL_DIR / "mimic_cxr" / f"{view}.sql", parquet)


def jpg_study_time(us: pl.Expr) -> pl.Expr:
    """hhmmss.ffffff as the float of the JPG metadata, from microseconds since midnight."""
    hhmmss = (us // 3_600_000_000) * 10_000 + (us // 60_000_000 % 60) * 100 + us // 1_000_000 % 60
    return hhmmss + (us % 1_000_000) / 1e6


@pytest.fixture(scope="module")
def dcm_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth(tmp_path_factory.mktemp("dcm"), "tiny", dicom=True) / "mimic-cxr"


@pytest.fixture(scope="module")
def gz_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth(tmp_path_factory.mktemp("gz"), "tiny", dicom_gz=True) / "mimic-cxr"


def record_list(tree: Path) -> pl.DataFrame:
    return pl.read_csv(
        tree / "cxr-record-list.csv.gz",
        schema_overrides={"subject_id": pl.Int32, "study_id": pl.Int32},
    )


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20040826", date(2004, 8, 26)),
        ("2004.08.26", date(2004, 8, 26)),
        ("20040826 ", date(2004, 8, 26)),
        (" 2004-08-26\x00", date(2004, 8, 26)),
        ("", None),
        ("   ", None),
    ],
)
def test_dates_in_every_form_found(text: str, expected: date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("104702.826", time(10, 47, 2, 826000)),
        ("104702", time(10, 47, 2)),
        ("1047", time(10, 47)),
        ("10", time(10)),
        ("10:47:02.5", time(10, 47, 2, 500000)),
        ("104702.1234567", time(10, 47, 2, 123456)),
        ("004630.042 ", time(0, 46, 30, 42000)),
        ("", None),
    ],
)
def test_times_keep_fractions_of_any_precision(text: str, expected: time | None) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["2004.13.26", "20040230", "2004082", "26/08/2004", "today"])
def test_odd_dates_raise_a_reason_not_a_crash(text: str) -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_date(text)


@pytest.mark.parametrize("text", ["80556.875", "240000", "1060", "10h47", "10:47:02,5"])
def test_odd_times_raise_a_reason_not_a_crash(text: str) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_time(text)


def test_datetimes() -> None:
    assert parse_datetime("20200125105000.115+0100") == datetime(2020, 1, 25, 10, 50, 0, 115000)
    assert parse_datetime("202001251050") == datetime(2020, 1, 25, 10, 50)
    assert parse_datetime("20200125") is None  # a day, not a point in time
    with pytest.raises(ValueError):
        parse_datetime("2020-01-25T10:50")


# ---------------------------------------------------------------- real files


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory):
    """The real chest DICOMs in a MIMIC-style tree (RG1 also gzipped), read with all tags."""
    root = tmp_path_factory.mktemp("real") / "mimic-cxr"
    files = {name: path.read_bytes() for name, path in REAL.items()}
    files["rg1_gz"] = files["rg1"]
    listed = place(root, files, gzipped={"rg1_gz"})
    out = root.parent / "out"
    result = build_dicom_metadata(root, out, 1, record_list=listed, all_tags=True)
    return root, listed, out, result


def test_real_headers_give_the_values_pydicom_reads(real) -> None:
    _, listed, out, result = real
    rows = by_name(out, listed)
    assert result.n_images == result.n_read == len(REAL) + 1
    for name, path in REAL.items():
        ds = dcmread(path, stop_before_pixels=True)
        written = rows[name]["header_text"]
        for keyword in TEXT_FIELDS[: TEXT_FIELDS.index("PerformedProcedureStepDescription") + 1]:
            assert written[keyword] == header_text(ds, keyword), (name, keyword)
        assert written["TransferSyntaxUID"] == ds.file_meta.TransferSyntaxUID
        assert rows[name]["Rows"] == ds.Rows and rows[name]["Columns"] == ds.Columns
        assert rows[name]["file_size"] == path.stat().st_size
        assert rows[name]["subject_id"] is not None and rows[name]["dicom_id"] in listed["dicom_id"]


def pydicom_strings(path: Path) -> dict[str, str | None]:
    """Every standard top-level attribute as pydicom reads it, as text: several values
    joined by a backslash, a sequence as its number of items, binary data None."""
    strings: dict[str, str | None] = {}
    for element in dcmread(path, stop_before_pixels=True):
        if not element.keyword or element.tag.is_private or element.tag.element == 0:
            continue
        value = element.value
        if element.VR == "SQ":
            strings[element.keyword] = str(len(value))
        elif element.VR in BINARY_VRS:
            strings[element.keyword] = None
        elif isinstance(value, MultiValue):
            strings[element.keyword] = "\\".join(str(v) for v in value)
        else:
            strings[element.keyword] = "" if value is None else str(value)
    return strings


def test_every_top_level_attribute_as_text_as_pydicom_reads_it(real) -> None:
    _, listed, out, _ = real
    rows = by_name(out, listed)
    for name, path in REAL.items():
        expected = pydicom_strings(path)
        written = dict(rows[name]["header_strings"])
        assert written == expected, name
    assert dict(rows["rg1_gz"]["header_strings"]) == dict(rows["rg1"]["header_strings"])
    rg1 = dict(rows["rg1"]["header_strings"])
    assert rg1["ImageType"] == "DERIVED\\PRIMARY"  # multi-valued: DICOM's backslash
    assert {"DistanceSourceToDetector", "ExposureTime", "Exposure", "StudyID"} <= rg1.keys()


def test_rg1_and_dx_image_typed(real) -> None:
    _, listed, out, _ = real
    rows = by_name(out, listed)
    rg1, dx = rows["rg1"], rows["dx"]
    assert (rg1["StudyDate"], rg1["StudyTime"]) == (date(2004, 8, 26), time(18, 50, 59))
    assert rg1["acquisition_datetime"] == datetime(2004, 8, 26, 18, 50, 59)
    assert rg1["acquisition_datetime_source"] == "StudyDate+StudyTime"  # RG1 has no Acquisition*
    assert (rg1["Modality"], rg1["ViewPosition"], rg1["BodyPartExamined"]) == ("CR", "PA", "CHEST")
    assert (rg1["Rows"], rg1["Columns"], rg1["PatientOrientation"]) == (1955, 1841, ["L", "F"])
    assert rg1["PhotometricInterpretation"] == "MONOCHROME1"
    assert rg1["Manufacturer"] == "Philips Medical Systems"
    assert rg1["transfer_syntax_uid"] == "1.2.840.10008.1.2.1" and not rg1["gzipped"]
    assert (dx["StudyDate"], dx["StudyTime"]) == (date(2020, 1, 25), time(10, 47, 2, 826000))
    assert dx["acquisition_datetime"] == datetime(2020, 1, 25, 10, 50, 0, 115000)
    assert dx["acquisition_datetime_source"] == "AcquisitionDate+AcquisitionTime"
    assert (dx["Modality"], dx["ViewPosition"], dx["Rows"], dx["Columns"]) == ("DX", None, 169, 211)
    assert dx["ImagerPixelSpacing"] == [1.2, 1.201199999999]
    assert dx["PerformedProcedureStepDescription"] is None  # present but empty
    assert dx["header_text"]["PerformedProcedureStepDescription"] == ""
    assert dx["header_text"]["ViewPosition"] is None  # absent


def test_gzipped_rg1_gives_the_same_row(real) -> None:
    _, listed, out, _ = real
    rows = by_name(out, listed)
    plain, packed = rows["rg1"], rows["rg1_gz"]
    assert packed["gzipped"] and packed["path"].endswith(".dcm.gz")
    assert packed["file_size"] < plain["file_size"]
    differ = {"dicom_id", "subject_id", "study_id", "path", "file_size", "gzipped"}
    differ |= {"file_mtime_ns", "file_ctime_ns", "file_inode", "problems", "name"}
    assert {k: v for k, v in plain.items() if k not in differ} == {
        k: v for k, v in packed.items() if k not in differ
    }


def test_all_tags_decode_character_sets_and_keep_sequences(real) -> None:
    _, listed, out, _ = real
    rows = by_name(out, listed)
    japanese = json.loads(rows["japanese"]["tags"])
    assert japanese["PatientName"] == "やまだ^たろう"
    assert japanese["OtherPatientNames"] == ["やまだ^たろう", "やまだ^たろう"]
    assert json.loads(rows["korean"]["tags"])["OperatorsName"] == "김희중"
    dx = json.loads(rows["dx"]["tags"])
    assert dx["PerformedProtocolCodeSequence"][0]["CodeMeaning"] == "CANINE LATERAL THORAX 0-15cm"
    assert dx["FieldOfViewDimensions"] == [345, 432] and dx["Rows"] == 169
    assert "PixelData" not in dx and "00190010" in japanese  # private creator by its tag


def test_real_files_disagreeing_with_the_path_are_kept_with_a_reject(real) -> None:
    _, listed, _, result = real
    found = reasons(result, listed)
    assert ("kept", "PatientID '9RG1' is not the subject_id of the path, 10000100") in found["rg1"]
    assert all(action == "kept" for entries in found.values() for action, _ in entries)


def test_header_is_read_without_the_pixel_data(tmp_path: Path) -> None:
    """Of the 7 MB RG1, well under 64 KiB is read, from .dcm and from .dcm.gz."""
    opened: list[CountingFile] = []

    def counting(path: Path):
        raw = CountingFile(path)
        opened.append(raw)
        return io.BufferedReader(raw)

    data = RG1.read_bytes()
    listed = place(tmp_path, {"rg1": data, "rg1_gz": data}, gzipped={"rg1_gz"})
    for path in listed["path"]:
        file = tmp_path / path if (tmp_path / path).exists() else tmp_path / f"{path}.gz"
        entry = (file.relative_to(tmp_path).as_posix(), file.stat().st_size, 0, 0, 0)
        opened.clear()
        row = read_image(tmp_path, entry, False, opener=counting)
        assert not row["rejected"] and row["header_bytes"] == 1596 and row["Rows"] == 1955
        read = sum(raw.count for raw in opened)
        assert 1596 < read < 64 * 1024, read
        assert not any("truncated" in p["reason"] for p in row["problems"])


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on odd files
def test_every_file_of_pydicoms_test_data_gives_a_row_or_a_reject() -> None:
    """Implicit and explicit VR, compressed, big endian, deflated, private tags, nested
    sequences, character sets: each file gives a row or a reject, never an exception."""
    files = sorted(Path(get_testdata_file("CT_small.dcm")).parent.glob("*.dcm"))
    files += [JAPANESE, KOREAN, DX_IMAGE]
    rows = 0
    for path in files:
        row = read_image(path.parent, (path.name, path.stat().st_size, 0, 0, 0), True)
        rows += not row["rejected"]
        if row["rejected"]:
            assert row["problems"], path.name
    assert len(files) > 80 and rows > len(files) * 3 // 4


# ---------------------------------------------------------------- generated trees


def test_dcm_and_gz_trees_give_the_same_rows_and_agree_with_the_jpg_metadata(
    dcm_tree: Path, gz_tree: Path, tmp_path: Path
) -> None:
    frames = {}
    for kind, tree in (("dcm", dcm_tree), ("gz", gz_tree)):
        listed = record_list(tree)
        result = build_dicom_metadata(tree, tmp_path / kind, 1, record_list=listed)
        assert result.rejects == [] and result.n_images == listed.height
        frames[kind] = table(tmp_path / kind).sort("dicom_id")
    differ = ["path", "file_size", "gzipped", "file_mtime_ns", "file_ctime_ns", "file_inode"]
    assert frames["dcm"].drop(differ).equals(frames["gz"].drop(differ))
    assert frames["gz"]["gzipped"].all() and not frames["dcm"]["gzipped"].any()

    jpg = pl.read_csv(dcm_tree.parent / "mimic-cxr-jpg" / "mimic-cxr-2.0.0-metadata.csv.gz")
    ours = frames["dcm"].select(
        "dicom_id",
        "subject_id",
        "study_id",
        "PerformedProcedureStepDescription",
        "ViewPosition",
        "Rows",
        "Columns",
        pl.col("StudyDate").dt.strftime("%Y%m%d").cast(pl.Int64),
        jpg_study_time(pl.col("StudyTime").cast(pl.Int64) // 1000).alias("StudyTime"),
        "ProcedureCodeSequence_CodeMeaning",
        "ViewCodeSequence_CodeMeaning",
        "PatientOrientationCodeSequence_CodeMeaning",
    )
    expected = jpg.select(ours.columns).with_columns(pl.col(pl.String).replace("", None))
    joined = expected.join(ours, on="dicom_id", suffix="_dicom")
    assert joined.height == jpg.height == ours.height
    for column in ours.columns[1:]:
        mine, theirs = joined[f"{column}_dicom"], joined[column]
        if column == "StudyTime":
            assert ((mine - theirs).abs() < 1e-6).all()
        else:
            assert mine.cast(theirs.dtype).equals(theirs, check_names=False), column


def test_walking_files_finds_the_same_images_as_the_record_list(
    gz_tree: Path, tmp_path: Path
) -> None:
    assert has_images(gz_tree)
    walked = build_dicom_metadata(gz_tree, tmp_path / "walk", 1)
    listed = build_dicom_metadata(gz_tree, tmp_path / "list", 1, record_list=record_list(gz_tree))
    assert walked.n_images == listed.n_images == record_list(gz_tree).height
    columns = ["dicom_id", "path", "StudyDate", "StudyTime", "ViewPosition"]
    assert (
        table(tmp_path / "walk")
        .select(columns)
        .sort("dicom_id")
        .equals(table(tmp_path / "list").select(columns).sort("dicom_id"))
    )


def test_walking_reads_a_dcm_beside_its_own_dcm_gz_once(tmp_path: Path) -> None:
    listed = place(tmp_path, {"dx": DX_IMAGE.read_bytes()})
    image = tmp_path / listed["path"][0]
    image.with_name(f"{image.name}.gz").write_bytes(gzip.compress(image.read_bytes()))
    result = build_dicom_metadata(tmp_path, tmp_path / "out", 1)
    assert (result.n_images, table(tmp_path / "out")["path"].to_list()) == (1, [listed["path"][0]])
    assert [r.reason for r in result.rejects if r.action == "dropped"] == [
        f"the same image as {image.name}, which was read instead"
    ]


def test_has_images_is_false_for_a_reports_only_tree(tmp_path: Path) -> None:
    report = tmp_path / "files" / "p10" / "p10000032" / "s50414267.txt"
    report.parent.mkdir(parents=True)
    report.write_text("FINAL REPORT\n")
    assert not has_images(tmp_path)
    assert not has_images(tmp_path / "nowhere")


def test_processes_give_the_rows_one_process_gives(
    dcm_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_dicom_metadata(dcm_tree, tmp_path / "one", 1)
    monkeypatch.setattr(dicom_headers, "MIN_FILES_FOR_PROCESSES", 0)
    monkeypatch.setattr(dicom_headers, "MIN_BATCH", 10)
    monkeypatch.setattr(dicom_headers, "MAX_BATCH", 10)
    result = build_dicom_metadata(dcm_tree, tmp_path / "two", 2)
    assert len(list((tmp_path / "two" / "dicom_metadata").glob("*.parquet"))) > 2
    drop = ["file_mtime_ns"]
    one, two = table(tmp_path / "one").sort("path"), table(tmp_path / "two").sort("path")
    assert result.n_read == one.height and one.drop(drop).equals(two.drop(drop))


# ---------------------------------------------------------------- resuming


def test_rerun_reads_only_new_and_changed_files(
    dcm_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "mimic-cxr"
    shutil.copytree(dcm_tree / "files", tree / "files", ignore=shutil.ignore_patterns("*.txt"))
    out = tmp_path / "out"
    monkeypatch.setattr(dicom_headers, "MIN_BATCH", 10)
    monkeypatch.setattr(dicom_headers, "MAX_BATCH", 10)
    images = sorted((tree / "files").rglob("*.dcm"))
    n = len(images)

    first = build_dicom_metadata(tree, out, 1)
    assert (first.n_read, first.n_reused, first.n_images) == (n, 0, n)
    fingerprint = images_fingerprint(tree)
    parts = {p.name: p.stat().st_mtime_ns for p in (out / "dicom_metadata").glob("*.parquet")}

    again = build_dicom_metadata(tree, out, 1)
    assert (again.n_read, again.n_reused, again.n_images) == (0, n, n)
    assert images_fingerprint(tree) == fingerprint
    assert parts == {
        p.name: p.stat().st_mtime_ns for p in (out / "dicom_metadata").glob("*.parquet")
    }

    stat = images[3].stat()
    os.utime(images[3], ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert images_fingerprint(tree) != fingerprint
    touched = build_dicom_metadata(tree, out, 1)
    assert (touched.n_read, touched.n_reused, touched.n_images) == (1, n - 1, n)
    assert table(out)["dicom_id"].is_unique().all()

    added = images[0].parent / f"{dicom_id(7)}.dcm"
    added.write_bytes(RG1.read_bytes())
    grown = build_dicom_metadata(tree, out, 1)
    assert (grown.n_read, grown.n_reused, grown.n_images) == (1, n, n + 1)

    images[5].unlink()
    shrunk = build_dicom_metadata(tree, out, 1)
    assert (shrunk.n_read, shrunk.n_reused, shrunk.n_images) == (0, n, n)
    assert images[5].stem not in set(table(out)["dicom_id"])

    # an interrupted run: one batch never written, one part left half-written
    lost = sorted((out / "dicom_metadata").glob("*.parquet"))[0]
    n_lost = pl.read_parquet(lost).height
    lost.rename(lost.with_name(f".{lost.name}.tmp"))
    resumed = build_dicom_metadata(tree, out, 1)
    assert (resumed.n_read, resumed.n_images) == (n_lost, n)
    assert not list((out / "dicom_metadata").glob(".*"))

    with_tags = build_dicom_metadata(tree, out, 1, all_tags=True)  # another mode: all again
    assert (with_tags.n_read, with_tags.n_reused) == (n, 0)
    assert table(out)["tags"].is_not_null().all()


def test_rerun_keeps_reporting_rejects_without_reading_again(tmp_path: Path) -> None:
    listed = place(tmp_path, {"text": b"not a DICOM file\n" * 4, "rg1": RG1.read_bytes()})
    first = build_dicom_metadata(tmp_path, tmp_path / "out", 1, record_list=listed)
    again = build_dicom_metadata(tmp_path, tmp_path / "out", 1, record_list=listed)
    assert (again.n_read, again.n_reused, again.n_images) == (0, 2, 1)
    assert sorted(first.rejects, key=str) == sorted(again.rejects, key=str)


# ---------------------------------------------------------------- bad input


def test_bad_files_give_a_row_or_a_reject_never_an_exception(tmp_path: Path) -> None:
    broken = {
        name: Path(get_testdata_file(f"{name}.dcm")).read_bytes()
        for name in (
            "MR_truncated",
            "no_meta",
            "image_dfl",
            "ExplVR_BigEnd",
            "badVR",
            "meta_missing_tsyntax",
        )
    }
    rg1 = RG1.read_bytes()
    files = {
        **broken,
        "text": b"Patient was seen. Not a DICOM file.\n" * 20,
        "empty": b"",
        "corrupt_gz": rg1[:5000],
        "gz_cut_in_header": DX_IMAGE.read_bytes(),
        "cut_in_header": rg1[:700],
        "cut_in_pixels": rg1[:100_000],
        "bare": without_file_meta(synthetic_dicom()),
        "missing": b"",
    }
    listed = place(tmp_path, files, gzipped={"corrupt_gz", "gz_cut_in_header"})

    def file_of(name: str) -> Path:
        return tmp_path / (listed.filter(pl.col("name") == name)["path"][0] + ".gz")

    file_of("corrupt_gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 400)
    file_of("gz_cut_in_header").write_bytes(file_of("gz_cut_in_header").read_bytes()[:300])
    file_of("missing").with_suffix("").unlink()

    result = build_dicom_metadata(tmp_path, tmp_path / "out", 1, record_list=listed)
    rows = by_name(tmp_path / "out", listed)
    found = reasons(result, listed)
    for name in files:
        dropped = [reason for action, reason in found.get(name, []) if action == "dropped"]
        kept_row = name in rows and not rows[name]["rejected"]
        assert kept_row != bool(dropped), (name, found.get(name))
    assert result.n_images == sum(not row["rejected"] for row in rows.values())

    assert found["missing"] == [("dropped", "image file not found")]
    for name in ("no_meta", "text"):
        assert found[name][0][1].startswith("not a DICOM file"), name
    assert found["empty"] == [("dropped", "empty file")]
    assert found["corrupt_gz"][0][1].startswith("corrupt gzip")
    assert ("kept", "truncated: pixel data ends at byte 9692 but the file has 9630") in found[
        "MR_truncated"
    ]
    assert any("truncated" in reason for _, reason in found["cut_in_pixels"])
    assert rows["cut_in_pixels"]["Rows"] == 1955
    assert any("ends inside the header" in reason for _, reason in found["cut_in_header"])
    assert rows["cut_in_header"]["StudyDate"] == date(2004, 8, 26)
    assert rows["cut_in_header"]["Rows"] is None
    big_endian = rows["ExplVR_BigEnd"]
    assert (big_endian["StudyDate"], big_endian["StudyTime"]) == (
        date(1997, 4, 24),
        time(14, 4, 38),
    )
    assert (big_endian["Rows"], big_endian["Columns"]) == (60, 80)
    assert rows["bare"]["Rows"] == 8 and rows["bare"]["transfer_syntax_uid"] is None
    assert ("kept", "no preamble and file meta: read as a bare dataset") in found["bare"]
    assert rows["image_dfl"]["transfer_syntax_uid"] == "1.2.840.10008.1.2.1.99"
    assert rows["image_dfl"]["Rows"] == 512


def test_odd_dates_and_times_give_a_value_or_null_and_a_reason(tmp_path: Path) -> None:
    cases = {
        "ok": (("20040826", "104702.826"), (date(2004, 8, 26), time(10, 47, 2, 826000))),
        "dots": (("2004.08.26", "10:47:02.5"), (date(2004, 8, 26), time(10, 47, 2, 500000))),
        "spaces": (("20040826 ", "1047 "), (date(2004, 8, 26), time(10, 47))),
        "seven_digits": (("", "104702.1234567"), (None, time(10, 47, 2, 123456))),
        "garbage": (("20041345", "noon"), (None, None)),
        "lost_zero": (("20040826", "80556.875"), (date(2004, 8, 26), None)),
        "absent": ((None, None), (None, None)),
    }
    files = {
        name: synthetic_dicom(StudyDate=day, StudyTime=clock, AcquisitionDate=None)
        for name, ((day, clock), _) in cases.items()
    }
    listed = place(tmp_path, files)
    result = build_dicom_metadata(tmp_path, tmp_path / "out", 1, record_list=listed)
    rows = by_name(tmp_path / "out", listed)
    found = reasons(result, listed)
    for name, (_, expected) in cases.items():
        assert (rows[name]["StudyDate"], rows[name]["StudyTime"]) == expected, name
        about_study = [r for _, r in found.get(name, []) if "Study" in r]
        assert len(about_study) == sum(value is None for value in expected), (name, about_study)
    # AcquisitionTime is left without its date: never paired with StudyDate
    assert rows["ok"]["acquisition_datetime"] == datetime(2004, 8, 26, 10, 47, 2, 826000)
    assert rows["ok"]["acquisition_datetime_source"] == "StudyDate+StudyTime"
    assert ("kept", "StudyDate '20041345': not a date (month must be in 1..12)") in found["garbage"]
    assert ("kept", "no StudyDate") in found["absent"]


# ---------------------------------------------------------------- views


def test_views_type_the_columns_and_hide_unreadable_files(tmp_path: Path) -> None:
    root, warehouse = tmp_path / "mimic-cxr", tmp_path / "warehouse"
    listed = place(root, {"dx": DX_IMAGE.read_bytes(), "text": b"not DICOM\n"})
    out = warehouse / "parquet" / "mimic_cxr"
    result = build_dicom_metadata(root, out, 1, record_list=listed, all_tags=True)
    assert result.n_images == 1 and table(out).height == 2  # the unreadable file's row is state
    con = duckdb.connect()
    for view in ("dicom_metadata", "dicom_metadata_string"):
        con.execute(f"CREATE VIEW {view} AS {render_view(view, warehouse / 'parquet')}")
    described = con.execute("SELECT column_name, column_type FROM (DESCRIBE dicom_metadata)")
    types = dict(described.fetchall())
    assert types["StudyDate"] == "DATE" and types["StudyTime"] == "TIME"
    assert types["study_datetime"] == types["acquisition_datetime"] == "TIMESTAMP"
    assert types["Rows"] == "INTEGER" and types["tags"] == "JSON"
    assert con.execute("SELECT count(*) FROM dicom_metadata").fetchone() == (1,)
    dx = listed.filter(pl.col("name") == "dx")["dicom_id"][0]
    assert con.execute(
        "SELECT study_datetime, tags->>'$.Manufacturer' FROM dicom_metadata WHERE dicom_id = ?",
        [dx],
    ).fetchone() == (datetime(2020, 1, 25, 10, 47, 2, 826000), "FUJIFILM Corporation")
    columns = [row[0] for row in con.execute("DESCRIBE dicom_metadata_string").fetchall()]
    derived = [name for name in TEXT_FIELDS if name.endswith("_CodeMeaning")]
    assert columns[0] == "dicom" and columns[-5:] == [*derived, "TransferSyntaxUID", "tags"]
    keywords = columns[1:-5]  # every standard top-level keyword of the header, in tag order
    in_header = {element.keyword for element in dcmread(DX_IMAGE, stop_before_pixels=True)}
    in_header -= {"", *(k for k in in_header if k.endswith("GroupLength"))}
    always = {*BIGQUERY_DICOM_COLUMNS, "TableType", *TEXT_FIELDS[:-4]}  # TableType: also selected
    assert set(keywords) == in_header | always
    assert keywords == sorted(keywords, key=tag_for_keyword)
    assert con.execute(
        'SELECT StudyTime, "Rows", PatientOrientation, ViewPosition, '
        "PerformedProcedureStepDescription FROM dicom_metadata_string WHERE dicom = ?",
        [dx],
    ).fetchone() == ("104702.826", "169", "L\\F", None, "")
