"""The data dictionary covers every view and column of a built warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from pydicom.datadict import tag_for_keyword

from cxr_sql.catalog import templates
from cxr_sql.dictionary import collect, template_doc
from cxr_sql.meanings import COLUMNS, column_meaning
from tests.helpers import build_warehouse, run_cli


@pytest.fixture(scope="module")
def warehouse(tiny_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tiny_sources, tmp_path_factory.mktemp("dictionary") / "warehouse")


def test_docs_command_covers_every_view_and_column(warehouse: Path, tmp_path: Path) -> None:
    done = run_cli("docs", "--warehouse", str(warehouse), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "dictionary.md").read_text()
    page = (tmp_path / "dictionary.html").read_text()
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        columns = con.execute(
            "SELECT table_schema, table_name, column_name, data_type "
            "FROM information_schema.columns"
        ).fetchall()
    views = {(schema, table) for schema, table, _, _ in columns}
    assert len(views) > 40
    for schema, table in views:
        assert f"### {schema}.{table}\n" in text
        assert f"id='{schema}.{table}'" in page
    for schema, table, column, data_type in columns:
        assert f"| `{column}` | {data_type} |" in text, (schema, table, column)


def test_every_templated_view_column_has_a_real_meaning(warehouse: Path) -> None:
    """Each column of a view written in sql/ is documented in its template, or is a
    column every schema shares (meanings.COLUMNS), or a label column."""
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        views = {(v.schema, v.name): v for v in collect(con)}
    checked = 0
    for name, path in templates().items():
        schema, view = name.split(".")
        if (schema, view) not in views:
            continue
        doc = template_doc(path)
        assert doc.description, name
        for column in views[schema, view].columns:
            documented = column.name in doc.columns or column.name in COLUMNS
            # dicom_metadata_string: one column per DICOM keyword found, as its template says
            keyword = view == "dicom_metadata_string" and tag_for_keyword(column.name)
            documented = documented or bool(keyword)
            label = view in ("chexpert", "negbio") and "labeler" in column_meaning(
                view, column.name
            )
            assert documented or label, (name, column.name)
            checked += 1
    assert checked > 150


def test_template_header_parsing() -> None:
    doc = template_doc(templates()["mimic_cxr_derived.study_times"])
    assert doc.description.startswith("when each study was taken")
    assert "milliseconds kept" in doc.columns["study_datetime"]
    assert doc.columns["time_source"].startswith("dicom, jpg")
