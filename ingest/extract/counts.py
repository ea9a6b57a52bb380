"""Word, character and line counts and the line-ending convention."""

from __future__ import annotations

import re
from functools import lru_cache

from .base import LINE_CACHE, Context, Partial, lines_of

# A whitespace-separated token with no letter or digit: only punctuation, symbols or "_"; at
# the start of the text, and after a whitespace character (a pattern starting with \s is
# searched for at C speed: its first character is a set).
_NOT_A_WORD = re.compile(r"(?:[^\w\s]|_)+(?!\S)")
_SPACED_NOT_A_WORD = re.compile(r"\s(?:[^\w\s]|_)+(?!\S)")

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
    elif "\r" not in s:  # the usual text: one C scan finds no CR, the next a LF at once
        return "LF" if "\n" in s else "none"
    else:
        crlf, cr, lf = s.count("\r\n"), s.count("\r"), s.count("\n")
    kinds = [name for name, n in (("CRLF", crlf), ("CR", cr - crlf), ("LF", lf - crlf)) if n]
    if not kinds:
        return "none"
    return kinds[0] if len(kinds) == 1 else "mixed"


# ASCII text (most lines): the characters str.split also splits at (\x1c-\x1f) become spaces
# and the symbols (neither letter, digit nor space; "_" too) go, so bytes.split counts the
# tokens with a letter or digit: at C speed, no regular expression.
_ASCII_SPACES = bytes.maketrans(b"\x1c\x1d\x1e\x1f", b"    ")
_ASCII_SYMBOLS = bytes(c for c in range(128) if not chr(c).isalnum() and not chr(c).isspace())
# ... and every other byte becomes "a", so the tokens are counted as " a" pairs, with no list
# of them made.
_SPACE_OR_A = bytes(32 if chr(c).isspace() else 97 for c in range(128)) + b"a" * 128


def _tokens(data: bytes, delete: bytes) -> int:
    """len(data.translate(_ASCII_SPACES, delete).split()), in C without the list."""
    marked = data.translate(_SPACE_OR_A, delete)
    return marked.count(b" a") + marked.startswith(b"a")


# Other text: what makes a word is only whether each character is a space, a letter or
# digit (str.isalnum, the regular expressions' \w but "_"), CJK, or none of these. So each
# distinct non-ASCII character (a text holds few) becomes an ASCII one of its kind in the
# UTF-8 bytes (a whole sequence: UTF-8 never matches inside another character) and the
# ASCII count applies: a space a space, a letter "a", a CJK character a space and one word,
# any other (quotation marks, dashes: never a word, never a break) deleted with the symbols.
_ASCII = bytes(range(128))
_NOT_ASCII_WORD = _ASCII_SYMBOLS + bytes(range(128, 256))
_FEW = 16


def _non_ascii_count(text: str) -> int | None:
    """`word_count` of a non-ASCII text through its bytes; None past _FEW distinct
    non-ASCII characters."""
    data = text.encode("utf-8", "surrogatepass")
    chars = set(data.translate(None, _ASCII).decode("utf-8", "surrogatepass"))
    if len(chars) > _FEW:
        return None
    cjk = 0
    for c in chars:
        if _CJK.match(c):
            seq = c.encode("utf-8", "surrogatepass")
            cjk += data.count(seq)
            data = data.replace(seq, b" ")
        elif c.isspace() or c.isalnum():
            data = data.replace(c.encode("utf-8", "surrogatepass"), b" " if c.isspace() else b"a")
    return _tokens(data, _NOT_ASCII_WORD) + cjk


def word_count(text: str) -> int:
    """Whitespace-separated tokens with a letter or digit, each CJK character one word."""
    if text.isascii():
        return _tokens(text.encode("ascii"), _ASCII_SYMBOLS)
    counted = _non_ascii_count(text)
    if counted is not None:
        return counted
    cjk = 0
    if _CJK.search(text) is not None:
        text, cjk = _CJK.subn(" ", text)
    tokens = len(text.split())
    if not tokens:
        return cjk
    symbols = len(_SPACED_NOT_A_WORD.findall(text))  # each after the whitespace before it
    if _NOT_A_WORD.match(text):
        symbols += 1
    return tokens - symbols + cjk


@lru_cache(maxsize=LINE_CACHE)
def _line_words(line: str) -> int:
    return word_count(line)


def text_words(lines: list[str]) -> int:
    """`word_count` of the text of these lines (`lines_of`), line by line: a line break
    separates words and never belongs to one, so the lines' counts add up to the text's;
    revisions repeat most lines, so cached."""
    return sum(map(_line_words, filter(None, lines)))  # (an empty line has none)


def counts(text: str, lines: list[str] | None = None) -> dict[str, int]:
    """Words as `word_count`; chars = code points; lines. `lines`: `lines_of(text)`, when
    the caller has them already."""
    if lines is None:
        lines = lines_of(text)
    line_count = len(lines) - 1 + (lines[-1] != "")  # breaks, and a last unended line
    words = text_words(lines)
    return {"word_count": words, "char_count": len(text), "line_count": line_count}


def extract_counts(text: str, ctx: Context) -> Partial:
    fields: dict[str, str | int | None]
    if ctx.pieces is not None:  # the passages of this text
        words, lines = ctx.pieces.words_and_lines()
        fields = {"word_count": words, "char_count": len(text), "line_count": lines}
    else:
        fields = dict(counts(text, ctx.lines if text is ctx.body else None))
    textual = ctx.media_type.startswith(_TEXTUAL)
    if ctx.media_type == "text/html" and ctx.data is not None:
        fields["line_endings"] = line_endings(ctx.data)  # of the source, not the readable text
    elif textual:
        fields["line_endings"] = line_endings(text)
    else:
        fields["line_endings"] = None
    return Partial(fields)
