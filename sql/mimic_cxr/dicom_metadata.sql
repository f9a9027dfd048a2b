-- mimic_cxr.dicom_metadata: one row per DICOM image whose header could be read
-- (files/pNN/p<subject>/s<study>/<dicom_id>.dcm or .dcm.gz), typed. Columns are named
-- by DICOM keyword, as in mimic_cxr.metadata (mimic-cxr-2.0.0-metadata.csv.gz) where
-- the two overlap. NULL where the header lacks a value or it cannot be parsed; each
-- such problem is a row of mimic_cxr._rejects (stage dicom) naming file and attribute.
--   subject_id, study_id   from the path; a disagreeing PatientID or record list is a reject
--   path                   the file read, inside the MIMIC-CXR folder (.dcm or .dcm.gz)
--   StudyDate DATE, StudyTime TIME (fractions of a second kept), study_datetime the two
--                          together; also read in the old forms 2004.08.26 and 10:47:02
--   AcquisitionDate, AcquisitionTime, AcquisitionDateTime   the same for the acquisition
--   acquisition_datetime   AcquisitionDateTime, else AcquisitionDate + AcquisitionTime,
--                          else StudyDate + StudyTime (a date is never paired with the
--                          time of another attribute); acquisition_datetime_source names it
--   PatientOrientation, PixelSpacing, ImagerPixelSpacing   lists of the values
--   ProcedureCodeSequence_CodeMeaning, ViewCodeSequence_CodeMeaning,
--   PatientOrientationCodeSequence_CodeMeaning   CodeMeaning of the sequence's first item
--   transfer_syntax_uid    (0002,0010) of the file meta
--   file_size, gzipped     bytes on disk (of the .gz when gzipped)
--   header_bytes           where the Pixel Data element starts: the header read to get here
--   tags                   with --dicom-all-tags: every element of the header as JSON,
--                          by keyword (private tags by their hex tag), sequences as lists
--                          of objects; look-up tables and values over 1 KiB are null
SELECT
    dicom_id, subject_id, study_id, path,
    PatientID, StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, SOPClassUID,
    StudyDate, StudyTime, StudyDate + StudyTime AS study_datetime,
    AcquisitionDate, AcquisitionTime, AcquisitionDateTime,
    acquisition_datetime, acquisition_datetime_source,
    Modality, ViewPosition, PatientOrientation, BodyPartExamined, PhotometricInterpretation,
    "Rows", "Columns", BitsStored, PixelSpacing, ImagerPixelSpacing,
    Manufacturer, ManufacturerModelName, StudyDescription, SeriesDescription,
    PerformedProcedureStepDescription, ProcedureCodeSequence_CodeMeaning,
    ViewCodeSequence_CodeMeaning, PatientOrientationCodeSequence_CodeMeaning,
    transfer_syntax_uid, file_size, gzipped, header_bytes, tags::JSON AS tags
FROM {{ parquet('mimic_cxr/dicom_metadata') }}
WHERE NOT rejected
