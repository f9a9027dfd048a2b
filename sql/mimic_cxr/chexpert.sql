-- mimic_cxr.chexpert: CheXpert labeler output per study, labels named as on BigQuery
-- (Pleural_Effusion): 1.0 positive, 0.0 negative, -1.0 uncertain, NULL not mentioned.
SELECT *
FROM {{ parquet('mimic_cxr/chexpert') }}
