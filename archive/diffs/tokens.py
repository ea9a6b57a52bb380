"""Words and tokens: what a word diff diffs (a word, a run of white space, or one character)."""

from __future__ import annotations

import re

from archive.diffs import core
from archive.diffs.marks import combining_marks

# Astral marks sit behind a one-range lookahead and BMP marks share the \\w class: a long class of
# astral ranges, or an alternation tried at every character, makes ``re`` several times slower.
_W = rf"[\w{combining_marks(0, 0x10000)}]"


_A = rf"(?=[\U00010000-\U0010FFFF])[{combining_marks(0x10000, 0x110000)}]"


_WORD = rf"{_W}+(?:{_A}{_W}*)*|{_A}(?:{_W}|{_A})*"


TOKEN_RE = re.compile(rf"{_WORD}|\s+|.", re.DOTALL)


WORD_RE = re.compile(_WORD)


# Text without combining marks or astral characters: there _W is \w and _A never matches, so
# these simpler patterns (about a third faster) find exactly TOKEN_RE's and WORD_RE's matches.
_MARK_OR_ASTRAL = re.compile(rf"[{combining_marks(0, 0x10000)}\U00010000-\U0010FFFF]")


_PLAIN_TOKEN_RE = re.compile(r"\w+|\s+|.", re.DOTALL)


_PLAIN_WORD_RE = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """TOKEN_RE.findall(text)."""
    if core.CORE is not None:
        return core.CORE.tokens(text)
    if _MARK_OR_ASTRAL.search(text) is None:
        return _PLAIN_TOKEN_RE.findall(text)
    return TOKEN_RE.findall(text)


def words(text: str) -> list[str]:
    """WORD_RE.findall(text)."""
    if core.CORE is not None:
        return core.CORE.words(text)
    if _MARK_OR_ASTRAL.search(text) is None:
        return _PLAIN_WORD_RE.findall(text)
    return WORD_RE.findall(text)
