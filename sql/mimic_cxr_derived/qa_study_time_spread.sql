-- mimic_cxr_derived.qa_study_time_spread: studies whose images were taken more than an
-- hour apart; study_datetime is the earliest, which may not suit every image.
SELECT
    subject_id, study_id, study_datetime, last_image_datetime, n_images,
    date_diff('millisecond', study_datetime, last_image_datetime) / 3600000.0 AS spread_hours
FROM mimic_cxr_derived.study_times
WHERE last_image_datetime > study_datetime + INTERVAL 1 HOUR
