"""BigQuery SQL written for physionet-data, rewritten for this warehouse's catalog.

sqlglot does the dialect work (functions, quoting, types); this module maps
the names: `physionet-data.<dataset>.<table>` becomes `<schema>.<table>`, with
the datasets of older MIMIC-IV releases on BigQuery (`mimic_core`,
`mimic_hosp`, ...) mapped to today's schema names.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from cxr_sql.bigquery.names import RENAMED_DATASETS


def translate(sql: str) -> str:
    """DuckDB SQL for a BigQuery query on physionet-data tables."""
    statements = sqlglot.parse(sql, read="bigquery")
    out = []
    for statement in statements:
        if statement is None:
            continue
        for table in statement.find_all(exp.Table):
            dataset = table.args.get("db")
            if dataset is None:
                continue
            name = dataset.name
            table.set("db", exp.to_identifier(RENAMED_DATASETS.get(name, name)))
            table.set("catalog", None)
            table.set("this", exp.to_identifier(table.name))
        out.append(statement.sql(dialect="duckdb", pretty=True))
    return ";\n\n".join(out) + "\n"
