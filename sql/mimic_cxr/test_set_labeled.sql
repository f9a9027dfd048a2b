-- mimic_cxr.test_set_labeled: radiologist labels of the test set (MIMIC-CXR-JPG 2.1.0),
-- when the file was given; label columns with underscores, values as in chexpert.
SELECT *
FROM {{ parquet('mimic_cxr/test_set_labeled') }}
