# ruff: noqa: E501  (one query per line reads best)
"""The differential suite's data: small typed tables with awkward values, and BigQuery
queries over them, each run in ZetaSQL and, translated, in DuckDB.

Tables are named `cxr_test.<table>`; `translate` maps that dataset to DuckDB's main
schema. A case expected to be refused names the reason it cannot be kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from cxr_sql.bigquery.zetasql_oracle import Table

UTC = dt.UTC
D = dt.date
T = dt.datetime
LARGE = Decimal("12345678901234567890.123456789")

NUMS = Table(
    "cxr_test.nums",
    (("id", "INT64"), ("grp", "STRING"), ("i", "INT64"), ("f", "FLOAT64"), ("n", "NUMERIC"),
     ("flag", "INT64"), ("s", "STRING")),
    (
        (1, "a", 1, 1.5, Decimal("0.0255"), 1, "abcdef"),
        (2, "a", -7, -2.5, -LARGE, 0, ""),
        (3, "a", None, None, None, None, None),
        (4, "b", 7, 2.5, Decimal("0.000000001"), None, "Ünïcode"),
        (5, "b", 2, 0.1, LARGE, 1, "a%b"),
        (6, "c", None, 3.0, Decimal("1.005"), None, "x"),
        (7, "b", 2, 0.5, Decimal("2.5"), 1, "abc"),
        (8, "d", 0, -0.5, Decimal("-2.5"), 0, "ABC def"),
    ),
)  # fmt: skip
TIMES = Table(
    "cxr_test.times",
    (("id", "INT64"), ("d", "DATE"), ("a", "DATETIME"), ("b", "DATETIME"), ("ts", "TIMESTAMP")),
    (
        (1, D(2020, 1, 31), T(2020, 1, 31, 23, 59, 59, 999999), T(2020, 2, 1, 0, 0, 0),
         T(2020, 1, 31, 23, 59, 59, 500000, tzinfo=UTC)),
        (2, D(2020, 2, 29), T(2020, 2, 29, 12, 0, 0, 500000), T(2020, 3, 1, 11, 59, 59),
         T(2020, 2, 29, 0, 0, 0, tzinfo=UTC)),
        (3, D(2021, 12, 31), T(2021, 12, 31, 23, 0, 0), T(2022, 1, 1, 1, 30, 0),
         T(2022, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
        (4, D(2023, 1, 1), T(2023, 1, 1, 0, 0, 0), T(2022, 12, 31, 23, 59, 59, 999000),
         T(1970, 1, 1, tzinfo=UTC)),
        (5, D(2023, 1, 7), T(2023, 1, 7, 6, 30, 0), T(2023, 1, 8, 6, 29, 59, 999999),
         T(2023, 1, 8, 6, 30, 0, tzinfo=UTC)),
        (6, None, None, T(2000, 2, 29, 0, 0, 0), None),
        (7, D(1999, 3, 31), T(1999, 3, 31, 0, 0, 0, 1), T(1999, 12, 31, 0, 0, 0), None),
    ),
)  # fmt: skip
EMPTY = Table("cxr_test.empty", (("grp", "STRING"), ("i", "INT64"), ("flag", "INT64")), ())
TABLES = (NUMS, TIMES, EMPTY)
N, TM, E = "`cxr_test.nums`", "`cxr_test.times`", "`cxr_test.empty`"


@dataclass(frozen=True)
class Case:
    """A BigQuery query; `refused` says why translate must refuse it (None: equal rows)."""

    name: str
    sql: str
    refused: str | None = None


CASES = (
    # numbers
    Case("NUMERIC scale", f"SELECT id, ROUND(CAST(n AS NUMERIC), 4) AS r, n * 2 AS d FROM {N}"),
    Case("NUMERIC literal", "SELECT ROUND(CAST(0.0255 AS NUMERIC), 4) AS r, CAST('1.005' AS NUMERIC) AS n"),
    Case("NUMERIC sum", f"SELECT grp, SUM(n) AS s, MIN(n) AS lo, MAX(n) AS hi FROM {N} GROUP BY grp"),
    Case("ROUND NUMERIC", f"SELECT id, ROUND(n) AS r, ROUND(CAST(n AS NUMERIC), 1) AS s FROM {N}"),
    Case("NUMERIC division", f"SELECT id, CAST(n AS NUMERIC) / 3 AS d FROM {N}", "DuckDB computes it as DOUBLE"),
    Case("NUMERIC AVG", f"SELECT grp, AVG(CAST(n AS NUMERIC)) AS a FROM {N} GROUP BY grp", "DuckDB computes it as DOUBLE"),
    Case("FLOAT64 over NUMERIC", f"SELECT id, f / CAST(n AS FLOAT64) AS d, CAST(n AS FLOAT64) / 3 AS e FROM {N}"),
    Case("NUMERIC(p,s)", f"SELECT id, CAST(f AS NUMERIC(10, 2)) AS p FROM {N}"),
    Case("BIGNUMERIC", f"SELECT CAST(n AS BIGNUMERIC) AS b FROM {N}", "no DuckDB type"),
    Case("ROUND", f"SELECT id, ROUND(f) AS r0, ROUND(f, 1) AS r1, ROUND(n, 2) AS rn FROM {N}"),
    Case("float literal", f"SELECT id, 0.1 + 0.2 = 0.3 AS exact, f * 0.5 AS h, 1e2 AS e FROM {N}"),
    Case("division", f"SELECT id, i / 2 AS q, SAFE_DIVIDE(i, flag) AS sd, DIV(i, 2) AS dv, MOD(i, 2) AS m FROM {N}"),
    Case("arithmetic", f"SELECT id, i + 1 AS a, i - flag AS b, i * -3 AS c, -i AS d, ABS(i) AS e FROM {N}"),
    Case("math", f"SELECT id, CEIL(f) AS c, FLOOR(f) AS fl, EXP(f) AS e, POWER(f, 2) AS p, LN(ABS(f) + 1) AS l FROM {N}"),
    Case("CAST AS INT64", f"SELECT id, CAST(f AS INT64) AS i, CAST(n AS INT64) AS j FROM {N} WHERE ABS(n) < 100"),
    Case("CAST wide", f"SELECT id, CAST(n * 1000000000 AS INT64) AS i, CAST(f * 1e300 AS FLOAT64) AS big FROM {N} WHERE ABS(n) < 100"),
    Case("CAST AS STRING", f"SELECT id, CAST(CAST(i AS INT64) AS STRING) AS s, CAST(CAST(n AS INT64) AS STRING) AS t, CAST(CAST(d AS DATE) AS STRING) AS u FROM {N} JOIN {TM} USING (id) WHERE ABS(n) < 100"),
    Case("CAST AS STRING (FLOAT64)", f"SELECT id, CAST(f AS STRING) AS s FROM {N}", "text of a FLOAT64 differs"),
    Case("CAST AS STRING (NUMERIC)", f"SELECT id, CAST(n AS STRING) AS s FROM {N}", "text of a NUMERIC differs"),
    Case("GREATEST/LEAST", f"SELECT id, GREATEST(i, flag, 1) AS g, LEAST(i, flag) AS l FROM {N}"),
    # aggregates
    Case("COUNTIF", f"SELECT grp, COUNTIF(flag = 1) AS c, COUNT(flag) AS n, COUNT(*) AS r FROM {N} GROUP BY grp"),
    Case("COUNTIF empty", f"SELECT COUNTIF(flag = 1) AS c, COUNT(*) AS n, SUM(i) AS s, MAX(i) AS m FROM {E}"),
    Case("AVG", f"SELECT grp, AVG(i) AS a, AVG(f) AS b, SUM(i) AS s FROM {N} GROUP BY grp HAVING COUNT(*) > 1"),
    Case("ARRAY_AGG IGNORE NULLS", f"SELECT grp, ARRAY_AGG(i IGNORE NULLS ORDER BY i) AS a FROM {N} GROUP BY grp"),
    Case("ARRAY_AGG LIMIT", f"SELECT ARRAY_AGG(i IGNORE NULLS ORDER BY i LIMIT 2) AS a FROM {N}", "not translated"),
    Case("STRING_AGG", f"SELECT grp, STRING_AGG(s, ',' ORDER BY s) AS a FROM {N} GROUP BY grp"),
    Case("DISTINCT", f"SELECT DISTINCT grp, flag FROM {N}"),
    Case("COUNT DISTINCT", f"SELECT COUNT(DISTINCT i) AS c, COUNT(DISTINCT grp) AS g FROM {N}"),
    Case("LOGICAL_OR", f"SELECT grp, LOGICAL_OR(flag = 1) AS o, LOGICAL_AND(flag = 1) AS a FROM {N} GROUP BY grp"),
    Case("PERCENTILE_CONT", f"SELECT PERCENTILE_CONT(f, 0.5) OVER () AS p FROM {N}", "not checked"),
    # windows
    Case("ROW_NUMBER", f"SELECT id, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY i DESC, id) AS r FROM {N}"),
    Case("DENSE_RANK ties", f"SELECT id, DENSE_RANK() OVER (ORDER BY i) AS r, RANK() OVER (ORDER BY i) AS k FROM {N}"),
    Case("LAG/LEAD", f"SELECT id, LAG(i) OVER (ORDER BY id) AS p, LEAD(i, 2) OVER w AS n FROM {N} WINDOW w AS (ORDER BY id)"),
    Case("window aggregate", f"SELECT id, MAX(i) OVER (PARTITION BY grp) AS m, SUM(i) OVER (ORDER BY id) AS run FROM {N}"),
    Case("window frame", f"SELECT id, AVG(f) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS a FROM {N}"),
    Case("QUALIFY", f"SELECT id, grp FROM {N} WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY grp ORDER BY f DESC) = 1"),
    Case("ORDER BY NULLs", f"SELECT id, i FROM {N} ORDER BY i, id"),
    Case("ORDER BY DESC NULLs", f"SELECT id, i FROM {N} ORDER BY i DESC, id LIMIT 5"),
    # logic
    Case("IF/CASE", f"SELECT id, IF(i > 0, 'pos', 'not') AS a, CASE WHEN i IS NULL THEN 'null' WHEN i < 0 THEN 'neg' ELSE 'else' END AS b, CASE grp WHEN 'a' THEN 1 END AS c FROM {N}"),
    Case("predicates", f"SELECT id FROM {N} WHERE (i BETWEEN -7 AND 2 OR flag IN (0, 1)) AND grp <> 'c' AND NOT (s LIKE 'a%') AND i >= -10 AND i <= 10 AND f < 3 AND f > -3"),
    Case("NULL logic", f"SELECT id, i IS NULL AS b, NOT (flag = 1) AS c, flag = 1 OR i > 0 AS d, TRUE AND flag = 0 AS e FROM {N}"),
    Case("COALESCE/NULLIF", f"SELECT id, COALESCE(i, flag, -1) AS c, NULLIF(i, 2) AS n FROM {N}"),
    Case("LIKE", f"SELECT id, s LIKE 'a%' AS a, s LIKE '%b%' AS b, s LIKE 'a\\\\%b' AS c, LOWER(s) LIKE 'abc%' AS d FROM {N}"),
    Case("REGEXP_CONTAINS", f"SELECT id, REGEXP_CONTAINS(s, r'^a.c') AS a, REGEXP_CONTAINS(s, r'(?i)def') AS b FROM {N}"),
    Case("EXISTS/IN subquery", f"SELECT id FROM {N} x WHERE EXISTS (SELECT 1 FROM {N} y WHERE y.i = x.i AND y.id <> x.id) AND grp IN (SELECT grp FROM {N} WHERE flag = 1)"),
    # strings
    Case("FORMAT", f"SELECT id, FORMAT('%s-%s', grp, s) AS a, FORMAT('%d%%', i) AS b, FORMAT('%s', CAST(CAST(i AS INT64) AS STRING)) AS c FROM {N}"),
    Case("FORMAT %f", f"SELECT FORMAT('%.2f', f) AS a FROM {N}", "only %s, %d, %i and %% are translated"),
    Case("SUBSTR", f"SELECT id, SUBSTR(s, 0, 3) AS a, SUBSTR(s, -2) AS b, SUBSTR(s, 2, 2) AS c, SUBSTR(s, -10, 3) AS d, SUBSTR(s, 1) AS e, SUBSTR(s, i) AS f FROM {N}"),
    Case("LOWER/UPPER/LENGTH/TRIM", f"SELECT id, LOWER(s) AS l, UPPER(s) AS u, LENGTH(s) AS n, TRIM(CONCAT(' ', s, ' ')) AS t, CONCAT(grp, s) AS c, grp || '-' AS p FROM {N}"),
    # dates and times
    Case("EXTRACT", f"SELECT id, EXTRACT(DAYOFWEEK FROM d) AS w, EXTRACT(YEAR FROM a) AS y, EXTRACT(MONTH FROM d) AS m, EXTRACT(DAY FROM d) AS dd, EXTRACT(HOUR FROM a) AS h, EXTRACT(MINUTE FROM a) AS mi, EXTRACT(SECOND FROM a) AS s, EXTRACT(DAYOFYEAR FROM d) AS dy, EXTRACT(QUARTER FROM d) AS q FROM {TM}"),
    Case("EXTRACT WEEK", f"SELECT id, EXTRACT(WEEK FROM d) AS w, EXTRACT(ISOWEEK FROM d) AS iw, EXTRACT(ISOYEAR FROM d) AS iy, EXTRACT(DATE FROM a) AS dt FROM {TM}"),
    Case("EXTRACT MILLISECOND", f"SELECT EXTRACT(MILLISECOND FROM a) AS ms FROM {TM}", "not a checked date part"),
    Case("DATE_TRUNC", f"SELECT id, DATE_TRUNC(d, WEEK) AS w, DATE_TRUNC(d, MONTH) AS m, DATE_TRUNC(d, YEAR) AS y, DATE_TRUNC(d, QUARTER) AS q FROM {TM}"),
    Case("DATE_ADD/DATE_SUB", f"SELECT id, DATE_SUB(d, INTERVAL 1 DAY) AS a, DATE_ADD(d, INTERVAL 1 MONTH) AS b, DATE_ADD(d, INTERVAL -1 YEAR) AS c, DATE_ADD(d, INTERVAL 1 DAY) AS f, DATE_SUB(d, INTERVAL 3 DAY) < DATE '2020-02-27' AS e FROM {TM}"),
    Case("DATETIME_ADD/SUB", f"SELECT id, DATETIME_ADD(a, INTERVAL 1 DAY) AS p, DATETIME_SUB(a, INTERVAL 6 HOUR) AS q, DATETIME_ADD(a, INTERVAL 1 MONTH) AS r, DATETIME_SUB(a, INTERVAL 1 MONTH) AS s, DATETIME_ADD(a, INTERVAL 90 MINUTE) AS t, DATETIME_ADD(a, INTERVAL 25 HOUR) AS v, DATETIME_SUB(a, INTERVAL 2 DAY) AS u FROM {TM}"),
    Case("DATETIME_DIFF", f"SELECT id, DATETIME_DIFF(b, a, DAY) AS d, DATETIME_DIFF(b, a, HOUR) AS h, DATETIME_DIFF(b, a, MINUTE) AS m, DATETIME_DIFF(b, a, SECOND) AS s, DATETIME_DIFF(b, a, YEAR) AS y, DATETIME_DIFF(b, a, MONTH) AS mo FROM {TM}"),
    Case("DATETIME_DIFF MILLISECOND", f"SELECT id, DATETIME_DIFF(b, a, MILLISECOND) AS ms, DATETIME_DIFF(b, a, MICROSECOND) AS us FROM {TM}"),
    Case("DATETIME_DIFF WEEK", f"SELECT id, DATETIME_DIFF(b, a, WEEK) AS w FROM {TM}", "not a checked date part"),
    Case("TIMESTAMP_DIFF", f"SELECT id, TIMESTAMP_DIFF(ts, TIMESTAMP '2020-01-01 00:00:00.5+00', HOUR) AS h, TIMESTAMP_DIFF(ts, TIMESTAMP '2020-02-01 00:00:00+00', DAY) AS d, TIMESTAMP_DIFF(ts, TIMESTAMP '2020-01-31 23:59:59.9+00', SECOND) AS s FROM {TM}"),
    Case("TIMESTAMP parts", f"SELECT id, EXTRACT(HOUR FROM ts) AS h, EXTRACT(DATE FROM ts) AS d, CAST(ts AS DATE) AS c, TIMESTAMP_TRUNC(ts, DAY) AS t, TIMESTAMP_DIFF(ts, TIMESTAMP '2020-03-01 12:00:00+00', DAY) AS dd, EXTRACT(DAYOFWEEK FROM ts) AS w FROM {TM}"),
    Case("TIMESTAMP from text", f"SELECT id, TIMESTAMP_DIFF(ts, CAST('2020-03-08 12:00:00-05' AS TIMESTAMP), HOUR) AS h, TIMESTAMP '2020-01-01 10:00:00' AS t, CAST(CAST(d AS DATE) AS TIMESTAMP) AS c, CAST(DATE '2020-02-29' AS TIMESTAMP) AS e FROM {TM}"),
    Case("TIMESTAMP from column text", f"SELECT CAST(grp AS TIMESTAMP) AS t FROM {N}", "session's time zone"),
    Case("DATE_DIFF", f"SELECT id, DATE_DIFF(d, DATE '2020-02-01', DAY) AS dd, DATE_DIFF(d, DATE '2020-01-31', MONTH) AS m FROM {TM}"),
    Case("DATETIME_TRUNC", f"SELECT id, DATETIME_TRUNC(a, HOUR) AS h, DATETIME_TRUNC(a, DAY) AS d, DATETIME_TRUNC(a, MONTH) AS m FROM {TM}"),
    Case("DATETIME constructors", f"SELECT id, DATETIME(EXTRACT(YEAR FROM d), 1, 1, 0, 0, 0) AS y, DATETIME(d) AS m, CAST(a AS DATE) AS c, CAST(d AS DATETIME) AS e FROM {TM}"),
    Case("PARSE_DATETIME", f"SELECT id, PARSE_DATETIME('%Y%m%d %H%M%S', FORMAT('%s', CAST(CAST(id + 20200100 AS INT64) AS STRING)) || ' 101112') AS p FROM {TM}"),
    Case("DATETIME comparisons", f"SELECT id, a < b AS lt, a BETWEEN DATETIME '2020-01-01 00:00:00' AND b AS bt, d = DATE '2020-02-29' AS eq FROM {TM}"),
    # structure
    Case("JOIN/USING", f"SELECT n.id, t.d FROM {N} n LEFT JOIN {TM} t USING (id) WHERE t.d IS NULL OR t.d > DATE '2020-02-01'"),
    Case("CTE/UNION ALL", f"WITH x AS (SELECT id, i FROM {N} WHERE i > 0), y AS (SELECT id, i FROM {N} WHERE i <= 0) (SELECT * FROM x UNION ALL SELECT * FROM y) UNION DISTINCT SELECT 1, 1"),
    Case("subquery", f"SELECT grp, m FROM (SELECT grp, MAX(i) AS m FROM {N} GROUP BY grp) WHERE m IS NOT NULL"),
    Case("GENERATE_ARRAY/UNNEST", f"SELECT id, h FROM {N} CROSS JOIN UNNEST(GENERATE_ARRAY(-1, i)) AS h WHERE i BETWEEN 0 AND 2"),
    Case("INTERVAL arithmetic", f"SELECT id, a + INTERVAL 1 HOUR AS p FROM {TM}"),
    Case("DECLARE", "DECLARE x INT64 DEFAULT 5; SELECT x", "scripting"),
    Case("SET", "DECLARE x INT64; SET x = 5; SELECT x", "scripting"),
    Case("unknown dataset", "SELECT * FROM `physionet-data.mimiciv_derivd.icustay_detail`", "dataset"),
)  # fmt: skip
