-- mimic_cxr.reports: one row per report file (files/pNN/p<subject>/s<study>.txt).
--   text          the whole report as written (undecodable bytes replaced by U+FFFD)
--   n_bytes       size of the file
--   n_sections    rows of this report in mimic_cxr.report_sections
--   has_addendum  an addendum sits above an underscore line at the top
--   empty         the file holds nothing but white space
--   n_replaced    undecodable byte sequences replaced while reading
SELECT subject_id, study_id, path, text, n_bytes, n_sections, has_addendum, empty, n_replaced
FROM {{ parquet('mimic_cxr/reports') }}
