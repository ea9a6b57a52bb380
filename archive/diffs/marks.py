"""The combining-mark table both engines share, so accented and Indic words stay one token."""

from __future__ import annotations

import re
import unicodedata


def _mark_points() -> list[int]:
    """Every combining mark (category M) code point, ascending.

    Python's ``\\w`` excludes category M; the scanned ranges hold every M code point (UCD 14).
    """
    ranges = [
        (0x0300, 0x30A0),
        (0xA000, 0xAC00),
        (0xFB1E, 0xFB1F),
        (0xFE00, 0xFE30),
        (0x10000, 0x20000),
        (0xE0100, 0xE01F0),
    ]
    return [c for a, b in ranges for c in range(a, b) if unicodedata.category(chr(c))[0] == "M"]


MARKS = _mark_points()


def combining_marks(lo: int, hi: int) -> str:
    """Regex class body for combining marks in [lo, hi), so accented/Indic words stay one token."""
    marks = [c for c in MARKS if lo <= c < hi]
    parts: list[str] = []
    start = prev = marks[0]
    for c in marks[1:] + [-2]:
        if c != prev + 1:
            parts.append(
                re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else "")
            )
            start = c
        prev = c
    return "".join(parts)
