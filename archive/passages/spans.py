"""Spans of wording below the paragraph: one normalisation, CJK-aware tokens, winnowed n-gram seeds.

Why: a passage (paragraph) is too coarse to say who wrote a sentence first. A span is any run of
words; to find every passage holding a span without scanning them all, each passage is indexed
by hashed word n-grams ("shingles", the seeds passim uses), thinned by winnowing (Schleimer et
al. 2003): of every WINDOW consecutive shingles the smallest hash is kept. Any span of at least
NGRAM + WINDOW - 1 tokens (MIN_WORDS are asked for) contains a full window, so its selected
seeds are selected in every passage that holds it: the index finds them all (complete), and
exact verification on the text confirms them (sound).

Tokens: runs of letters, digits and combining marks (Unicode \\w plus category M); in scripts
written without spaces (Han, Hiragana, Katakana) every character is a token, so the same
n-grams are character n-grams there. A token's key is its NFKC form, case-folded (ß = ss).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from blake3 import blake3

from archive.diffs import WORD_RE

NGRAM = 3  # tokens per shingle
WINDOW = 2  # shingles per winnowing window
# Any span of NGRAM + WINDOW - 1 tokens holds a full window; spans are traced through the index
# from MIN_WORDS tokens (fewer, common words would make long posting lists to verify).
MIN_WORDS = 6
assert MIN_WORDS >= NGRAM + WINDOW - 1
MIN_CHARS = 30  # a shorter span of fewer words is searched by full text, not by seeds

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
_MASK = (1 << 64) - 1
_MULT = 0x9E3779B97F4A7C15  # odd: a bijection on 64-bit values


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


def is_cjk(ch: str) -> bool:
    return _CJK.match(ch) is not None


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
    return [t.key for t in tokenize(text)]


def word_count(text: str) -> int:
    """Tokens as `tokenize` counts them: words, and each CJK character."""
    return len(tokenize(text))


_TOKEN_HASHES: dict[str, int] = {}


def _token_hash(key: str) -> int:
    h = _TOKEN_HASHES.get(key)
    if h is None:
        h = int.from_bytes(blake3(key.encode("utf-8")).digest()[:8], "little")
        if len(_TOKEN_HASHES) < 1 << 20:  # bounded memory on hostile input
            _TOKEN_HASHES[key] = h
    return h


def _signed(h: int) -> int:
    return h - (1 << 64) if h >= 1 << 63 else h


def shingles(token_keys: Sequence[str], n: int = NGRAM) -> list[int]:
    """Hashes (signed 64-bit, SQLite integers) of every n consecutive token keys, in order.

    Each token is hashed once (BLAKE3), the n-gram by a fixed polynomial mix of those: the same
    keys give the same hashes on any machine and in any process."""
    hs = [_token_hash(k) for k in token_keys]
    out = []
    for i in range(len(hs) - n + 1):
        acc = 0
        for h in hs[i : i + n]:
            acc = ((acc ^ h) * _MULT) & _MASK
            acc ^= acc >> 29
        out.append(_signed(acc))
    return out


def winnow(hashes: Sequence[int], window: int = WINDOW) -> list[int]:
    """Positions of the selected shingles: in each `window` consecutive, the smallest hash
    (the rightmost on ties), each position once, ascending. Fewer shingles than a window: all."""
    if len(hashes) < window:
        return list(range(len(hashes)))
    picked: list[int] = []
    for i in range(len(hashes) - window + 1):
        best = i
        for j in range(i + 1, i + window):
            if hashes[j] <= hashes[best]:
                best = j
        if not picked or picked[-1] != best:
            picked.append(best)
    return sorted(set(picked))


def seeds(text: str) -> set[int]:
    """The distinct selected shingle hashes of a text: what the span index stores for it."""
    hashes = shingles(keys(text))
    return {hashes[i] for i in winnow(hashes)}


def query_keys(text: str) -> list[str]:
    """The token keys of a query whose seeds must all be present in a text containing it.

    The edge tokens may be cut words ("raised" of "praised"); when the span is long enough
    without them, they are left out."""
    ks = keys(text)
    return ks[1:-1] if len(ks) >= MIN_WORDS + 2 else ks


def query_seeds(text: str) -> list[int] | None:
    """Seeds every text holding `text` also has (sorted, distinct), or None for a span too
    short to be found through the index (fewer than MIN_WORDS tokens)."""
    ks = query_keys(text)
    if len(ks) < MIN_WORDS:
        return None
    hashes = shingles(ks)
    # Only full windows: a partial window at the query's edge may pick a shingle that a
    # longer context does not.
    picked = set()
    for i in range(len(hashes) - WINDOW + 1):
        best = i
        for j in range(i + 1, i + WINDOW):
            if hashes[j] <= hashes[best]:
                best = j
        picked.add(hashes[best])
    return sorted(picked)


def long_enough(text: str) -> bool:
    """A span the index answers for: MIN_WORDS tokens (whole ones, edges aside)."""
    return len(query_keys(text)) >= MIN_WORDS


def contains(haystack: str, needle: str, normalized: bool) -> bool:
    """Exact verification: needle inside haystack, as given or by their normalised forms."""
    if normalized:
        key = normalize(needle)
        return bool(key) and key in normalize(haystack)
    return bool(needle) and needle in haystack


def spans_of(text: str, positions: Iterable[int], n: int = NGRAM) -> list[tuple[int, int]]:
    """Character ranges of the shingles at token positions (for showing matched seeds)."""
    toks = tokenize(text)
    return [(toks[i].start, toks[i + n - 1].end) for i in positions if i + n <= len(toks)]
