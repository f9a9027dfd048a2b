-- mimic_cxr.provider_list: cxr-provider-list.csv.gz of MIMIC-CXR 2.1.0, when it was given.
SELECT *
FROM {{ parquet('mimic_cxr/provider_list') }}
