-- mimic_cxr.record_list: one row per DICOM image, as cxr-record-list.csv.gz.
-- Rows that failed validation are in mimic_cxr._rejects, not here.
SELECT subject_id, study_id, dicom_id, path
FROM {{ parquet('mimic_cxr/record_list') }}
