"""Line-level alignment: patience anchoring on unique lines, bounded Myers in the gaps."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat

from diff_match_patch import diff_match_patch

from archive.diffs import core
from archive.diffs.core import (
    CHAR_BASE,
    DELETE,
    EQUAL,
    INSERT,
    SURROGATES,
    Op,
)
from archive.diffs.tokens import WORD_RE


def new_dmp() -> diff_match_patch:
    """A dmp instance that never consults the clock (no timeout, so no half-match shortcut)."""
    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0
    return dmp


def too_many(a: list[str], b: list[str]) -> bool:
    """More distinct items than placeholders (the sets are built only when that can be)."""
    return len(a) + len(b) > core.MAX_SYMBOLS and len(set(a) | set(b)) > core.MAX_SYMBOLS


def index_char(i: int) -> str:
    c = i + CHAR_BASE
    return chr(c if c < 0xD800 else c + SURROGATES)


def char_index(ch: str) -> int:
    c = ord(ch)
    return (c if c < 0xD800 else c - SURROGATES) - CHAR_BASE


def _encode(seqs: Sequence[list[str]]) -> tuple[list[str], list[str]]:
    """Map each item (line or token) to one placeholder char, like dmp's diff_linesToChars.

    Returns the encoded strings and the item list (placeholder index -> item).
    """
    items = list(dict.fromkeys(x for seq in seqs for x in seq))
    table = dict(zip(items, placeholders(len(items)), strict=True))
    return ["".join(map(table.__getitem__, seq)) for seq in seqs], items


def placeholders(n: int) -> Iterable[str]:
    """The first n placeholder chars (C-speed chr over the range below the surrogates)."""
    below = min(n, 0xD800 - CHAR_BASE)
    yield from map(chr, range(CHAR_BASE, CHAR_BASE + below))
    yield from map(index_char, range(below, n))


def _decoder(items: list[str]) -> dict[int, str]:
    """str.translate table from placeholder back to item (C speed)."""
    return dict(zip(map(ord, placeholders(len(items))), items, strict=True))


def prefix_len(a: str, alo: int, ahi: int, b: str, blo: int, bhi: int) -> int:
    """Length of the common prefix of a[alo:ahi] and b[blo:bhi], by halving (C-speed compares)."""
    lo, hi = 0, min(ahi - alo, bhi - blo)
    if hi == 0 or a[alo] != b[blo]:
        return 0
    if a[alo : alo + hi] == b[blo : blo + hi]:
        return hi
    while hi - lo > 1:  # invariant: first lo items equal, first hi items not
        mid = (lo + hi) // 2
        if a[alo + lo : alo + mid] == b[blo + lo : blo + mid]:
            lo = mid
        else:
            hi = mid
    return lo


def suffix_len(a: str, alo: int, ahi: int, b: str, blo: int, bhi: int) -> int:
    """Length of the common suffix of a[alo:ahi] and b[blo:bhi], by halving."""
    lo, hi = 0, min(ahi - alo, bhi - blo)
    if hi == 0 or a[ahi - 1] != b[bhi - 1]:
        return 0
    if a[ahi - hi : ahi] == b[bhi - hi : bhi]:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[ahi - mid : ahi - lo] == b[bhi - mid : bhi - lo]:
            lo = mid
        else:
            hi = mid
    return lo


def _lis(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Longest increasing subsequence on the second element (patience sorting), deterministic."""
    tails: list[int] = []
    tail_idx: list[int] = []
    back: list[int] = []
    for k, (_, j) in enumerate(pairs):
        pos = bisect.bisect_left(tails, j)
        back.append(tail_idx[pos - 1] if pos else -1)
        if pos == len(tails):
            tails.append(j)
            tail_idx.append(k)
        else:
            tails[pos] = j
            tail_idx[pos] = k
    out = []
    k = tail_idx[-1] if tail_idx else -1
    while k >= 0:
        out.append(pairs[k])
        k = back[k]
    out.reverse()
    return out


Base = Callable[[str, str], list[Op]]


def anchored_diff(a: str, b: str, base: Base, budget: list[int]) -> list[Op]:
    """Patience diff on placeholder strings: anchor unique common symbols, recurse into gaps.

    Gaps without anchors go to ``base``. ``budget`` (a one-item list) caps total scanning work
    so adversarial inputs cannot go quadratic; once spent, gaps go straight to ``base``.
    """
    ops: list[Op] = []
    stack: list[tuple] = [("gap", 0, len(a), 0, len(b))]
    while stack:
        task = stack.pop()
        if task[0] == "eq":
            ops.append((EQUAL, task[1]))
            continue
        _, alo, ahi, blo, bhi = task
        # Trim common prefix and suffix.
        k = prefix_len(a, alo, ahi, b, blo, bhi)
        if k:
            ops.append((EQUAL, a[alo : alo + k]))
            alo, blo = alo + k, blo + k
        k = suffix_len(a, alo, ahi, b, blo, bhi)
        suffix = a[ahi - k : ahi]
        ahi, bhi = ahi - k, bhi - k
        if suffix:
            stack.append(("eq", suffix))
        if alo == ahi or blo == bhi:
            if alo < ahi:
                ops.append((DELETE, a[alo:ahi]))
            if blo < bhi:
                ops.append((INSERT, b[blo:bhi]))
            continue
        sa, sb = a[alo:ahi], b[blo:bhi]
        budget[0] -= len(sa) + len(sb)
        anchors: list[tuple[int, int]] = []
        if budget[0] >= 0:
            once = _unique(sa) & _unique(sb)
            pos_b = {ch: j for j, ch in enumerate(sb) if ch in once} if once else {}
            if pos_b:
                anchors = _lis([(i, pos_b[ch]) for i, ch in enumerate(sa) if ch in pos_b])
        if not anchors:
            ops.extend(base(sa, sb))
            continue
        # Push gaps and anchors in reverse so they pop in order.
        bounds = [(-1, -1)] + anchors + [(len(sa), len(sb))]
        for k in range(len(bounds) - 1, 0, -1):
            (i0, j0), (i1, j1) = bounds[k - 1], bounds[k]
            if k < len(bounds) - 1:
                stack.append(("eq", sa[i1]))
            stack.append(("gap", alo + i0 + 1, alo + i1, blo + j0 + 1, blo + j1))
    return ops


def _unique(s: str) -> set[str]:
    """The symbols occurring exactly once in s (Counter runs at C speed)."""
    return {ch for ch, n in Counter(s).items() if n == 1}


def cost(n: int, m: int) -> int:
    return (n + m) * min(n, m)


def myers(dmp: diff_match_patch, a: str, b: str) -> list[Op]:
    return [(op, s) for op, s in dmp.diff_main(a, b, False) if s]


def _split_lines(text: str) -> list[str]:
    """Split after each '\\n' only (CR and other separators stay inside lines)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def line_blocks(old: str, new: str) -> list[Op]:
    """Line-level alignment; non-equal ops are whole lines to be refined at word level."""
    a_lines, b_lines = _split_lines(old), _split_lines(new)
    if too_many(a_lines, b_lines):
        return [(DELETE, old), (INSERT, new)]
    (a, b), items = _encode([a_lines, b_lines])
    dmp = new_dmp()
    blank = drop_table(items, lambda line: not line.strip())

    def base(sa: str, sb: str) -> list[Op]:
        # Gaps sharing few non-blank lines go whole to the word level, which anchors on words.
        if cost(len(sa), len(sb)) <= core.LINE_WORK_LIMIT and not unrelated(sa, sb, blank):
            return myers(dmp, sa, sb)
        return [(DELETE, sa), (INSERT, sb)]

    budget = [core.ANCHOR_BUDGET_FACTOR * (len(a) + len(b)) + 1000]
    dec = _decoder(items)
    return [(op, s.translate(dec)) for op, s in anchored_diff(a, b, base, budget)]


def drop_table(items: list[str], drop: Callable[[str], bool]) -> Callable[[], dict]:
    """A lazily built str.translate table deleting the placeholders of dropped items.

    Lazy because most blocks are small and never need it.
    """
    cache: list[dict] = []

    def table() -> dict:
        if not cache:
            chars = placeholders(len(items))
            cache.append({ord(c): None for c, t in zip(chars, items, strict=True) if drop(t)})
        return cache[0]

    return table


def is_word(token: str) -> bool:
    return WORD_RE.match(token) is not None


def unrelated(a: str, b: str, ignored: dict | Callable[[], dict]) -> bool:
    """True when a big block's sides share few words (or lines): a rewrite, not an edit.

    Judged on the smaller side (shared words / its word count), so a paragraph that survives
    inside a longer insertion still counts as related.
    """
    if cost(len(a), len(b)) <= core.SMALL_GAP_WORK:
        return False
    table = ignored if isinstance(ignored, dict) else ignored()
    (ca, na), (cb, nb) = kept_counts(a, table), kept_counts(b, table)
    return common_count(ca, cb) < core.MIN_SHARED_WORDS * min(na, nb)


def kept_counts(s: str, drop: dict[int, None]) -> tuple[Counter, int]:
    """Counter(s.translate(drop)) and its length, without building the filtered string:
    counting s and dropping the few ignored symbols is cheaper than translating s."""
    counts = Counter(s)
    n = len(s)
    if len(drop) < len(counts):
        for o in drop:
            n -= counts.pop(chr(o), 0)
    else:
        for ch in [ch for ch in counts if ord(ch) in drop]:
            n -= counts.pop(ch)
    return counts, n


def common_count(ca: Counter, cb: Counter) -> int:
    """sum((ca & cb).values()) without Counter.__and__'s Python loop."""
    return sum(map(min, ca.values(), map(cb.get, ca, repeat(0))))
