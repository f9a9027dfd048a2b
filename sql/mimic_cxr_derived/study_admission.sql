{% from 'macros.jinja' import earlier %}
-- mimic_cxr_derived.study_admission: the hospital admission each study belongs to;
-- one row per study, NULLs where there is none.
-- Rules, in order:
--   during_admission     admittime <= study_datetime <= dischtime
--   ed_before_admission  taken in the ED before the admission it led to:
--                        ED start <= study_datetime < admittime, the ED start being
--                        the earlier of edregtime and the first ED row of transfers
--   none                 neither
-- Where several admissions fit one rule, the one that started last wins;
-- n_candidates counts the admissions that fit the chosen rule.
--   hours_from_start     study_datetime - window start, in hours
--   hours_to_end         window end - study_datetime, in hours
WITH ed_start AS (
    SELECT hadm_id, min(intime) AS first_ed_intime
    FROM mimiciv_hosp.transfers
    WHERE eventtype = 'ED' AND hadm_id IS NOT NULL
    GROUP BY hadm_id
),
windows AS (
    SELECT
        a.subject_id, a.hadm_id, 'during_admission' AS rule, 1 AS priority,
        a.admittime AS window_start, a.dischtime AS window_end
    FROM mimiciv_hosp.admissions AS a
    UNION ALL
    SELECT
        a.subject_id, a.hadm_id, 'ed_before_admission', 2,
        {{ earlier('a.edregtime', 'e.first_ed_intime') }}, a.admittime
    FROM mimiciv_hosp.admissions AS a
    LEFT JOIN ed_start AS e USING (hadm_id)
    WHERE {{ earlier('a.edregtime', 'e.first_ed_intime') }} < a.admittime
),
candidates AS (
    SELECT
        t.study_id, w.hadm_id, w.rule, w.priority, w.window_start, w.window_end,
        count(*) OVER (PARTITION BY t.study_id, w.priority) AS n_candidates,
        row_number() OVER (
            PARTITION BY t.study_id
            ORDER BY w.priority, w.window_start DESC, w.hadm_id DESC
        ) AS pick
    FROM mimic_cxr_derived.study_times AS t
    JOIN windows AS w
      ON w.subject_id = t.subject_id
     AND t.study_datetime >= w.window_start
     AND (
         (w.priority = 1 AND t.study_datetime <= w.window_end)
         OR (w.priority = 2 AND t.study_datetime < w.window_end)
     )
)
SELECT
    t.subject_id,
    t.study_id,
    t.study_datetime,
    c.hadm_id,
    coalesce(c.rule, 'none') AS rule,
    coalesce(c.n_candidates, 0) AS n_candidates,
    c.window_start,
    c.window_end,
    date_diff('millisecond', c.window_start, t.study_datetime) / 3600000.0 AS hours_from_start,
    date_diff('millisecond', t.study_datetime, c.window_end) / 3600000.0 AS hours_to_end
FROM mimic_cxr_derived.study_times AS t
LEFT JOIN candidates AS c ON c.study_id = t.study_id AND c.pick = 1
