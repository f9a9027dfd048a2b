"""SOFA, ventilation, vasopressors and creatinine at the time of each ICU chest x-ray.

For every study taken during an ICU stay: the SOFA score of the 24 hours up to
the hour it was taken (`mimiciv_derived.sofa`), whether the patient was on a
ventilator then and how (`mimiciv_derived.ventilation`), the
norepinephrine-equivalent vasopressor dose running at that moment
(`mimiciv_derived.norepinephrine_equivalent_dose`), and the last creatinine
before it with the lowest of the 48 hours before that
(`mimiciv_derived.kdigo_creatinine`). Needs mimic-code's concepts:

    cxr-sql build ... --all --concepts /path/to/mimic-code
    python examples/icu_xray_sofa_ventilation.py --warehouse warehouse [--out FILE.csv]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cxr_sql
from cxr_sql import owner_only

CONCEPTS = ("sofa", "ventilation", "norepinephrine_equivalent_dose", "kdigo_creatinine")
AT_THE_XRAY = """
SELECT
    x.subject_id, x.study_id, x.study_datetime, x.stay_id,
    round(x.hours_from_start, 1) AS hours_into_stay,
    (SELECT s.sofa_24hours FROM mimiciv_derived.sofa AS s
      WHERE s.stay_id = x.stay_id
        AND x.study_datetime >= s.starttime AND x.study_datetime < s.endtime
      ORDER BY s.hr DESC LIMIT 1) AS sofa_24hours,
    coalesce(
        (SELECT v.ventilation_status FROM mimiciv_derived.ventilation AS v
          WHERE v.stay_id = x.stay_id
            AND x.study_datetime >= v.starttime AND x.study_datetime < v.endtime
          ORDER BY v.starttime DESC LIMIT 1),
        'None') AS ventilation_status,
    coalesce(
        (SELECT max(n.norepinephrine_equivalent_dose)
           FROM mimiciv_derived.norepinephrine_equivalent_dose AS n
          WHERE n.stay_id = x.stay_id
            AND x.study_datetime >= n.starttime AND x.study_datetime < n.endtime),
        0) AS norepinephrine_equivalent_dose,
    c.creat AS creatinine,
    c.charttime AS creatinine_time,
    c.creat_low_past_48hr AS creatinine_low_past_48hr
FROM mimic_cxr_derived.study_icustay AS x
LEFT JOIN LATERAL (
    SELECT k.creat, k.charttime, k.creat_low_past_48hr
    FROM mimiciv_derived.kdigo_creatinine AS k
    WHERE k.stay_id = x.stay_id AND k.charttime <= x.study_datetime
    ORDER BY k.charttime DESC LIMIT 1
) AS c ON true
WHERE x.stay_id IS NOT NULL
ORDER BY x.subject_id, x.study_datetime, x.study_id
"""


def missing_concepts(con) -> list[str]:
    """Why each concept this needs is not in the warehouse, one line each."""
    built = {
        name
        for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'mimiciv_derived'"
        ).fetchall()
    }
    why: dict[str, str] = {}
    if "_concepts" in built:
        why = dict(
            con.execute(
                "SELECT concept, status || ': ' || reason FROM mimiciv_derived._concepts"
            ).fetchall()
        )
    return [
        f"mimiciv_derived.{name}: {why.get(name, 'not built; cxr-sql build --concepts DIR')}"
        for name in CONCEPTS
        if name not in built
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default="warehouse")
    parser.add_argument("--out", metavar="FILE.csv", help="also write the table there")
    args = parser.parse_args()
    with cxr_sql.connect(args.warehouse) as con:
        missing = missing_concepts(con)
        if missing:
            print("needs mimic-code's concepts:\n  " + "\n  ".join(missing), file=sys.stderr)
            return 2
        studies = con.execute(AT_THE_XRAY).pl()
    on_pressors = studies.filter(studies["norepinephrine_equivalent_dose"] > 0).height
    print(f"chest x-rays taken in an ICU stay: {studies.height}")
    print(f"with a SOFA score for the day: {studies['sofa_24hours'].is_not_null().sum()}")
    print(f"on vasopressors at the time: {on_pressors}")
    print(f"with a creatinine before it: {studies['creatinine'].is_not_null().sum()}")
    print(studies.group_by("ventilation_status").len().sort("len", descending=True))
    if args.out:  # values of credentialed data: readable by its owner only
        owner_only.write_text(Path(args.out), studies.write_csv())
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
