"""A small but complete DICOM file per synthetic image, written with pydicom."""

from __future__ import annotations

import gzip
import io
import time

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from cxr_sql.synth.imaging import Image

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
VIEW_CODES = {
    "postero-anterior": "R-10214",
    "antero-posterior": "R-10206",
    "lateral": "R-10232",
    "left lateral": "R-10236",
}
ORIENTATION_CODES = {"Erect": "F-10440", "Recumbent": "F-10450"}
PATIENT_ORIENTATION = {"PA": ["P", "L"], "AP": ["A", "R"], "LATERAL": ["A", "F"], "LL": ["A", "F"]}
PORTABLE_VIEWS = ("AP", "")  # taken at the bedside: a shorter source-to-detector distance


def _uid(kind: int, hex_digits: str) -> str:
    """A deterministic UID under the 2.25 (UUID-derived) root."""
    return f"2.25.{kind}{int(hex_digits.replace('-', ''), 16) % 10**30}"


def _code(value: str, meaning: str, scheme: str = "SRT") -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def dicom_dataset(image: Image, subject_id: int, study_id: int) -> Dataset:
    """The dataset of one image: header values of the JPG metadata, tiny pixel data."""
    sop_class = CR_IMAGE_STORAGE if image.modality == "CR" else DX_FOR_PRESENTATION
    sop_instance = _uid(1, image.dicom_id)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian

    when = time.gmtime(image.time_ms // 1000)
    date = time.strftime("%Y%m%d", when)
    clock = time.strftime("%H%M%S", when) + f".{image.time_ms % 1000:03d}"

    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    ds.StudyInstanceUID = f"2.25.2{study_id}{subject_id}"
    ds.SeriesInstanceUID = _uid(3, image.dicom_id)
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = clock
    ds.AccessionNumber = ""
    ds.Modality = image.modality
    ds.Manufacturer = "SYNTHETIC"
    ds.PatientName = "___"
    ds.PatientID = str(subject_id)
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyID = str(study_id)
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = image.view_position
    ds.PatientOrientation = PATIENT_ORIENTATION.get(image.view_position, "")
    _set_acquisition(ds, image)
    ds.PerformedProcedureStepDescription = image.procedure
    ds.ProcedureCodeSequence = [_code("71046", image.procedure, "C4")]
    ds.ViewCodeSequence = (
        [_code(VIEW_CODES[image.view_meaning], image.view_meaning)] if image.view_meaning else []
    )
    ds.PatientOrientationCodeSequence = (
        [_code(ORIENTATION_CODES[image.orientation_meaning], image.orientation_meaning)]
        if image.orientation_meaning
        else []
    )
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = image.rows
    ds.Columns = image.columns
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ramp = bytes((x * 7) & 0xFF for x in range(image.columns))
    row = b"".join(bytes((v, 0x01)) for v in ramp)
    ds.PixelData = row * image.rows
    return ds


def _set_acquisition(ds: Dataset, image: Image) -> None:
    """The x-ray technique attributes BigQuery users select, with values of the usual kinds:
    multi-valued (ImageType, FieldOfViewOrigin, DetectorElementPhysicalSize), decimal
    strings, integer strings, code strings; varied per image by its dicom_id."""
    spread = int(image.dicom_id[:8], 16)
    portable = image.view_position in PORTABLE_VIEWS
    ds.ImageType = ["DERIVED", "PRIMARY"] if spread % 5 == 0 else ["ORIGINAL", "PRIMARY"]
    ds.DistanceSourceToDetector = "1000" if portable else "1800"
    ds.DistanceSourceToPatient = f"{(900 if portable else 1650) + spread % 50}.5"
    ds.ExposureTime = str(5 + spread % 20)
    ds.XRayTubeCurrent = str(200 + spread % 200)
    ds.Exposure = str(1 + spread % 8)
    ds.ImagerPixelSpacing = ["0.139", "0.139"]
    ds.DetectorPrimaryAngle = "0"
    ds.DetectorElementPhysicalSize = ["0.139", "0.139"]
    ds.FieldOfViewOrigin = ["0", str(spread % 3 * 12)]
    ds.FieldOfViewRotation = "90" if spread % 7 == 0 else "0"
    ds.FieldOfViewHorizontalFlip = "YES" if spread % 11 == 0 else "NO"
    ds.BurnedInAnnotation = "NO"
    ds.RequestingService = "___"


def dicom_bytes(image: Image, subject_id: int, study_id: int, *, gzipped: bool) -> bytes:
    """The file's bytes, as .dcm or (gzip with no timestamp, so reproducible) .dcm.gz."""
    buffer = io.BytesIO()
    dicom_dataset(image, subject_id, study_id).save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    return gzip.compress(data, compresslevel=6, mtime=0) if gzipped else data
