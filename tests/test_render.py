"""The BigQuery render of the derived views: it parses as BigQuery, and translated back to
DuckDB it gives the same rows as the native views on the demo warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from cxr_sql.bigquery.bigquery_types import table_types
from cxr_sql.bigquery.render import DEPLOY_SCRIPT, RENDERED
from cxr_sql.bigquery.zetasql_oracle import Result, Table, ZetaSQL, ZetaSQLError
from tests.bigquery_compare import normalised
from tests.helpers import build_warehouse, run_cli

DATASET = "my-project.cxr_derived"


@pytest.fixture(scope="module")
def warehouse(demo_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(demo_sources, tmp_path_factory.mktemp("render") / "warehouse")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bigquery")
    done = run_cli("render", "--dialect", "bigquery", "--dataset", DATASET, "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


def deploy_order(rendered: Path) -> list[str]:
    """The views in the order the deploy script creates them."""
    script = sqlglot.parse((rendered / DEPLOY_SCRIPT).read_text(), read="bigquery")
    return [statement.this.name for statement in script if isinstance(statement, exp.Create)]


def view_query(statement: str) -> str:
    """The query of a rendered CREATE VIEW statement, as rendered."""
    return statement.partition(" AS\n")[2].rstrip().removesuffix(";")


def tables_read(query: str) -> set[str]:
    """`project.dataset.table` of every table a query reads (not its CTEs)."""
    tables = sqlglot.parse_one(query, read="bigquery").find_all(exp.Table)
    return {f"{t.catalog}.{t.db}.{t.name}" for t in tables if t.db}


@pytest.fixture(scope="module")
def zetasql_views(rendered: Path, warehouse: Path, zetasql: ZetaSQL) -> dict[str, Result]:
    """Every rendered view run by ZetaSQL (BigQuery's reference evaluator), in the deploy
    script's order, on the demo warehouse's rows of the physionet-data tables it reads,
    typed as BigQuery publishes them; each view's rows are a table for the views after it."""
    types = table_types()
    tables: dict[str, Table] = {}
    results = {}
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        for view in deploy_order(rendered):
            query = view_query((rendered / f"{view}.sql").read_text())
            for name in tables_read(query) - set(tables):
                columns = types[name.removeprefix("physionet-data.")]
                listed = ", ".join(f'"{column}"' for column, _ in columns)
                rows = con.execute(f"SELECT {listed} FROM {name.split('.', 1)[1]}").fetchall()
                tables[name] = Table(name, columns, tuple(rows))
            try:
                result = zetasql.run(query, [tables[name] for name in tables_read(query)])
            except ZetaSQLError as error:
                pytest.fail(f"{view}: {error}")
            results[view] = result
            tables[f"{DATASET}.{view}"] = Table(
                f"{DATASET}.{view}", result.columns, tuple(result.rows)
            )
    return results


def test_deploy_script_creates_each_view_after_those_it_reads(rendered: Path) -> None:
    order = deploy_order(rendered)
    assert sorted(order) == sorted(RENDERED)
    for position, view in enumerate(order):
        reads = tables_read(view_query((rendered / f"{view}.sql").read_text()))
        derived = {name.rsplit(".", 1)[1] for name in reads if name.startswith(DATASET)}
        assert derived <= set(order[:position]), (view, derived)


@pytest.mark.parametrize(
    "dataset", ["my-project", "a.b.c.d", "My-Project.ds", "my-project.cxr-derived"]
)
def test_dataset_must_be_project_dot_dataset(dataset: str, tmp_path: Path) -> None:
    done = run_cli("render", "--dataset", dataset, "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "PROJECT.DATASET" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("view", RENDERED)
def test_zetasql_gives_the_rows_of_the_duckdb_view(
    view: str, zetasql_views: dict[str, Result], warehouse: Path
) -> None:
    expected = zetasql_views[view]
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        native = con.execute(f"SELECT * FROM mimic_cxr_derived.{view}")
        names = [column[0] for column in native.description]
        rows = native.fetchall()
    assert names == [name for name, _ in expected.columns]
    types = [bigquery_type for _, bigquery_type in expected.columns]
    assert normalised(expected.rows, types, False) == normalised(rows, types, False)
    if view.startswith("study_"):
        assert len(rows) > 300


def back_to_duckdb(statement: str) -> str:
    """The SELECT of a rendered CREATE VIEW, with this warehouse's names, in DuckDB SQL."""
    create = sqlglot.parse_one(statement, read="bigquery")
    assert isinstance(create, exp.Create)
    select = create.expression
    for table in select.find_all(exp.Table):
        if table.catalog == "physionet-data":
            table.set("catalog", None)
        elif table.db == "cxr_derived":
            table.set("db", exp.to_identifier("mimic_cxr_derived"))
            table.set("catalog", None)
    return select.sql(dialect="duckdb")


def test_every_view_rendered_and_parses_as_bigquery(rendered: Path) -> None:
    files = sorted(path for path in rendered.glob("*.sql") if path.name != DEPLOY_SCRIPT)
    assert [f.stem for f in files] == sorted(RENDERED)
    for path in files:
        text = path.read_text()
        assert text.startswith(f"CREATE OR REPLACE VIEW `{DATASET}.{path.stem}` AS")
        tree = sqlglot.parse_one(text, read="bigquery")
        names = {f"{t.catalog}.{t.db}" for t in tree.expression.find_all(exp.Table) if t.db}
        assert names <= {"physionet-data.mimic_cxr", "physionet-data.mimiciv_hosp",
                         "physionet-data.mimiciv_icu", "physionet-data.mimiciv_ed",
                         "my-project.cxr_derived"}, names  # fmt: skip


@pytest.mark.parametrize("view", RENDERED)
def test_round_trip_gives_the_native_rows(rendered: Path, warehouse: Path, view: str) -> None:
    sql = back_to_duckdb((rendered / f"{view}.sql").read_text())
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        native = sorted(con.execute(f"SELECT * FROM mimic_cxr_derived.{view}").fetchall(), key=repr)
        translated = sorted(con.execute(sql).fetchall(), key=repr)
    assert translated == native
    if view.startswith("study_"):
        assert len(native) > 300
