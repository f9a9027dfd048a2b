-- mimic_cxr_derived.qa_subjects_missing_from_mimiciv: MIMIC-CXR subjects with no row in
-- mimiciv_hosp.patients (held out of MIMIC-IV since 2.1); their studies link to nothing.
SELECT s.subject_id, count(*) AS n_studies
FROM mimic_cxr.study_list AS s
WHERE NOT EXISTS (
    SELECT 1 FROM mimiciv_hosp.patients AS p WHERE p.subject_id = s.subject_id
)
GROUP BY s.subject_id
