{% from 'macros.jinja' import study_datetime %}
-- mimic_cxr_derived.study_times: when each study was taken; one row per study of the
-- study list.
--   study_datetime       the earliest image time: StudyDate + StudyTime of the DICOM
--                        header where headers were ingested, else of the MIMIC-CXR-JPG
--                        metadata (StudyTime padded to six digits, milliseconds kept)
--   last_image_datetime  the latest image time
--   n_images             images with a time
--   n_distinct_times     distinct image times (1 when all images share the study time)
--   time_source          dicom, jpg, dicom+jpg (some images each), or none
WITH image_times AS (
{%- set dicom, jpg = exists('mimic_cxr/dicom_metadata'), exists('mimic_cxr/metadata') %}
{%- if dicom %}
    SELECT study_id, dicom_id, study_datetime AS image_datetime, 1 AS from_dicom
    FROM mimic_cxr.dicom_metadata
    WHERE study_datetime IS NOT NULL
{%- endif %}
{%- if dicom and jpg %}
    UNION ALL
{%- endif %}
{%- if jpg %}
    SELECT j.study_id, j.dicom_id,
           {{ study_datetime('j.StudyDate', 'j.StudyTime') }} AS image_datetime, 0 AS from_dicom
    FROM mimic_cxr.metadata AS j
    WHERE j.StudyDate IS NOT NULL AND j.StudyTime IS NOT NULL
    {%- if dicom %}
      AND NOT EXISTS (
          SELECT 1 FROM mimic_cxr.dicom_metadata AS d
          WHERE d.dicom_id = j.dicom_id AND d.study_datetime IS NOT NULL
      )
    {%- endif %}
{%- endif %}
{%- if not (dicom or jpg) %}
    SELECT NULL::INTEGER AS study_id, NULL AS dicom_id, NULL::TIMESTAMP AS image_datetime,
           0 AS from_dicom
    WHERE false
{%- endif %}
),
per_study AS (
    SELECT
        study_id,
        min(image_datetime) AS study_datetime,
        max(image_datetime) AS last_image_datetime,
        count(*) AS n_images,
        count(DISTINCT image_datetime) AS n_distinct_times,
        CASE
            WHEN min(from_dicom) = 1 THEN 'dicom'
            WHEN max(from_dicom) = 1 THEN 'dicom+jpg'
            ELSE 'jpg'
        END AS time_source
    FROM image_times
    GROUP BY study_id
)
SELECT
    s.subject_id,
    s.study_id,
    p.study_datetime,
    p.last_image_datetime,
    coalesce(p.n_images, 0) AS n_images,
    coalesce(p.n_distinct_times, 0) AS n_distinct_times,
    coalesce(p.time_source, 'none') AS time_source
FROM mimic_cxr.study_list AS s
LEFT JOIN per_study AS p USING (study_id)
