-- mimic_cxr._rejects: every MIMIC-CXR input row or file that failed validation.
--   action  dropped (not in the tables), kept (in the tables, problem noted) or
--           replaced (in the tables, undecodable bytes replaced)
SELECT stage, file, line, reason, action
FROM {{ parquet('mimic_cxr/_rejects') }}
