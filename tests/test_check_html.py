"""`cxr-sql check --html`: one page, opened by a real headless Chromium with no network.

The page is written for a warehouse built by the real command from sources with
damaged files (so that every chart has something to draw, rejects included),
opened by Debian's Chromium in a network namespace of its own (no network at all:
whatever the page would fetch fails), and the charts are counted in the DOM after
its JavaScript ran. The screenshot is kept in test-artefacts/ (git ignores it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.helpers import REPO, run_cli
from tests.test_bad_input import rewrite_csv_gz
from tests.test_catalog import cli_query

ARTEFACTS = REPO / "test-artefacts"
CHARTS = ("hours", "candidates", "anchor_year_group", "time_source", "view_position", "rejects")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",  # let the page's scripts run before the dump or screenshot
]


def chromium() -> str:
    """Debian's Chromium; a missing one fails under CI (its .ci/run installs it), else skips."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed although CI=true: .ci/run installs it")
    pytest.skip("no chromium here (apt-get install chromium, as root, to run this test)")


def without_network() -> list[str]:
    """A command prefix that runs its command in a new network namespace: no network at all."""
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"unshare --net fails under CI: {probe.stderr.decode().strip()}")
        pytest.skip("unshare --net is not allowed here (needs root): cannot prove offline")
    return ["unshare", "--net"]


def open_in_chromium(page: Path, profile: Path, *action: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            *without_network(),
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            *action,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def warehouse(tiny_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny sources (with DICOMs) with a few broken files, built by the real command."""
    root = tmp_path_factory.mktemp("check-html")
    sources = root / "sources"
    shutil.copytree(tiny_sources, sources)
    cxr = sources / "mimic-cxr"
    first, second = sorted((cxr / "files").glob("p*/p*/s*.txt"))[:2]
    first.write_bytes(first.read_bytes().replace(b"FINAL", b"FIN\xffAL", 1))  # replaced
    (second.parent / "s123.txt").write_text(" FINAL REPORT\n")  # dropped

    def orphan_study(lines: list[str]) -> list[str]:
        subject = lines[1].split(",")[0]
        dicom = "00000000-00000000-00000000-00000000-00000001"
        return [*lines, f"{subject},59999998,{dicom},files/p{subject[:2]}/p{subject}/s59999998/"
                        f"{dicom}.dcm"]  # fmt: skip

    rewrite_csv_gz(cxr / "cxr-record-list.csv.gz", orphan_study)  # kept
    target = root / "warehouse"
    done = run_cli(
        "build", "--warehouse", str(target), "--mimic-cxr", str(cxr),
        "--mimic-cxr-jpg", str(sources / "mimic-cxr-jpg"), "--mimiciv", str(sources / "mimiciv"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def cli_rows(warehouse: Path, sql: str) -> list[list[str]]:
    """Rows from the real DuckDB CLI (CSV, no header)."""
    done = cli_query(warehouse, sql, cwd=warehouse.parent)
    assert done.returncode == 0, done.stderr
    return [line.split(",") for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def page(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("page") / "check.html"
    path.write_text("an older page")
    path.chmod(0o644)
    done = run_cli("check", "--warehouse", str(warehouse), "--html", str(path))
    assert done.returncode == 0, done.stderr
    assert f"wrote {path}" in done.stdout and "rejects:" in done.stdout
    return path


def test_page_is_owner_only_and_self_contained(page: Path) -> None:
    assert page.stat().st_mode & 0o777 == 0o600
    soup = BeautifulSoup(page.read_text(), "html.parser")
    assert [s for s in soup.find_all("script") if s.get("src")] == []
    assert soup.find_all("link") == [] and soup.find_all("img") == []
    assert "Plotly.newPlot" in page.read_text()


def test_charts_render_in_chromium_without_network(
    page: Path, warehouse: Path, tmp_path: Path
) -> None:
    ARTEFACTS.mkdir(exist_ok=True)
    screenshot = ARTEFACTS / "check-html.png"
    screenshot.unlink(missing_ok=True)
    shutil.copy(page, ARTEFACTS / "check.html")
    print(f"page and screenshot kept in {ARTEFACTS}")
    dumped = open_in_chromium(
        page,
        tmp_path / "profile",
        "--dump-dom",
        f"--screenshot={screenshot}",
        "--window-size=1300,4200",
    )
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert screenshot.stat().st_size > 50_000
    dom = BeautifulSoup(dumped.stdout, "html.parser")
    for name in CHARTS:
        chart = dom.find(id=f"chart-{name}")
        assert chart is not None, f"no chart {name}"
        assert chart.select("svg.main-svg"), f"chart {name} was not drawn"
        bars = [
            p for p in chart.select("g.trace.bars g.point path") if p.get("d", "M0,0Z") != "M0,0Z"
        ]
        assert bars, f"chart {name} has no bars"

    def texts(name: str) -> str:
        return "\n".join(t.get_text() for t in dom.find(id=f"chart-{name}").find_all("text"))

    kinds = cli_rows(warehouse, "SELECT DISTINCT kind FROM mimic_cxr_derived.study_link_candidates")
    assert kinds and all(kind in texts("hours") for (kind,) in kinds), "a link kind has no panel"
    groups = cli_rows(
        warehouse,
        "SELECT DISTINCT p.anchor_year_group FROM mimic_cxr.study_list "
        "JOIN mimiciv_hosp.patients AS p USING (subject_id)",
    )
    assert groups and all(group in texts("anchor_year_group") for (group,) in groups)
    # one bar per stage and action of mimic_cxr._rejects, as the DuckDB CLI counts them
    (rejects,) = cli_rows(
        warehouse, "SELECT count(DISTINCT (stage, action)) FROM mimic_cxr._rejects"
    )
    assert int(rejects[0]) >= 3
    assert len(dom.find(id="chart-rejects").select("g.trace.bars g.point")) == int(rejects[0])


def test_page_of_a_warehouse_without_study_times_says_what_is_missing(
    tiny_sources: Path, tmp_path: Path
) -> None:
    """No JPG metadata and no DICOM headers: no study has a time, so none has a candidate
    window, and the view positions are unknown. The page says so where the charts would be."""
    target = tmp_path / "warehouse"
    built = run_cli(
        "build", "--warehouse", str(target), "--mimic-cxr", str(tiny_sources / "mimic-cxr"),
        "--mimiciv", str(tiny_sources / "mimiciv"), "--dicom", "no",
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert cli_rows(target, "SELECT count(*) FROM mimic_cxr_derived.study_link_candidates") == [
        ["0"]
    ]
    path = tmp_path / "check.html"
    done = run_cli("check", "--warehouse", str(target), "--html", str(path))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    soup = BeautifulSoup(path.read_text(), "html.parser")
    missing = {m.find_parent("section")["id"]: m.get_text() for m in soup.select(".missing")}
    assert missing["section-hours"].startswith("no study has a candidate window")
    assert missing["section-candidates"].startswith("no study has a candidate window")
    assert missing["section-view_position"] == (
        "not built: neither mimic_cxr.metadata nor dicom_metadata was built"
    )
    assert soup.find(id="chart-time_source") is not None  # every study: time_source none
    assert "have no time" in soup.select_one(".facts .warnings").get_text()
    assert soup.find(id="chart-anchor_year_group") is not None


def test_page_into_a_missing_folder_is_a_clear_error(warehouse: Path, tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "check.html"
    done = run_cli("check", "--warehouse", str(warehouse), "--html", str(path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"--html {path}: no folder {path.parent}" in done.stderr
    assert list(tmp_path.iterdir()) == []
