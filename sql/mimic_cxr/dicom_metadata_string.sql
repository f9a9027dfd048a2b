-- mimic_cxr.dicom_metadata_string: the headers as BigQuery's table of that name gives
-- them: `dicom` (the dicom_id), then one text column per top-level attribute keyword found
-- in the headers (standard attributes; private tags are left out), in tag order, as written
-- in the header: padding removed; several values joined by a backslash, as DICOM writes
-- them (ImageType 'ORIGINAL\PRIMARY', PatientOrientation 'L\F'); binary numbers such as
-- Rows in decimal; a sequence as its number of items; binary data (OB, OW) NULL. NULL where
-- a header lacks the attribute, '' where it is present but empty. Always present, found or
-- not: ImageType, TableType, DistanceSourceToDetector, DistanceSourceToPatient, Exposure,
-- ExposureTime, XRayTubeCurrent, FieldOfView*, BurnedInAnnotation, RequestingService,
-- DetectorPrimaryAngle, DetectorElementPhysicalSize, StudyID and the attributes of
-- mimic_cxr.dicom_metadata, which has the rows of this view with their values typed.
--   *_CodeMeaning      CodeMeaning of the first item of that code sequence
--   TransferSyntaxUID  from the file meta
--   tags               with --dicom-all-tags: every element of the header, JSON by keyword
SELECT
    dicom_id AS dicom,
{%- for keyword, tag in parquet_keys('mimic_cxr/dicom_metadata', 'cxr_sql_dicom_strings') | dictsort(by='value') %}
    header_strings['{{ keyword }}'] AS "{{ keyword }}",
{%- endfor %}
    header_text.ProcedureCodeSequence_CodeMeaning AS ProcedureCodeSequence_CodeMeaning,
    header_text.ViewCodeSequence_CodeMeaning AS ViewCodeSequence_CodeMeaning,
    header_text.PatientOrientationCodeSequence_CodeMeaning AS PatientOrientationCodeSequence_CodeMeaning,
    header_text.TransferSyntaxUID AS TransferSyntaxUID,
    tags
FROM {{ parquet('mimic_cxr/dicom_metadata') }}
WHERE NOT rejected
