-- mimic_cxr_derived.study_edstay: the ED stay (MIMIC-IV-ED edstays) each study was
-- taken in: intime <= study_datetime <= outtime; one row per study, NULLs where none.
-- Where several stays contain the study, the one that started last wins;
-- n_candidates counts them. rule is during_edstay or none.
WITH candidates AS (
    SELECT
        t.study_id, e.stay_id, e.hadm_id, e.intime, e.outtime, e.disposition,
        count(*) OVER (PARTITION BY t.study_id) AS n_candidates,
        row_number() OVER (
            PARTITION BY t.study_id ORDER BY e.intime DESC, e.stay_id DESC
        ) AS pick
    FROM mimic_cxr_derived.study_times AS t
    JOIN mimiciv_ed.edstays AS e
      ON e.subject_id = t.subject_id
     AND t.study_datetime BETWEEN e.intime AND e.outtime
)
SELECT
    t.subject_id,
    t.study_id,
    t.study_datetime,
    c.stay_id,
    c.hadm_id,
    c.intime,
    c.outtime,
    c.disposition,
    CASE WHEN c.stay_id IS NULL THEN 'none' ELSE 'during_edstay' END AS rule,
    coalesce(c.n_candidates, 0) AS n_candidates,
    date_diff('millisecond', c.intime, t.study_datetime) / 3600000.0 AS hours_from_start,
    date_diff('millisecond', t.study_datetime, c.outtime) / 3600000.0 AS hours_to_end
FROM mimic_cxr_derived.study_times AS t
LEFT JOIN candidates AS c ON c.study_id = t.study_id AND c.pick = 1
