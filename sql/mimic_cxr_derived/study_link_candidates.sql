-- mimic_cxr_derived.study_link_candidates: every admission, ED-before-admission window,
-- ED stay and ICU stay of the study's subject whose window comes within
-- {{ link_window_hours }} hours of the study (the build's --link-window-hours); one row per
-- study and candidate. Nothing is dropped: other linking rules (the first x-ray within
-- 48 h of ICU admission, say) are written over this view.
--   kind              admission, ed_before_admission, edstay or icustay
--   stay_id           the ED or ICU stay_id (NULL for admissions)
--   hours_from_start  study_datetime - window_start, in hours (negative: before it)
--   hours_from_end    study_datetime - window_end, in hours (positive: after it)
--   inside            the study falls in the window (the rule of its link view)
--   rank              1 = the candidate the link view picks when inside; then nearest
WITH windows AS (
    SELECT
        subject_id,
        CASE kind WHEN 'during_admission' THEN 'admission' ELSE kind END AS kind,
        hadm_id, NULL::INTEGER AS stay_id, window_start, window_end,
        kind = 'ed_before_admission' AS end_open
    FROM mimic_cxr_derived.admission_windows
{%- if exists_view('mimiciv_ed.edstays') %}
    UNION ALL
    SELECT subject_id, 'edstay', hadm_id, stay_id, intime, outtime, false
    FROM mimiciv_ed.edstays
{%- endif %}
{%- if exists_view('mimiciv_icu.icustays') %}
    UNION ALL
    SELECT subject_id, 'icustay', hadm_id, stay_id, intime, outtime, false
    FROM mimiciv_icu.icustays
{%- endif %}
),
near AS (
    SELECT
        t.subject_id, t.study_id, t.study_datetime, w.kind, w.hadm_id, w.stay_id,
        w.window_start, w.window_end,
        date_diff('millisecond', w.window_start, t.study_datetime) / 3600000.0
            AS hours_from_start,
        date_diff('millisecond', w.window_end, t.study_datetime) / 3600000.0 AS hours_from_end,
        t.study_datetime >= w.window_start
            AND (t.study_datetime < w.window_end
                 OR (NOT w.end_open AND t.study_datetime = w.window_end)) AS inside
    FROM mimic_cxr_derived.study_times AS t
    JOIN windows AS w
      ON w.subject_id = t.subject_id
     AND t.study_datetime >= w.window_start - INTERVAL {{ link_window_hours }} HOUR
     AND t.study_datetime <= w.window_end + INTERVAL {{ link_window_hours }} HOUR
)
SELECT
    *,
    row_number() OVER (
        PARTITION BY study_id, kind
        ORDER BY
            inside DESC,
            CASE WHEN inside THEN 0
                 ELSE least(abs(hours_from_start), abs(hours_from_end)) END,
            window_start DESC,
            coalesce(stay_id, hadm_id) DESC
    ) AS rank
FROM near
