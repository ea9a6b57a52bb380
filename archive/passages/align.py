"""Fuzzy local alignment of a span against a candidate text: similarity score and aligned text.

Why: reworded reuse (a few words inserted, deleted or substituted; other quote marks or
spacing) defeats exact matching. As passim does, candidates come from shared n-gram seeds and
only those pairs are aligned. The alignment is over token keys (archive.passages.spans:
NFKC, case-folded words, CJK characters), so punctuation, quote style and spacing never count.

Score: RapidFuzz's Indel normalised similarity x 100 between the span's tokens and the aligned
tokens: 100 is the same words in order; each inserted or deleted word costs one of
len(span) + len(aligned), a substituted word two. The aligned window is found with
`fuzz.partial_ratio_alignment` (the best window of the span's length), then its edges are moved
by up to EDGE_SLACK words to the best score, so insertions and deletions are covered.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel, Levenshtein

from archive.passages.spans import Token, tokenize

EDGE_SLACK = 3  # words an aligned window's edges may move beyond the span's length
MAX_TOKENS_FACTOR = 20  # a text longer than this many spans is cut around its seed hits
DEFAULT_MIN_SCORE = 70.0


@dataclass(frozen=True)
class Alignment:
    score: float  # 0-100, see the module docstring
    start: int  # character offsets of the aligned text in the candidate
    end: int
    text: str  # the candidate's aligned text, as written
    ops: list[tuple[str, str, str]]  # (equal|replace|insert|delete, span words, text words)


def _ratio(q: list[str], t: list[str]) -> float:
    return Indel.normalized_similarity(q, t) * 100


def _focus(q: list[str], toks: list[Token]) -> tuple[int, int]:
    """A token range of a long text around the densest shared words of the span."""
    limit = MAX_TOKENS_FACTOR * max(len(q), 1)
    if len(toks) <= limit:
        return 0, len(toks)
    wanted = set(q)
    hits = [i for i, t in enumerate(toks) if t.key in wanted]
    if not hits:
        return 0, 0
    width = 3 * len(q)
    best, best_n, j = hits[0], 0, 0
    for i, h in enumerate(hits):  # sliding window over hit positions
        while hits[j] < h - width:
            j += 1
        if i - j + 1 > best_n:
            best, best_n = hits[j], i - j + 1
    return max(0, best - len(q)), min(len(toks), best + width + len(q))


def align(span: str, text: str, min_score: float = 0.0) -> Alignment | None:
    """The best local alignment of span's words in text, or None (no words, or below min_score)."""
    q = [tok.key for tok in tokenize(span)]
    toks = tokenize(text)
    if not q or not toks:
        return None
    lo, hi = _focus(q, toks)
    if lo >= hi:
        return None
    t = [tok.key for tok in toks[lo:hi]]
    if len(t) <= len(q):
        s, e = 0, len(t)
    else:
        found = fuzz.partial_ratio_alignment(q, t)
        s, e = found.dest_start, found.dest_end
    best = (_ratio(q, t[s:e]), -(e - s), s, e)
    for s2 in range(max(0, s - EDGE_SLACK), min(len(t), s + EDGE_SLACK) + 1):
        for e2 in range(max(s2 + 1, e - EDGE_SLACK), min(len(t), e + EDGE_SLACK) + 1):
            cand = (_ratio(q, t[s2:e2]), -(e2 - s2), s2, e2)
            if cand[:2] > best[:2]:
                best = cand
    score, _, s, e = best
    if score < min_score:
        return None
    start, end = toks[lo + s].start, toks[lo + e - 1].end
    window = t[s:e]
    ops = [
        (
            op.tag,
            " ".join(q[op.src_start : op.src_end]),
            " ".join(window[op.dest_start : op.dest_end]),
        )
        for op in Levenshtein.opcodes(q, window)  # substitutions shown as such
    ]
    return Alignment(round(score, 1), start, end, text[start:end], ops)
