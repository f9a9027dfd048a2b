"""The constructs a BigQuery query uses, named as the translator and its checks name them.

`python -m cxr_sql.bigquery.inventory OUT.json LABEL=DIR_OR_FILE...` counts them
over .sql files (mimic-code's `mimic-iv/concepts`, the project's BigQuery render)
and writes names and counts per label only, never the SQL. The differential suite reads that
file to list which constructs it checked, which `translate` refuses, and which
are neither.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import sqlglot
from sqlglot import exp

# Nodes that carry no meaning of their own (names, punctuation of the tree).
STRUCTURAL = frozenset(
    {"Identifier", "Column", "Alias", "TableAlias", "Table", "Paren", "From", "Var", "Literal",
     "DataType", "DataTypeParam", "Star", "Tuple", "Dot"}
)  # fmt: skip
PARTS = (exp.Extract,)
UNITS = (
    exp.DatetimeDiff,
    exp.TimestampDiff,
    exp.DateDiff,
    exp.DateTrunc,
    exp.DatetimeTrunc,
    exp.TimestampTrunc,
    exp.DateAdd,
    exp.DateSub,
    exp.DatetimeAdd,
    exp.DatetimeSub,
)


def construct_name(node: exp.Expression) -> str:
    """A node as a construct: BigQuery function name, with its date part where it has one."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    if isinstance(node, exp.Func):
        name = node.meta.get("bigquery_name") or node.sql_name()
        name = name.upper()
        if isinstance(node, PARTS):
            return f"{name}({node.name.upper()})"
        if isinstance(node, UNITS):
            unit = node.args.get("unit")
            if isinstance(unit, exp.WeekStart):
                return f"{name}(WEEK({unit.name.upper()}))"
            part = unit.name.upper() if unit is not None else "DAY"
            return f"{name}({part})"
        if isinstance(node, (exp.Cast, exp.TryCast)):
            return f"{name} AS {node.to.sql('bigquery').upper()}"
        return name
    return type(node).__name__


def constructs(sql: str) -> Counter[str]:
    """Each construct of the statements in `sql`, with how often it occurs."""
    found: Counter[str] = Counter()
    for statement in sqlglot.parse(sql, read="bigquery"):
        if statement is None:
            continue
        for node in statement.walk():
            name = construct_name(node)
            if name not in STRUCTURAL:
                found[name] += 1
    return found


def inventory(paths: list[Path]) -> dict[str, int]:
    """Constructs over every .sql file under the paths, most used first."""
    total: Counter[str] = Counter()
    for path in paths:
        for file in sorted(path.rglob("*.sql")) if path.is_dir() else [path]:
            total.update(constructs(file.read_text()))
    return dict(sorted(total.items(), key=lambda item: (-item[1], item[0])))


def main(argv: list[str]) -> int:
    out, *sources = argv
    counts = {}
    for source in sources:
        label, _, path = source.partition("=")
        counts[label] = inventory([Path(path)])
    Path(out).write_text(json.dumps(counts, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
