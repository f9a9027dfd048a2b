"""DICOM headers as bytes: parsed into raw elements, decoded into text, typed values, JSON.

Parsing is pydicom's (`read_partial`, stopping before the pixel data), which
leaves the elements raw. Decoding: pydicom's conversion of each element into a
DataElement is slow (about three times the parse) and raises or warns on odd
values. Here each attribute is decoded from its raw bytes, and sequences of
defined length (left as bytes) are split into items: the text as written (for
`dicom_metadata_string`), a typed value (for `dicom_metadata`) or a JSON value
(for `--dicom-all-tags`). An odd value gives
None and a reason, never an exception, so one bad attribute costs one NULL.

Dates and times accept the DICOM forms and the ACR-NEMA ones still found in old
files: DA `20040826`, `2004.08.26`, `2004-08-26`; TM `104702.826`, `1047`,
`10:47:02.826`; padding spaces and NULs around them are ignored. Fractions of a
second keep up to six digits (microseconds; DICOM allows no more).
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PN_DELIMS, TEXT_VR_DELIMS

Element = RawDataElement | DataElement  # DataElement: one pydicom already converted
Elements = dict[int, Element]

CHARSET_VRS = frozenset({"SH", "LO", "ST", "LT", "UT", "PN", "UC"})  # other strings are ASCII
TEXT_VRS = frozenset({"ST", "LT", "UT"})  # one value, backslash is text, leading spaces kept
STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR", *CHARSET_VRS})
BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
LONG_LENGTH_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN"})
LONG_LENGTH_VRS |= {b"UR", b"UT", b"SV", b"UV"}  # explicit VRs with a 4-byte length
NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
NUMBER_FORMATS |= {"UV": "Q", "SV": "q", "AT": "HH"}
MAX_JSON_VALUE_BYTES = 1024  # longer values (look-up tables, curves, icons) become null
SPECIFIC_CHARACTER_SET = 0x00080005
CODE_MEANING = 0x00080104
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
UNDEFINED_LENGTH = 0xFFFFFFFF
TRANSFER_SYNTAX_UID = 0x00020010
PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})  # (float / double) pixel data
DEFER_BYTES = 64 * 1024  # longer values before the pixels are skipped, not read

_DATE_RE = re.compile(r"(\d{4})([.\-/]?)(\d\d)\2(\d\d)")
_TIME_RE = re.compile(r"(\d\d)(?::?(\d\d)(?::?(\d\d)(?:\.(\d+))?)?)?")
_DATETIME_RE = re.compile(r"(\d{8})(\d\d)(\d\d)(\d\d)?(?:\.(\d+))?(?:[+-]\d{4})?")


class BadValue(ValueError):
    """A value present in the header that is not a valid value of its VR."""


# ------------------------------------------------------------- dates and times


def parse_date(text: str) -> date | None:
    """DA `YYYYMMDD` (or the ACR-NEMA `YYYY.MM.DD`); None for an empty value."""
    text = text.strip(" \x00")
    if not text:
        return None
    match = _DATE_RE.fullmatch(text)
    if match is None:
        raise BadValue("not a date (YYYYMMDD)")
    year, _, month, day = match.groups()
    try:
        return date(int(year), int(month), int(day))
    except ValueError as error:
        raise BadValue(f"not a date ({error})") from None


def _fraction_us(digits: str | None) -> int:
    """Microseconds of a fraction of a second written with any number of digits."""
    return int(digits[:6].ljust(6, "0")) if digits else 0


def parse_time(text: str) -> time | None:
    """TM `HH[MM[SS[.F{1,6}]]]` (or `HH:MM:SS.F`); None for an empty value."""
    text = text.strip(" \x00")
    if not text:
        return None
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise BadValue("not a time (HHMMSS.FFFFFF)")
    hours, minutes, seconds, fraction = match.groups()
    try:
        return time(int(hours), int(minutes or 0), int(seconds or 0), _fraction_us(fraction))
    except ValueError as error:
        raise BadValue(f"not a time ({error})") from None


def parse_datetime(text: str) -> datetime | None:
    """DT `YYYYMMDDHHMM[SS[.F]]` with an optional UTC offset, which is ignored (the
    dates of MIMIC are shifted local times). A DT without hours and minutes is not a
    point in time: it gives None."""
    text = text.strip(" \x00")
    if not text:
        return None
    match = _DATETIME_RE.fullmatch(text)
    if match is None:
        if re.fullmatch(r"\d{4,10}(?:[+-]\d{4})?", text):
            return None  # a year, month, day or hour only
        raise BadValue("not a date and time (YYYYMMDDHHMMSS.FFFFFF)")
    day, hours, minutes, seconds, fraction = match.groups()
    stamp_date = parse_date(day)
    assert stamp_date is not None
    try:
        clock = time(int(hours), int(minutes), int(seconds or 0), _fraction_us(fraction))
    except ValueError as error:
        raise BadValue(f"not a date and time ({error})") from None
    return datetime.combine(stamp_date, clock)


# ------------------------------------------------------------- elements


def elements_of(ds: Dataset) -> Elements:
    """The elements of a dataset as they are, without pydicom converting them."""
    return dict(ds.items())


def element_vr(raw: Element) -> str:
    """The VR the value is encoded in: the explicit one, else the dictionary's."""
    vr = raw.VR
    if vr and vr != "UN":
        return vr
    return _dictionary_vr(raw.tag)


@cache
def _dictionary_vr(tag: int) -> str:
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return "UN"
    return vr.split(" or ")[0]  # 'US or SS' -> US: the common case, as for Rows-like tags


def is_sequence(raw: Element) -> bool:
    return raw.VR == "SQ" or (raw.VR in (None, "UN") and element_vr(raw) == "SQ")


def sequence_items(raw: Element) -> list[Elements]:
    """The items of a sequence element, each a dict of its elements; raises BadValue.

    pydicom leaves a sequence of defined length as bytes: those are split here. One
    of undefined length pydicom has already read into Datasets."""
    if not isinstance(raw, RawDataElement):
        return [elements_of(item) for item in raw.value or []]
    data = raw.value
    if data is None:
        raise BadValue("longer than the values read")
    items, _, _ = _items(data, 0, raw.is_implicit_VR, raw.is_little_endian)
    return items


def _items(data: bytes, pos: int, implicit: bool, little: bool) -> tuple[list[Elements], int, bool]:
    """Items from pos up to the end of data or a sequence delimiter: the items, the
    position after them (and after the delimiter), whether a delimiter ended them."""
    tag_length = _STRUCTS[little][3]
    items = []
    while pos + 8 <= len(data):
        group, number, length = tag_length.unpack_from(data, pos)
        tag = group << 16 | number
        if tag == SEQUENCE_END:
            return items, pos + 8, True
        if tag != ITEM:
            raise BadValue(f"({group:04X},{number:04X}) where a sequence item should be")
        end = None if length == UNDEFINED_LENGTH else pos + 8 + length
        item, pos = _elements(data, pos + 8, end, implicit, little)
        items.append(item)
    return items, pos, False


_STRUCTS = {  # little endian?: tag, 2-byte length, 4-byte length, tag and 4-byte length
    little: tuple(struct.Struct(("<" if little else ">") + f) for f in ("HH", "H", "I", "HHI"))
    for little in (True, False)
}


def _element_header(
    data: bytes, pos: int, implicit: bool, little: bool
) -> tuple[int, str | None, int, int]:
    """Tag, VR (None when implicit), length and value position of the element at pos.

    Raises struct.error when the header runs past the end of data."""
    tag_struct, short, long, _ = _STRUCTS[little]
    group, number = tag_struct.unpack_from(data, pos)
    tag = group << 16 | number
    if implicit or group == 0xFFFE:  # items and delimiters carry no VR
        return tag, None, long.unpack_from(data, pos + 4)[0], pos + 8
    code = data[pos + 4 : pos + 6]
    if code in LONG_LENGTH_VRS:
        return tag, code.decode("latin-1"), long.unpack_from(data, pos + 8)[0], pos + 12
    return tag, code.decode("latin-1"), short.unpack_from(data, pos + 6)[0], pos + 8


def _elements(
    data: bytes, pos: int, end: int | None, implicit: bool, little: bool
) -> tuple[Elements, int]:
    """The elements of one item: up to `end`, or up to an item delimiter when None."""
    limit = len(data) if end is None else min(end, len(data))
    out: Elements = {}
    while pos + 8 <= limit:
        tag, vr, length, pos = _element_header(data, pos, implicit, little)
        if tag == ITEM_END:
            return out, pos
        if length == UNDEFINED_LENGTH:  # a sequence (or encapsulated data) up to its delimiter
            start = pos
            _, pos, closed = _items(data, pos, implicit, little)
            value = data[start : pos - 8 if closed else pos]
            vr = "SQ" if vr in (None, "SQ", "UN") else vr
        else:
            value = data[pos : pos + length]
            pos += length
        out[tag] = RawDataElement(tag, vr, len(value), value, 0, implicit, little, True, False)
    return out, limit if end is not None else pos


# ------------------------------------------------------------- decoding


@dataclass
class Decoder:
    """Decodes the raw elements of one dataset, in its character set."""

    encodings: list[str]

    @classmethod
    def for_elements(cls, elements: Elements, inherited: list[str] | None = None) -> Decoder:
        raw = elements.get(SPECIFIC_CHARACTER_SET)
        if raw is None:
            return cls(inherited or ["iso8859"])
        value = raw.value
        if isinstance(value, bytes):
            names = value.decode("latin-1").split("\\")
        else:  # already converted by pydicom: a str or a list of them
            names = list(value) if isinstance(value, list | MultiValue) else [str(value or "")]
        names = [v.strip(" \x00") for v in names]
        return cls(convert_encodings(names if any(names) else None))

    def strings(self, raw: Element, vr: str) -> list[str]:
        """The values of a string element, decoded and stripped of padding."""
        value = raw.value
        if not value:
            return []
        if not isinstance(value, bytes):  # already converted by pydicom
            items = list(value) if isinstance(value, list | tuple) else [value]
            return [str(v).strip() for v in items]
        if vr in TEXT_VRS:
            return [self._decode(value, TEXT_VR_DELIMS).rstrip(" \x00")]
        if b"\x1b" not in value and value.isascii():  # nearly always: no character set needed
            return [part.strip(" \x00") for part in value.decode("ascii").split("\\")]
        if vr == "PN":
            return [
                "=".join(self._decode(c, PN_DELIMS) for c in part.split(b"=")).strip(" \x00")
                for part in value.split(b"\\")
            ]
        if vr in CHARSET_VRS:
            parts = [self._decode(part, TEXT_VR_DELIMS) for part in value.split(b"\\")]
        else:
            parts = value.decode("latin-1").split("\\")
        return [part.strip(" \x00") for part in parts]

    def _decode(self, value: bytes, delimiters: set[int]) -> str:
        if b"\x1b" not in value and value.isascii():
            return value.decode("ascii")
        return decode_bytes(value, self.encodings, delimiters)

    def text(self, raw: Element | None) -> str | None:
        """The value as written: strings unpadded, numbers in decimal, several joined by
        a backslash; None when the element is absent, binary or was not read."""
        if raw is None:
            return None
        if not isinstance(raw, RawDataElement):  # already converted by pydicom
            if raw.VR in BINARY_VRS or raw.VR == "SQ":
                return None
            value = _converted_json(raw.value)
            if isinstance(value, list):
                return "\\".join("" if v is None else str(v) for v in value)
            return "" if value is None else str(value)
        if raw.value is None and raw.length:
            return None
        vr = element_vr(raw)
        if vr in STRING_VRS:
            return "\\".join(self.strings(raw, vr))
        numbers = _numbers(raw, vr)
        return None if numbers is None else "\\".join(_number_text(n) for n in numbers)


def _numbers(raw: RawDataElement, vr: str) -> list | None:
    """The values of a binary number element (US, UL, FD, ...), or None for other VRs."""
    code = NUMBER_FORMATS.get(vr)
    value = raw.value
    if code is None or value is None:
        return None
    size = struct.calcsize(code)
    count = len(value) // size
    order = "<" if raw.is_little_endian else ">"
    flat = struct.unpack(f"{order}{code * count}", value[: count * size])
    if vr == "AT":
        return [f"{flat[i]:04X}{flat[i + 1]:04X}" for i in range(0, len(flat), 2)]
    return list(flat)


def _number_text(number) -> str:
    return repr(number) if isinstance(number, float) else str(number)


def _converted_json(value):
    """A JSON-ready form of a value pydicom has already converted."""
    if isinstance(value, bytes):
        return value.hex() if len(value) <= MAX_JSON_VALUE_BYTES else None
    if isinstance(value, list | tuple | MultiValue):
        return [_converted_json(v) for v in value]
    if isinstance(value, int | float | str) or value is None:
        return value
    return str(value)


# ------------------------------------------------------------- all tags as JSON


@cache
def json_key(tag: int) -> str:
    """The keyword of a tag, or its eight hex digits (private and unknown tags)."""
    return keyword_for_tag(tag) or f"{tag:08X}"


def json_value(raw: RawDataElement, decoder: Decoder):
    """A JSON-ready value of a non-sequence element: str, number, list, or None when
    binary data is longer than MAX_JSON_VALUE_BYTES or was not read."""
    if raw.value is None or raw.length > MAX_JSON_VALUE_BYTES:
        return None if raw.length else ""
    vr = element_vr(raw)
    if vr in STRING_VRS:
        values: list = decoder.strings(raw, vr)
        if vr == "IS" or vr == "DS":
            values = [_number_or_text(v, int if vr == "IS" else float) for v in values]
    else:
        numbers = _numbers(raw, vr)
        if numbers is None:  # OB, OW, UN ...: short binary values as hex
            return raw.value.hex()
        values = [None if isinstance(n, float) and not math.isfinite(n) else n for n in numbers]
    if not values:
        return ""
    return values[0] if len(values) == 1 else values


def _number_or_text(text: str, kind: Callable):
    try:
        number = kind(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def elements_json(elements: Elements, decoder: Decoder, problems: list[str]) -> dict:
    """Every element (recursing into sequences) keyed by keyword.

    Group lengths are left out (an artefact of the encoding); look-up-table
    sequences and long values are kept as keys with a null value, as mimic-code's
    export_metadata.py does, so that one can still see they exist.
    """
    out: dict = {}
    for tag, raw in elements.items():
        if tag & 0xFFFF == 0:
            continue
        key = json_key(tag)
        if is_sequence(raw):
            out[key] = None if "LUT" in key else _sequence_json(key, raw, decoder, problems)
        elif isinstance(raw, RawDataElement):
            out[key] = json_value(raw, decoder)
        else:
            out[key] = _converted_json(raw.value)
    return out


def _sequence_json(key: str, raw: Element, decoder: Decoder, problems: list[str]):
    try:
        items = sequence_items(raw)
    except (BadValue, struct.error) as error:  # a corrupt sequence loses itself, not the header
        problems.append(f"{key}: unreadable sequence ({error})")
        return None
    return [
        elements_json(item, Decoder.for_elements(item, decoder.encodings), problems)
        for item in items
    ]


def first_code_meaning(raw: Element | None, decoder: Decoder) -> tuple[str | None, str | None]:
    """CodeMeaning of the first item of a code sequence, and a problem if unreadable.

    None when the sequence is absent; '' when it is present but empty."""
    if raw is None:
        return None, None
    try:
        items = sequence_items(raw)
    except (BadValue, struct.error) as error:
        return None, f"{json_key(raw.tag)}: unreadable sequence ({error})"
    if not items:
        return "", None
    return decoder.text(items[0].get(CODE_MEANING)) or "", None


# ------------------------------------------------------------- typed attributes

TEXT, DATE, TIME, DATETIME = "text", "date", "time", "datetime"
INTEGER, STRINGS, NUMBERS, CODE = "integer", "strings", "numbers", "code"
ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("PatientID", TEXT),
    ("StudyInstanceUID", TEXT),
    ("SeriesInstanceUID", TEXT),
    ("SOPInstanceUID", TEXT),
    ("SOPClassUID", TEXT),
    ("StudyDate", DATE),
    ("StudyTime", TIME),
    ("AcquisitionDate", DATE),
    ("AcquisitionTime", TIME),
    ("AcquisitionDateTime", DATETIME),
    ("Modality", TEXT),
    ("ViewPosition", TEXT),
    ("PatientOrientation", STRINGS),
    ("BodyPartExamined", TEXT),
    ("PhotometricInterpretation", TEXT),
    ("Rows", INTEGER),
    ("Columns", INTEGER),
    ("BitsStored", INTEGER),
    ("PixelSpacing", NUMBERS),
    ("ImagerPixelSpacing", NUMBERS),
    ("Manufacturer", TEXT),
    ("ManufacturerModelName", TEXT),
    ("StudyDescription", TEXT),
    ("SeriesDescription", TEXT),
    ("PerformedProcedureStepDescription", TEXT),
    ("ProcedureCodeSequence_CodeMeaning", CODE),
    ("ViewCodeSequence_CodeMeaning", CODE),
    ("PatientOrientationCodeSequence_CodeMeaning", CODE),
)
_TAGS = {name: tag_for_keyword(name.removesuffix("_CodeMeaning")) for name, _ in ATTRIBUTES}
_PARSERS: dict[str, Callable[[str], object]] = {
    DATE: parse_date,
    TIME: parse_time,
    DATETIME: parse_datetime,
}


def _typed(kind: str, written: str | None):
    """The typed value of an attribute from its text; raises BadValue."""
    if not written:
        return None
    if kind in (TEXT, CODE):
        return written
    if kind in _PARSERS:
        return _PARSERS[kind](written)
    values = [v.strip() for v in written.split("\\")]
    try:
        if kind == INTEGER:
            return int(values[0])
        if kind == NUMBERS:
            return [float(v) for v in values]
    except ValueError:
        raise BadValue("not a number") from None
    return values  # STRINGS


def read_attributes(
    elements: Elements, decoder: Decoder, strings: dict[str, str | None]
) -> tuple[dict, dict, list[str]]:
    """Typed values, values as written, and problems, for every attribute of ATTRIBUTES;
    `strings` are the header's values as written (top_level_strings), decoded once.

    A text value is None when the attribute is absent; a typed value is None when it
    is absent, empty or unparseable (the last with a problem naming it)."""
    typed: dict = {}
    text: dict = {}
    problems: list[str] = []
    for name, kind in ATTRIBUTES:
        raw = elements.get(_TAGS[name])
        if kind == CODE:
            written, problem = first_code_meaning(raw, decoder)
            if problem:
                problems.append(problem)
        else:
            written = strings.get(name)
        text[name] = written
        try:
            typed[name] = _typed(kind, written)
        except BadValue as error:
            typed[name] = None
            problems.append(f"{name} {written!r}: {error}")
    return typed, text, problems


def acquisition_datetime(typed: dict) -> tuple[datetime | None, str | None]:
    """When the image was taken, and which attributes said so.

    The first that is complete wins: AcquisitionDateTime; AcquisitionDate with
    AcquisitionTime; StudyDate with StudyTime. A date is never paired with a time
    of another attribute, which would be wrong across midnight.
    """
    if typed.get("AcquisitionDateTime") is not None:
        return typed["AcquisitionDateTime"], "AcquisitionDateTime"
    for day, clock in (("AcquisitionDate", "AcquisitionTime"), ("StudyDate", "StudyTime")):
        if typed.get(day) is not None and typed.get(clock) is not None:
            return datetime.combine(typed[day], typed[clock]), f"{day}+{clock}"
    return None, None


# ------------------------------------------------------------- every attribute as text

# Columns mimic_cxr.dicom_metadata_string has whether or not any header holds them: those
# public queries of physionet-data.mimic_cxr.dicom_metadata_string select, and those of
# ATTRIBUTES. Any other top-level keyword found in the headers adds a column of its own.
STRING_COLUMNS = (
    "ImageType", "TableType", "DistanceSourceToDetector", "DistanceSourceToPatient",
    "Exposure", "ExposureTime", "XRayTubeCurrent", "FieldOfViewRotation", "FieldOfViewOrigin",
    "FieldOfViewHorizontalFlip", "BurnedInAnnotation", "RequestingService",
    "DetectorPrimaryAngle", "DetectorElementPhysicalSize", "StudyID",
    *(name for name, kind in ATTRIBUTES if kind != CODE),
)  # fmt: skip


@cache
def top_level_keyword(tag: int) -> str | None:
    """The keyword of a standard attribute; None for group lengths, private and unknown tags."""
    if tag & 0xFFFF == 0 or (tag >> 16) & 1:
        return None
    return keyword_for_tag(tag) or None


def keyword_tags(keywords: set[str]) -> dict[str, int]:
    """Keyword -> tag, for ordering columns as the attributes are ordered in a header."""
    return {keyword: tag_for_keyword(keyword) or 0 for keyword in keywords}


def top_level_strings(
    elements: Elements, decoder: Decoder
) -> tuple[dict[str, str | None], list[str]]:
    """Every standard top-level attribute by keyword, as text as written, and problems.

    Text as `Decoder.text` gives it: padding removed, several values joined by a
    backslash as DICOM writes them (ImageType `ORIGINAL\\PRIMARY`), binary numbers in
    decimal; None for binary data (OB, OW, ...). A sequence gives its number of
    items, as mimic-code's export_metadata.py writes sequences in its flat table.
    """
    strings: dict[str, str | None] = {}
    problems: list[str] = []
    for tag, raw in elements.items():
        keyword = top_level_keyword(tag)
        if keyword is None:
            continue
        if is_sequence(raw):
            try:
                strings[keyword] = str(len(sequence_items(raw)))
            except (BadValue, struct.error) as error:
                strings[keyword] = None
                problems.append(f"{keyword}: unreadable sequence ({error})")
        else:
            strings[keyword] = decoder.text(raw)
    return strings, problems
