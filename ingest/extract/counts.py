"""Word, character and line counts and the line-ending convention."""

from __future__ import annotations

import re

from .base import Context, Partial

# A whitespace-separated token with no letter or digit: only punctuation, symbols or "_".
_NOT_A_WORD = re.compile(r"(?<!\S)(?:[^\w\s]|_)+(?!\S)")

_TEXTUAL = ("text/", "application/json", "application/xml", "application/yaml")


def line_endings(s: str | bytes) -> str:
    """ "LF", "CRLF", "CR", "mixed" or "none" (works on decoded text or ASCII-compatible bytes)."""
    if isinstance(s, bytes):
        crlf, cr, lf = s.count(b"\r\n"), s.count(b"\r"), s.count(b"\n")
    else:
        crlf, cr, lf = s.count("\r\n"), s.count("\r"), s.count("\n")
    kinds = [name for name, n in (("CRLF", crlf), ("CR", cr - crlf), ("LF", lf - crlf)) if n]
    if not kinds:
        return "none"
    return kinds[0] if len(kinds) == 1 else "mixed"


def counts(text: str) -> dict[str, int]:
    """Words = whitespace-separated tokens with a letter or digit; chars = code points."""
    normal = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = normal.count("\n") + (1 if normal and not normal.endswith("\n") else 0)
    words = len(text.split()) - len(_NOT_A_WORD.findall(text))
    return {"word_count": words, "char_count": len(text), "line_count": lines}


def extract_counts(text: str, ctx: Context) -> Partial:
    fields: dict[str, str | int | None] = dict(counts(text))
    textual = ctx.media_type.startswith(_TEXTUAL)
    if ctx.media_type == "text/html" and ctx.data is not None:
        fields["line_endings"] = line_endings(ctx.data)  # of the source, not the readable text
    elif textual:
        fields["line_endings"] = line_endings(text)
    else:
        fields["line_endings"] = None
    return Partial(fields)
