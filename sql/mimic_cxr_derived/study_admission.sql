-- mimic_cxr_derived.study_admission: the hospital admission each study belongs to;
-- one row per study, NULLs where there is none.
-- Rules, in order (the windows of mimic_cxr_derived.admission_windows):
--   during_admission     admittime <= study_datetime <= dischtime
--   ed_before_admission  taken in the ED before the admission it led to:
--                        ED start <= study_datetime < admittime
--   none                 neither
-- Where several admissions fit one rule, the one that started last wins;
-- n_candidates counts the admissions that fit the chosen rule.
--   hours_from_start     study_datetime - window start, in hours
--   hours_to_end         window end - study_datetime, in hours
WITH windows AS (
    SELECT
        subject_id, hadm_id, kind AS rule,
        CASE kind WHEN 'during_admission' THEN 1 ELSE 2 END AS priority,
        window_start, window_end
    FROM mimic_cxr_derived.admission_windows
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
