"""One-line meanings of the MIMIC tables and columns the data dictionary lists.

Views written in sql/ document themselves in their header comments; these are
for the tables passed through from the sources (MIMIC-IV modules, label
columns) and for the columns every schema shares.
"""

from __future__ import annotations

import re

TABLES = {
    "patients": "one row per patient: sex, age and year anchors, date of death",
    "admissions": "one row per hospital admission, with its ED registration if any",
    "transfers": "every move of a patient between care units (ED, admit, transfer, discharge)",
    "icustays": "one row per ICU stay, built from consecutive ICU transfers",
    "edstays": "one row per emergency department stay (MIMIC-IV-ED)",
    "radiology": "free-text radiology reports (MIMIC-IV-Note)",
    "radiology_detail": "coded details of the radiology reports: exam codes and names, CPT",
    "diagnoses_icd": "billed ICD-9 and ICD-10 diagnoses of each admission",
    "d_icd_diagnoses": "titles of the ICD diagnosis codes",
    "procedures_icd": "billed ICD procedures of each admission",
    "d_icd_procedures": "titles of the ICD procedure codes",
    "labevents": "laboratory measurements",
    "d_labitems": "definitions of the laboratory items",
    "services": "the services a patient was under during an admission",
    "omr": "outpatient measurements: blood pressure, weight, height, BMI",
    "_metadata": "what this schema was built from: dataset, version, sources, build, code",
    "_rejects": "input rows and files that failed validation, with file, line and reason",
}

COLUMNS = {
    "subject_id": "patient identifier, shared by MIMIC-IV and MIMIC-CXR",
    "hadm_id": "hospital admission identifier",
    "stay_id": "ED or ICU stay identifier",
    "transfer_id": "transfer identifier",
    "study_id": "MIMIC-CXR study (report) identifier",
    "dicom_id": "MIMIC-CXR image identifier",
    "gender": "sex recorded for the patient",
    "anchor_age": "age in the anchor year",
    "anchor_year": "shifted year in which the patient was anchor_age",
    "anchor_year_group": "the real three-year span the anchor year falls in",
    "dod": "date of death (shifted)",
    "admittime": "time of admission",
    "dischtime": "time of discharge",
    "deathtime": "time of in-hospital death",
    "admission_type": "type of admission (urgency, observation, elective)",
    "admit_provider_id": "provider who admitted the patient",
    "admission_location": "where the patient came from",
    "discharge_location": "where the patient went",
    "insurance": "insurance category",
    "language": "language the patient speaks",
    "marital_status": "marital status",
    "race": "race or ethnicity as recorded",
    "edregtime": "time the patient registered in the ED before this admission",
    "edouttime": "time the patient left the ED for this admission",
    "hospital_expire_flag": "1 if the patient died during the admission",
    "eventtype": "ED, admit, transfer or discharge",
    "careunit": "care unit of the transfer",
    "intime": "start of the stay or transfer",
    "outtime": "end of the stay or transfer",
    "first_careunit": "first care unit of the ICU stay",
    "last_careunit": "last care unit of the ICU stay",
    "los": "length of stay in days",
    "arrival_transport": "how the patient arrived at the ED",
    "disposition": "where the patient went after the ED",
    "note_id": "note identifier: subject, note type and sequence",
    "note_type": "RR for radiology reports, AR for their addenda",
    "note_seq": "sequence of the note for the patient",
    "charttime": "time the observation or note refers to",
    "storetime": "time it was stored",
    "text": "free text",
    "field_name": "name of the coded field",
    "field_value": "value of the coded field",
    "field_ordinal": "order of values of one field",
    "seq_num": "priority order of the code",
    "icd_code": "ICD code",
    "icd_version": "ICD version: 9 or 10",
    "long_title": "title of the code",
    "itemid": "item identifier",
    "value": "value as recorded",
    "valuenum": "value as a number",
    "valueuom": "unit of measurement",
    "attribute": "what the value describes",
    "stage": "build stage that found the problem",
    "file": "the input file (or zip!member)",
    "line": "line of the input file, where known",
    "reason": "what was wrong",
    "action": "dropped (not in the tables), kept (in, with a note) or replaced",
    "path": "path of the file inside the MIMIC-CXR release",
    "split": "train, validate or test",
    # MIMIC-CXR-JPG metadata and DICOM headers
    "PerformedProcedureStepDescription": "the procedure performed, as the modality named it",
    "ViewPosition": "view of the image: AP, PA, LATERAL, LL, ...; empty where not recorded",
    "Rows": "image height in pixels",
    "Columns": "image width in pixels",
    "StudyDate": "study date as the file writes it: an integer yyyymmdd",
    "StudyTime": "study time as the file writes it: hhmmss.fff as a float, leading zeros lost",
    "ProcedureCodeSequence_CodeMeaning": "meaning of the procedure code",
    "ViewCodeSequence_CodeMeaning": "meaning of the view code (postero-anterior, lateral, ...)",
    "PatientOrientationCodeSequence_CodeMeaning": "patient orientation: Erect or Recumbent",
    "study_date": "StudyDate as a DATE",
    "study_time": "StudyTime padded to six digits and parsed, milliseconds kept",
    "study_datetime": "when the study (or image) was taken: StudyDate + padded StudyTime",
    # DICOM headers (dicom_metadata typed, dicom_metadata_string as text)
    "dicom": "the image's dicom_id (BigQuery's name in dicom_metadata_string)",
    "PatientID": "PatientID of the header: the subject_id in MIMIC-CXR",
    "StudyInstanceUID": "DICOM UID of the study",
    "SeriesInstanceUID": "DICOM UID of the series",
    "SOPInstanceUID": "DICOM UID of the image",
    "SOPClassUID": "DICOM storage class of the image (CR, DX, ...)",
    "AcquisitionDate": "date the image was acquired",
    "AcquisitionTime": "time the image was acquired",
    "AcquisitionDateTime": "date and time the image was acquired, in one attribute",
    "acquisition_datetime_source": "which header attributes acquisition_datetime came from",
    "Modality": "CR or DX",
    "PatientOrientation": "directions of the image's rows and columns (A, P, L, R, F, H)",
    "PixelSpacing": "millimetres between pixel centres, rows then columns",
    "ImagerPixelSpacing": "pixel spacing at the detector",
    "BodyPartExamined": "body part, as the modality recorded it",
    "PhotometricInterpretation": "how pixel values map to brightness (MONOCHROME1/2)",
    "BitsStored": "bits per pixel value",
    "Manufacturer": "maker of the equipment",
    "ManufacturerModelName": "model of the equipment",
    "StudyDescription": "description of the study",
    "SeriesDescription": "description of the series",
    # report sections
    "char_start": "offset of the section's first character in the report text (from 0)",
    "char_end": "offset just past the section's last character",
    "impression": "the impression section (the last one of the original report)",
    "findings": "the findings section",
    "last_paragraph": "the report's last paragraphs where it has neither findings nor impression",
    "comparison": "the comparison section",
    "indication": "the indication section (reason for the exam)",
    "history": "the clinical history section",
    "technique": "the technique section",
    "examination": "the examination section (the exam performed)",
    "addendum": "the addenda above the original report, joined",
    "wet_read": "the wet read (preliminary read) above the report, without its reader and time",
    "wet_read_note": "the wet read's reader and time, as written after WET READ: on its line",
    "conclusion": "the first present of impression, findings, last_paragraph, comparison",
    "has_last_paragraph": "a last_paragraph section was cut from the report",
    "problem": "what is wrong with the study's report",
    # linking
    "rule": "the rule that linked the study, or none",
    "n_candidates": "how many windows of this kind contained the study (0: none)",
    "window_start": "start of the window that linked the study",
    "window_end": "end of the window that linked the study",
    "hours_from_start": "study_datetime minus the window's start, in hours",
    "hours_to_end": "the window's end minus study_datetime, in hours",
    "hours_from_end": "study_datetime minus the window's end, in hours (positive: after it)",
    "kind": "admission, ed_before_admission, edstay, icustay or transfer",
    "last_image_datetime": "time of the study's last image",
    "n_images": "images of the study with a time",
    "spread_hours": "hours between the study's first and last image",
    "n_studies": "studies of the subject",
    "prev_study_id": "the subject's previous study by time",
    "prev_study_datetime": "when the previous study was taken",
    "next_study_id": "the subject's next study by time",
    "next_study_datetime": "when the next study was taken",
    "time_tie": "another study of the subject was taken at the same time",
}

_LABEL_NAMES = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Enlarged_Cardiomediastinum",
    "Fracture",
    "Lung_Lesion",
    "Lung_Opacity",
    "No_Finding",
    "Pleural_Effusion",
    "Pleural_Other",
    "Pneumonia",
    "Pneumothorax",
    "Support_Devices",
)


def column_meaning(table: str, column: str) -> str:
    """The meaning of a column without a documented one: known name, label, or pattern."""
    if column in COLUMNS:
        return COLUMNS[column]
    if table in ("chexpert", "negbio", "test_set_labeled") and column != "study_id":
        label = column.replace("_", " ")
        kind = "labeler" if column in _LABEL_NAMES else "radiologist"
        return f"{label}, as the {kind} read the report: 1 positive, 0 negative, -1 uncertain"
    if table == "dicom_metadata_string":
        from pydicom.datadict import dictionary_description, tag_for_keyword

        tag = tag_for_keyword(column)
        if tag is not None:
            return f"DICOM attribute {dictionary_description(tag)}, as written in the header"
    if column.endswith("_id"):
        return f"{column.removesuffix('_id').replace('_', ' ')} identifier"
    if re.search(r"time$|date$", column):
        return f"{column} as recorded in the source"
    return f"{column.replace('_', ' ')}, as in the source file"
