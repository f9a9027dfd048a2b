-- mimic_cxr_derived.qa_studies_without_report: studies of the study list whose report
-- file is missing, empty, or gave no section.
SELECT
    s.subject_id,
    s.study_id,
    CASE
        WHEN r.study_id IS NULL THEN 'no report file'
        WHEN r.empty THEN 'empty report'
        ELSE 'no sections'
    END AS problem
FROM mimic_cxr.study_list AS s
LEFT JOIN mimic_cxr.reports AS r USING (study_id)
WHERE r.study_id IS NULL OR r.empty OR r.n_sections = 0
