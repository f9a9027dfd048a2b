"""Shared fixtures: generated source trees, built once per test session."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.helpers import BUNDLED_DEMO, synth


@pytest.fixture(scope="session")
def tiny_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic sources at the tiny scale, with DICOM files."""
    return synth(tmp_path_factory.mktemp("tiny"), "tiny", dicom=True)


@pytest.fixture(scope="session")
def small_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 subjects, several chunks run by two processes."""
    return synth(tmp_path_factory.mktemp("small"), "small", jobs=2, chunk_subjects=80)


@pytest.fixture(scope="session")
def demo_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Studies placed on the real MIMIC-IV demo timeline (the vendored tables)."""
    return synth(
        tmp_path_factory.mktemp("demo"), "small", mimiciv_demo=BUNDLED_DEMO, mimiciv_version="2.2"
    )


@pytest.fixture
def sql():
    """An in-memory DuckDB connection: run SQL, get a list of tuples."""
    con = duckdb.connect()
    yield lambda query, *params: con.execute(query, list(params)).fetchall()
    con.close()


@pytest.fixture(scope="session")
def zetasql():
    """Google's ZetaSQL (BigQuery's reference evaluator), started once per session."""
    from cxr_sql.bigquery.zetasql_oracle import ZetaSQL

    return ZetaSQL()
