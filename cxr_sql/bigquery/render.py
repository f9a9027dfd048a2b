"""`cxr-sql render --dialect bigquery`: the derived views as BigQuery SQL.

For users who outgrow one machine and have MIMIC on BigQuery: the same jinja2
templates that define mimic_cxr_derived here are rendered, then rewritten by
sqlglot from DuckDB's dialect to BigQuery's, with the tables named as on
PhysioNet's project (`physionet-data.mimic_cxr.metadata`,
`physionet-data.mimiciv_hosp.admissions`) and the derived views in the user's
own dataset. Rendered from the JPG metadata (the DICOM header tables differ on
BigQuery), with the settings given; the views on report text are not rendered,
since the reports are not on BigQuery.
"""

from __future__ import annotations

import graphlib
import re
from pathlib import Path

import sqlglot
from sqlglot import exp

from cxr_sql.bigquery.names import RENDERED, SOURCE_PROJECT
from cxr_sql.catalog import DEFAULT_SETTINGS, DERIVED, render, templates

# Source tables the templates may read on BigQuery (no DICOM header table: see above).
ON_BIGQUERY = frozenset({"mimic_cxr/metadata", "mimic_cxr/study_list"})


# A Google Cloud project id and a BigQuery dataset name.
PROJECT_DATASET = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]\.[A-Za-z_][A-Za-z0-9_]{0,1023}")
DEPLOY_SCRIPT = "deploy.sql"


def check_dataset(dataset: str) -> None:
    """ValueError unless `dataset` is `project.dataset` as BigQuery spells them."""
    if not PROJECT_DATASET.fullmatch(dataset):
        raise ValueError(
            f"--dataset {dataset}: expected PROJECT.DATASET, a Google Cloud project id "
            "(6-30 lower-case letters, digits, hyphens) and a dataset name (letters, "
            "digits, underscores), e.g. my-project.cxr_derived"
        )


def _name_tables(select: exp.Expression, dataset: str, project: str) -> set[str]:
    """Point every table at PhysioNet's project, and derived views at `dataset`, each as
    one `project.dataset.table` identifier; the derived views it reads."""
    reads = set()
    for table in select.find_all(exp.Table):
        schema = table.args.get("db")
        if schema is None:
            continue
        if schema.name == DERIVED:
            reads.add(table.name)
            path = f"{dataset}.{table.name}"
        else:
            path = f"{project}.{schema.name}.{table.name}"
        table.set("this", exp.to_identifier(path, quoted=True))
        table.set("db", None)
        table.set("catalog", None)
    return reads


def _bigquery_types(select: exp.Expression) -> exp.Expression:
    """MIMIC on BigQuery holds DATETIME, not TIMESTAMP: difference and parse accordingly;
    MOD of the float StudyTime through NUMERIC."""
    for node in list(select.find_all(exp.DateDiff)):
        node.replace(
            exp.DatetimeDiff(this=node.this, expression=node.expression, unit=node.args.get("unit"))
        )
    for node in list(select.find_all(exp.Mod)):  # BigQuery's MOD takes no FLOAT64 (StudyTime)
        node.replace(
            exp.Anonymous(
                this="MOD",
                expressions=[exp.cast(node.this, "NUMERIC"), exp.cast(node.expression, "NUMERIC")],
            )
        )
    for node in list(select.find_all(exp.StrToTime)):
        node.replace(
            exp.Anonymous(this="PARSE_DATETIME", expressions=[node.args["format"], node.this])
        )
    return select


def render_bigquery(
    dataset: str, project: str = SOURCE_PROJECT, settings: dict | None = None
) -> dict[str, str]:
    """View name -> `CREATE OR REPLACE VIEW` statement in BigQuery SQL, in dependency
    order (a view after those it reads). ValueError for a `dataset` that is not
    `project.dataset`."""
    check_dataset(dataset)
    chosen = {**DEFAULT_SETTINGS, **(settings or {})}
    statements = {}
    reads: dict[str, set[str]] = {}
    views = templates()
    for view in RENDERED:
        select = render(
            views[f"{DERIVED}.{view}"],
            Path("/nonexistent"),
            frozenset({"mimiciv_ed.edstays", "mimiciv_icu.icustays"}),
            overrides={**chosen, "exists": ON_BIGQUERY.__contains__},
        )
        tree = sqlglot.parse_one(select, read="duckdb")
        reads[view] = _name_tables(tree, dataset, project)
        body = _bigquery_types(tree).sql(dialect="bigquery", pretty=True)
        statements[view] = f"CREATE OR REPLACE VIEW `{dataset}.{view}` AS\n{body};\n"
    order = graphlib.TopologicalSorter(reads).static_order()
    return {view: statements[view] for view in order}


def deploy_script(statements: dict[str, str], dataset: str) -> str:
    """One BigQuery script creating every view, in the order given (dependency order)."""
    header = (
        f"-- cxr-sql render: the derived views in {dataset}, each after the views it reads.\n"
        "-- Run as one script: bq query --use_legacy_sql=false < deploy.sql\n\n"
    )
    return header + "\n".join(statements.values())
