"""Compare the warehouse's `mimiciv_derived` with mimic-code's own DuckDB concepts.

mimic-code ships its concepts twice: in BigQuery's dialect (`mimic-iv/concepts`,
what `cxr-sql build --concepts` translates) and as DuckDB SQL generated from
them (`mimic-iv/concepts_duckdb`, with `duckdb.sql` running them in order). This
runs the latter, unchanged, over the same MIMIC-IV tables of the warehouse (in
a scratch database that attaches the catalog read-only), and compares every
concept row for row as multisets, floats and decimals within 1e-6:

    python -m cxr_sql.bigquery.concepts_compare --warehouse W --mimic-code DIR

Each concept comes out `equal`, `differs` (with the columns that differ and
an example), `skipped` (not built here, with the reason, and mimic-code's own
version failed too), `skipped here only` or `mimic-code failed` (built here
only); the last two are discrepancies as much as `differs` is.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

TOLERANCE = 1e-6
DUCKDB_CONCEPTS = Path("mimic-iv") / "concepts_duckdb"
SOURCE_SCHEMAS = ("mimiciv_hosp", "mimiciv_icu", "mimiciv_ed", "mimiciv_note")
READ = re.compile(r"^\.read\s+(\S+)", re.MULTILINE)


@dataclass
class Comparison:
    concept: str
    outcome: str  # equal, differs, skipped, mimic-code failed
    detail: str = ""
    rows: int | None = None

    def line(self) -> str:
        rows = f"{self.rows:>7,}" if self.rows is not None else " " * 7
        return f"{self.concept:32} {rows}  {self.outcome}{': ' if self.detail else ''}{self.detail}"


def _normal(value: object) -> object:
    """Numbers as floats rounded to the tolerance, so equal values compare equal."""
    if isinstance(value, Decimal | float):
        number = float(value)
        return round(number, 6) if math.isfinite(number) else number
    return value


def _close(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(
        x == y or (isinstance(x, float) and isinstance(y, float) and abs(x - y) <= TOLERANCE * 1.01)
        for x, y in zip(a, b, strict=True)
    )


def compare_rows(ours: list[tuple], theirs: list[tuple]) -> tuple[int, list[int], tuple | None]:
    """(rows that differ, columns where they differ, an example pair) of two multisets."""
    mine = Counter(tuple(map(_normal, row)) for row in ours)
    other = Counter(tuple(map(_normal, row)) for row in theirs)
    left = sorted((mine - other).elements(), key=repr)
    right = sorted((other - mine).elements(), key=repr)
    unmatched_left, unmatched_right = [], list(right)
    for row in left:  # values rounded apart at the 6th decimal still match within tolerance
        match = next((i for i, r in enumerate(unmatched_right) if _close(row, r)), None)
        if match is None:
            unmatched_left.append(row)
        else:
            unmatched_right.pop(match)
    differing = max(len(unmatched_left), len(unmatched_right))
    if not differing:
        return 0, [], None
    width = len((unmatched_left or unmatched_right)[0])
    columns = [
        i
        for i in range(width)
        if Counter(r[i] for r in unmatched_left) != Counter(r[i] for r in unmatched_right)
    ]
    example = (
        unmatched_left[0] if unmatched_left else None,
        unmatched_right[0] if unmatched_right else None,
    )
    return differing, columns, example


def run_mimic_code(con: duckdb.DuckDBPyConnection, concepts_duckdb: Path) -> dict[str, str]:
    """Run mimic-code's DuckDB concepts in the order of its duckdb.sql; the error of
    each that failed, by concept."""
    failed: dict[str, str] = {}
    con.execute("CREATE SCHEMA IF NOT EXISTS mimiciv_derived")
    for relative in READ.findall((concepts_duckdb / "duckdb.sql").read_text()):
        path = concepts_duckdb / relative
        try:
            con.execute(path.read_text())
        except duckdb.Error as error:
            failed[path.stem] = str(error).splitlines()[0]
    return failed


def compare(warehouse: Path, mimic_code: Path) -> list[Comparison]:
    concepts_duckdb = mimic_code / DUCKDB_CONCEPTS
    if not (concepts_duckdb / "duckdb.sql").is_file():
        raise FileNotFoundError(f"{concepts_duckdb / 'duckdb.sql'}: not a mimic-code checkout")
    with tempfile.TemporaryDirectory() as scratch:
        con = duckdb.connect(str(Path(scratch) / "mimic_code.duckdb"))
        catalog = str((warehouse / "mimic.duckdb").resolve()).replace("'", "''")
        con.execute(f"ATTACH '{catalog}' AS warehouse (READ_ONLY)")
        views = con.execute(
            "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = 'warehouse'"
        ).fetchall()
        for schema in SOURCE_SCHEMAS:
            con.execute(f"CREATE SCHEMA {schema}")
        for schema, view in views:
            if schema in SOURCE_SCHEMAS:
                con.execute(
                    f"CREATE VIEW {schema}.{view} AS SELECT * FROM warehouse.{schema}.{view}"
                )
        failed = run_mimic_code(con, concepts_duckdb)
        record = dict(
            con.execute(
                "SELECT concept, status || ': ' || coalesce(reason, '') "
                "FROM warehouse.mimiciv_derived._concepts"
            ).fetchall()
        )
        results = [_compare_one(con, name, record[name], failed) for name in sorted(record)]
        con.close()
    return results


def _compare_one(
    con: duckdb.DuckDBPyConnection, name: str, status: str, failed: dict[str, str]
) -> Comparison:
    if not status.startswith(("built", "reused")):
        if name not in failed:  # mimic-code's own DuckDB version ran: it should run here too
            return Comparison(name, "skipped here only", status.split(": ", 1)[1])
        return Comparison(name, "skipped", status.split(": ", 1)[1])
    if name in failed:
        return Comparison(name, "mimic-code failed", failed[name])
    ours_relation = con.sql(f"SELECT * FROM warehouse.mimiciv_derived.{name}")
    theirs_relation = con.sql(f"SELECT * FROM mimiciv_derived.{name}")
    if ours_relation.columns != theirs_relation.columns:
        return Comparison(
            name, "differs", f"columns {ours_relation.columns} vs {theirs_relation.columns}"
        )
    ours, theirs = ours_relation.fetchall(), theirs_relation.fetchall()
    differing, columns, example = compare_rows(ours, theirs)
    if not differing:
        return Comparison(name, "equal", rows=len(ours))
    names = [ours_relation.columns[i] for i in columns]
    pairs = zip(ours_relation.types, theirs_relation.types, strict=True)
    types = dict(zip(ours_relation.columns, pairs, strict=True))
    here, there = example
    shown = "; ".join(
        f"{names[k]} ({types[names[k]][0]} here, {types[names[k]][1]} there): "
        f"{here[i] if here else '-'} here, {there[i] if there else '-'} there"
        for k, i in enumerate(columns[:3])
    )
    detail = (
        f"{differing:,} of {len(ours):,} rows ({len(theirs):,} there) differ in "
        f"{', '.join(names) or 'row count'}; e.g. {shown}"
    )
    return Comparison(name, "differs", detail, rows=len(ours))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, metavar="DIR")
    parser.add_argument("--mimic-code", type=Path, required=True, metavar="DIR")
    args = parser.parse_args(argv)
    try:
        results = compare(args.warehouse, args.mimic_code)
    except (FileNotFoundError, duckdb.Error) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for result in results:
        print(result.line())
    counts = Counter(r.outcome for r in results)
    print(", ".join(f"{outcome} {n}" for outcome, n in sorted(counts.items())))
    return 0 if set(counts) <= {"equal", "skipped"} else 1


if __name__ == "__main__":
    sys.exit(main())
