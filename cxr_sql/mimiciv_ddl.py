"""Column types of every published MIMIC-IV table, as facts read off the published DDL.

Sources: mimic-code's `mimic-iv/buildmimic/postgres/create.sql` (hosp, icu),
`mimic-iv-ed/buildmimic/postgres/create.sql` (ED 2.2) and
`mimic-iv-note/buildmimic/postgres/create.sql` (Note 2.2), and beside them the
BigQuery schema files physionet-data was loaded with (`buildmimic/bigquery/schemas`).
Each column is written once, with its kind in the Postgres DDL; the kind gives
both the DuckDB type the build loads it as and the BigQuery type physionet-data
publishes it with (`Kind`). Where the two DDLs spell a type differently the
meaning is the same: TIMESTAMP is BigQuery's DATETIME (no time zone), INTEGER
and SMALLINT are INT64, FLOAT and REAL are FLOAT64, NUMERIC is NUMERIC.

Choices for DuckDB: REAL is loaded as DOUBLE (BigQuery holds it as FLOAT64,
and a 4-byte float would give other digits); NUMERIC as DECIMAL(38, 9), which
is BigQuery's NUMERIC; text of any length as VARCHAR. Column names are lower
case, as on BigQuery (the demo's procedureevents header, and mimic-code's
BigQuery schema file, spell `ORIGINALAMOUNT` and `ORIGINALRATE` in capitals;
BigQuery's column names are case-insensitive).

Releases: MIMIC-IV 2.2, 3.0 and 3.1 have the same tables, columns and types
(create.sql of 2.2 and of 3.1 differ only in the length of admissions.language,
which DuckDB and BigQuery do not keep); MIMIC-IV-ED and -Note are releases of
their own, 2.2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One type of the Postgres DDL and what it is in DuckDB and on BigQuery."""

    postgres: str
    duckdb: str
    bigquery: str


KINDS = {
    "int": Kind("INTEGER", "INTEGER", "INT64"),
    "int2": Kind("SMALLINT", "SMALLINT", "INT64"),
    "float": Kind("FLOAT", "DOUBLE", "FLOAT64"),  # also DOUBLE PRECISION: 8 bytes in Postgres
    "real": Kind("REAL", "DOUBLE", "FLOAT64"),
    "numeric": Kind("NUMERIC", "DECIMAL(38,9)", "NUMERIC"),
    "ts": Kind("TIMESTAMP", "TIMESTAMP", "DATETIME"),
    "date": Kind("DATE", "DATE", "DATE"),
    "text": Kind("VARCHAR", "VARCHAR", "STRING"),  # also CHAR(n) and TEXT
}

RELEASES = {
    "hosp": ("2.2", "3.0", "3.1"),
    "icu": ("2.2", "3.0", "3.1"),
    "ed": ("2.2",),
    "note": ("2.2",),
}

# module -> table -> "column kind, column kind, ..." in the order of the DDL (and the files)
_DDL: dict[str, dict[str, str]] = {
    "hosp": {
        "admissions": "subject_id int, hadm_id int, admittime ts, dischtime ts, deathtime ts, "
        "admission_type text, admit_provider_id text, admission_location text, "
        "discharge_location text, insurance text, language text, marital_status text, "
        "race text, edregtime ts, edouttime ts, hospital_expire_flag int2",
        "d_hcpcs": "code text, category int2, long_description text, short_description text",
        "diagnoses_icd": "subject_id int, hadm_id int, seq_num int, icd_code text, "
        "icd_version int2",
        "d_icd_diagnoses": "icd_code text, icd_version int2, long_title text",
        "d_icd_procedures": "icd_code text, icd_version int2, long_title text",
        "d_labitems": "itemid int, label text, fluid text, category text",
        "drgcodes": "subject_id int, hadm_id int, drg_type text, drg_code text, description text, "
        "drg_severity int2, drg_mortality int2",
        "emar_detail": "subject_id int, emar_id text, emar_seq int, parent_field_ordinal text, "
        "administration_type text, pharmacy_id int, barcode_type text, "
        "reason_for_no_barcode text, complete_dose_not_given text, dose_due text, "
        "dose_due_unit text, dose_given text, dose_given_unit text, "
        "will_remainder_of_dose_be_given text, product_amount_given text, product_unit text, "
        "product_code text, product_description text, product_description_other text, "
        "prior_infusion_rate text, infusion_rate text, infusion_rate_adjustment text, "
        "infusion_rate_adjustment_amount text, infusion_rate_unit text, route text, "
        "infusion_complete text, completion_interval text, new_iv_bag_hung text, "
        "continued_infusion_in_other_location text, restart_interval text, side text, "
        "site text, non_formulary_visual_verification text",
        "emar": "subject_id int, hadm_id int, emar_id text, emar_seq int, poe_id text, "
        "pharmacy_id int, enter_provider_id text, charttime ts, medication text, event_txt text, "
        "scheduletime ts, storetime ts",
        "hcpcsevents": "subject_id int, hadm_id int, chartdate date, hcpcs_cd text, seq_num int, "
        "short_description text",
        "labevents": "labevent_id int, subject_id int, hadm_id int, specimen_id int, itemid int, "
        "order_provider_id text, charttime ts, storetime ts, value text, valuenum float, "
        "valueuom text, ref_range_lower float, ref_range_upper float, flag text, priority text, "
        "comments text",
        "microbiologyevents": "microevent_id int, subject_id int, hadm_id int, "
        "micro_specimen_id int, order_provider_id text, chartdate ts, charttime ts, "
        "spec_itemid int, spec_type_desc text, test_seq int, storedate ts, storetime ts, "
        "test_itemid int, test_name text, org_itemid int, org_name text, isolate_num int2, "
        "quantity text, ab_itemid int, ab_name text, dilution_text text, "
        "dilution_comparison text, dilution_value float, interpretation text, comments text",
        "omr": "subject_id int, chartdate date, seq_num int, result_name text, result_value text",
        "patients": "subject_id int, gender text, anchor_age int2, anchor_year int2, "
        "anchor_year_group text, dod date",
        "pharmacy": "subject_id int, hadm_id int, pharmacy_id int, poe_id text, starttime ts, "
        "stoptime ts, medication text, proc_type text, status text, entertime ts, "
        "verifiedtime ts, route text, frequency text, disp_sched text, infusion_type text, "
        "sliding_scale text, lockout_interval text, basal_rate real, one_hr_max text, "
        "doses_per_24_hrs real, duration real, duration_interval text, expiration_value int, "
        "expiration_unit text, expirationdate ts, dispensation text, fill_quantity text",
        "poe_detail": "poe_id text, poe_seq int, subject_id int, field_name text, field_value text",
        "poe": "poe_id text, poe_seq int, subject_id int, hadm_id int, ordertime ts, "
        "order_type text, order_subtype text, transaction_type text, "
        "discontinue_of_poe_id text, discontinued_by_poe_id text, order_provider_id text, "
        "order_status text",
        "prescriptions": "subject_id int, hadm_id int, pharmacy_id int, poe_id text, poe_seq int, "
        "order_provider_id text, starttime ts, stoptime ts, drug_type text, drug text, "
        "formulary_drug_cd text, gsn text, ndc text, prod_strength text, form_rx text, "
        "dose_val_rx text, dose_unit_rx text, form_val_disp text, form_unit_disp text, "
        "doses_per_24_hrs real, route text",
        "procedures_icd": "subject_id int, hadm_id int, seq_num int, chartdate date, "
        "icd_code text, icd_version int2",
        "provider": "provider_id text",
        "services": "subject_id int, hadm_id int, transfertime ts, prev_service text, "
        "curr_service text",
        "transfers": "subject_id int, hadm_id int, transfer_id int, eventtype text, careunit text, "
        "intime ts, outtime ts",
    },
    "icu": {
        "caregiver": "caregiver_id int",
        "chartevents": "subject_id int, hadm_id int, stay_id int, caregiver_id int, charttime ts, "
        "storetime ts, itemid int, value text, valuenum float, valueuom text, warning int2",
        "datetimeevents": "subject_id int, hadm_id int, stay_id int, caregiver_id int, "
        "charttime ts, storetime ts, itemid int, value ts, valueuom text, warning int2",
        "d_items": "itemid int, label text, abbreviation text, linksto text, category text, "
        "unitname text, param_type text, lownormalvalue float, highnormalvalue float",
        "icustays": "subject_id int, hadm_id int, stay_id int, first_careunit text, "
        "last_careunit text, intime ts, outtime ts, los float",
        "ingredientevents": "subject_id int, hadm_id int, stay_id int, caregiver_id int, "
        "starttime ts, endtime ts, storetime ts, itemid int, amount float, amountuom text, "
        "rate float, rateuom text, orderid int, linkorderid int, statusdescription text, "
        "originalamount float, originalrate float",
        "inputevents": "subject_id int, hadm_id int, stay_id int, caregiver_id int, starttime ts, "
        "endtime ts, storetime ts, itemid int, amount float, amountuom text, rate float, "
        "rateuom text, orderid int, linkorderid int, ordercategoryname text, "
        "secondaryordercategoryname text, ordercomponenttypedescription text, "
        "ordercategorydescription text, patientweight float, totalamount float, "
        "totalamountuom text, isopenbag int2, continueinnextdept int2, statusdescription text, "
        "originalamount float, originalrate float",
        "outputevents": "subject_id int, hadm_id int, stay_id int, caregiver_id int, charttime ts, "
        "storetime ts, itemid int, value float, valueuom text",
        "procedureevents": "subject_id int, hadm_id int, stay_id int, caregiver_id int, "
        "starttime ts, endtime ts, storetime ts, itemid int, value float, valueuom text, "
        "location text, locationcategory text, orderid int, linkorderid int, "
        "ordercategoryname text, ordercategorydescription text, patientweight float, "
        "isopenbag int2, continueinnextdept int2, statusdescription text, "
        "originalamount float, originalrate float",
    },
    "ed": {
        "diagnosis": "subject_id int, stay_id int, seq_num int, icd_code text, icd_version int2, "
        "icd_title text",
        "edstays": "subject_id int, hadm_id int, stay_id int, intime ts, outtime ts, gender text, "
        "race text, arrival_transport text, disposition text",
        "medrecon": "subject_id int, stay_id int, charttime ts, name text, gsn text, ndc text, "
        "etc_rn int2, etccode text, etcdescription text",
        "pyxis": "subject_id int, stay_id int, charttime ts, med_rn int2, name text, gsn_rn int2, "
        "gsn text",
        "triage": "subject_id int, stay_id int, temperature numeric, heartrate numeric, "
        "resprate numeric, o2sat numeric, sbp numeric, dbp numeric, pain text, acuity numeric, "
        "chiefcomplaint text",
        "vitalsign": "subject_id int, stay_id int, charttime ts, temperature numeric, "
        "heartrate numeric, resprate numeric, o2sat numeric, sbp int, dbp int, rhythm text, "
        "pain text",
    },
    "note": {
        "discharge": "note_id text, subject_id int, hadm_id int, note_type text, note_seq int2, "
        "charttime ts, storetime ts, text text",
        "discharge_detail": "note_id text, subject_id int, field_name text, field_value text, "
        "field_ordinal int",
        "radiology": "note_id text, subject_id int, hadm_id int, note_type text, note_seq int2, "
        "charttime ts, storetime ts, text text",
        "radiology_detail": "note_id text, subject_id int, field_name text, field_value text, "
        "field_ordinal int",
    },
}


def _parse(spec: str) -> dict[str, Kind]:
    pairs = (item.split() for item in spec.split(","))
    return {column: KINDS[kind] for column, kind in pairs}


DDL: dict[str, dict[str, dict[str, Kind]]] = {
    module: {table: _parse(spec) for table, spec in tables.items()}
    for module, tables in _DDL.items()
}


def table_kinds(module: str, table: str) -> dict[str, Kind] | None:
    """The columns of a published table with their kinds, or None for one no DDL lists."""
    return DDL.get(module, {}).get(table)


def duckdb_types(module: str, table: str) -> dict[str, str] | None:
    """The DuckDB types the build loads a published table with (None: not published)."""
    kinds = table_kinds(module, table)
    return None if kinds is None else {column: kind.duckdb for column, kind in kinds.items()}


def known_tables(module: str) -> list[str]:
    """The tables the DDL of a module lists."""
    return sorted(DDL.get(module, {}))


def bigquery_schema(module: str, release: str) -> dict[str, list[tuple[str, str]]]:
    """Every table of `physionet-data.mimiciv_<module>` (or `mimiciv_<release>_<module>`)
    with its columns in order and their BigQuery types: {table: [(column, 'INT64'), ...]}.

    ValueError for a module or release PhysioNet did not publish.
    """
    if module not in RELEASES:
        raise ValueError(f"unknown MIMIC-IV module {module!r}; known: {', '.join(RELEASES)}")
    if release not in RELEASES[module]:
        known = ", ".join(RELEASES[module])
        raise ValueError(f"MIMIC-IV {module} has no release {release!r}; published: {known}")
    return {
        table: [(column, kind.bigquery) for column, kind in columns.items()]
        for table, columns in DDL[module].items()
    }
