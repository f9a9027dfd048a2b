-- mimic_cxr_derived.qa_ambiguous_links: studies that fit more than one window of a kind;
-- the link views picked the one that started last, these are the studies to review.
SELECT subject_id, study_id, 'admission' AS kind, rule, n_candidates
FROM mimic_cxr_derived.study_admission WHERE n_candidates > 1
UNION ALL
SELECT subject_id, study_id, 'edstay', rule, n_candidates
FROM mimic_cxr_derived.study_edstay WHERE n_candidates > 1
UNION ALL
SELECT subject_id, study_id, 'icustay', rule, n_candidates
FROM mimic_cxr_derived.study_icustay WHERE n_candidates > 1
UNION ALL
SELECT subject_id, study_id, 'transfer', rule, n_candidates
FROM mimic_cxr_derived.study_transfer WHERE n_candidates > 1
