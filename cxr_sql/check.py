"""`cxr-sql check`: a short QA report of a built warehouse.

Row counts beside the published counts of each release (compared only when the
input looks complete: within 5 % of the published figure), identifier formats,
how much of MIMIC-CXR is timed, sectioned, labelled and linked, and the QA views
of mimic_cxr_derived with their row counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

# Published row counts: MIMIC-CXR 2.x, MIMIC-IV 2.2 and 3.1, MIMIC-IV-ED 2.2.
PUBLISHED = {
    "mimic_cxr.study_list": {"MIMIC-CXR": 227_835},
    "mimic_cxr.record_list": {"MIMIC-CXR": 377_110},
    "mimiciv_hosp.patients": {"3.1": 364_627, "2.2": 299_712},
    "mimiciv_hosp.admissions": {"3.1": 546_028, "2.2": 431_231},
    "mimiciv_hosp.transfers": {"3.1": 2_413_581, "2.2": 1_890_972},
    "mimiciv_icu.icustays": {"3.1": 94_458, "2.2": 73_181},
    "mimiciv_ed.edstays": {"2.2": 425_087},
}
COMPLETE_WITHIN = 0.05

ID_CHECKS = {
    "subject_id is 8 digits starting with 1": (
        "mimic_cxr.study_list", "NOT regexp_full_match(subject_id::VARCHAR, '1[0-9]{7}')"
    ),
    "study_id is 8 digits starting with 5": (
        "mimic_cxr.study_list", "NOT regexp_full_match(study_id::VARCHAR, '5[0-9]{7}')"
    ),
    "dicom_id is five groups of eight hex digits": (
        "mimic_cxr.record_list",
        "NOT regexp_full_match(dicom_id, '[0-9a-f]{8}(-[0-9a-f]{8}){4}')",
    ),
}  # fmt: skip

COVERAGE = {
    "studies with a time": "SELECT avg((study_datetime IS NOT NULL)::INT) "
    "FROM mimic_cxr_derived.study_times",
    "studies with report sections": "SELECT avg((n_sections > 0)::INT) FROM mimic_cxr.reports",
    "studies with an impression or findings": "SELECT avg((impression IS NOT NULL OR "
    "findings IS NOT NULL)::INT) FROM mimic_cxr.sectioned",
    "studies with CheXpert labels": "SELECT count(c.study_id) / count(*) FROM "
    "mimic_cxr.study_list s LEFT JOIN mimic_cxr.chexpert c USING (study_id)",
    "studies linked to an admission": "SELECT avg((hadm_id IS NOT NULL)::INT) "
    "FROM mimic_cxr_derived.study_admission",
    "studies taken in an ED stay": "SELECT avg((stay_id IS NOT NULL)::INT) "
    "FROM mimic_cxr_derived.study_edstay",
    "studies taken in an ICU stay": "SELECT avg((stay_id IS NOT NULL)::INT) "
    "FROM mimic_cxr_derived.study_icustay",
}

QA_VIEWS = {
    "qa_studies_without_report": "studies with no report or no sections",
    "qa_reports_without_findings_or_impression": "reports with no findings and no impression",
    "qa_images_without_view_position": "images with no ViewPosition",
    "qa_subjects_missing_from_mimiciv": "subjects missing from MIMIC-IV",
    "qa_study_time_spread": "studies whose images are more than an hour apart",
    "qa_ambiguous_links": "studies linked to more than one stay of a kind",
    "qa_sectioned_vs_mimic_code": "reports sectioned otherwise than by mimic-code",
}


UNTIMED_FIX = "give --mimic-cxr-jpg DIR, or the DICOM images under --mimic-cxr with --dicom auto"


@dataclass
class Finding:
    section: str
    line: str


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object | None:
    try:
        row = con.execute(sql).fetchone()
    except duckdb.CatalogException:
        return None  # that part of the warehouse was not built
    return row[0] if row else None


def _published(con: duckdb.DuckDBPyConnection) -> Iterator[Finding]:
    for table, releases in PUBLISHED.items():
        count = _scalar(con, f"SELECT count(*) FROM {table}")
        if count is None:
            continue
        assert isinstance(count, int)
        version = _scalar(
            con, f"SELECT value FROM {table.split('.')[0]}._metadata WHERE attribute = 'version'"
        )
        release, published = next(
            ((r, n) for r, n in releases.items() if r == version), next(iter(releases.items()))
        )
        if abs(count - published) <= COMPLETE_WITHIN * published:
            verdict = "matches" if count == published else f"differs by {count - published:+,}"
            yield Finding(
                "row counts", f"{table}: {count:,} ({verdict}: {release} has {published:,})"
            )
        else:
            yield Finding(
                "row counts", f"{table}: {count:,} (a subset; {release} has {published:,})"
            )


def _has_view(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, view = qualified.split(".")
    found = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?",
        [schema, view],
    ).fetchone()
    return bool(found and found[0])


def untimed_warning(con: duckdb.DuckDBPyConnection) -> str | None:
    """A warning when studies have no time: without one they can never be linked to an
    admission or stay, which a researcher would otherwise find out from empty joins."""
    counts = _scalar(
        con,
        "SELECT {'untimed': count(*) FILTER (WHERE study_datetime IS NULL), 'all': count(*)} "
        "FROM mimic_cxr_derived.study_times",
    )
    if not isinstance(counts, dict) or not counts["untimed"]:
        return None
    sources = [
        name
        for name, view in (
            ("MIMIC-CXR-JPG metadata", "mimic_cxr.metadata"),
            ("DICOM headers", "mimic_cxr.dicom_metadata"),
        )
        if _has_view(con, view)
    ]
    why = (
        f"neither the {' nor the '.join(sources)} cover them"
        if sources
        else "no MIMIC-CXR-JPG metadata and no DICOM headers were built"
    )
    return (
        f"warning: {counts['untimed']:,} of {counts['all']:,} studies have no time ({why}), "
        f"so they cannot be linked to admissions or stays: {UNTIMED_FIX}"
    )


def report(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    findings = list(_published(con))
    warning = untimed_warning(con)
    if warning:
        findings.append(Finding("warnings", warning.removeprefix("warning: ")))
    for name, (table, bad) in ID_CHECKS.items():
        count = _scalar(con, f"SELECT count(*) FROM {table} WHERE {bad}")
        if count is not None:
            verdict = "ok" if count == 0 else f"{count:,} rows fail"
            findings.append(Finding("identifiers", f"{name}: {verdict}"))
    for name, sql in COVERAGE.items():
        share = _scalar(con, sql)
        if share is not None:
            findings.append(Finding("coverage", f"{name}: {float(share):.1%}"))
    for view, meaning in QA_VIEWS.items():
        count = _scalar(con, f"SELECT count(*) FROM mimic_cxr_derived.{view}")
        if count is not None:
            findings.append(Finding("qa", f"{meaning}: {count:,} (mimic_cxr_derived.{view})"))
    schemas = con.execute(
        "SELECT schema_name FROM duckdb_views() WHERE view_name = '_rejects' ORDER BY 1"
    ).fetchall()
    for (schema,) in schemas:
        by_action = con.execute(
            f"SELECT action, count(*) FROM {schema}._rejects GROUP BY ALL ORDER BY 1"
        ).fetchall()
        summary = ", ".join(f"{n:,} {action}" for action, n in by_action) or "none"
        findings.append(Finding("rejects", f"{schema}._rejects: {summary}"))
    return findings


def render(findings: list[Finding]) -> str:
    lines, section = [], None
    for finding in findings:
        if finding.section != section:
            section = finding.section
            lines.append(f"{section}:")
        lines.append(f"  {finding.line}")
    return "\n".join(lines)
