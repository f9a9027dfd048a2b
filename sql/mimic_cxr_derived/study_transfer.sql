-- mimic_cxr_derived.study_transfer: where in the hospital the patient was when the
-- study was taken: the transfers row with intime <= study_datetime < outtime.
-- Half-open, because one transfer's outtime is the next one's intime; discharge rows
-- (no outtime) are points in time, not places. One row per study, NULLs where none.
-- Where several rows contain the study, the one that started last wins;
-- n_candidates counts them. rule is during_transfer or none.
WITH candidates AS (
    SELECT
        t.study_id, x.transfer_id, x.hadm_id, x.eventtype, x.careunit, x.intime, x.outtime,
        count(*) OVER (PARTITION BY t.study_id) AS n_candidates,
        row_number() OVER (
            PARTITION BY t.study_id ORDER BY x.intime DESC, x.transfer_id DESC
        ) AS pick
    FROM mimic_cxr_derived.study_times AS t
    JOIN mimiciv_hosp.transfers AS x
      ON x.subject_id = t.subject_id
     AND t.study_datetime >= x.intime
     AND t.study_datetime < x.outtime
)
SELECT
    t.subject_id,
    t.study_id,
    t.study_datetime,
    c.transfer_id,
    c.hadm_id,
    c.eventtype,
    c.careunit,
    c.intime,
    c.outtime,
    CASE WHEN c.transfer_id IS NULL THEN 'none' ELSE 'during_transfer' END AS rule,
    coalesce(c.n_candidates, 0) AS n_candidates
FROM mimic_cxr_derived.study_times AS t
LEFT JOIN candidates AS c ON c.study_id = t.study_id AND c.pick = 1
