"""Date extraction and word counts line by line (cached per line, as revisions repeat most
lines; lines without a digit skipped) give exactly what a scan of the whole text gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.extract.base import lines_of
from ingest.extract.counts import text_words, word_count
from ingest.extract.dates import _PATTERNS, _WEEKDAY, find_dates, find_years, scan_dates

# Pieces that make dates, years and weekdays, and the characters around them that matter to
# \b and the lookarounds (digits, $ . , - and newlines at either side of a line).
PIECES = st.sampled_from(
    [
        "2019", "1999", "2020-05-01", "2021-02-30", "March 3", "3rd of March", "Sept.",
        "12/05/2021", "25.12.2021", ", 2020", " ", "\t", "\n", "\r\n", "\n\n", ".", ",", "-",
        "$", "€", "5", "T10:30", "Monday", "of", "May", "x", "é", "\u2028", "\r", "\r\r",
        "٢٠١٩", "٢٠١٩-٠١-٠٢", "May 9", "8th of Jan", "Sunday", "today", "\x00", "\u0301",
        "\u200f", "\x85", "\u3000",
    ]
)  # fmt: skip


def whole(text: str) -> tuple[list, list, list]:
    matches = list(_PATTERNS.finditer(text))
    return find_dates(text, matches), find_years(text, matches), _WEEKDAY.findall(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=30).map("".join))
def test_line_by_line_is_the_whole_text_scan(text: str) -> None:
    assert scan_dates(lines_of(text)) == whole(text)


def test_a_known_text() -> None:
    text = "Updated March 3, 2020.\nIn 2019 and\n2018-07-01 on Monday\n$2019 5.2019\n"
    found, years, weekdays = scan_dates(lines_of(text))
    assert [v for _, v, _ in found] == ["2020-03-03", "2018-07-01"]
    assert years == ["2019"] and weekdays == ["Monday"]
    assert (found, years, weekdays) == whole(text)


WORDY = st.sampled_from(
    [
        "word",
        " ",
        "\n",
        "\r\n",
        "\r",
        "\t",
        "--",
        "_",
        "a_b",
        "漢字",
        "カナ",
        "!",
        "é",
        "42",
        "\u3000",
        "\u2028",
        "\x1c",
        "\x00",
        "\u0301",
        "\u200f",
        "- -",
        "_-_",
        "#",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDY, max_size=30).map("".join))
def test_words_line_by_line_are_the_whole_text_count(text: str) -> None:
    assert text_words(lines_of(text)) == word_count(text)
