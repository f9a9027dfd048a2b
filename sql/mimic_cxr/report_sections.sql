-- mimic_cxr.report_sections: one row per section of a report, in text order.
--   ordinal      0, 1, ... within the report
--   header       the header as written (IMPRESSON, Findings, ...); NULL for preamble,
--                full report and last_paragraph
--   section      normalised name: impression, findings, comparison, indication, history,
--                technique, examination, addendum, preamble, last_paragraph, ...
--   text         the section without surrounding white space:
--                substr(reports.text, char_start + 1, char_end - char_start) gives it back
--   in_addendum  the section belongs to an addendum above the original report (a wet
--                read above it is no addendum)
--   header_note  a wet read's reader and time as written after `WET READ:` on its line;
--                NULL for other sections
SELECT
    subject_id, study_id, ordinal, header, section, text, char_start, char_end, in_addendum,
    header_note
FROM {{ parquet('mimic_cxr/report_sections') }}
