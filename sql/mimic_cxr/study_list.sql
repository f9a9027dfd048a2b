-- mimic_cxr.study_list: one row per study (report), as cxr-study-list.csv.gz.
SELECT subject_id, study_id, path
FROM {{ parquet('mimic_cxr/study_list') }}
