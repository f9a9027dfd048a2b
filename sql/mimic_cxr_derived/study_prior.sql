-- mimic_cxr_derived.study_prior: each study with the previous and next study of the same
-- subject by study_datetime; one row per study of the study list.
--   seq                 1, 2, ... per subject in time order; studies taken at the same
--                       time are ordered by study_id and flagged with time_tie
--   hours_since_prev    hours from the previous study (0 for a tie)
--   hours_to_next       hours to the next study
-- Studies with no time get seq NULL and no neighbours.
WITH timed AS (
    SELECT
        subject_id, study_id, study_datetime,
        row_number() OVER w AS seq,
        lag(study_id) OVER w AS prev_study_id,
        lag(study_datetime) OVER w AS prev_study_datetime,
        lead(study_id) OVER w AS next_study_id,
        lead(study_datetime) OVER w AS next_study_datetime,
        count(*) OVER (PARTITION BY subject_id, study_datetime) > 1 AS time_tie
    FROM mimic_cxr_derived.study_times
    WHERE study_datetime IS NOT NULL
    WINDOW w AS (PARTITION BY subject_id ORDER BY study_datetime, study_id)
)
SELECT
    t.subject_id,
    t.study_id,
    t.study_datetime,
    p.seq,
    p.prev_study_id,
    p.prev_study_datetime,
    date_diff('millisecond', p.prev_study_datetime, t.study_datetime) / 3600000.0
        AS hours_since_prev,
    p.next_study_id,
    p.next_study_datetime,
    date_diff('millisecond', t.study_datetime, p.next_study_datetime) / 3600000.0
        AS hours_to_next,
    coalesce(p.time_tie, false) AS time_tie
FROM mimic_cxr_derived.study_times AS t
LEFT JOIN timed AS p USING (study_id)
