-- mimic_cxr_derived.qa_sectioned_vs_mimic_code: reports where mimic_cxr.sectioned (the
-- best reading of the text) and mimic_cxr.sectioned_mimic_code (mimic-code's CSV) differ.
--   columns  the columns that differ (impression, findings, last_paragraph, comparison;
--            NULL and '' count as equal, as in the CSV), or 'left out by mimic-code'
--   reason   the features of the report that explain such differences, '; '-separated,
--            'other' when none is found: mimic-code's rule for this study id, undecodable
--            bytes, CR line endings, an addendum or a wet read above an underscore line, a
--            header in lower or mixed case, with '&', `NDICATION`, a header not indented
--            by exactly one space, a blank line not written as newline, space, newline
WITH theirs AS (
    SELECT * FROM {{ parquet('mimic_cxr/sectioned_mimic_code') }}
),
compared AS (
    SELECT
        t.subject_id,
        t.study_id,
        t.mimic_code_rule,
        concat_ws(', ',
            CASE WHEN coalesce(o.impression, '') <> coalesce(t.impression, '')
                THEN 'impression' END,
            CASE WHEN coalesce(o.findings, '') <> coalesce(t.findings, '')
                THEN 'findings' END,
            CASE WHEN coalesce(o.last_paragraph, '') <> coalesce(t.last_paragraph, '')
                THEN 'last_paragraph' END,
            CASE WHEN coalesce(o.comparison, '') <> coalesce(t.comparison, '')
                THEN 'comparison' END
        ) AS differing
    FROM theirs AS t
    JOIN mimic_cxr.sectioned AS o USING (study_id)
),
headers AS (
    SELECT
        study_id,
        bool_or(header <> upper(header)) AS mixed_case,
        bool_or(contains(header, '&')) AS ampersand,
        bool_or(upper(header) = 'NDICATION') AS ndication,
        bool_or(section = 'wet read') AS wet_read
    FROM mimic_cxr.report_sections
    WHERE header IS NOT NULL
    GROUP BY study_id
)
SELECT
    c.subject_id,
    c.study_id,
    CASE WHEN c.mimic_code_rule IS NOT NULL THEN 'left out by mimic-code' ELSE c.differing END
        AS columns,
    coalesce(nullif(concat_ws('; ',
        CASE WHEN c.mimic_code_rule IS NOT NULL
            THEN 'mimic-code rule for this study id (' || c.mimic_code_rule || ')' END,
        CASE WHEN r.n_replaced > 0
            THEN 'undecodable bytes (mimic-code stops on them)' END,
        CASE WHEN contains(r.text, chr(13)) THEN 'CR line endings' END,
        CASE WHEN r.has_addendum THEN 'addendum above an underscore line' END,
        CASE WHEN h.wet_read THEN 'wet read' END,
        CASE WHEN h.mixed_case THEN 'header in lower or mixed case' END,
        CASE WHEN h.ampersand THEN 'header with &' END,
        CASE WHEN h.ndication THEN 'NDICATION (impression in mimic-code)' END,
        CASE WHEN regexp_matches(r.text, '(^|\n)(\t[ \t]*|  +|)[A-Za-z(][A-Za-z ()/,&-]*:(\s|$)')
            THEN 'header not indented by exactly one space' END,
        CASE WHEN regexp_matches(r.text, '\n(|\t[ \t]*| [ \t]+)\r?\n')
            THEN 'blank line not written as newline, space, newline' END
    ), ''), 'other') AS reason
FROM compared AS c
JOIN mimic_cxr.reports AS r USING (study_id)
LEFT JOIN headers AS h USING (study_id)
WHERE c.mimic_code_rule IS NOT NULL OR c.differing <> ''
