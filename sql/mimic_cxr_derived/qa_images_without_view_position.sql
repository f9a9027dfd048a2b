-- mimic_cxr_derived.qa_images_without_view_position: images whose ViewPosition is empty
-- in the MIMIC-CXR-JPG metadata; frontal/lateral must then come from elsewhere
-- (ViewCodeSequence, the image itself).
SELECT dicom_id, subject_id, study_id, ViewCodeSequence_CodeMeaning
FROM mimic_cxr.metadata
WHERE ViewPosition IS NULL OR trim(ViewPosition) = ''
