"""The published types of every MIMIC-IV table (cxr_sql.mimiciv_ddl), checked against
mimic-code's own DDL, and what a build does with a value or a table the DDL does not fit.

tests/data/mimic_code_types.json holds, for every table of mimic-code's
create.sql files (MIMIC-IV hosp and icu, MIMIC-IV-ED, MIMIC-IV-Note) and its
BigQuery schema files, each column's Postgres type (without length or NOT
NULL) and BigQuery type, read off those files by a one-off script (its
`derived_from` names the commit); no mimic-code file is in this repository.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from cxr_sql.mimiciv_ddl import DDL, bigquery_schema, duckdb_types
from tests.helpers import REPO, run_cli

MIMIC_CODE_TYPES = REPO / "tests" / "data" / "mimic_code_types.json"
POSTGRES_SYNONYMS = {"DOUBLE PRECISION": "FLOAT"}


def test_every_table_and_column_as_mimic_code_publishes_it() -> None:
    published = json.loads(MIMIC_CODE_TYPES.read_text())["tables"]
    ours = {
        f"{module}.{table}": columns
        for module, tables in DDL.items()
        for table, columns in tables.items()
    }
    assert sorted(ours) == sorted(published) and len(ours) == 41
    for name, columns in published.items():
        postgres = [(column.lower(), pg_type) for column, pg_type, _ in columns]
        bigquery = [(column.lower(), bq_type) for column, _, bq_type in columns]
        mine = ours[name]
        assert [
            (c, POSTGRES_SYNONYMS.get(k.postgres, k.postgres)) for c, k in mine.items()
        ] == postgres, name
        assert [(c, k.bigquery) for c, k in mine.items()] == bigquery, name


def test_bigquery_schema_per_module_and_release() -> None:
    hosp = bigquery_schema("hosp", "3.1")
    assert hosp == bigquery_schema("hosp", "2.2") == bigquery_schema("hosp", "3.0")
    assert len(hosp) == 22 and ("dod", "DATE") in hosp["patients"]
    assert ("expirationdate", "DATETIME") in hosp["pharmacy"]
    assert ("sbp", "INT64") in bigquery_schema("ed", "2.2")["vitalsign"]
    assert ("acuity", "NUMERIC") in bigquery_schema("ed", "2.2")["triage"]
    assert set(bigquery_schema("note", "2.2")) == {
        "discharge",
        "discharge_detail",
        "radiology",
        "radiology_detail",
    }
    with pytest.raises(ValueError, match=r"no release '3\.1'; published: 2\.2"):
        bigquery_schema("ed", "3.1")
    with pytest.raises(ValueError, match="unknown MIMIC-IV module 'core'"):
        bigquery_schema("core", "2.2")


def test_the_columns_the_issue_found_guessed() -> None:
    assert duckdb_types("hosp", "emar_detail")["complete_dose_not_given"] == "VARCHAR"
    assert duckdb_types("hosp", "pharmacy")["lockout_interval"] == "VARCHAR"
    assert duckdb_types("hosp", "pharmacy")["expirationdate"] == "TIMESTAMP"
    assert duckdb_types("hosp", "prescriptions")["doses_per_24_hrs"] == "DOUBLE"
    assert duckdb_types("icu", "outputevents")["value"] == "DOUBLE"
    assert duckdb_types("ed", "vitalsign")["sbp"] == "INTEGER"
    assert set(duckdb_types("ed", "pyxis")) >= {"med_rn", "gsn_rn"}


def _query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _set_field(path: Path, line: int, column: str, value: str) -> None:
    """Write `value` into one field of one line of a gzip CSV."""
    lines = gzip.decompress(path.read_bytes()).decode().split("\n")
    header = lines[0].split(",")
    fields = lines[line - 1].split(",")
    fields[header.index(column)] = value
    lines[line - 1] = ",".join(fields)
    path.write_bytes(gzip.compress("\n".join(lines).encode()))


@pytest.fixture
def mimiciv_copy(tiny_sources: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "mimiciv"
    shutil.copytree(tiny_sources / "mimiciv", copy)
    return copy


@pytest.mark.parametrize(
    ("table", "column", "value", "kind"),
    [
        ("admissions", "hospital_expire_flag", "0.5", "SMALLINT"),  # DuckDB alone would round it
        ("admissions", "hadm_id", "1e2", "INTEGER"),  # ... and read it as 100
        ("patients", "dod", "2180-01-01 10:00:00", "DATE"),  # ... and drop the time
    ],
)
def test_a_value_that_does_not_fit_its_ddl_type_stops_the_module_with_its_line(
    mimiciv_copy: Path, table: str, column: str, value: str, kind: str
) -> None:
    warehouse = mimiciv_copy.parent / "warehouse"
    assert (
        run_cli("build", "--warehouse", str(warehouse), "--mimiciv", str(mimiciv_copy)).returncode
        == 0
    )
    content = f"SELECT count(*), sum(hash(columns(*))) FROM mimiciv_hosp.{table}"
    before = _query(warehouse, content)
    source = mimiciv_copy / "hosp" / f"{table}.csv.gz"
    _set_field(source, 4, column, value)
    done = run_cli("build", "--warehouse", str(warehouse), "--mimiciv", str(mimiciv_copy))
    assert done.returncode == 3
    assert (
        f"{source}:4: {column}: '{value}' is not a {kind} (the published DDL type)" in done.stdout
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert _query(warehouse, content) == before


def test_a_table_no_ddl_lists_is_inferred_with_one_warning(mimiciv_copy: Path) -> None:
    extra = mimiciv_copy / "hosp" / "site_notes.csv.gz"
    extra.write_bytes(gzip.compress(b"Subject_ID,Remark\n10000032,first\n10000033,second\n"))
    warehouse = mimiciv_copy.parent / "warehouse"
    done = run_cli("build", "--warehouse", str(warehouse), "--mimiciv", str(mimiciv_copy), "--all")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in (done.stdout + done.stderr).splitlines() if "warning" in line]
    assert warnings == [
        "warning: hosp.site_notes: no published DDL lists this table; its types were inferred"
    ]
    assert _query(
        warehouse,
        "SELECT value FROM mimiciv_hosp._metadata WHERE attribute = 'tables_typed_by_inference'",
    ) == [("site_notes",)]
    assert _query(
        warehouse, "SELECT subject_id, remark FROM mimiciv_hosp.site_notes ORDER BY 1"
    ) == [
        (10000032, "first"),
        (10000033, "second"),
    ]
