"""Google's ZetaSQL (BigQuery's SQL analyser and reference evaluator) as an oracle.

Given tables typed with BigQuery type names and their rows as Python values, it
analyses a BigQuery query against them and executes it in ZetaSQL's reference
evaluator, returning rows as the Python values DuckDB's client returns (int,
float, Decimal, str, bool, date, datetime, time, list, dict), so the two can be
compared. It is the checker of `translate` and `render`; nothing in a build
uses it.

The `zetasql` wheel runs ZetaSQL compiled to WebAssembly; compiling that
module takes tens of seconds, so wasmtime's code cache is switched on
(~/.cache/wasmtime, keyed by the module and wasmtime's version): later starts
take about a second.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import wasmtime
import zetasql.core.wasm_client
from google.protobuf.timestamp_pb2 import Timestamp

NUMERIC_SCALE = 9  # BigQuery NUMERIC is DECIMAL(38, 9)
BIGNUMERIC_SCALE = 38  # and BIGNUMERIC DECIMAL(76.76, 38)
EPOCH = dt.date(1970, 1, 1)
UTC = dt.UTC


class _CachingConfig(wasmtime.Config):
    """wasmtime's Config with its compiled-code cache on (zetasql builds its own Config)."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = True


zetasql.core.wasm_client.Config = _CachingConfig

from zetasql.api import CatalogBuilder, PreparedQuery, TableBuilder  # noqa: E402
from zetasql.core import ZetaSqlLocalService  # noqa: E402
from zetasql.core.exceptions import ServerError  # noqa: E402
from zetasql.types import (  # noqa: E402
    AnalyzerOptions,
    EvaluateQueryRequest,
    LanguageOptions,
    TableContent,
    TableData,
    TypeKind,
    Value,
    ZetaSQLBuiltinFunctionOptions,
)
from zetasql.wasi._pb2.zetasql.local_service import local_service_pb2  # noqa: E402

TYPE_KINDS = {
    "INT64": TypeKind.TYPE_INT64,
    "FLOAT64": TypeKind.TYPE_DOUBLE,
    "NUMERIC": TypeKind.TYPE_NUMERIC,
    "BIGNUMERIC": TypeKind.TYPE_BIGNUMERIC,
    "STRING": TypeKind.TYPE_STRING,
    "BOOL": TypeKind.TYPE_BOOL,
    "DATE": TypeKind.TYPE_DATE,
    "DATETIME": TypeKind.TYPE_DATETIME,
    "TIMESTAMP": TypeKind.TYPE_TIMESTAMP,
    "TIME": TypeKind.TYPE_TIME,
    "BYTES": TypeKind.TYPE_BYTES,
}


class ZetaSQLError(Exception):
    """ZetaSQL refused the query (analysis) or failed evaluating it."""


@dataclass(frozen=True)
class Table:
    """A table for the catalog: its full name as queried, (column, BigQuery type), rows."""

    name: str
    columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[Any, ...], ...] = ()


@dataclass(frozen=True)
class Result:
    """Rows of a query, with the name and BigQuery type of each column."""

    columns: tuple[tuple[str, str], ...]
    rows: list[tuple[Any, ...]]


def _packed_datetime_seconds(value: dt.datetime) -> int:
    """ZetaSQL's bit field for DATETIME seconds (year, month, day, hour, minute, second)."""
    return (
        value.year << 26
        | value.month << 22
        | value.day << 17
        | value.hour << 12
        | value.minute << 6
        | value.second
    )


def _scaled_bytes(value: Decimal, scale: int) -> bytes:
    """NUMERIC/BIGNUMERIC wire form: value * 10^scale, little-endian two's complement."""
    with localcontext(prec=100):
        scaled = int(value.scaleb(scale).to_integral_exact())
    length = max(1, (scaled.bit_length() + 8) // 8)
    return scaled.to_bytes(length, "little", signed=True)


def _encode(value: Any, bigquery_type: str) -> Value:
    """A Python value as a ZetaSQL Value of the column's type."""
    if value is None:
        return Value()
    match bigquery_type:
        case "INT64":
            return Value(int64_value=int(value))
        case "FLOAT64":
            return Value(double_value=float(value))
        case "NUMERIC":
            return Value(numeric_value=_scaled_bytes(Decimal(value), NUMERIC_SCALE))
        case "BIGNUMERIC":
            return Value(bignumeric_value=_scaled_bytes(Decimal(value), BIGNUMERIC_SCALE))
        case "STRING":
            return Value(string_value=str(value))
        case "BOOL":
            return Value(bool_value=bool(value))
        case "BYTES":
            return Value(bytes_value=bytes(value))
        case "DATE":
            return Value(date_value=(value - EPOCH).days)
        case "DATETIME":
            return Value(
                datetime_value=Value.Datetime(
                    bit_field_datetime_seconds=_packed_datetime_seconds(value),
                    nanos=value.microsecond * 1000,
                )
            )
        case "TIMESTAMP":
            seconds = (value - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(seconds=1)
            return Value(timestamp_value=Timestamp(seconds=seconds, nanos=value.microsecond * 1000))
        case "TIME":
            nanos = value.microsecond * 1000
            return Value(
                time_value=value.hour << 42 | value.minute << 36 | value.second << 30 | nanos
            )
    raise ValueError(f"no encoding for BigQuery type {bigquery_type}")


def _type_name(zeta_type: Any) -> str:
    """BigQuery's spelling of a ZetaSQL output column type."""
    kind = zeta_type.type_kind
    if kind == TypeKind.TYPE_ARRAY:
        return f"ARRAY<{_type_name(zeta_type.array_type.element_type)}>"
    if kind == TypeKind.TYPE_STRUCT:
        fields = ", ".join(
            f"{field.field_name} {_type_name(field.field_type)}"
            for field in zeta_type.struct_type.field
        )
        return f"STRUCT<{fields}>"
    for name, known in TYPE_KINDS.items():
        if kind == known:
            return name
    return str(kind).removeprefix("TypeKind.").removeprefix("TYPE_")


def _decode(value: Any, zeta_type: Any) -> Any:
    """A ZetaSQL output value (the raw ValueProto) as the Python value DuckDB's client gives."""
    kind = zeta_type.type_kind
    held = value.WhichOneof("value")
    if kind == TypeKind.TYPE_ARRAY:  # BigQuery returns a NULL array as an empty one
        elements = value.array_value.element if held else []
        return [_decode(element, zeta_type.array_type.element_type) for element in elements]
    if held is None:
        return None
    if kind == TypeKind.TYPE_STRUCT:
        fields = zeta_type.struct_type.field
        return {
            field.field_name: _decode(cell, field.field_type)
            for field, cell in zip(fields, value.struct_value.field, strict=True)
        }
    if kind in (TypeKind.TYPE_NUMERIC, TypeKind.TYPE_BIGNUMERIC):
        scale = NUMERIC_SCALE if kind == TypeKind.TYPE_NUMERIC else BIGNUMERIC_SCALE
        raw = int.from_bytes(getattr(value, held), "little", signed=True)
        with localcontext(prec=100):
            return Decimal(raw).scaleb(-scale).normalize()
    if kind == TypeKind.TYPE_DATE:
        return EPOCH + dt.timedelta(days=value.date_value)
    if kind == TypeKind.TYPE_DATETIME:
        bits = value.datetime_value.bit_field_datetime_seconds
        return dt.datetime(
            bits >> 26,
            bits >> 22 & 15,
            bits >> 17 & 31,
            bits >> 12 & 31,
            bits >> 6 & 63,
            bits & 63,
            value.datetime_value.nanos // 1000,
        )
    if kind == TypeKind.TYPE_TIMESTAMP:
        stamp = value.timestamp_value
        moment = dt.timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)
        return dt.datetime(1970, 1, 1, tzinfo=UTC) + moment
    if kind == TypeKind.TYPE_TIME:
        bits = value.time_value
        return dt.time(
            bits >> 42 & 31, bits >> 36 & 63, bits >> 30 & 63, (bits & (1 << 30) - 1) // 1000
        )
    return getattr(value, held)  # INT64, FLOAT64, STRING, BOOL, BYTES


class ZetaSQL:
    """BigQuery's dialect, analysed and evaluated by ZetaSQL, in this process."""

    def __init__(self) -> None:
        self._language = LanguageOptions.maximum_features()
        self._language.product_mode = "PRODUCT_EXTERNAL"  # BigQuery's type names
        self._options = AnalyzerOptions(language_options=self._language, default_timezone="UTC")
        self._builtins = ZetaSQLBuiltinFunctionOptions(language_options=self._language)

    def _catalog(self, tables: Iterable[Table]) -> Any:
        catalog = CatalogBuilder("oracle").with_builtin_functions(self._builtins)
        for table in tables:
            builder = TableBuilder(table.name)
            for column, bigquery_type in table.columns:
                builder.add_column(column, TYPE_KINDS[bigquery_type])
            catalog.add_table(builder.build())
        return catalog.build()

    def _prepare(self, sql: str, tables: Sequence[Table]) -> PreparedQuery:
        content = {
            table.name: TableContent(
                table_data=TableData(
                    row=[
                        TableData.Row(
                            cell=[
                                _encode(value, bigquery_type)
                                for value, (_, bigquery_type) in zip(
                                    row, table.columns, strict=True
                                )
                            ]
                        )
                        for row in table.rows
                    ]
                )
            )
            for table in tables
        }
        try:
            return (
                PreparedQuery.builder()
                .set_sql(sql)
                .set_analyzer_options(self._options)
                .set_catalog(self._catalog(tables))
                .set_table_content(content)
                .prepare()
            )
        except ServerError as error:
            raise ZetaSQLError(str(error)) from None

    def analyse(self, sql: str, tables: Sequence[Table]) -> tuple[tuple[str, str], ...]:
        """The output columns (name, BigQuery type) of a query; ZetaSQLError if it is invalid."""
        with self._prepare(sql, tables) as query:
            return tuple((column.name, _type_name(column.type)) for column in query.columns)

    @staticmethod
    def _evaluate(query: PreparedQuery) -> Any:
        """The raw EvaluateQueryResponse: zetasql's wrapper drops zero-valued messages
        (a TIMESTAMP at the epoch would come back as NULL)."""
        request = EvaluateQueryRequest(prepared_query_id=query.prepared_query_id)
        try:
            return ZetaSqlLocalService.get_instance().wasm_client.call_grpc_func(
                "ZetaSqlLocalService_EvaluateQuery",
                request.to_proto(),
                local_service_pb2.EvaluateQueryResponse,
            )
        except ServerError as error:
            raise ZetaSQLError(str(error)) from None

    def run(self, sql: str, tables: Sequence[Table]) -> Result:
        """Execute a query on the tables' rows in ZetaSQL's reference evaluator."""
        with self._prepare(sql, tables) as query:
            response = self._evaluate(query)
            types = [column.type for column in query.columns]
            rows = [
                tuple(
                    _decode(cell, zeta_type)
                    for cell, zeta_type in zip(row.cell, types, strict=True)
                )
                for row in response.content.table_data.row
            ]
            names = tuple((column.name, _type_name(column.type)) for column in query.columns)
        return Result(names, rows)


def rows_of(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> tuple[tuple, ...]:
    """Rows in column order from dictionaries (a missing key is NULL)."""
    return tuple(tuple(record.get(column) for column in columns) for record in records)
