"""Spans of wording below the paragraph: one normalisation, CJK-aware tokens, phrase queries.

Why: a passage (paragraph) is too coarse to say who wrote a sentence first. A span is any run of
tokens; to find every passage holding one without scanning them all, each passage's token keys
are kept in a positional full-text index (SQLite FTS5, `span_fts`), where a span is a phrase
query: the index's postings intersect in C, so the work follows the passages that hold the
span's words in order, not the archive's size. Exact verification on the text then keeps the
true matches. Reworded reuse is found by the span's word 3-grams (OR of phrases, ranked by
BM25): passim's n-gram seeds, with the index doing the counting.

Tokens: runs of letters, digits and combining marks (Unicode \\w plus category M); in scripts
written without spaces (Han, Hiragana, Katakana) every character is a token, so phrases there
are character n-grams. A token's key is its NFKC form, case-folded (ß = ss).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from archive.diffs import WORD_RE, words

NGRAM = 3  # words per n-gram when looking for reworded reuse
# A span of this many tokens is traced completely; a shorter one (common words make long
# postings to verify) is checked against at most a capped number of passages.
MIN_WORDS = 6

# Scripts written without spaces between words: each character is a token.
_CJK_RANGES = (
    "\u3005\u3006\u3007\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)
_CJK = re.compile(f"[{_CJK_RANGES}]")
_CJK_SPLIT = re.compile(f"[{_CJK_RANGES}]|[^{_CJK_RANGES}]+")

# Typographic quote marks of every style folded to straight ones (normalisation only).
_QUOTES = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "«": '"',
        "»": '"',
        "「": '"',
        "」": '"',
        "『": '"',
        "』": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "‹": "'",
        "›": "'",
    }
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Token:
    key: str  # NFKC, case-folded: what matching compares
    start: int  # offset in the text
    end: int


def fold(text: str) -> str:
    """NFKC then Unicode case folding (ß -> ss, Σ/ς -> σ): the key of a token."""
    return unicodedata.normalize("NFKC", text).casefold()


def normalize(text: str) -> str:
    """A matching key for text: NFKC, case-folded, every quote style straight, spaces collapsed."""
    return _SPACE.sub(" ", fold(text).translate(_QUOTES)).strip()


def tokenize(text: str) -> list[Token]:
    """Words (letters, digits, marks) with offsets; every CJK character a token of its own."""
    out: list[Token] = []
    for m in WORD_RE.finditer(text):
        word = m.group()
        if _CJK.search(word) is None:
            out.append(Token(fold(word), m.start(), m.end()))
            continue
        base = m.start()
        for part in _CJK_SPLIT.finditer(word):
            out.append(Token(fold(part.group()), base + part.start(), base + part.end()))
    return out


def keys(text: str) -> list[str]:
    """The token keys of a text, fast: the whole text folded at once, words split in C.

    The same keys as `tokenize` gives but for rare characters whose NFKC form differs inside
    a longer text; the index and queries both use this, alignment uses `tokenize` on both
    sides, so each comparison is consistent."""
    return folded_keys(fold(text))


def folded_keys(folded: str) -> list[str]:
    """`keys` of a text already folded (`fold`)."""
    return words(spaced_cjk(folded))


def spaced_cjk(text: str) -> str:
    """The text with a space on each side of every CJK character, so word splitting makes
    each one a token (the text itself when it has none)."""
    return _CJK.sub(r" \g<0> ", text) if _CJK.search(text) is not None else text


def query_keys(text: str) -> list[str]:
    """The token keys, in order, that any text containing the query also has, in order.

    The edge tokens may be cut words ("raised" of "praised"); when the span is long enough
    without them, they are left out."""
    ks = keys(text)
    return ks[1:-1] if len(ks) >= MIN_WORDS + 2 else ks


def phrase(token_keys: Sequence[str]) -> str | None:
    """An FTS5 phrase query for these keys in order (None for no keys). Keys are word
    characters only, so nothing in them is FTS syntax."""
    return '"' + " ".join(token_keys) + '"' if token_keys else None


def ngram_query(token_keys: Sequence[str], n: int = NGRAM) -> str | None:
    """An FTS5 query for texts sharing any n consecutive keys (all of them when fewer)."""
    if len(token_keys) <= n:
        return phrase(token_keys)
    grams = dict.fromkeys(" ".join(token_keys[i : i + n]) for i in range(len(token_keys) - n + 1))
    return " OR ".join('"' + g + '"' for g in grams)


def contains(haystack: str, needle: str, normalized: bool) -> bool:
    """Exact verification: needle inside haystack, as given or by their normalised forms."""
    if normalized:
        key = normalize(needle)
        return bool(key) and key in normalize(haystack)
    return bool(needle) and needle in haystack
