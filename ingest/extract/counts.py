"""Word, character and line counts and the line-ending convention."""

from __future__ import annotations

import re
from functools import lru_cache

from .base import LINE_CACHE, Context, Partial

# A whitespace-separated token with no letter or digit: only punctuation, symbols or "_".
_NOT_A_WORD = re.compile(r"(?<!\S)(?:[^\w\s]|_)+(?!\S)")

# Scripts written without spaces between words (Han, Hiragana, Katakana): each character counts
# as a word, as word processors count them. Same ranges as archive.passages.spans.
_CJK = re.compile(
    "[\u3005\u3006\u3007\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)

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


def word_count(text: str) -> int:
    """Whitespace-separated tokens with a letter or digit, each CJK character one word."""
    cjk = len(_CJK.findall(text))
    if cjk:
        text = _CJK.sub(" ", text)
    return len(text.split()) - len(_NOT_A_WORD.findall(text)) + cjk


@lru_cache(maxsize=LINE_CACHE)
def _line_words(line: str) -> int:
    return word_count(line)


def text_words(text: str) -> int:
    """`word_count(text)`, line by line: a newline separates words and never belongs to one,
    so the lines' counts add up to the text's; revisions repeat most lines, so cached."""
    return sum(map(_line_words, text.split("\n")))


def counts(text: str) -> dict[str, int]:
    """Words as `word_count`; chars = code points; lines."""
    normal = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = normal.count("\n") + (1 if normal and not normal.endswith("\n") else 0)
    words = text_words(text)
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
