-- mimic_cxr.negbio: NegBio labeler output per study, same columns and values as chexpert.
SELECT *
FROM {{ parquet('mimic_cxr/negbio') }}
