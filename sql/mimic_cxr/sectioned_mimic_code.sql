-- mimic_cxr.sectioned_mimic_code: mimic-code's mimic_cxr_sectioned.csv, reproduced exactly
-- (MIT-LCP mimic-code, mimic-iv-cxr/txt/create_section_files.py): for comparison with
-- published work; the MIMIC-CXR-JPG labels were computed from this file.
--   study           s<study_id>
--   impression, findings, last_paragraph, comparison  the last section of that name as
--                   mimic-code cuts and names it, stripped; '' where it writes an empty
--                   string, NULL where it finds none
-- Rows in its order (group, subject, then study). The studies its per-study rules
-- (custom_section_names, custom_indices) special-case are left out, as it leaves them out.
-- `cxr-sql export sectioned-csv` writes this view as the CSV itself.
SELECT
    's' || CAST(study_id AS VARCHAR) AS study,
    impression,
    findings,
    last_paragraph,
    comparison
FROM {{ parquet('mimic_cxr/sectioned_mimic_code') }}
WHERE mimic_code_rule IS NULL
ORDER BY subject_id, study_id
