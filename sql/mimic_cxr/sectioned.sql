-- mimic_cxr.sectioned: one row per report, one column per section: the table otherwise
-- rebuilt by hand as mimic_cxr_sectioned.csv (mimic-code's create_section_files.py).
-- Each column holds the last section of that name in the original report (addenda
-- only where the original has none); addendum joins every addendum section (a wet read
-- is no addendum); wet_read is the preliminary read, wet_read_note its reader and time.
-- conclusion is the first present of impression > findings > last_paragraph > comparison.
WITH ranked AS (
    SELECT
        study_id, section, text, in_addendum, header_note,
        row_number() OVER (
            PARTITION BY study_id, section ORDER BY in_addendum, ordinal DESC
        ) AS pick
    FROM mimic_cxr.report_sections
),
picked AS (
    SELECT
        study_id,
        max(text) FILTER (WHERE section = 'impression' AND pick = 1) AS impression,
        max(text) FILTER (WHERE section = 'findings' AND pick = 1) AS findings,
        max(text) FILTER (WHERE section = 'last_paragraph' AND pick = 1) AS last_paragraph,
        max(text) FILTER (WHERE section = 'comparison' AND pick = 1) AS comparison,
        max(text) FILTER (WHERE section = 'indication' AND pick = 1) AS indication,
        max(text) FILTER (WHERE section = 'history' AND pick = 1) AS history,
        max(text) FILTER (WHERE section = 'technique' AND pick = 1) AS technique,
        max(text) FILTER (WHERE section = 'examination' AND pick = 1) AS examination,
        max(text) FILTER (WHERE section = 'wet read' AND pick = 1) AS wet_read,
        max(header_note) FILTER (WHERE section = 'wet read' AND pick = 1) AS wet_read_note
    FROM ranked
    GROUP BY study_id
),
addenda AS (
    SELECT study_id, string_agg(text, chr(10) || chr(10) ORDER BY ordinal) AS addendum
    FROM mimic_cxr.report_sections
    WHERE in_addendum AND section <> 'preamble'
    GROUP BY study_id
)
SELECT
    r.subject_id,
    r.study_id,
    p.impression,
    p.findings,
    p.last_paragraph,
    p.comparison,
    p.indication,
    p.history,
    p.technique,
    p.examination,
    p.wet_read,
    p.wet_read_note,
    a.addendum,
    coalesce(p.impression, p.findings, p.last_paragraph, p.comparison) AS conclusion
FROM mimic_cxr.reports AS r
LEFT JOIN picked AS p USING (study_id)
LEFT JOIN addenda AS a USING (study_id)
