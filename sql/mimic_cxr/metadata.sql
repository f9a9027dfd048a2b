-- mimic_cxr.metadata: one row per JPG image, as mimic-cxr-2.0.0-metadata.csv.gz.
--   StudyDate, StudyTime  as in the file (and on BigQuery): an integer yyyymmdd and a
--                         float that lost its leading zeros (80556.875 is 08:05:56.875)
--   study_date, study_time, study_datetime
--                         the same, parsed after padding StudyTime to six digits,
--                         milliseconds kept; NULL (with a _rejects row) where unparseable
--   path                  the image's JPG file inside the MIMIC-CXR-JPG release:
--                         files/pNN/p<subject_id>/s<study_id>/<dicom_id>.jpg
SELECT
    dicom_id, subject_id, study_id,
    format('files/p{}/p{}/s{}/{}.jpg', left(subject_id::VARCHAR, 2), subject_id, study_id, dicom_id)
        AS path,
    PerformedProcedureStepDescription, ViewPosition,
    "Rows", "Columns", StudyDate, StudyTime, ProcedureCodeSequence_CodeMeaning,
    ViewCodeSequence_CodeMeaning, PatientOrientationCodeSequence_CodeMeaning,
    study_date, study_time::TIME AS study_time, study_datetime
FROM {{ parquet('mimic_cxr/metadata') }}
