-- mimic_cxr.dicom_metadata_string: the headers as BigQuery's table of that name gives
-- them: `dicom` (the dicom_id), then each attribute by DICOM keyword as text, as written in
-- the header (padding removed; several values joined by a backslash, as DICOM writes them:
-- PatientOrientation 'L\F'; binary numbers such as Rows in decimal). NULL where the header
-- lacks the attribute, '' where it is present but empty. The rows are those of
-- mimic_cxr.dicom_metadata, which has the same values typed.
--   *_CodeMeaning      CodeMeaning of the first item of that code sequence
--   TransferSyntaxUID  from the file meta
--   tags               with --dicom-all-tags: every element of the header, JSON by keyword
SELECT
    dicom_id AS dicom,
    header_text.PatientID AS PatientID,
    header_text.StudyInstanceUID AS StudyInstanceUID,
    header_text.SeriesInstanceUID AS SeriesInstanceUID,
    header_text.SOPInstanceUID AS SOPInstanceUID,
    header_text.SOPClassUID AS SOPClassUID,
    header_text.StudyDate AS StudyDate,
    header_text.StudyTime AS StudyTime,
    header_text.AcquisitionDate AS AcquisitionDate,
    header_text.AcquisitionTime AS AcquisitionTime,
    header_text.AcquisitionDateTime AS AcquisitionDateTime,
    header_text.Modality AS Modality,
    header_text.ViewPosition AS ViewPosition,
    header_text.PatientOrientation AS PatientOrientation,
    header_text.BodyPartExamined AS BodyPartExamined,
    header_text.PhotometricInterpretation AS PhotometricInterpretation,
    header_text."Rows" AS "Rows",
    header_text."Columns" AS "Columns",
    header_text.BitsStored AS BitsStored,
    header_text.PixelSpacing AS PixelSpacing,
    header_text.ImagerPixelSpacing AS ImagerPixelSpacing,
    header_text.Manufacturer AS Manufacturer,
    header_text.ManufacturerModelName AS ManufacturerModelName,
    header_text.StudyDescription AS StudyDescription,
    header_text.SeriesDescription AS SeriesDescription,
    header_text.PerformedProcedureStepDescription AS PerformedProcedureStepDescription,
    header_text.ProcedureCodeSequence_CodeMeaning AS ProcedureCodeSequence_CodeMeaning,
    header_text.ViewCodeSequence_CodeMeaning AS ViewCodeSequence_CodeMeaning,
    header_text.PatientOrientationCodeSequence_CodeMeaning AS PatientOrientationCodeSequence_CodeMeaning,
    header_text.TransferSyntaxUID AS TransferSyntaxUID,
    tags
FROM {{ parquet('mimic_cxr/dicom_metadata') }}
WHERE NOT rejected
