"""Split a MIMIC-CXR report into its sections. Pure functions: text in, sections out.

On ordinary reports this follows the section parser of MIT-LCP's mimic-code
(mimic-iv-cxr/txt), which sectioned the reports behind the labels published
with MIMIC-CXR-JPG (`mimic_code_sections` reproduces that parser exactly):

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
- a wet read (the preliminary read, also above an underscore line, starting
  `WET READ:`) is not an addendum: all of it up to its underscore line is one
  `wet read` section. What follows `WET READ:` on its line (the reader and the
  time, `___ ___ 10:22 PM`) is the section's `note`, and its text starts on the
  next line; a wet read written on one line only is all text, with no note;
- headers in lower or mixed case (`Findings:`, `Impression:`) count when they
  name a known section (a name or variant of the table above): in a report (or
  addendum) with no upper-case header, wherever they start a line; in one with
  upper-case headers, only where their placement shows they are headers: alone
  on their line, or at the start of a paragraph (after a blank line, or first
  in the report). `History:` starting a wrapped line of indication text stays
  text, as in mimic-code;
- a header may carry `&` (`FINDINGS & IMPRESSION`), start a line with no
  leading space, start the report, or end it;
- CRLF line endings (a colon ending its line before CRLF is one ending it
  before LF) and blank lines holding any white space;
- no study is special-cased by its ID;
- `ndication`, which mimic-code maps to impression (a slip in its table), is
  indication here; an empty `last_paragraph` is not produced.

Every section's span points at its text with surrounding white space removed,
so `text[char_start:char_end]` (SQL: `substr(text, char_start + 1,
char_end - char_start)`) gives the section back.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

SECTIONER_VERSION = "cxr-sql-sections/2"

# A header after a line break; one at the very start of the text is matched apart
# (an alternation with \A would make the regex try every position, 2.5x slower).
_HEADER_BODY = r"[ \t]*([A-Za-z(][A-Za-z ()/,&-]*):(?=\s|\Z)"
_HEADER = re.compile("\n" + _HEADER_BODY)
_HEADER_AT_START = re.compile(_HEADER_BODY)
_ADDENDUM_SEPARATOR = re.compile(r"^[ \t]*_{8,}[ \t]*\r?$", re.MULTILINE)
_BLANK_LINE = re.compile(r"\r?\n[ \t]*\r?\n")
_SPACE = " \t\r\n\f\v"

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
_MAIN_FOUND = frozenset(("impression", "findings"))  # sections dropped when empty
_MAIN_SECTIONS = ("impression", "findings", "history", "comparison", "addendum")
_VIEW_WORDS = re.compile(
    "chest|portable|pa and lateral|lateral and pa|ap and lateral|lateral and ap|frontal and"
    "|two views|frontal view|pa view|ap view|one view|lateral view|bone window"
    "|frontal upright|frontal semi-upright|ribs|pa and lat"
)


class Section(NamedTuple):
    """One section; its fields are in the order of mimic_cxr.report_sections' columns."""

    ordinal: int  # order in the report, from 0
    header: str | None  # as written; None for preamble, full report, last_paragraph
    name: str  # normalised
    text: str  # the section's text, without surrounding white space
    char_start: int  # text[char_start:char_end] of the report is the section's text
    char_end: int
    in_addendum: bool
    note: str | None  # a wet read's reader and time, as written after its header


# (header as written, normalised name, start, end, note) of a section, unstripped
_Raw = tuple[str | None, str, int, int, str | None]


@cache
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


def _is_paragraph_start(text: str, start: int, at: int) -> bool:
    """The line break at `at` ends a blank line, or nothing but white space precedes it."""
    line_start = text.rfind("\n", start, at) + 1
    return at <= start or not text[max(line_start, start) : at].strip()


def _alone_on_its_line(text: str, colon_end: int, end: int) -> bool:
    line_end = text.find("\n", colon_end, end)
    return not text[colon_end : end if line_end < 0 else line_end].strip()


def _known_name(written: str) -> bool:
    name = written.lower().strip()
    return name in NORMALISED or any(main in name for main in _MAIN_SECTIONS)


def _placed_as_header(text: str, start: int, end: int, match: re.Match[str]) -> bool:
    """A known name in lower or mixed case, alone on its line or starting a paragraph."""
    return match[1].lower().strip() in NORMALISED and (
        _alone_on_its_line(text, match.end(), end)
        or _is_paragraph_start(text, start, match.start())
    )


_HEADER_FACTS: dict[str, tuple[bool, str, str]] = {}  # as matched -> upper, stripped, name


def _facts(written: str) -> tuple[bool, str, str]:
    """Whether a matched header is upper-case, how it reads stripped, what it names."""
    facts = _HEADER_FACTS.get(written)
    if facts is None:
        stripped = written.strip()
        facts = _HEADER_FACTS[written] = (
            written == written.upper(),
            stripped,
            normalise(stripped),
        )
    return facts


def _raw_sections(text: str, start: int, end: int) -> list[_Raw]:
    """Each section of text[start:end], unstripped. One pass over the header matches:
    upper-case ones are headers, others only where placed as headers; when no match
    is upper-case, every known name is a header."""
    found = list(_HEADER.finditer(text, start, end))
    if start == 0 and (first := _HEADER_AT_START.match(text, 0, end)) is not None:
        found.insert(0, first)
    if not found:
        return [(None, "full report", start, end, None)]
    for upper_mode in (True, False):
        sections: list[_Raw] = []
        any_upper = False
        after_colon = -1  # where a header ending its line puts the next line's break
        header, name, body_start = None, "preamble", start
        for match in found:
            line_start, colon_end = match.span()
            upper, stripped, normalised = _facts(match[1])
            any_upper = any_upper or upper
            if line_start == after_colon:
                continue  # the first line after a header that ends its line is text
            if not upper and not (
                _placed_as_header(text, start, end, match) if upper_mode else _known_name(stripped)
            ):
                continue
            sections.append(
                (header, name, body_start, match.start(1) if header is None else line_start, None)
            )
            header, name = stripped, normalised
            body_start = colon_end
            after_colon = -1
            if colon_end < end:
                character = text[colon_end]
                if character in _SPACE:
                    body_start += 1
                    if character == "\n":
                        after_colon = colon_end
                    elif text.startswith("\r\n", colon_end):
                        after_colon = colon_end + 1
        if any_upper or not upper_mode:
            break
    if not sections:
        return [(None, "full report", start, end, None)]
    sections.append((header, name, body_start, end, None))
    return sections


def _with_wet_read_note(text: str, section: _Raw) -> _Raw:
    """A wet read's first line is its reader and time when the read follows below."""
    header, name, start, end, _ = section
    line_end = text.find("\n", start, end)
    if line_end < 0 or not text[line_end:end].strip():
        return section
    note = text[start:line_end].strip() or None
    return (header, name, line_end + 1, end, note)


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


def _without_empty_findings(text: str, raw: list[_Raw]) -> list[_Raw]:
    return [s for s in raw if s[1] not in _MAIN_FOUND or text[s[2] : s[3]].strip()]


def _original_sections(text: str, start: int, end: int) -> list[_Raw]:
    raw: list[_Raw] = []
    has_main = False
    for section in _raw_sections(text, start, end):
        if section[1] in _MAIN_FOUND:
            if section[2] == section[3] or text[section[2] : section[3]].isspace():
                continue
            has_main = True
        raw.append(section)
    if not has_main:
        header, name, last_start, last_end, note = raw[-1]
        blank = _BLANK_LINE.search(text, last_start, last_end)
        if blank is not None and text[blank.end() : last_end].strip():
            raw[-1] = (header, name, last_start, blank.start(), note)
            raw.append((None, "last_paragraph", blank.end(), last_end, None))
    return raw


def _top_sections(text: str, start: int, end: int) -> tuple[list[_Raw], bool]:
    """The sections of a part above an underscore line, and whether it is an addendum
    (a part whose first header is a wet read is the wet read, not an addendum)."""
    raw = _raw_sections(text, start, end)
    if raw[0][1] == "full report":
        return [(None, "addendum", start, end, None)], True
    if raw[1][1] == "wet read":
        header, name, body_start, _, _ = raw[1]
        return [raw[0], (header, name, body_start, end, None)], False
    return _without_empty_findings(text, raw), True


def section_rows(text: str) -> list[tuple]:
    """The sections of one report as tuples in Section's field order (the reports stage
    builds its columns from these; a tuple is several times cheaper than a Section)."""
    if not text or text.isspace():
        return []
    rows: list[tuple] = []
    parts = _addendum_parts(text) if "________" in text else ((0, len(text), False),)
    for start, end, on_top in parts:
        if on_top:
            if start == end or text[start:end].isspace():
                continue
            raw_sections, in_addendum = _top_sections(text, start, end)
        else:
            raw_sections, in_addendum = _original_sections(text, start, end), False
        for raw in raw_sections:
            header, name, raw_start, raw_end, note = raw
            if name == "wet read":
                header, name, raw_start, raw_end, note = _with_wet_read_note(text, raw)
            segment = text[raw_start:raw_end]
            left = segment.lstrip()
            body = left.rstrip()
            char_start = raw_start + len(segment) - len(left)
            rows.append(
                (
                    len(rows),
                    header,
                    name,
                    body,
                    char_start,
                    char_start + len(body),
                    in_addendum,
                    note,
                )
            )
    return rows


def section_report(text: str) -> list[Section]:
    """The sections of one report, in text order. An empty report has none."""
    return [Section._make(row) for row in section_rows(text)]
