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

from pathlib import Path

import sqlglot
from sqlglot import exp

from cxr_sql.bigquery.names import RENDERED, SOURCE_PROJECT
from cxr_sql.catalog import DEFAULT_SETTINGS, DERIVED, render, templates

# Source tables the templates may read on BigQuery (no DICOM header table: see above).
ON_BIGQUERY = frozenset({"mimic_cxr/metadata", "mimic_cxr/study_list"})


def _name_tables(select: exp.Expression, dataset: str, project: str) -> exp.Expression:
    """Point every table at PhysioNet's project, and derived views at `dataset`."""
    own_project, _, own_dataset = dataset.rpartition(".")
    for table in select.find_all(exp.Table):
        schema = table.args.get("db")
        if schema is None:
            continue
        if schema.name == DERIVED:
            table.set("db", exp.to_identifier(own_dataset))
            table.set("catalog", exp.to_identifier(own_project) if own_project else None)
        else:
            table.set("catalog", exp.to_identifier(project))
    return select


def _bigquery_types(select: exp.Expression) -> exp.Expression:
    """MIMIC on BigQuery holds DATETIME, not TIMESTAMP: difference and parse accordingly."""
    for node in list(select.find_all(exp.DateDiff)):
        node.replace(
            exp.DatetimeDiff(this=node.this, expression=node.expression, unit=node.args.get("unit"))
        )
    for node in list(select.find_all(exp.StrToTime)):
        node.replace(
            exp.Anonymous(this="PARSE_DATETIME", expressions=[node.args["format"], node.this])
        )
    return select


def render_bigquery(
    dataset: str, project: str = SOURCE_PROJECT, settings: dict | None = None
) -> dict[str, str]:
    """View name -> `CREATE OR REPLACE VIEW` statement in BigQuery SQL."""
    chosen = {**DEFAULT_SETTINGS, **(settings or {})}
    statements = {}
    views = templates()
    for view in RENDERED:
        select = render(
            views[f"{DERIVED}.{view}"],
            Path("/nonexistent"),
            frozenset({"mimiciv_ed.edstays", "mimiciv_icu.icustays"}),
            overrides={**chosen, "exists": ON_BIGQUERY.__contains__},
        )
        tree = sqlglot.parse_one(select, read="duckdb")
        tree = _bigquery_types(_name_tables(tree, dataset, project))
        body = tree.sql(dialect="bigquery", pretty=True)
        statements[view] = f"CREATE OR REPLACE VIEW `{dataset}.{view}` AS\n{body};\n"
    return statements
