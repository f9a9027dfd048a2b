{% from 'macros.jinja' import earlier %}
-- mimic_cxr_derived.admission_windows: the two windows of each admission a study can fall
-- in, as the linking views use them; one row per admission and kind.
--   kind          during_admission: admittime to dischtime, both ends included;
--                 ed_before_admission: the ED start to admittime, admittime excluded,
--                 the ED start being the earlier of edregtime and the admission's first
--                 ED row of transfers (only where that comes before admittime)
--   window_start  start of the window
--   window_end    end of the window
WITH ed_start AS (
    SELECT hadm_id, min(intime) AS first_ed_intime
    FROM mimiciv_hosp.transfers
    WHERE eventtype = 'ED' AND hadm_id IS NOT NULL
    GROUP BY hadm_id
)
SELECT
    a.subject_id, a.hadm_id, 'during_admission' AS kind,
    a.admittime AS window_start, a.dischtime AS window_end
FROM mimiciv_hosp.admissions AS a
UNION ALL
SELECT
    a.subject_id, a.hadm_id, 'ed_before_admission',
    {{ earlier('a.edregtime', 'e.first_ed_intime') }}, a.admittime
FROM mimiciv_hosp.admissions AS a
LEFT JOIN ed_start AS e USING (hadm_id)
WHERE {{ earlier('a.edregtime', 'e.first_ed_intime') }} < a.admittime
