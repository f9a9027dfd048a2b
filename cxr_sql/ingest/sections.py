"""Split a MIMIC-CXR report into its sections. Pure functions: text in, sections out.

On ordinary reports this follows the section parser of MIT-LCP's mimic-code
(mimic-iv-cxr/txt), which sectioned the reports behind the labels published
with MIMIC-CXR-JPG:

- a header is an upper-case name (letters, spaces and `()/,-`) at the start of
  a line after a newline, ending in a colon and white space; the text before
  the first header is the `preamble`; a report with no header is one
  `full report` section;
- a section's text runs from after its colon (and one white-space character)
  to the newline before the next header; when the colon ends its line, the
  line right after it cannot be a header (an upper-case first line of text);
- header names are normalised: a table of variants and misspellings
  (`IMPRESSON`, `FINDNGS`, `COMPARISION`, `CLINICAL HISTORY`, ...), then any
  name containing impression, findings, history, comparison or addendum (in
  that order), then names describing the views (`CHEST, PA AND LATERAL`) are
  findings; other names are kept, lower-cased;
- empty impression and findings sections are dropped;
- with neither impression nor findings, the last section is cut at its first
  blank line and the rest becomes `last_paragraph`.

Beyond it:

- addenda, which MIMIC-CXR puts at the top of a report above a line made only
  of underscores, are split off there; their sections have in_addendum set, and
  a headerless addendum is one `addendum` section;
- a report (or addendum) with no upper-case header may have headers in lower
  or mixed case (`Findings:`, `Impression:`), when they name a known section;
  in a report with upper-case headers, `History:` at the start of a line of
  indication text stays text, as in mimic-code;
- a header may carry `&` (`FINDINGS & IMPRESSION`), start a line with no
  leading space, start the report, or end it;
- CRLF line endings and blank lines holding any white space;
- no study is special-cased by its ID;
- `ndication`, which mimic-code maps to impression (a slip in its table), is
  indication here; an empty `last_paragraph` is not produced.

Every section's span points at its text with surrounding white space removed,
so `text[char_start:char_end]` (SQL: `substr(text, char_start + 1,
char_end - char_start)`) gives the section back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

SECTIONER_VERSION = "cxr-sql-sections/1"

_HEADER = re.compile(r"(?:\A|\n)[ \t]*([A-Za-z(][A-Za-z ()/,&-]*):(?=\s|\Z)")
_ADDENDUM_SEPARATOR = re.compile(r"^[ \t]*_{8,}[ \t]*\r?$", re.MULTILINE)
_BLANK_LINE = re.compile(r"\r?\n[ \t]*\r?\n")

# Header variants by the name they normalise to (mimic-code's table, regrouped).
_VARIANTS = {
    "impression": (
        "conclusion",
        "findings and impression",
        "findings/impression",
        "findings/ impression",
        "impresson",
        "imprression",
        "imoression",
        "impressoin",
        "imprssion",
        "impresion",
        "imperssion",
        "mpression",
        "impession",
    ),
    "findings": (
        "chest, two views",
        "finding",
        "findins",
        "findindgs",
        "findgings",
        "findngs",
        "findnings",
        "finidngs",
        "reference findings",
    ),
    "comparison": (
        "comparisons",
        "reference exam",
        "comparison exam",
        "comparison film",
        "comparision",
        "comparsion",
        "comparrison",
        "comparisions",
    ),
    "indication": (
        "reason for examination",
        "reason for exam",
        "clinical indication",
        "idication",
        "ndication",
    ),
    "history": ("clinical history", "clinical information", "patient history", "pfi"),
    "examination": ("exam", "type of examination"),
    "recommendations": ("recommendation(s)", "recommendation"),
    "wet read": ("wetread",),
}
_SELF_NAMED = (
    "preamble",
    "impression",
    "comparison",
    "indication",
    "findings",
    "examination",
    "technique",
    "history",
    "notification",
    "addendum",
    "date",
    "comment",
    "wet read",
    "recommendations",
)
NORMALISED = {name: name for name in _SELF_NAMED} | {
    variant: target for target, variants in _VARIANTS.items() for variant in variants
}
_MAIN_SECTIONS = ("impression", "findings", "history", "comparison", "addendum")
_VIEW_WORDS = re.compile(
    "chest|portable|pa and lateral|lateral and pa|ap and lateral|lateral and ap|frontal and"
    "|two views|frontal view|pa view|ap view|one view|lateral view|bone window"
    "|frontal upright|frontal semi-upright|ribs|pa and lat"
)


@dataclass(frozen=True, slots=True)
class Section:
    ordinal: int  # order in the report, from 0
    header: str | None  # as written; None for preamble, full report, last_paragraph
    name: str  # normalised
    char_start: int  # text[char_start:char_end] is the section, stripped
    char_end: int
    in_addendum: bool


def normalise(header: str) -> str:
    """The section a header names: `IMPRESSON` -> impression, `CHEST, PA AND LAT` -> findings."""
    name = header.lower().strip()
    if name in NORMALISED:
        return NORMALISED[name]
    for main in _MAIN_SECTIONS:
        if main in name:
            return main
    if _VIEW_WORDS.search(name):
        return "findings"
    return name


def _upper_case(written: str) -> bool:
    return written == written.upper()


def _known_name(written: str) -> bool:
    name = written.lower().strip()
    return name in NORMALISED or any(main in name for main in _MAIN_SECTIONS)


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    segment = text[start:end]
    left = segment.lstrip()
    start += len(segment) - len(left)
    return start, start + len(left.rstrip())


def _raw_sections(text: str, start: int, end: int) -> list[tuple[str | None, str, int, int]]:
    """(header, name, start, end) of each section of text[start:end], unstripped."""
    accept = _upper_case
    match = _next_header(text, start, end, accept)
    if match is None:
        accept = _known_name
        match = _next_header(text, start, end, accept)
    if match is None:
        return [(None, "full report", start, end)]
    found: list[tuple[str | None, str, int, int]] = [(None, "preamble", start, match.start(1))]
    while match is not None:
        written = match.group(1).strip()
        body_start = match.end()
        if body_start < end and text[body_start].isspace():
            body_start += 1
        newline = text.find("\n", body_start, end)
        match = _next_header(text, body_start if newline == -1 else newline, end, accept)
        body_end = end if match is None else match.start()
        found.append((written, normalise(written), body_start, body_end))
    return found


def _next_header(
    text: str, pos: int, end: int, accept: Callable[[str], bool]
) -> re.Match[str] | None:
    while True:
        match = _HEADER.search(text, pos, end)
        if match is None or accept(match.group(1)):
            return match
        pos = match.end()


def _addendum_parts(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, in_addendum) of each part: addenda above their underscore lines,
    then the original report. An underscore line with nothing after it splits nothing."""
    if "________" not in text:
        return [(0, len(text), False)]
    separators = list(_ADDENDUM_SEPARATOR.finditer(text))
    while separators and not text[separators[-1].end() :].strip():
        separators.pop()
    parts, start = [], 0
    for separator in separators:
        parts.append((start, separator.start(), True))
        start = separator.end()
    parts.append((start, len(text), False))
    return parts


def _original_sections(text: str, start: int, end: int) -> list[tuple[str | None, str, int, int]]:
    raw = [
        s
        for s in _raw_sections(text, start, end)
        if s[1] not in ("impression", "findings") or text[s[2] : s[3]].strip()
    ]
    if not any(name in ("impression", "findings") for _, name, _, _ in raw):
        header, name, last_start, last_end = raw[-1]
        blank = _BLANK_LINE.search(text, last_start, last_end)
        if blank is not None and text[blank.end() : last_end].strip():
            raw[-1] = (header, name, last_start, blank.start())
            raw.append((None, "last_paragraph", blank.end(), last_end))
    return raw


def _addendum_sections(text: str, start: int, end: int) -> list[tuple[str | None, str, int, int]]:
    raw = _raw_sections(text, start, end)
    if raw[0][1] == "full report":
        return [(None, "addendum", start, end)]
    return [s for s in raw if s[1] not in ("impression", "findings") or text[s[2] : s[3]].strip()]


def section_report(text: str) -> list[Section]:
    """The sections of one report, in text order. An empty report has none."""
    if not text.strip():
        return []
    sections: list[Section] = []
    for start, end, in_addendum in _addendum_parts(text):
        if not text[start:end].strip():
            continue
        parts = (_addendum_sections if in_addendum else _original_sections)(text, start, end)
        for header, name, raw_start, raw_end in parts:
            char_start, char_end = _stripped(text, raw_start, raw_end)
            sections.append(Section(len(sections), header, name, char_start, char_end, in_addendum))
    return sections
