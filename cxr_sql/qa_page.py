"""The page of `cxr-sql check --html`: the QA report's facts and its charts in one file.

The page opens offline: plotly.js (from the plotly package) is inlined once, and
nothing is loaded from anywhere else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

import jinja2
import plotly.offline

from cxr_sql import __version__
from cxr_sql.check import Finding
from cxr_sql.qa_charts import Chart

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cxr-sql check: {{ warehouse }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
.facts { columns: 2; } .facts div { break-inside: avoid; } .facts ul { margin-top: 0.2em; }
.caption, .missing { color: #555; } .failed, .warnings { color: #a33; }
</style>
<script>{{ plotly_js | safe }}</script>
</head>
<body>
<h1>cxr-sql check</h1>
<p>Warehouse <code>{{ warehouse }}</code>, checked {{ checked }} by cxr-sql {{ version }}.</p>
<section class="facts">
{%- for section, lines in facts %}
<div class="{{ section }}"><h3>{{ section }}</h3>
<ul>{% for line in lines %}<li>{{ line }}</li>{% endfor %}</ul></div>
{%- endfor %}
</section>
{%- for chart in charts %}
<section class="chart" id="section-{{ chart.name }}">
<h2>{{ chart.title }}</h2>
<p class="caption">{{ chart.caption }}</p>
{%- if chart.figure is not none %}
{{ chart.figure.to_html(full_html=False, include_plotlyjs=False, div_id="chart-" ~ chart.name,
                        config={"displaylogo": False}) | safe }}
{%- else %}
<p class="missing{{ ' failed' if chart.failed }}">{{ chart.missing }}</p>
{%- endif %}
</section>
{%- endfor %}
</body>
</html>
"""


def page(findings: list[Finding], charts: list[Chart], warehouse: Path) -> str:
    """The whole page as one string of HTML."""
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    facts = [
        (section, [f.line for f in group])
        for section, group in groupby(findings, key=lambda f: f.section)
    ]
    return environment.from_string(TEMPLATE).render(
        warehouse=str(warehouse.resolve()),
        checked=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        facts=facts,
        charts=charts,
        plotly_js=plotly.offline.get_plotlyjs(),
    )
