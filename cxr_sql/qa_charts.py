"""The charts of `cxr-sql check --html`: how the linking of mimic_cxr_derived fits a cohort.

Each chart is counted in DuckDB (only the counts reach the page, never a row per
study, so the page stays small at full scale) and drawn with plotly. A chart whose
views were not built is left out with a note saying which view is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import plotly.express as px
import plotly.graph_objects as go
import polars as pl

# The hours histograms show this far into a window (a week); longer stays are
# counted in the last bar, which the caption says.
HOURS_SHOWN = 168
HOURS_BIN = 2
MAX_CANDIDATES_SHOWN = 4  # 4 stands for "4 or more"

LINK_VIEWS = {
    "admission": ("study_admission", "hadm_id"),
    "ED stay": ("study_edstay", "stay_id"),
    "ICU stay": ("study_icustay", "stay_id"),
}


@dataclass
class Chart:
    """One chart of the page: its figure, or why it is missing (failed: by an error)."""

    name: str
    title: str
    caption: str
    figure: go.Figure | None = None
    missing: str | None = None
    failed: bool = False


class NothingToDraw(Exception):
    """The views are there but hold no rows for this chart."""


def _frame(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, object] | None = None,
    empty: str = "no rows to draw",
) -> pl.DataFrame:
    frame = con.execute(sql, params or {}).pl()
    if frame.is_empty():
        raise NothingToDraw(empty)
    return frame


def _link_window_hours(con: duckdb.DuckDBPyConnection) -> int:
    """The --link-window-hours study_link_candidates was built with."""
    row = con.execute(
        "SELECT value FROM mimic_cxr_derived._metadata WHERE attribute = 'link_window_hours'"
    ).fetchone()
    return int(row[0]) if row else 24


def hours_from_window(con: duckdb.DuckDBPyConnection) -> go.Figure:
    window = _link_window_hours(con)
    counts = _frame(
        con,
        """
        WITH hours AS (
            SELECT kind, inside, 'hours from window start' AS measure,
                   least(hours_from_start, $shown) AS hours
            FROM mimic_cxr_derived.study_link_candidates
            UNION ALL
            SELECT kind, inside, 'hours from window end', greatest(hours_from_end, -$shown)
            FROM mimic_cxr_derived.study_link_candidates
        )
        SELECT kind, measure, CASE WHEN inside THEN 'inside' ELSE 'outside' END AS window,
               floor(hours / $bin) * $bin + $bin / 2 AS hours, count(*) AS candidates
        FROM hours GROUP BY ALL ORDER BY ALL
        """,
        {"shown": HOURS_SHOWN, "bin": HOURS_BIN},
        empty="no study has a candidate window in mimic_cxr_derived.study_link_candidates",
    )
    kinds = counts["kind"].unique().sort().to_list()
    figure = px.bar(
        counts,
        x="hours",
        y="candidates",
        color="window",
        facet_row="kind",
        facet_col="measure",
        category_orders={
            "kind": kinds,
            "measure": ["hours from window start", "hours from window end"],
            "window": ["inside", "outside"],
        },
        height=220 * max(len(kinds), 1) + 80,
    )
    figure.update_yaxes(matches=None)
    figure.update_xaxes(matches=None)
    figure.update_xaxes(range=[-window - HOURS_BIN, HOURS_SHOWN + HOURS_BIN], col=1)
    figure.update_xaxes(range=[-HOURS_SHOWN - HOURS_BIN, window + HOURS_BIN], col=2)
    figure.update_layout(bargap=0)
    return figure


def candidates_per_study(con: duckdb.DuckDBPyConnection) -> go.Figure:
    counts = _frame(
        con,
        """
        WITH kinds AS (SELECT DISTINCT kind FROM mimic_cxr_derived.study_link_candidates),
        per_study AS (
            SELECT t.study_id, k.kind,
                   count(c.study_id) AS near, count(c.study_id) FILTER (WHERE c.inside) AS inside
            FROM mimic_cxr_derived.study_times AS t CROSS JOIN kinds AS k
            LEFT JOIN mimic_cxr_derived.study_link_candidates AS c
              ON c.study_id = t.study_id AND c.kind = k.kind
            GROUP BY ALL
        )
        SELECT kind, 'windows containing the study' AS counted,
               least(inside, $most) AS candidates, count(*) AS studies
        FROM per_study GROUP BY ALL
        UNION ALL
        SELECT kind, 'windows within the link window', least(near, $most), count(*)
        FROM per_study GROUP BY ALL
        ORDER BY ALL
        """,
        {"most": MAX_CANDIDATES_SHOWN},
        empty="no study has a candidate window in mimic_cxr_derived.study_link_candidates",
    ).with_columns(
        pl.col("candidates")
        .cast(pl.String)
        .replace({str(MAX_CANDIDATES_SHOWN): f"{MAX_CANDIDATES_SHOWN}+"})
    )
    figure = px.bar(
        counts,
        x="candidates",
        y="studies",
        color="kind",
        barmode="group",
        facet_col="counted",
        category_orders={
            "candidates": [str(n) for n in range(MAX_CANDIDATES_SHOWN)]
            + [f"{MAX_CANDIDATES_SHOWN}+"]
        },
        height=380,
    )
    figure.update_xaxes(type="category")
    return figure


def _coverage(con: duckdb.DuckDBPyConnection, groups_sql: str, group: str) -> go.Figure:
    """Share of studies linked to an admission, ED stay and ICU stay, by group.

    groups_sql yields (study_id, grp); a study may be in several groups.
    """
    joins = "".join(
        f" LEFT JOIN mimic_cxr_derived.{view} AS v{i} ON v{i}.study_id = g.study_id"
        for i, (view, _) in enumerate(LINK_VIEWS.values())
    )
    shares = ", ".join(
        f'avg((v{i}.{column} IS NOT NULL)::INT) AS "{link}"'
        for i, (link, (_, column)) in enumerate(LINK_VIEWS.items())
    )
    counts = _frame(
        con,
        f'WITH groups AS ({groups_sql}) SELECT g.grp AS "{group}", count(*) AS studies, '
        f"{shares} FROM groups AS g{joins} GROUP BY ALL ORDER BY 1",
        empty="no studies",
    )
    labelled = counts.with_columns(
        pl.format("{}<br>{} studies", pl.col(group), pl.col("studies")).alias(group)
    )
    long = labelled.unpivot(
        index=[group, "studies"], on=list(LINK_VIEWS), variable_name="linked to", value_name="share"
    )
    figure = px.bar(
        long,
        x=group,
        y="share",
        color="linked to",
        barmode="group",
        hover_data={"studies": ":,"},
        height=380,
    )
    figure.update_yaxes(tickformat=".0%", range=[0, 1])
    figure.update_xaxes(type="category")
    return figure


def coverage_by_anchor_year_group(con: duckdb.DuckDBPyConnection) -> go.Figure:
    return _coverage(
        con,
        "SELECT s.study_id, coalesce(p.anchor_year_group, 'not in patients') AS grp "
        "FROM mimic_cxr.study_list AS s LEFT JOIN mimiciv_hosp.patients AS p USING (subject_id)",
        "anchor_year_group",
    )


def coverage_by_time_source(con: duckdb.DuckDBPyConnection) -> go.Figure:
    return _coverage(
        con,
        "SELECT study_id, coalesce(time_source, 'none') AS grp FROM mimic_cxr_derived.study_times",
        "time_source",
    )


def _view_position_source(con: duckdb.DuckDBPyConnection) -> str:
    names = {
        row[0]
        for row in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'mimic_cxr'"
        ).fetchall()
    }
    found = next((v for v in ("metadata", "dicom_metadata") if v in names), None)
    if found is None:
        raise duckdb.CatalogException("neither mimic_cxr.metadata nor dicom_metadata was built")
    return f"mimic_cxr.{found}"


def coverage_by_view_position(con: duckdb.DuckDBPyConnection) -> go.Figure:
    images = _view_position_source(con)
    return _coverage(
        con,
        "SELECT DISTINCT s.study_id, CASE WHEN i.study_id IS NULL THEN '(no images)' "
        "ELSE coalesce(nullif(trim(i.ViewPosition), ''), '(empty)') END AS grp "
        f"FROM mimic_cxr.study_list AS s LEFT JOIN {images} AS i USING (study_id)",
        "ViewPosition",
    )


def rejects_by_stage(con: duckdb.DuckDBPyConnection) -> go.Figure:
    schemas = [
        row[0]
        for row in con.execute(
            "SELECT schema_name FROM duckdb_views() WHERE view_name = '_rejects' ORDER BY 1"
        ).fetchall()
    ]
    if not schemas:
        raise NothingToDraw("no _rejects view was built")
    union = " UNION ALL ".join(
        f"SELECT '{schema}.' || stage AS stage, action FROM {schema}._rejects" for schema in schemas
    )
    counts = _frame(
        con,
        f"SELECT stage, action, count(*) AS rows FROM ({union}) GROUP BY ALL",
        empty=f"no rejects in {', '.join(f'{s}._rejects' for s in schemas)}",
    )
    figure = px.bar(
        counts.sort("stage", "action"),
        x="rows",
        y="stage",
        color="action",
        orientation="h",
        height=160 + 30 * counts["stage"].n_unique(),
    )
    figure.update_yaxes(type="category")
    return figure


CHARTS: list[tuple[str, str, str, Callable[[duckdb.DuckDBPyConnection], go.Figure]]] = [
    (
        "hours",
        "Hours from window start and from window end, by link kind",
        "Every candidate of mimic_cxr_derived.study_link_candidates: an admission, "
        "ED-before-admission window, ED stay or ICU stay of the study's subject within the "
        f"link window. {HOURS_BIN}-hour bars; candidates more than {HOURS_SHOWN} h after a "
        f"window's start or before its end are counted in the last bar.",
        hours_from_window,
    ),
    (
        "candidates",
        "Candidates per study",
        "For each link kind, how many windows contain each study (more than one: ambiguous, "
        "the one that started last is picked) and how many come within the link window. "
        f"{MAX_CANDIDATES_SHOWN}+ counts {MAX_CANDIDATES_SHOWN} or more.",
        candidates_per_study,
    ),
    (
        "anchor_year_group",
        "Coverage by anchor year group",
        "Share of studies linked to an admission, ED stay and ICU stay, by the subject's "
        "anchor_year_group (mimiciv_hosp.patients).",
        coverage_by_anchor_year_group,
    ),
    (
        "time_source",
        "Coverage by time source",
        "Share of studies linked, by where the study time came from "
        "(mimic_cxr_derived.study_times.time_source).",
        coverage_by_time_source,
    ),
    (
        "view_position",
        "Coverage by view position",
        "Share of studies linked, by the ViewPosition of their images (MIMIC-CXR-JPG "
        "metadata, else the DICOM headers); a study with several view positions counts in each.",
        coverage_by_view_position,
    ),
    (
        "rejects",
        "Rejects by stage",
        "Rows of every schema's _rejects by stage and action (dropped, kept, replaced).",
        rejects_by_stage,
    ),
]


def charts(con: duckdb.DuckDBPyConnection) -> list[Chart]:
    """Every chart of the page, or the reason it is missing."""
    made = []
    for name, title, caption, draw in CHARTS:
        chart = Chart(name, title, caption)
        try:
            drawn = draw(con)
        except duckdb.CatalogException as error:
            chart.missing = f"not built: {str(error).splitlines()[0]}"
        except NothingToDraw as nothing:
            chart.missing = str(nothing)
        except duckdb.Error as error:
            chart.missing = f"could not be drawn: {str(error).splitlines()[0]}"
            chart.failed = True
        else:
            drawn.update_layout(margin={"t": 40, "b": 40}, template="plotly_white")
            # facet titles read "kind=icustay": keep the value
            drawn.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
            chart.figure = drawn
        made.append(chart)
    return made
