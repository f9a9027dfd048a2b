"""mimic-code's `mimic_cxr_sectioned.csv`, reproduced: the sections exactly as MIT-LCP
mimic-code's `create_section_files.py` (mimic-iv-cxr/txt, commit 4fe5c35) writes them.

The CheXpert and NegBio labels of MIMIC-CXR-JPG were computed from that file, so
researchers comparing with published work need it as it is, slips included. This
module is written from mimic-code's behaviour, not from its code; the tests compare
it with the script's own output on committed corpora. What that script does:

- it reads each file in text mode: CRLF and lone CR become LF;
- a header is `\\n`, one space, upper-case letters, spaces or `()/,-`, a colon and
  one white-space character (which may be the newline ending the header's line:
  then the next line cannot start a header); headers are found left to right
  without overlap;
- the text before the first header is `preamble`; a report with no header is one
  `full report` section; a section runs from after its header's white-space
  character to the newline before the next header;
- names are normalised as in `sections.normalise`, except `ndication`, which its
  table maps to impression;
- empty (white space only) impression and findings sections are dropped;
- with neither impression nor findings left, the last section is cut at its first
  `\\n \\n` (exactly: newline, space, newline) and what follows is `last_paragraph`,
  even when it is empty;
- each column is the last section of that name, stripped, or missing (None);
- 54 studies named in its `custom_section_names` and `custom_indices` are left out
  of the sectioned CSV (they only go into its conclusion files). They are data here:
  `cxr_sql/data/mimic_code_study_rules.csv`, with the file each one names.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

from cxr_sql.ingest.sections import normalise

MIMIC_CODE_SECTIONER_VERSION = "mimic-code-sections/1 (mimic-code 4fe5c35)"
COLUMNS = ("impression", "findings", "last_paragraph", "comparison")
RULES_FILE = Path(__file__).resolve().parent.parent / "data" / "mimic_code_study_rules.csv"

_HEADER = re.compile(r"\n ([A-Z ()/,-]+):\s")
_PARAGRAPH = "\n \n"
_DROPPED_WHEN_EMPTY = ("impression", "findings")
_ONLY_HERE = {"ndication": "impression"}


@cache
def study_rules() -> dict[int, str]:
    """study_id -> the mimic-code rule that leaves it out of the sectioned CSV."""
    with RULES_FILE.open(newline="") as handle:
        return {int(row["study"][1:]): row["rule"] for row in csv.DictReader(handle)}


@cache
def _name(header: str) -> str:
    written = header.lower().strip()
    return _ONLY_HERE.get(written) or normalise(written)


def as_read(text: str) -> str:
    """The text as a Python file object in text mode gives it (universal newlines)."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def mimic_code_columns(text: str) -> tuple[str | None, str | None, str | None, str | None]:
    """impression, findings, last_paragraph, comparison of one report (read as text).
    Sections are kept as spans; only the text of the four columns is copied out."""
    spans: list[tuple[str, int, int]] = []  # name, start, end
    name, start = "preamble", 0
    first = True
    for match in _HEADER.finditer(text):
        spans.append((name, start, match.start(1) if first else match.start()))
        first = False
        name, start = _name(match[1]), match.end()
    spans.append(("full report" if first else name, start, len(text)))
    spans = [
        span
        for span in spans
        if span[0] not in _DROPPED_WHEN_EMPTY or text[span[1] : span[2]].strip()
    ]
    names = {span[0] for span in spans}
    if "impression" not in names and "findings" not in names:
        name, start, end = spans[-1]
        cut = text.find(_PARAGRAPH, start, end)
        if cut >= 0:
            spans[-1] = (name, start, cut)
            spans.append(("last_paragraph", cut + len(_PARAGRAPH), end))
    found = {name: (start, end) for name, start, end in spans if name in COLUMNS}  # last wins
    return tuple(  # type: ignore[return-value]
        text[found[name][0] : found[name][1]].strip() if name in found else None for name in COLUMNS
    )
