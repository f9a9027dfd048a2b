"""`translate` against Google's ZetaSQL: each BigQuery query of tests/bigquery_cases.py
runs in ZetaSQL's reference evaluator and, translated, in DuckDB; the rows must be
the same (as multisets, in order where the query orders). Cases that must be refused
are refused. The outcome of every case, and of every construct of the committed
inventory (mimic-code's concepts, the project's render), is written to
test-artefacts/bigquery-differential.md."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from cxr_sql.bigquery.inventory import constructs
from cxr_sql.bigquery.translate import Refused, translate
from cxr_sql.bigquery.zetasql_oracle import Result, Table, ZetaSQL
from tests.bigquery_cases import CASES, TABLES, Case
from tests.bigquery_compare import normalised

REPO = Path(__file__).resolve().parent.parent
INVENTORY = REPO / "tests" / "data" / "bigquery_inventory.json"
ARTEFACT = REPO / "test-artefacts" / "bigquery-differential.md"
DUCKDB_TYPES = {
    "INT64": "BIGINT",
    "FLOAT64": "DOUBLE",
    "NUMERIC": "DECIMAL(38, 9)",
    "STRING": "VARCHAR",
    "BOOL": "BOOLEAN",
    "DATE": "DATE",
    "DATETIME": "TIMESTAMP",
    "TIMESTAMP": "TIMESTAMP",  # held in UTC, as translate holds BigQuery's TIMESTAMP
}
OUTCOMES: dict[str, str] = {}


def utc(value: Any) -> Any:
    """An aware datetime as the naive UTC one DuckDB's TIMESTAMP holds."""
    if isinstance(value, dt.datetime) and value.tzinfo:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def duckdb_with(tables: tuple[Table, ...]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the same tables, typed as BigQuery types map here."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")  # not BigQuery's UTC, on purpose
    for table in tables:
        name = table.name.split(".")[-1]
        columns = ", ".join(f"{c} {DUCKDB_TYPES[t]}" for c, t in table.columns)
        con.execute(f"CREATE TABLE {name} ({columns})")
        if table.rows:
            marks = ", ".join("?" for _ in table.columns)
            rows = [[utc(v) for v in row] for row in table.rows]
            con.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
    return con


def top_level_order(sql: str) -> bool:
    tree = sqlglot.parse(sql, read="bigquery")[-1]
    return isinstance(tree, exp.Query) and tree.args.get("order") is not None


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    with duckdb_with(TABLES) as connection:
        yield connection


@pytest.fixture(scope="module", autouse=True)
def outcome_table() -> None:
    """Write the table of cases and constructs after the module's tests ran."""
    yield
    ARTEFACT.parent.mkdir(exist_ok=True)
    ARTEFACT.write_text(report(OUTCOMES))


def report(outcomes: dict[str, str]) -> str:
    lines = ["# translate vs ZetaSQL", "", "| case | outcome |", "| --- | --- |"]
    lines += [f"| {name} | {outcome} |" for name, outcome in outcomes.items()]
    for source, counts in json.loads(INVENTORY.read_text()).items():
        status = construct_status(outcomes)
        lines += ["", f"## constructs of {source}", "", "| construct | uses | outcome |",
                  "| --- | --- | --- |"]  # fmt: skip
        lines += [f"| {c} | {n} | {status.get(c, 'NOT CHECKED')} |" for c, n in counts.items()]
    return "\n".join(lines) + "\n"


def construct_status(outcomes: dict[str, str]) -> dict[str, str]:
    """Construct -> 'equal' if a case using it gave equal rows, else 'refused' if a case
    using it was refused."""
    status: dict[str, str] = {}
    for case in CASES:
        outcome = outcomes.get(case.name, "")
        for construct in constructs(case.sql):
            if outcome == "equal" or (outcome.startswith("refused") and construct not in status):
                status[construct] = "equal" if outcome == "equal" else "refused"
    return status


def run_case(case: Case, oracle: ZetaSQL, con: duckdb.DuckDBPyConnection) -> str:
    if case.refused:
        with pytest.raises(Refused) as refused:
            translate(case.sql, {"cxr_test": "main"})
        return f"refused: {refused.value}"
    expected: Result = oracle.run(case.sql, TABLES)
    duck_sql = translate(case.sql, {"cxr_test": "main"})
    got = con.execute(duck_sql).fetchall()
    types = [t for _, t in expected.columns]
    ordered = top_level_order(case.sql)
    assert normalised(got, types, ordered) == normalised(expected.rows, types, ordered), (
        f"{case.name}\nBigQuery (ZetaSQL): {expected.rows}\nDuckDB: {got}\n{duck_sql}"
    )
    return "equal"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_translation_gives_bigquery_rows(case: Case, zetasql: ZetaSQL, con) -> None:
    OUTCOMES[case.name] = "DIFFERENT"
    OUTCOMES[case.name] = run_case(case, zetasql, con)


# BigQuery's documented aliases (mimic-code's concepts cast AS INTEGER).
ALIASES = [
    *((alias, "INT64") for alias in ("INT", "INTEGER", "SMALLINT", "TINYINT", "BYTEINT")),
    ("FLOAT", "FLOAT64"),
    ("DECIMAL", "NUMERIC"),
]


@pytest.mark.parametrize("alias, named", ALIASES)
def test_bigquery_type_aliases_translate_as_the_types_they_name(alias: str, named: str) -> None:
    """BigQuery's own aliases (ZetaSQL does not know them, so no case above runs them)."""
    query = "SELECT CAST(f AS {0}) AS x, SAFE_CAST(n AS {0}) AS y FROM `cxr_test.nums`"
    dataset = {"cxr_test": "main"}
    assert translate(query.format(alias), dataset) == translate(query.format(named), dataset)


def test_inventory_constructs_are_checked_or_refused() -> None:
    """Every construct mimic-code's concepts and the render use is checked equal or
    refused; the rest are listed here (and in the artefact), not hidden."""
    status = construct_status(OUTCOMES)
    inventory = json.loads(INVENTORY.read_text())
    unchecked = sorted({c for counts in inventory.values() for c in counts} - set(status))
    assert unchecked == ["Create"], unchecked  # the render's CREATE VIEW: DDL, not a query
