"""Dates mentioned in the text, normalised to ISO 8601 where unambiguous (original kept as detail).

Rows: ("date", n, "2018-09-07", "September 7, 2018"); month-day without a year becomes
("date_partial", n, "--11-18", "November 18") (ISO 8601 reduced form); numeric d/m/y where day
and month could swap stays ("date_ambiguous", n, original, None); bare years ("year", n, "2015",
None) and weekdays ("weekday", n, "Wednesday", None) are kept too. Field `first_date` is the
first full date; `dateline` a news dateline opening the text.
Patterns are flat (no nested quantifiers) so hostile text cannot make them backtrack.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import islice

from .base import LINE_CACHE, Context, Partial, lines_of, rows

MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}  # fmt: skip
_MONTH = (
    r"(?P<{}>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_ORD = r"(?:st|nd|rd|th)?"
_PATTERNS = re.compile(
    r"\b(?P<iso>(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})"
    r"(?:[T ](?P<ihm>\d{2}:\d{2})(?::\d{2})?)?)\b"
    rf"|\b(?P<mdy>{_MONTH.format('mm')}[ \t]+(?P<md>\d{{1,2}}){_ORD}"
    r"(?:,?[ \t]+(?P<my>\d{4}))?)\b"
    rf"|\b(?P<dmy>(?P<dd>\d{{1,2}}){_ORD}[ \t]+(?:of[ \t]+)?{_MONTH.format('dm')}"
    r"(?:,?[ \t]+(?P<dy>\d{4}))?)\b"
    r"|\b(?P<num>(?P<n1>\d{1,2})[/.](?P<n2>\d{1,2})[/.](?P<ny>\d{4}))\b",
)
_YEAR = re.compile(r"(?<![\d$€£.,-])\b(1[89]\d\d|20\d\d)\b(?![.,]?\d)")
_WEEKDAY = re.compile(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")


_DATELINE = re.compile(
    r"^([A-Z][A-Z'.-]{1,30}(?: [A-Z][A-Z'.-]{1,30}){0,3}"
    r"(?:, [A-Z][A-Za-z.]{1,20}(?: \d{1,2})?(?:, \d{4})?)?"
    r"(?: \([A-Za-z .&-]{1,40}\))?) ?[—–-]{1,2} "
)
_DATELINE_LINES = 8


def find_dateline(text: str, lines: Iterable[str] | None = None) -> str | None:
    """A news dateline ("TEHRAN, Sept 7 (Reuters) —") opening one of the first paragraphs.
    `lines`: `lines_of(text)` (or an iterator of them), when the caller has them (the same
    lines when no CR)."""
    seen = 0
    if lines is None or "\r" in text:  # a CR LF counts as two breaks here
        lines = text.replace("\r", "\n").split("\n", 200)
    for line in islice(lines, 200):
        if not line.strip():
            continue
        seen += 1
        if seen > _DATELINE_LINES:
            break
        m = _DATELINE.match(line.strip()[:200])
        if m:
            return m.group(1)
    return None


def _valid(y: int, m: int, d: int) -> bool:
    try:
        dt.date(y, m, d)
    except ValueError:
        return False
    return True


def _month(name: str) -> int:
    return MONTHS[name.lower().rstrip(".")]


def find_years(text: str, dates: list[re.Match] | None = None) -> list[str]:
    """Stand-alone years (1800-2099) that are not part of a full date (`dates`: the matches
    of the date patterns, when the caller has them already)."""
    taken = [m.span() for m in (_PATTERNS.finditer(text) if dates is None else dates)]
    out, k = [], 0
    for m in _YEAR.finditer(text):
        while k < len(taken) and taken[k][1] <= m.start():
            k += 1
        if k < len(taken) and taken[k][0] <= m.start() < taken[k][1]:
            continue
        out.append(m.group(1))
    return out


def find_dates(text: str, matches: list[re.Match] | None = None) -> list[tuple[str, str, str]]:
    """(key, value, original) triples in document order."""
    out: list[tuple[str, str, str]] = []
    for m in _PATTERNS.finditer(text) if matches is None else matches:
        g = m.groupdict()
        if g["iso"]:
            y, mo, d = int(g["iy"]), int(g["im"]), int(g["id"])
            if _valid(y, mo, d):
                value = f"{y:04d}-{mo:02d}-{d:02d}" + (f"T{g['ihm']}" if g["ihm"] else "")
                out.append(("date", value, g["iso"]))
            continue
        if g["mdy"] or g["dmy"]:
            original = g["mdy"] or g["dmy"]
            month = _month(g["mm"] or g["dm"])
            day = int(g["md"] or g["dd"])
            year = g["my"] or g["dy"]
            if year and _valid(int(year), month, day):
                out.append(("date", f"{int(year):04d}-{month:02d}-{day:02d}", original))
            elif not year and _valid(2000, month, day):
                out.append(("date_partial", f"--{month:02d}-{day:02d}", original))
            continue
        a, b, y = int(g["n1"]), int(g["n2"]), int(g["ny"])
        if a > 12 and _valid(y, b, a):
            out.append(("date", f"{y:04d}-{b:02d}-{a:02d}", g["num"]))
        elif b > 12 and _valid(y, a, b):
            out.append(("date", f"{y:04d}-{a:02d}-{b:02d}", g["num"]))
        elif a == b and _valid(y, a, b):
            out.append(("date", f"{y:04d}-{a:02d}-{b:02d}", g["num"]))
        elif _valid(y, a, b) or _valid(y, b, a):
            out.append(("date_ambiguous", g["num"], g["num"]))
    return out


# Every date pattern and year needs a digit (the same \d: any script's); then four of them
# (years, ISO and numeric dates) or a month's name (its first three letters, cased as in
# _MONTH) before a day number.
_DIGIT = re.compile(r"\d")
_FOUR_DIGITS = re.compile(r"\d{4}")


_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# ASCII bytes: a digit becomes "0", anything else a space, so "0000" marks four digits.
_DIGIT_MARKS = bytes(48 if 48 <= c <= 57 else 32 for c in range(256))


def _has_digit(line: str) -> bool:
    """Whether `_DIGIT` finds one; ten C scans that stop at the first hit first (an ASCII
    digit), the pattern only for other text without one."""
    if any(map(line.__contains__, "0123456789")):
        return True
    return not line.isascii() and _DIGIT.search(line) is not None


def _may_date(text: str) -> bool:
    """False when `_PATTERNS` and `_YEAR` cannot match: no four digits in a row and no
    month's name (as cased in _MONTH); C scans in ASCII text."""
    if text.isascii():
        if b"0000" in text.encode("ascii").translate(_DIGIT_MARKS):
            return True
    elif _FOUR_DIGITS.search(text) is not None:
        return True
    return any(map(text.__contains__, _MONTH_NAMES))


@lru_cache(maxsize=LINE_CACHE)
def _line_dates(line: str) -> tuple[tuple, tuple, tuple] | None:
    """Dates, years and weekdays of one line; revisions repeat most lines, so cached. Most
    lines have no digit or no year or month (no date) and no "day" (no weekday): C scans."""
    weekdays = tuple(_WEEKDAY.findall(line)) if "day" in line else ()
    if not _has_digit(line) or not _may_date(line):
        return ((), (), weekdays) if weekdays else None
    matches = list(_PATTERNS.finditer(line))
    years = find_years(line, matches)
    return tuple(find_dates(line, matches)), tuple(years), weekdays


def scan_dates(lines: list[str]) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """(find_dates(text), find_years(text), weekdays of text) for the text of these lines
    (`lines_of`), line by line: no pattern matches across a line break, and a break reads as
    the start or end of the text does to \\b and the lookarounds, so the lines' answers
    joined are the text's (a test checks)."""
    found: list[tuple[str, str, str]] = []
    years: list[str] = []
    weekdays: list[str] = []
    for f, y, w in filter(None, map(_line_dates, filter(None, lines))):  # None: nothing there
        if f:
            found += f
        if y:
            years += y
        if w:
            weekdays += w
    return found, years, weekdays


def scan_piece(text: str, lines: list[str] | None = None) -> tuple[tuple, tuple, tuple]:
    """`scan_dates(lines_of(text))` as tuples (`lines`: those, when the caller has them); a
    text without a digit, or without four digits in a row or a month's name, has no date
    nor year (C scans first)."""
    if not _has_digit(text) or not _may_date(
        text
    ):  # weekdays only: no pattern matches across a line break
        return (), (), tuple(_WEEKDAY.findall(text)) if "day" in text else ()
    found, years, weekdays = scan_dates(lines_of(text) if lines is None else lines)
    return tuple(found), tuple(years), tuple(weekdays)


def extract_dates(text: str, ctx: Context) -> Partial:
    if ctx.pieces is not None:
        found, years, weekdays = ctx.pieces.dates()
        lines = ctx.pieces.lines()
    else:
        found, years, weekdays = scan_dates(ctx.lines)
        lines = ctx.lines
    items = []
    for key in ("date", "date_partial", "date_ambiguous"):
        keep = [(v, None if key == "date_ambiguous" else o) for k, v, o in found if k == key]
        items += rows(key, keep)
    items += rows("year", [(y, None) for y in years])
    items += rows("weekday", [(w, None) for w in weekdays])
    first = next((v[:10] for k, v, _ in found if k == "date"), None)
    return Partial({"first_date": first, "dateline": find_dateline(ctx.body, lines)}, items)
