"""The section parser on hand-written reports, one tricky case each.

Expected sections are worked out by hand from the rules in the module's
docstring (mimic-code's behaviour, then the extensions).
"""

from __future__ import annotations

import pytest

from cxr_sql.ingest.sections import Section, normalise, section_report

TITLE = "                                 FINAL REPORT\n"


def named(text: str) -> list[tuple[str, str]]:
    """(normalised name, text) of every section."""
    return [(s.name, text[s.char_start : s.char_end]) for s in section_report(text)]


def test_ordinary_report() -> None:
    text = (
        TITLE
        + " EXAMINATION:  CHEST (PA AND LAT)\n \n"
        + " INDICATION:  ___F with cough  // ?pna\n \n"
        + " COMPARISON:  ___\n \n"
        + " FINDINGS: \n \n The lungs are clear.  No effusion.\n \n"
        + " IMPRESSION: \n \n No acute cardiopulmonary process.\n"
    )
    assert named(text) == [
        ("preamble", "FINAL REPORT"),
        ("examination", "CHEST (PA AND LAT)"),
        ("indication", "___F with cough  // ?pna"),
        ("comparison", "___"),
        ("findings", "The lungs are clear.  No effusion."),
        ("impression", "No acute cardiopulmonary process."),
    ]
    headers = [s.header for s in section_report(text)]
    assert headers == [None, "EXAMINATION", "INDICATION", "COMPARISON", "FINDINGS", "IMPRESSION"]
    assert [s.ordinal for s in section_report(text)] == list(range(6))


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("IMPRESSON", "impression"),
        ("FINDNGS", "findings"),
        ("COMPARISION", "comparison"),
        ("CONCLUSION", "impression"),
        ("CLINICAL HISTORY", "history"),
        ("REASON FOR EXAMINATION", "indication"),
        ("RECOMMENDATION(S)", "recommendations"),
        ("FINDINGS AND IMPRESSION", "impression"),
        ("FINDINGS/IMPRESSION", "impression"),
        ("FINDINGS & IMPRESSION", "impression"),
        ("CHEST, PA AND LATERAL", "findings"),
        ("PORTABLE SEMI-UPRIGHT AP VIEW", "findings"),
        ("PRIOR COMPARISON STUDIES", "comparison"),
        ("WETREAD", "wet read"),
        ("PFI", "history"),
        ("TECHNIQUE", "technique"),
        ("PROCEDURE", "procedure"),
        ("NDICATION", "indication"),
    ],
)
def test_header_normalisation(header: str, name: str) -> None:
    assert normalise(header) == name


def test_misspelt_header_is_a_section_with_its_spelling_kept() -> None:
    text = TITLE + " FINDNGS:  Clear lungs.\n \n IMPRESSON:  Normal chest.\n"
    sections = section_report(text)
    assert [(s.header, s.name) for s in sections[1:]] == [
        ("FINDNGS", "findings"),
        ("IMPRESSON", "impression"),
    ]


def test_no_headers_gives_full_report_and_last_paragraph() -> None:
    text = TITLE + " PA AND LATERAL CHEST ___\n \n Lungs are clear.\n \n No acute process.\n"
    assert named(text) == [
        ("full report", "FINAL REPORT\n PA AND LATERAL CHEST ___"),
        ("last_paragraph", "Lungs are clear.\n \n No acute process."),
    ]


def test_last_paragraph_is_cut_from_the_last_section_when_no_findings_or_impression() -> None:
    text = TITLE + " INDICATION:  Cough.\n \n COMPARISON:  None.\n \n Heart size is normal.\n"
    assert named(text) == [
        ("preamble", "FINAL REPORT"),
        ("indication", "Cough."),
        ("comparison", "None."),
        ("last_paragraph", "Heart size is normal."),
    ]


def test_header_followed_by_blank_line_puts_its_text_in_last_paragraph() -> None:
    """As in mimic-code: the cut is at the first blank line of the section's raw text."""
    text = TITLE + " COMPARISON: \n \n Chest radiograph of ___.  No change.\n"
    assert named(text)[-2:] == [
        ("comparison", ""),
        ("last_paragraph", "Chest radiograph of ___.  No change."),
    ]


def test_empty_findings_and_impression_are_dropped() -> None:
    text = (
        TITLE + " CHEST, PA LATERAL:\n \n INDICATION:  Fever.\n \n IMPRESSION:\n \n No pneumonia.\n"
    )
    # The first line after a header ending in a newline cannot be a header; this
    # report's view title is an empty findings section and is dropped.
    names = [name for name, _ in named(text)]
    assert names == ["preamble", "indication", "impression"]
    empty_impression = TITLE + " FINDINGS:  Clear.\n \n IMPRESSION: \n"
    assert named(empty_impression)[-1] == ("findings", "Clear.")


def test_line_right_after_a_header_ending_its_line_is_text() -> None:
    text = TITLE + " INDICATION:\n FEVER, COUGH: R/O PNA\n \n IMPRESSION:  Clear.\n"
    assert named(text)[1:] == [("indication", "FEVER, COUGH: R/O PNA"), ("impression", "Clear.")]


def test_several_sections_of_one_name_are_all_kept() -> None:
    text = TITLE + " FINDINGS:  First.\n \n FINDINGS:  Second.\n \n IMPRESSION:  Done.\n"
    assert [n for n, _ in named(text)].count("findings") == 2


def test_addendum_on_top_is_split_off_and_marked() -> None:
    text = (
        "                                 FINAL ADDENDUM\n"
        " ADDENDUM:  The tube tip is in the stomach.\n \n"
        " "
        + "_" * 78
        + "\n"
        + TITLE
        + " FINDINGS:  Tube in place.\n \n IMPRESSION:  Tube in place.\n"
    )
    sections = section_report(text)
    assert [(s.name, s.in_addendum) for s in sections] == [
        ("preamble", True),
        ("addendum", True),
        ("preamble", False),
        ("findings", False),
        ("impression", False),
    ]
    assert text[sections[1].char_start : sections[1].char_end] == "The tube tip is in the stomach."
    assert text[sections[2].char_start : sections[2].char_end] == "FINAL REPORT"


def test_headerless_addendum_is_one_addendum_section() -> None:
    text = " Tube repositioned.\n " + "_" * 60 + "\n" + TITLE + " IMPRESSION:  Fine.\n"
    assert named(text)[0] == ("addendum", "Tube repositioned.")
    assert section_report(text)[0].in_addendum


def test_underscore_line_at_the_end_splits_nothing() -> None:
    text = TITLE + " IMPRESSION:  Fine.\n " + "_" * 30 + "\n"
    assert not any(s.in_addendum for s in section_report(text))


def test_lower_and_mixed_case_headers_in_a_report_without_upper_case_ones() -> None:
    text = "Final report\nFindings: Lungs clear.\n\nimpression: normal chest.\nNote: none\n"
    assert named(text) == [
        ("preamble", "Final report"),
        ("findings", "Lungs clear."),
        ("impression", "normal chest.\nNote: none"),
    ]


def test_mixed_case_history_on_a_wrapped_line_of_indication_stays_text() -> None:
    text = (
        TITLE
        + " INDICATION:  ___-year-old man with shortness of breath and cough for\n"
        + " History: ___M with hypoxia, evaluate for pneumonia.\n \n"
        + " IMPRESSION:  Clear.\n"
    )
    assert named(text)[1:] == [
        (
            "indication",
            "___-year-old man with shortness of breath and cough for\n"
            " History: ___M with hypoxia, evaluate for pneumonia.",
        ),
        ("impression", "Clear."),
    ]


def test_mixed_case_headers_placed_as_headers_count_beside_upper_case_ones() -> None:
    """Findings: alone on its line; Impression: after a blank line; both are headers."""
    text = (
        TITLE
        + " INDICATION:  Cough.\n \n COMPARISON:  ___.\n \n"
        + " Findings:\n The lungs are clear.  No effusion.\n \n"
        + " Impression: No acute process.\n"
    )
    sections = section_report(text)
    assert [(s.header, s.name) for s in sections[3:]] == [
        ("Findings", "findings"),
        ("Impression", "impression"),
    ]
    assert named(text)[2:] == [
        ("comparison", "___."),
        ("findings", "The lungs are clear.  No effusion."),
        ("impression", "No acute process."),
    ]


def test_mixed_case_unknown_name_or_mid_paragraph_stays_text() -> None:
    text = (
        TITLE
        + " FINDINGS:  Heart size normal.\n Note: lines unchanged.\n"
        + " Impression: clear lungs, as before.\n \n IMPRESSION:  Normal.\n"
    )
    assert named(text)[1:] == [
        (
            "findings",
            "Heart size normal.\n Note: lines unchanged.\n Impression: clear lungs, as before.",
        ),
        ("impression", "Normal."),
    ]


WET_READ = (
    " WET READ: ___ ___ 10:22 PM\n"
    "  Left lower lobe opacity, possibly pneumonia.\n"
    "  No pneumothorax.\n"
    " " + "_" * 78 + "\n"
)


def test_wet_read_is_one_section_with_its_reader_and_time_apart() -> None:
    text = WET_READ + TITLE + " FINDINGS:  Opacity.\n \n IMPRESSION:  Pneumonia.\n"
    sections = section_report(text)
    wet = sections[1]
    assert (wet.header, wet.name, wet.in_addendum) == ("WET READ", "wet read", False)
    assert wet.note == "___ ___ 10:22 PM"
    assert text[wet.char_start : wet.char_end] == (
        "Left lower lobe opacity, possibly pneumonia.\n  No pneumothorax."
    )
    assert not any(s.in_addendum for s in sections)
    assert [s.name for s in sections] == [
        "preamble", "wet read", "preamble", "findings", "impression"
    ]  # fmt: skip


def test_wet_read_below_an_addendum_and_on_one_line() -> None:
    addendum = " ADDENDUM:  Tube in the stomach.\n " + "_" * 78 + "\n"
    one_line = " WET READ: No pneumothorax.\n " + "_" * 78 + "\n"
    text = addendum + one_line + TITLE + " IMPRESSION:  Fine.\n"
    sections = section_report(text)
    assert [(s.name, s.in_addendum, s.note) for s in sections if s.name != "preamble"] == [
        ("addendum", True, None),
        ("wet read", False, None),
        ("impression", False, None),
    ]
    assert named(text)[3] == ("wet read", "No pneumothorax.")


def test_crlf_line_endings_give_the_same_sections() -> None:
    lf = TITLE + " INDICATION:  Cough.\n \n FINDINGS:  Clear.\n \n IMPRESSION:  Normal.\n"
    no_headers = TITLE + " Lungs clear.\n \n No effusion.\n"
    for text in (lf, no_headers):
        crlf = [
            (name, body.replace("\r\n", "\n")) for name, body in named(text.replace("\n", "\r\n"))
        ]
        assert crlf == named(text)


def test_header_at_start_of_text_without_leading_space_and_at_the_end() -> None:
    text = "FINDINGS: Clear lungs.\nIMPRESSION:"
    assert named(text) == [("preamble", ""), ("findings", "Clear lungs.")]


def test_empty_and_blank_reports_have_no_sections() -> None:
    assert section_report("") == []
    assert section_report(" \n \n") == []


def test_times_and_ratios_are_not_headers() -> None:
    text = TITLE + " IMPRESSION:  Called at 10:45 to Dr. ___; ratio 1:2.\n"
    assert named(text)[-1] == ("impression", "Called at 10:45 to Dr. ___; ratio 1:2.")


def test_offsets_round_trip_on_every_section() -> None:
    text = "\ufeff" + TITLE + " FINDINGS:  Café   \n \n IMPRESSION:  Ok.  \n"
    for section in section_report(text):
        body = text[section.char_start : section.char_end]
        assert body == body.strip()
        assert isinstance(section, Section)
