"""The BigQuery render of the derived views: it parses as BigQuery, and translated back to
DuckDB it gives the same rows as the native views on the demo warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from cxr_sql.bigquery.render import RENDERED
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
    files = sorted(rendered.glob("*.sql"))
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
