"""BigQuery SQL written for physionet-data, rewritten for this warehouse's DuckDB catalog.

sqlglot parses BigQuery and writes DuckDB; on top of that this module
(1) maps names: `physionet-data.<dataset>.<table>` becomes `<schema>.<table>`
(older MIMIC-IV datasets such as `mimic_core` to today's schemas, a user's own
datasets through `dataset_map`, the views `cxr-sql render` writes back to
mimic_cxr_derived), and (2) rewrites the constructs whose meaning differs
between the two engines so that DuckDB computes BigQuery's answer (NUMERIC's
scale, COUNTIF over NULLs, FORMAT, SUBSTR from 0 or from the end, DAYOFWEEK,
DATE arithmetic returning DATE, GREATEST over NULLs, float literals, ...).

Every node of the parsed query must be a construct the differential suite
(tests/test_bigquery_differential.py, against ZetaSQL) checks; anything else is
refused with `Refused`, naming the construct and its line, rather than passed
through to a possibly different answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types

from cxr_sql.bigquery.bigquery_types import sqlglot_schema
from cxr_sql.bigquery.names import DATASETS, DERIVED, RENAMED_DATASETS, RENDERED, SOURCE_PROJECT

NUMERIC = exp.DataType.build("DECIMAL(38, 9)")  # BigQuery NUMERIC
MAX_DECIMAL_PRECISION = 38  # DuckDB's widest DECIMAL

# EXTRACT parts BigQuery and DuckDB mean alike.
SAME_PARTS = frozenset(
    {"YEAR", "QUARTER", "MONTH", "DAY", "DAYOFYEAR", "HOUR", "MINUTE", "SECOND", "ISOYEAR"}
)
# Units DATETIME_DIFF and friends count alike (boundaries crossed) in both engines.
DIFF_UNITS = frozenset(
    {"YEAR", "QUARTER", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND"}
)
TRUNC_UNITS = frozenset({"YEAR", "QUARTER", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"})
CAST_TYPES = frozenset(
    {
        exp.DataType.Type.BIGINT,
        exp.DataType.Type.DOUBLE,
        exp.DataType.Type.DECIMAL,
        exp.DataType.Type.TEXT,
        exp.DataType.Type.VARCHAR,
        exp.DataType.Type.BOOLEAN,
        exp.DataType.Type.DATE,
        exp.DataType.Type.DATETIME,
        exp.DataType.Type.TIMESTAMP,
        exp.DataType.Type.TIMESTAMPTZ,
    }
)
# BigQuery's other names of INT64 and FLOAT64 (sqlglot reads them as DuckDB's narrower types).
ALIASES = {
    exp.DataType.Type.INT: exp.DataType.Type.BIGINT,
    exp.DataType.Type.SMALLINT: exp.DataType.Type.BIGINT,
    exp.DataType.Type.TINYINT: exp.DataType.Type.BIGINT,
    exp.DataType.Type.FLOAT: exp.DataType.Type.DOUBLE,
}
# Operand types a cast to INT64 needs no rounding for (as sqlglot infers them).
EXACT_TYPES = (*exp.DataType.INTEGER_TYPES, *exp.DataType.TEXT_TYPES, exp.DataType.Type.NULL)
# Operand types whose text is the same in both engines.
TEXT_EXACT_TYPES = (
    *EXACT_TYPES,
    exp.DataType.Type.DATE,
    exp.DataType.Type.BOOLEAN,
)


class Refused(ValueError):
    """A construct whose BigQuery meaning this translator cannot keep."""

    def __init__(self, construct: str, line: int | None, why: str) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{construct}: {why}")
        self.construct = construct
        self.line = line


def _line(node: exp.Expression) -> int | None:
    """The line a node starts on (its own or its first token-bearing descendant's)."""
    for candidate in node.walk():
        line = candidate.meta.get("line") if candidate.meta else None
        if line:
            return line
    return None


def _refuse(node: exp.Expression, construct: str, why: str) -> Refused:
    return Refused(construct, _line(node), why)


def _name(node: exp.Expression) -> str:
    """The BigQuery spelling of a construct, for messages and the inventory."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    if isinstance(node, exp.Func):
        return node.meta.get("bigquery_name") or node.sql_name()
    return type(node).__name__


# -- names --------------------------------------------------------------------------------


def _map_tables(
    tree: exp.Expression,
    dataset_map: Mapping[str, str],
    datasets: tuple[str, ...],
    tables: frozenset[str] | None,
) -> None:
    """Point every table at this warehouse's schema, or refuse its dataset (or, when the
    warehouse's `tables` are given, a table it does not hold)."""
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        if not table.args.get("db"):
            if table.name not in ctes and not isinstance(table.this, exp.Func):
                raise _refuse(
                    table,
                    f"table {table.name}",
                    "no dataset given; name it as on BigQuery (physionet-data.<dataset>.<table>)",
                )
            continue
        project, dataset = table.catalog, table.db
        qualified = f"{project}.{dataset}" if project else dataset
        if qualified in dataset_map:
            schema = dataset_map[qualified]
        elif project in ("", SOURCE_PROJECT) and dataset in datasets:
            schema = dataset
        elif project in ("", SOURCE_PROJECT) and dataset in RENAMED_DATASETS:
            schema = RENAMED_DATASETS[dataset]
        elif project not in ("", SOURCE_PROJECT) and table.name in RENDERED:
            schema = DERIVED  # a view `cxr-sql render` wrote to the user's dataset
        elif project in ("", SOURCE_PROJECT):
            raise _refuse(
                table,
                f"dataset {qualified}",
                f"not a dataset this warehouse holds ({', '.join(datasets)})",
            )
        else:
            raise _refuse(
                table,
                f"dataset {qualified}",
                f"unknown here; map it with --dataset-map {qualified}=SCHEMA "
                f"(schemas: {', '.join(datasets)})",
            )
        if tables is not None and f"{schema}.{table.name}" not in tables:
            held = sorted(name.split(".")[1] for name in tables if name.startswith(f"{schema}."))
            raise _refuse(
                table,
                f"table {qualified}.{table.name}",
                f"not in this warehouse ({schema} holds: {', '.join(held) or 'nothing'})",
            )
        table.set("db", exp.to_identifier(schema))
        table.set("catalog", None)
        table.set("this", exp.to_identifier(table.name))


# -- meanings -----------------------------------------------------------------------------


def _cast_type(node: exp.Cast) -> exp.Expression:
    """NUMERIC is DECIMAL(38, 9); BIGNUMERIC and wider decimals have no DuckDB type;
    INTEGER, INT, SMALLINT, TINYINT, BYTEINT and FLOAT are BigQuery's names of INT64
    and FLOAT64, not DuckDB's narrower types."""
    if node.to.this in ALIASES:
        node.set("to", exp.DataType.build(ALIASES[node.to.this]))
    to = node.to
    if to.this == exp.DataType.Type.BIGDECIMAL:
        raise _refuse(node, "BIGNUMERIC", "DuckDB has no decimal type with 76 digits")
    if to.this == exp.DataType.Type.DECIMAL:
        params = to.expressions
        if not params:
            node.set("to", NUMERIC.copy())
        elif int(params[0].name) > MAX_DECIMAL_PRECISION:
            raise _refuse(node, f"NUMERIC({params[0].name})", "wider than DuckDB's 38 digits")
    elif to.this == exp.DataType.Type.TIMESTAMPTZ:
        return _as_utc_timestamp(node)
    elif to.this not in CAST_TYPES:
        raise _refuse(node, f"CAST AS {to.sql('bigquery')}", "not a checked cast")
    elif to.this in (exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR):
        if not node.this.is_type(*TEXT_EXACT_TYPES):
            raise _refuse(
                node,
                "CAST AS STRING",
                "only of an INT64, STRING, DATE or BOOL known as such here (the text of a "
                "FLOAT64 or NUMERIC differs: BigQuery writes 1.0 as '1'); cast to INT64 first",
            )
    elif to.this == exp.DataType.Type.BIGINT and not node.this.is_type(*EXACT_TYPES):
        # BigQuery rounds a FLOAT64 half away from zero (2.5 -> 3); DuckDB's cast to even
        node.set("this", exp.Round(this=node.this))
    return node


def _as_utc_timestamp(node: exp.Cast) -> exp.Expression:
    """A BigQuery TIMESTAMP is held as DuckDB's TIMESTAMP in UTC, so that nothing depends on
    the session's time zone (DuckDB's TIMESTAMPTZ would be read in it, and so would a
    string without an offset, which BigQuery reads as UTC)."""
    operand = node.this
    if isinstance(operand, exp.Literal) and operand.is_string:
        text = operand.this.strip().replace(" UTC", "+00:00")
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _refuse(
                node, f"TIMESTAMP '{operand.this}'", "not a timestamp read here"
            ) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return exp.cast(exp.Literal.string(moment.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
    if operand.is_type(
        exp.DataType.Type.DATE, exp.DataType.Type.DATETIME, exp.DataType.Type.TIMESTAMP
    ):
        return exp.cast(operand, exp.DataType.Type.TIMESTAMP)
    raise _refuse(
        node,
        "CAST AS TIMESTAMP",
        "only of a literal, a DATE or a DATETIME (DuckDB reads a string in its session's "
        "time zone)",
    )


def _float_literal(node: exp.Literal) -> exp.Expression:
    """BigQuery reads 0.5 as FLOAT64; DuckDB would read a DECIMAL."""
    text = node.this
    if node.is_string or not any(mark in text for mark in ".eE"):
        return node
    return exp.cast(exp.Literal.string(text), exp.DataType.Type.DOUBLE)


def _countif(node: exp.CountIf) -> exp.Expression:
    """COUNTIF counts TRUE rows: 0, never NULL, over NULLs or no rows."""
    return exp.Count(this=exp.Case(ifs=[exp.If(this=node.this, true=exp.Literal.number(1))]))


def _format(node: exp.Format) -> exp.Expression:
    """FORMAT with a literal pattern of %s, %d, %i and %% becomes a concatenation,
    NULL when an argument is NULL, as in BigQuery."""
    pattern = node.this
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise _refuse(node, "FORMAT", "the pattern must be a string literal to translate")
    text, args = pattern.this, list(node.expressions)
    pieces: list[exp.Expression] = []
    literal, index, position = "", 0, 0
    while position < len(text):
        char = text[position]
        if char != "%":
            literal += char
            position += 1
            continue
        spec = text[position + 1 : position + 2]
        if spec == "%":
            literal += "%"
        elif spec in ("s", "d", "i") and index < len(args):
            if literal:
                pieces.append(exp.Literal.string(literal))
                literal = ""
            pieces.append(exp.cast(args[index], exp.DataType.Type.VARCHAR))
            index += 1
        else:
            raise _refuse(node, f"FORMAT '{text}'", "only %s, %d, %i and %% are translated")
        position += 2
    if literal or not pieces:
        pieces.append(exp.Literal.string(literal))
    if index != len(args):
        raise _refuse(node, "FORMAT", "more arguments than the pattern uses")
    joined = pieces[0]
    for piece in pieces[1:]:
        joined = exp.DPipe(this=joined, expression=piece, safe=False)
    return joined


def _substr(node: exp.Substring) -> exp.Expression:
    """BigQuery's position 0 means 1, and a position before the start means the start."""
    start = node.args.get("start")
    if isinstance(start, exp.Literal) and int(start.name) >= 0:
        node.set("start", exp.Literal.number(max(int(start.name), 1)))
        return node
    length = exp.Length(this=node.this.copy())
    from_end = exp.Add(
        this=length, expression=exp.Add(this=start.copy(), expression=exp.Literal.number(1))
    )
    adjusted = exp.Case(
        ifs=[
            exp.If(
                this=exp.LT(this=start.copy(), expression=exp.Literal.number(0)),
                true=exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.LT(this=from_end, expression=exp.Literal.number(1)),
                            true=exp.Literal.number(1),
                        )
                    ],
                    default=from_end.copy(),
                ),
            ),
            exp.If(
                this=exp.EQ(this=start.copy(), expression=exp.Literal.number(0)),
                true=exp.Literal.number(1),
            ),
        ],
        default=start.copy(),
    )
    node.set("start", adjusted)
    return node


def _extract(node: exp.Extract) -> exp.Expression:
    part = node.name.upper()
    if part in SAME_PARTS:
        return node
    value = node.expression
    if part == "DAYOFWEEK":  # 1 (Sunday) .. 7; DuckDB's DOW is 0 .. 6
        dow = exp.Extract(this=exp.var("DOW"), expression=value)
        return exp.Paren(this=exp.Add(this=dow, expression=exp.Literal.number(1)))
    if part == "ISOWEEK":
        return exp.Extract(this=exp.var("WEEK"), expression=value)
    if part == "WEEK":  # weeks from Sunday, 0 before the year's first Sunday
        week = exp.Anonymous(this="strftime", expressions=[value, exp.Literal.string("%U")])
        return exp.cast(week, exp.DataType.Type.BIGINT)
    if part == "DATE":
        return exp.cast(value, exp.DataType.Type.DATE)
    raise _refuse(node, f"EXTRACT({part})", "not a checked date part")


def _as_date(node: exp.Expression) -> exp.Expression:
    """DATE_ADD, DATE_SUB and DATE_TRUNC of a DATE are a DATE in BigQuery, not a TIMESTAMP."""
    unit = node.args.get("unit")
    name = unit.name.upper() if unit is not None else ""
    if isinstance(node, exp.DateTrunc):
        if isinstance(unit, exp.WeekStart) and unit.name.upper() == "SUNDAY":
            return node  # sqlglot's rewrite already returns a DATE
        if name not in TRUNC_UNITS:
            raise _refuse(node, f"DATE_TRUNC({name or unit.sql('bigquery')})", "not a checked part")
    return exp.cast(node, exp.DataType.Type.DATE)


def _unit_checked(units: frozenset[str]) -> Callable[[exp.Expression], exp.Expression]:
    """A rewrite that keeps a node whose date part is among `units` and refuses others."""

    def check(node: exp.Expression) -> exp.Expression:
        unit = node.args.get("unit")
        name = unit.name.upper() if unit is not None else "DAY"
        if isinstance(unit, exp.WeekStart):
            name = f"WEEK({name})"
        if name not in units:
            raise _refuse(node, f"{_name(node)}({name})", "not a checked date part")
        return node

    return check


_diff = _unit_checked(DIFF_UNITS)
_trunc = _unit_checked(TRUNC_UNITS)


def _timestamp_diff(node: exp.TimestampDiff) -> exp.Expression:
    """TIMESTAMP_DIFF counts whole parts elapsed (truncated), not boundaries crossed."""
    _diff(node)
    unit = node.args.get("unit")
    part = exp.Literal.string(unit.name.lower() if unit is not None else "day")
    return exp.Anonymous(this="date_sub", expressions=[part, node.expression, node.this])


def _not_of_numeric(node: exp.Expression) -> exp.Expression:
    """DuckDB divides and averages DECIMALs as DOUBLE; BigQuery keeps NUMERIC's 9 places."""
    operands = [node.this, node.args.get("expression")]
    if any(
        operand is not None and operand.is_type(exp.DataType.Type.DECIMAL) for operand in operands
    ):
        construct = "AVG" if isinstance(node, exp.Avg) else "/"
        raise _refuse(
            node,
            f"{construct} of a NUMERIC",
            "DuckDB computes it as DOUBLE; cast to FLOAT64 first if that is what you want",
        )
    return node


def _array_agg(node: exp.ArrayAgg) -> exp.Expression:
    if node.find(exp.Limit):
        raise _refuse(node, "ARRAY_AGG(... LIMIT n)", "not translated")
    return node


def _like(node: exp.Like) -> exp.Expression:
    """BigQuery's LIKE escapes with a backslash; DuckDB's has no escape unless told."""
    if isinstance(node.parent, exp.Escape):
        return node
    return exp.Escape(this=node, expression=exp.Literal.string("\\"))


def _ignore_nulls(node: exp.IgnoreNulls) -> exp.Expression:
    if not isinstance(node.this, exp.ArrayAgg):
        raise _refuse(node, f"{_name(node.this)}(... IGNORE NULLS)", "not translated")
    return node


REWRITES: dict[type[exp.Expression], Callable[[exp.Expression], exp.Expression]] = {
    exp.Cast: _cast_type,
    exp.TryCast: _cast_type,
    exp.Literal: _float_literal,
    exp.CountIf: _countif,
    exp.Format: _format,
    exp.Substring: _substr,
    exp.Extract: _extract,
    exp.DateAdd: _as_date,
    exp.DateSub: _as_date,
    exp.DateTrunc: _as_date,
    exp.DatetimeDiff: _diff,
    exp.TimestampDiff: _timestamp_diff,
    exp.DateDiff: _diff,
    exp.DatetimeTrunc: _trunc,
    exp.TimestampTrunc: _trunc,
    exp.ArrayAgg: _array_agg,
    exp.Div: _not_of_numeric,
    exp.Avg: _not_of_numeric,
    exp.Like: _like,
    exp.IgnoreNulls: _ignore_nulls,
}

# Constructs that mean the same in both engines (checked by the differential suite),
# besides those REWRITES handles.
SAME_MEANING: frozenset[type[exp.Expression]] = frozenset(
    {
        exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery, exp.With, exp.CTE,
        exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Qualify, exp.Order, exp.Ordered,
        exp.Limit, exp.Offset, exp.Distinct, exp.Table, exp.TableAlias, exp.Alias,
        exp.Column, exp.Identifier, exp.Star, exp.Dot, exp.Null, exp.Boolean, exp.Var,
        exp.DataType, exp.DataTypeParam, exp.Paren, exp.Tuple, exp.Neg, exp.Not,
        exp.And, exp.Or, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is,
        exp.In, exp.Between, exp.Like, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv,
        exp.Mod, exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Abs, exp.Ceil, exp.Floor,
        exp.Greatest, exp.Least,
        exp.Round, exp.Exp, exp.Ln, exp.Pow, exp.Sqrt, exp.Lower, exp.Upper, exp.Length,
        exp.Concat, exp.Trim, exp.SafeDivide, exp.Count, exp.Sum, exp.Avg, exp.Min,
        exp.Max, exp.Window, exp.WindowSpec, exp.RowNumber, exp.Rank, exp.DenseRank,
        exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.GroupConcat,
        exp.RegexpLike, exp.Unnest, exp.GenerateSeries, exp.TimestampFromParts,
        exp.TsOrDsToDatetime, exp.DatetimeAdd, exp.DatetimeSub, exp.TimestampAdd,
        exp.TimestampSub, exp.Interval, exp.WeekStart, exp.Exists, exp.LogicalOr,
        exp.LogicalAnd, exp.StrToTime, exp.ParseDatetime, exp.Filter, exp.RawString,
        exp.DPipe, exp.Escape,
    }
)  # fmt: skip


def _rewrite(tree: exp.Expression) -> exp.Expression:
    for node in list(tree.walk()):
        kind = type(node)
        if kind not in REWRITES and kind not in SAME_MEANING:
            raise _refuse(node, _name(node), "not translated (no check against BigQuery covers it)")
    for kind, rewrite in REWRITES.items():
        for node in list(tree.find_all(kind)):
            if node is tree:
                tree = rewrite(node)
                continue
            placeholder = exp.Null()
            node.replace(placeholder)  # detached, so a rewrite may wrap it
            placeholder.replace(rewrite(node))
    return tree


def translate(
    sql: str,
    dataset_map: Mapping[str, str] | None = None,
    datasets: tuple[str, ...] = DATASETS,
    tables: frozenset[str] | None = None,
) -> str:
    """DuckDB SQL for a BigQuery query on physionet-data tables; Refused if a construct's
    BigQuery meaning cannot be kept. `datasets`: the schemas the warehouse holds;
    `tables`: its `schema.table` names, to refuse a table it lacks (None: not checked)."""
    statements = [statement for statement in sqlglot.parse(sql, read="bigquery") if statement]
    out = []
    for statement in statements:
        if not isinstance(statement, exp.Query):
            construct = statement.key.upper()
            raise _refuse(
                statement,
                construct,
                "only queries are translated (BigQuery scripting such as DECLARE/SET is not)",
            )
        _map_tables(statement, dataset_map or {}, datasets, tables)
        annotate_types(statement, schema=sqlglot_schema(), dialect="bigquery")
        out.append(_rewrite(statement).sql(dialect="duckdb", pretty=True))
    return ";\n\n".join(out) + "\n"
