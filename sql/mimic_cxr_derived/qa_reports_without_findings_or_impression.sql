-- mimic_cxr_derived.qa_reports_without_findings_or_impression: reports with neither a
-- findings nor an impression section; their conclusion (if any) comes from
-- last_paragraph or comparison.
SELECT subject_id, study_id, last_paragraph IS NOT NULL AS has_last_paragraph, conclusion
FROM mimic_cxr.sectioned
WHERE findings IS NULL AND impression IS NULL
