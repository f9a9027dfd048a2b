-- mimic_cxr.split: the recommended train / validate / test split, one row per image.
SELECT dicom_id, study_id, subject_id, split
FROM {{ parquet('mimic_cxr/split') }}
