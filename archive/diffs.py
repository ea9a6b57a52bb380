"""Deterministic, word-level, reversible text diffs.

Why this shape: an archive diff must be a pure function of the two texts and ``ALGORITHM``.
diff-match-patch alone is either clock-dependent (``Diff_Timeout > 0``) or unboundedly slow
(``Diff_Timeout = 0`` on unrelated texts), so the cost is bounded by *work* instead:

1. lines are aligned first with patience anchoring (unique common lines, like git), recursing
   into the gaps; gaps without anchors use an exact line-level Myers pass when small;
2. each changed block of lines is refined at word level: tokens are mapped to private
   characters, anchored again on unique tokens, and the remaining gaps are diffed by
   diff-match-patch with no time limit;
3. a big block or gap whose two sides share few words (multiset overlap below
   ``MIN_SHARED_WORDS``) is unrelated text: it becomes one delete+insert at once, which is both
   the readable answer and what keeps rewrites and shuffled paragraphs fast;
4. Myers is bounded by a deterministic step count (``MYERS_STEPS`` per diff plus
   ``MYERS_STEPS_PER_CHAR`` per changed character), never by the clock: a gap still
   unresolved when the steps run out stays a whole delete+insert and the result is flagged
   ``coarse``;
5. dmp's semantic cleanup runs at token level, so edits are whole words.

Identical leading and trailing lines are cut off first at C speed, so a small edit in a large
document costs little more than the edit.
"""

from __future__ import annotations

import bisect
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from types import ModuleType

import diff_match_patch as _dmp_module
from diff_match_patch import diff_match_patch

DELETE, EQUAL, INSERT = -1, 0, 1

# Work bounds (in tokens / lines). Changing any of them can change output: bump ALGORITHM.
SMALL_GAP_WORK = 3_000  # (n+m)*min(n,m) at or below this: exact Myers, no overlap check
MIN_SHARED_WORDS = 0.6  # bigger gaps sharing fewer words than this are unrelated text
MYERS_STEPS = 20_000  # Myers diagonal steps allowed per diff ...
MYERS_STEPS_PER_CHAR = 0.1  # ... plus this many per changed character of the two texts
LINE_WORK_LIMIT = 400_000
ANCHOR_BUDGET_FACTOR = 8  # anchoring may scan at most this many times the input size

ALGORITHM = f"words-v2+dmp{_dmp_module.__version__}-utf16+ucd{unicodedata.unidata_version}"

Op = tuple[int, str]


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


_MARKS = _mark_points()


def _combining_marks(lo: int, hi: int) -> str:
    """Regex class body for combining marks in [lo, hi), so accented/Indic words stay one token."""
    marks = [c for c in _MARKS if lo <= c < hi]
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


# Astral marks sit behind a one-range lookahead and BMP marks share the \\w class: a long class of
# astral ranges, or an alternation tried at every character, makes ``re`` several times slower.
_W = rf"[\w{_combining_marks(0, 0x10000)}]"
_A = rf"(?=[\U00010000-\U0010FFFF])[{_combining_marks(0x10000, 0x110000)}]"
_WORD = rf"{_W}+(?:{_A}{_W}*)*|{_A}(?:{_W}|{_A})*"
TOKEN_RE = re.compile(rf"{_WORD}|\s+|.", re.DOTALL)
WORD_RE = re.compile(_WORD)
# Text without combining marks or astral characters: there _W is \w and _A never matches, so
# these simpler patterns (about a third faster) find exactly TOKEN_RE's and WORD_RE's matches.
_MARK_OR_ASTRAL = re.compile(rf"[{_combining_marks(0, 0x10000)}\U00010000-\U0010FFFF]")
_PLAIN_TOKEN_RE = re.compile(r"\w+|\s+|.", re.DOTALL)
_PLAIN_WORD_RE = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """TOKEN_RE.findall(text)."""
    if _CORE is not None:
        return _CORE.tokens(text)
    if _MARK_OR_ASTRAL.search(text) is None:
        return _PLAIN_TOKEN_RE.findall(text)
    return TOKEN_RE.findall(text)


def words(text: str) -> list[str]:
    """WORD_RE.findall(text)."""
    if _CORE is not None:
        return _CORE.words(text)
    if _MARK_OR_ASTRAL.search(text) is None:
        return _PLAIN_WORD_RE.findall(text)
    return WORD_RE.findall(text)


# The compiled core (archive/_diffcore.c) runs the same algorithm with identical results; this
# module stays the reference. _CORE is decided once, here, at import: the core unless
# ARCHIVE_PURE_DIFF is set (to anything but 0) or it is not built (or built from another
# version of the C source).
_CORE_VERSION = 1


def _configured_core() -> ModuleType:
    """The compiled core, given the mark table; ImportError when it is missing or stale."""
    from archive import _diffcore

    if getattr(_diffcore, "VERSION", None) != _CORE_VERSION:
        raise ImportError(f"archive._diffcore is version {_diffcore.VERSION}, not {_CORE_VERSION}")
    bitmap = bytearray(0x110000 // 8)
    for c in _MARKS:
        bitmap[c >> 3] |= 1 << (c & 7)
    _diffcore.configure(bytes(bitmap))
    return _diffcore


def _select_core() -> ModuleType | None:
    if os.environ.get("ARCHIVE_PURE_DIFF", "") not in ("", "0"):
        return None
    try:
        return _configured_core()
    except ImportError:
        return None


_CORE = _select_core()


def compiled() -> bool:
    """Whether diffs run on the compiled core (not the pure-Python reference)."""
    return _CORE is not None


@contextmanager
def engine(core: ModuleType | None) -> Iterator[None]:
    """Run diffs with the given core (None: the pure-Python reference), for tests and benches."""
    global _CORE
    saved, _CORE = _CORE, core
    try:
        yield
    finally:
        _CORE = saved


def _core_params() -> tuple:
    """The work bounds, read at call time so the core and the reference share one home."""
    return (
        MYERS_STEPS,
        MYERS_STEPS_PER_CHAR,
        SMALL_GAP_WORK,
        MIN_SHARED_WORDS,
        LINE_WORK_LIMIT,
        ANCHOR_BUDGET_FACTOR,
        _MAX_SYMBOLS,
    )


@dataclass(frozen=True)
class DiffResult:
    """A stored diff: ops (dmp convention), their delta, stats and a change class."""

    ops: list[tuple[int, str]]
    delta: str
    stats: dict
    change_class: str
    coarse: bool


def _new_dmp() -> diff_match_patch:
    """A dmp instance that never consults the clock (no timeout, so no half-match shortcut)."""
    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0
    return dmp


class _TokenDmp(diff_match_patch):
    """dmp over token-mapped strings whose cosmetic boundary scoring looks at the real tokens.

    Stock ``diff_cleanupSemanticLossless`` scores raw characters, which are meaningless
    placeholders here; this version scores the decoded tokens on either side of a boundary.
    """

    def __init__(self, tokens: list[str], steps: int) -> None:
        super().__init__()
        self.Diff_Timeout = 0
        self._tokens = tokens
        self.steps = steps  # Myers diagonal steps left (deterministic stand-in for a timeout)
        self.bailed = False

    def diff_bisect(self, text1: str, text2: str, deadline: float) -> list:
        """dmp's middle-snake search, stopped by a step budget instead of the clock.

        Same search as diff_match_patch.diff_bisect (looping over offsets rather than k) except
        the deadline test; when the budget is spent the pair stays a whole delete+insert, as dmp
        does on timeout.
        """
        n1, n2 = len(text1), len(text2)
        max_d = (n1 + n2 + 1) // 2
        v_offset, v_length = max_d, 2 * max_d
        v1 = [-1] * v_length
        v1[v_offset + 1] = 0
        v2 = v1[:]
        delta = n1 - n2
        front = delta % 2 != 0
        k1start = k1end = k2start = k2end = 0
        mirror = 2 * v_offset + delta  # k offset on one side -> offset of the same diagonal
        for d in range(max_d):
            # Loop over v offsets (k + v_offset) directly: same steps as dmp, fewer additions.
            first, last = v_offset - d, v_offset + d
            r1 = range(first + k1start, last + 1 - k1end, 2)
            r2 = range(first + k2start, last + 1 - k2end, 2)
            self.steps -= len(r1) + len(r2) + 1
            if self.steps < 0:
                self.bailed = True
                break
            for k1_offset in r1:
                if k1_offset == first or (
                    k1_offset != last and v1[k1_offset - 1] < v1[k1_offset + 1]
                ):
                    x1 = v1[k1_offset + 1]
                else:
                    x1 = v1[k1_offset - 1] + 1
                y1 = x1 - k1_offset + v_offset
                while x1 < n1 and y1 < n2 and text1[x1] == text2[y1]:
                    x1 += 1
                    y1 += 1
                v1[k1_offset] = x1
                if x1 > n1:
                    k1end += 2
                elif y1 > n2:
                    k1start += 2
                elif front:
                    k2_offset = mirror - k1_offset
                    if 0 <= k2_offset < v_length and v2[k2_offset] != -1:
                        if x1 >= n1 - v2[k2_offset]:
                            return self.diff_bisectSplit(text1, text2, x1, y1, deadline)
            for k2_offset in r2:
                if k2_offset == first or (
                    k2_offset != last and v2[k2_offset - 1] < v2[k2_offset + 1]
                ):
                    x2 = v2[k2_offset + 1]
                else:
                    x2 = v2[k2_offset - 1] + 1
                y2 = x2 - k2_offset + v_offset
                while x2 < n1 and y2 < n2 and text1[-x2 - 1] == text2[-y2 - 1]:
                    x2 += 1
                    y2 += 1
                v2[k2_offset] = x2
                if x2 > n1:
                    k2end += 2
                elif y2 > n2:
                    k2start += 2
                elif not front:
                    k1_offset = mirror - k2_offset
                    if 0 <= k1_offset < v_length and v1[k1_offset] != -1:
                        x1 = v1[k1_offset]
                        y1 = v_offset + x1 - k1_offset
                        if x1 >= n1 - x2:
                            return self.diff_bisectSplit(text1, text2, x1, y1, deadline)
        return [(DELETE, text1), (INSERT, text2)]

    def _tok(self, ch: str) -> str:
        return self._tokens[_char_index(ch)]

    def _score(self, one: str, two: str) -> int:
        if not one or not two:
            return 6
        return _boundary_score(self._tok(one[-1]), self._tok(two[0]))

    def diff_cleanupSemantic(self, diffs: list) -> None:  # noqa: N802 - dmp API name
        """dmp's diff_cleanupSemantic, step for step; its first pass (dropping equalities no
        longer than the edits on both sides) runs on local names, which is most of its cost."""
        changes = False
        equalities: list[int] = []  # indices of the equalities still in play
        last_equality = None  # always diffs[equalities[-1]][1]
        pointer = 0
        ins1 = del1 = ins2 = del2 = 0  # edit lengths before / after the last equality
        n = len(diffs)
        while pointer < n:
            op, text = diffs[pointer]
            if op == EQUAL:
                equalities.append(pointer)
                ins1, ins2, del1, del2 = ins2, 0, del2, 0
                last_equality = text
            else:
                if op == INSERT:
                    ins2 += len(text)
                else:
                    del2 += len(text)
                if (
                    last_equality
                    and len(last_equality) <= max(ins1, del1)
                    and len(last_equality) <= max(ins2, del2)
                ):
                    at = equalities.pop()
                    diffs.insert(at, (DELETE, last_equality))
                    diffs[at + 1] = (INSERT, diffs[at + 1][1])
                    n += 1
                    if equalities:
                        equalities.pop()
                    pointer = equalities[-1] if equalities else -1
                    ins1 = del1 = ins2 = del2 = 0
                    last_equality = None
                    changes = True
            pointer += 1
        if changes:
            self.diff_cleanupMerge(diffs)
        self.diff_cleanupSemanticLossless(diffs)
        self._extract_overlaps(diffs)

    def _extract_overlaps(self, diffs: list) -> None:
        """The last pass of dmp's diff_cleanupSemantic, verbatim: a deletion and insertion
        that overlap by at least half of either become delete, equal, insert."""
        pointer = 1
        while pointer < len(diffs):
            if diffs[pointer - 1][0] == DELETE and diffs[pointer][0] == INSERT:
                deletion = diffs[pointer - 1][1]
                insertion = diffs[pointer][1]
                overlap_length1 = self.diff_commonOverlap(deletion, insertion)
                overlap_length2 = self.diff_commonOverlap(insertion, deletion)
                if overlap_length1 >= overlap_length2:
                    if (
                        overlap_length1 >= len(deletion) / 2.0
                        or overlap_length1 >= len(insertion) / 2.0
                    ):
                        diffs.insert(pointer, (EQUAL, insertion[:overlap_length1]))
                        diffs[pointer - 1] = (DELETE, deletion[: len(deletion) - overlap_length1])
                        diffs[pointer + 1] = (INSERT, insertion[overlap_length1:])
                        pointer += 1
                else:
                    if (
                        overlap_length2 >= len(deletion) / 2.0
                        or overlap_length2 >= len(insertion) / 2.0
                    ):
                        diffs.insert(pointer, (EQUAL, deletion[:overlap_length2]))
                        diffs[pointer - 1] = (INSERT, insertion[: len(insertion) - overlap_length2])
                        diffs[pointer + 1] = (DELETE, deletion[overlap_length2:])
                        pointer += 1
                pointer += 1
            pointer += 1

    def diff_cleanupSemanticLossless(self, diffs: list) -> None:  # noqa: N802 - dmp API name
        pointer = 1
        while pointer < len(diffs) - 1:
            if diffs[pointer - 1][0] == EQUAL and diffs[pointer + 1][0] == EQUAL:
                equality1 = diffs[pointer - 1][1]
                edit = diffs[pointer][1]
                equality2 = diffs[pointer + 1][1]
                common = self.diff_commonSuffix(equality1, edit)
                if common:
                    common_str = edit[-common:]
                    equality1 = equality1[:-common]
                    edit = common_str + edit[:-common]
                    equality2 = common_str + equality2
                best = (equality1, edit, equality2)
                best_score = self._score(equality1, edit) + self._score(edit, equality2)
                while edit and equality2 and edit[0] == equality2[0]:
                    equality1 += edit[0]
                    edit = edit[1:] + equality2[0]
                    equality2 = equality2[1:]
                    score = self._score(equality1, edit) + self._score(edit, equality2)
                    if score >= best_score:
                        best_score = score
                        best = (equality1, edit, equality2)
                if diffs[pointer - 1][1] != best[0]:
                    if best[0]:
                        diffs[pointer - 1] = (diffs[pointer - 1][0], best[0])
                    else:
                        del diffs[pointer - 1]
                        pointer -= 1
                    diffs[pointer] = (diffs[pointer][0], best[1])
                    if best[2]:
                        diffs[pointer + 1] = (diffs[pointer + 1][0], best[2])
                    else:
                        del diffs[pointer + 1]
                        pointer -= 1
            pointer += 1


_BLANK_END = re.compile(r"\n\r?\n$")
_BLANK_START = re.compile(r"^\r?\n\r?\n")


def _boundary_score(left: str, right: str) -> int:
    """dmp's boundary score (6 best .. 0 worst) for the boundary between two tokens."""
    c1, c2 = left[-1], right[0]
    non_alnum1, non_alnum2 = not c1.isalnum(), not c2.isalnum()
    ws1, ws2 = non_alnum1 and c1.isspace(), non_alnum2 and c2.isspace()
    lb1, lb2 = ws1 and c1 in "\r\n", ws2 and c2 in "\r\n"
    if (lb1 and _BLANK_END.search(left)) or (lb2 and _BLANK_START.match(right)):
        return 5
    if lb1 or lb2:
        return 4
    if non_alnum1 and not ws1 and ws2:
        return 3
    if ws1 or ws2:
        return 2
    if non_alnum1 or non_alnum2:
        return 1
    return 0


# Placeholder characters: code points from 0x100, skipping the surrogate block so that every
# mapped string is valid Unicode for any dmp port.
_CHAR_BASE = 0x100
_SURROGATES = 0xE000 - 0xD800
_MAX_SYMBOLS = 0x110000 - _CHAR_BASE - _SURROGATES


def _too_many(a: list[str], b: list[str]) -> bool:
    """More distinct items than placeholders (the sets are built only when that can be)."""
    return len(a) + len(b) > _MAX_SYMBOLS and len(set(a) | set(b)) > _MAX_SYMBOLS


def _index_char(i: int) -> str:
    c = i + _CHAR_BASE
    return chr(c if c < 0xD800 else c + _SURROGATES)


def _char_index(ch: str) -> int:
    c = ord(ch)
    return (c if c < 0xD800 else c - _SURROGATES) - _CHAR_BASE


def _encode(seqs: Sequence[list[str]]) -> tuple[list[str], list[str]]:
    """Map each item (line or token) to one placeholder char, like dmp's diff_linesToChars.

    Returns the encoded strings and the item list (placeholder index -> item).
    """
    items = list(dict.fromkeys(x for seq in seqs for x in seq))
    table = dict(zip(items, _placeholders(len(items)), strict=True))
    return ["".join(map(table.__getitem__, seq)) for seq in seqs], items


def _placeholders(n: int) -> Iterable[str]:
    """The first n placeholder chars (C-speed chr over the range below the surrogates)."""
    below = min(n, 0xD800 - _CHAR_BASE)
    yield from map(chr, range(_CHAR_BASE, _CHAR_BASE + below))
    yield from map(_index_char, range(below, n))


def _decoder(items: list[str]) -> dict[int, str]:
    """str.translate table from placeholder back to item (C speed)."""
    return dict(zip(map(ord, _placeholders(len(items))), items, strict=True))


def _prefix_len(a: str, alo: int, ahi: int, b: str, blo: int, bhi: int) -> int:
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


def _suffix_len(a: str, alo: int, ahi: int, b: str, blo: int, bhi: int) -> int:
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


def _anchored_diff(a: str, b: str, base: Base, budget: list[int]) -> list[Op]:
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
        k = _prefix_len(a, alo, ahi, b, blo, bhi)
        if k:
            ops.append((EQUAL, a[alo : alo + k]))
            alo, blo = alo + k, blo + k
        k = _suffix_len(a, alo, ahi, b, blo, bhi)
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


def _cost(n: int, m: int) -> int:
    return (n + m) * min(n, m)


def _myers(dmp: diff_match_patch, a: str, b: str) -> list[Op]:
    return [(op, s) for op, s in dmp.diff_main(a, b, False) if s]


def _split_lines(text: str) -> list[str]:
    """Split after each '\\n' only (CR and other separators stay inside lines)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _line_blocks(old: str, new: str) -> list[Op]:
    """Line-level alignment; non-equal ops are whole lines to be refined at word level."""
    a_lines, b_lines = _split_lines(old), _split_lines(new)
    if _too_many(a_lines, b_lines):
        return [(DELETE, old), (INSERT, new)]
    (a, b), items = _encode([a_lines, b_lines])
    dmp = _new_dmp()
    blank = _drop_table(items, lambda line: not line.strip())

    def base(sa: str, sb: str) -> list[Op]:
        # Gaps sharing few non-blank lines go whole to the word level, which anchors on words.
        if _cost(len(sa), len(sb)) <= LINE_WORK_LIMIT and not _unrelated(sa, sb, blank):
            return _myers(dmp, sa, sb)
        return [(DELETE, sa), (INSERT, sb)]

    budget = [ANCHOR_BUDGET_FACTOR * (len(a) + len(b)) + 1000]
    dec = _decoder(items)
    return [(op, s.translate(dec)) for op, s in _anchored_diff(a, b, base, budget)]


class _Tokens:
    """One token -> placeholder table shared by every block of a diff.

    Output depends only on which tokens are equal, so sharing the table across blocks gives
    the same ops as a table per block, while the decode and word tables are built once
    (incrementally) instead of once per block.
    """

    def __init__(self) -> None:
        self.items: list[str] = []
        self.table: dict[str, str] = {}
        self.decode: dict[int, str] = {}
        self.non_words: dict[int, None] = {}

    def encode(self, tokens: list[str]) -> str:
        """The placeholder string of a token list, adding tokens not seen yet."""
        table = self.table
        new = [t for t in dict.fromkeys(tokens) if t not in table]
        if new:
            start = len(self.items)
            chars = map(_index_char, range(start, start + len(new)))
            self.items.extend(new)
            for t, c in zip(new, chars, strict=True):
                table[t] = c
                self.decode[ord(c)] = t
                if not _is_token_word(t):
                    self.non_words[ord(c)] = None
        return "".join(map(table.__getitem__, tokens))

    def fits(self, a_tok: list[str], b_tok: list[str]) -> bool:
        """Whether the new tokens of a block still have placeholders left."""
        if len(self.items) + len(a_tok) + len(b_tok) <= _MAX_SYMBOLS:
            return True
        table = self.table
        extra = {t for t in a_tok if t not in table} | {t for t in b_tok if t not in table}
        return len(self.items) + len(extra) <= _MAX_SYMBOLS


def _is_token_word(token: str) -> bool:
    """_is_word for a TOKEN_RE token: multi-char tokens are words unless whitespace runs."""
    if len(token) > 1:
        return not token[0].isspace()
    return WORD_RE.match(token) is not None


def _word_refine(
    old: str, new: str, steps: list[int], shared: _Tokens | None = None
) -> tuple[list[Op], bool]:
    """Word-level diff of one changed block; returns (ops, coarse).

    ``steps`` (a one-item list) is the Myers step budget shared by all blocks of one diff;
    ``shared`` the diff's token table (a fresh one when absent or full).
    """
    if not old or not new:
        return [(op, s) for op, s in ((DELETE, old), (INSERT, new)) if s], False
    a_tok, b_tok = tokens(old), tokens(new)
    if _too_many(a_tok, b_tok):
        return [(DELETE, old), (INSERT, new)], True
    if shared is None or not shared.fits(a_tok, b_tok):
        shared = _Tokens()
    a, b = shared.encode(a_tok), shared.encode(b_tok)
    non_words = shared.non_words
    if _unrelated(a, b, non_words):
        return [(DELETE, old), (INSERT, new)], False
    dmp = _TokenDmp(shared.items, steps[0])

    def base(sa: str, sb: str) -> list[Op]:
        if _cost(len(sa), len(sb)) <= SMALL_GAP_WORK:
            left, dmp.steps = dmp.steps, SMALL_GAP_WORK  # small gaps are always exact
            ops = _myers(dmp, sa, sb)
            dmp.steps = left
            return ops
        if _unrelated(sa, sb, non_words):
            return [(DELETE, sa), (INSERT, sb)]
        return _myers(dmp, sa, sb)

    budget = [ANCHOR_BUDGET_FACTOR * (len(a) + len(b)) + 1000]
    ops = _merge(_anchored_diff(a, b, base, budget))
    steps[0] = max(dmp.steps, 0)
    dmp.diff_cleanupSemantic(ops)
    dec = shared.decode
    return [(op, s.translate(dec)) for op, s in ops if s], dmp.bailed


def _drop_table(items: list[str], drop: Callable[[str], bool]) -> Callable[[], dict]:
    """A lazily built str.translate table deleting the placeholders of dropped items.

    Lazy because most blocks are small and never need it.
    """
    cache: list[dict] = []

    def table() -> dict:
        if not cache:
            chars = _placeholders(len(items))
            cache.append({ord(c): None for c, t in zip(chars, items, strict=True) if drop(t)})
        return cache[0]

    return table


def _is_word(token: str) -> bool:
    return WORD_RE.match(token) is not None


def _unrelated(a: str, b: str, ignored: dict | Callable[[], dict]) -> bool:
    """True when a big block's sides share few words (or lines): a rewrite, not an edit.

    Judged on the smaller side (shared words / its word count), so a paragraph that survives
    inside a longer insertion still counts as related.
    """
    if _cost(len(a), len(b)) <= SMALL_GAP_WORK:
        return False
    table = ignored if isinstance(ignored, dict) else ignored()
    (ca, na), (cb, nb) = _kept_counts(a, table), _kept_counts(b, table)
    return _common(ca, cb) < MIN_SHARED_WORDS * min(na, nb)


def _kept_counts(s: str, drop: dict[int, None]) -> tuple[Counter, int]:
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


def _common(ca: Counter, cb: Counter) -> int:
    """sum((ca & cb).values()) without Counter.__and__'s Python loop."""
    return sum(map(min, ca.values(), map(cb.get, ca, repeat(0))))


def _merge(ops: Iterable[Op]) -> list[Op]:
    """Merge adjacent ops; inside each change run put the delete before the insert."""
    out: list[Op] = []
    dels: list[str] = []
    ins: list[str] = []
    eq: list[str] = []

    def flush_change() -> None:
        if dels:
            out.append((DELETE, "".join(dels)))
            dels.clear()
        if ins:
            out.append((INSERT, "".join(ins)))
            ins.clear()

    for op, s in ops:
        if not s:
            continue
        if op == EQUAL:
            flush_change()
            eq.append(s)
        else:
            if eq:
                out.append((EQUAL, "".join(eq)))
                eq.clear()
            (dels if op == DELETE else ins).append(s)
    flush_change()
    if eq:
        out.append((EQUAL, "".join(eq)))
    return out


def _diff_ops(old: str, new: str) -> tuple[list[Op], bool]:
    """Lines first, then words inside each changed block of lines."""
    if _CORE is not None:
        return _CORE.diff_ops(old, new, _core_params())
    if old == new:
        return ([(EQUAL, old)] if old else []), False
    # Identical leading/trailing whole lines, found at C speed (patience would keep them too).
    p = _prefix_len(old, 0, len(old), new, 0, len(new))
    p = old.rfind("\n", 0, p) + 1
    k = _suffix_len(old, p, len(old), new, p, len(new))
    nl = old.find("\n", len(old) - k) if k else -1
    q = len(old) - (nl + 1) if nl >= 0 else 0  # suffix starts right after a shared newline
    out: list[Op] = [(EQUAL, old[:p])] if p else []
    coarse = False
    steps = [MYERS_STEPS + int(MYERS_STEPS_PER_CHAR * (len(old) + len(new) - 2 * (p + q)))]
    pending: dict[int, list[str]] = {DELETE: [], INSERT: []}
    shared = _Tokens()

    def flush() -> None:
        nonlocal coarse
        if pending[DELETE] or pending[INSERT]:
            ops, c = _word_refine("".join(pending[DELETE]), "".join(pending[INSERT]), steps, shared)
            coarse = coarse or c
            out.extend(ops)
            pending[DELETE].clear()
            pending[INSERT].clear()

    for op, s in _line_blocks(old[p : len(old) - q], new[p : len(new) - q]):
        if op == EQUAL:
            flush()
            out.append((op, s))
        else:
            pending[op].append(s)
    flush()
    if q:
        out.append((EQUAL, old[len(old) - q :]))
    return _merge(out), coarse


def _stats(ops: list[Op], old_len: int, new_len: int) -> dict:
    counts = _CORE.op_counts(ops) if _CORE is not None else None
    ins_chars, del_chars, ins_words, del_words, equal, hunks = counts or _op_counts(ops)
    total = old_len + new_len
    return {
        "chars_inserted": ins_chars,
        "chars_deleted": del_chars,
        "words_inserted": ins_words,
        "words_deleted": del_words,
        "similarity": round(2 * equal / total, 6) if total else 1.0,
        "hunks": hunks,
    }


def _op_counts(ops: list[Op]) -> tuple[int, int, int, int, int, int]:
    """Inserted and deleted chars and words, equal chars, hunks."""
    ins = [s for op, s in ops if op == INSERT]
    dels = [s for op, s in ops if op == DELETE]
    equal = sum(len(s) for op, s in ops if op == EQUAL)
    return (
        sum(map(len, ins)),
        sum(map(len, dels)),
        sum(len(words(s)) for s in ins),
        sum(len(words(s)) for s in dels),
        equal,
        _count_hunks(ops),
    )


def _count_hunks(ops: Sequence[Op]) -> int:
    hunks, in_change = 0, False
    for op, _ in ops:
        if op != EQUAL and not in_change:
            hunks += 1
        in_change = op != EQUAL
    return hunks


def _sides(ops: Iterable[Op]) -> tuple[str, str]:
    ops = list(ops)
    return (
        "".join(s for op, s in ops if op != INSERT),
        "".join(s for op, s in ops if op != DELETE),
    )


def _no_ws(s: str) -> str:
    return "".join(s.split())


def _words_only(s: str) -> str:
    return _CORE.words_only(s) if _CORE is not None else "".join(words(s))


def _casefold(s: str) -> str:
    return s.casefold()


class _Filtered:
    """keep(old) == keep(new) for char-wise filters, decided per change run where possible.

    Equal segments are shared, so matching every change run is sufficient; only when runs
    differ but the kept lengths balance is a longer comparison needed, and then only over the
    span from the first to the last differing run (what lies outside it is kept alike).
    """

    def __init__(self, ops: list[Op]) -> None:
        self.ops = ops
        self.runs: list[tuple[str, str]] = []
        self.spans: list[tuple[int, int]] = []  # each run's ops[start:end]
        dels: list[str] = []
        ins: list[str] = []
        start = 0
        for k, (op, s) in enumerate(ops + [(EQUAL, "")]):
            if op == DELETE:
                dels.append(s)
            elif op == INSERT:
                ins.append(s)
            else:
                if dels or ins:
                    self.runs.append(("".join(dels), "".join(ins)))
                    self.spans.append((start, k))
                    dels, ins = [], []
                start = k + 1

    def equal_under(self, *keeps: Callable[[str], str]) -> bool:
        def keep(s: str) -> str:
            for f in keeps:
                s = f(s)
            return s

        kept = [(keep(d), keep(i)) for d, i in self.runs]
        differing = [k for k, (d, i) in enumerate(kept) if d != i]
        if not differing:
            return True
        if sum(len(d) for d, _ in kept) != sum(len(i) for _, i in kept):
            return False
        old, new = _sides(self.ops[self.spans[differing[0]][0] : self.spans[differing[-1]][1]])
        return keep(old) == keep(new)


def classify(ops: Iterable[Op]) -> str:
    """none | trivial-whitespace | trivial-punctuation | trivial-case | substantive.

    Judged on what differs between the whole texts, so trivial changes are flagged, not dropped.
    """
    ops = list(ops)
    if _CORE is not None:
        found = _CORE.classify(ops)
        if found is not None:
            return found
    f = _Filtered(ops)
    if not f.runs or f.equal_under(lambda s: s):
        return "none"
    if not f.equal_under(_words_only, _casefold):
        return "substantive"
    if f.equal_under(_no_ws):
        return "trivial-whitespace"
    if f.equal_under(_words_only):
        return "trivial-punctuation"
    return "trivial-case"


def diff_texts(old: str, new: str) -> DiffResult:
    """Diff two texts: word-level ops, delta, stats, class. Pure and deterministic."""
    if not isinstance(old, str) or not isinstance(new, str):
        raise TypeError("diff_texts expects two str values")
    ops, coarse = _diff_ops(old, new)
    return DiffResult(
        ops=ops,
        delta=_to_delta(ops),
        stats=_stats(ops, len(old), len(new)),
        change_class=classify(ops),
        coarse=coarse,
    )


def _to_delta(ops: list[Op]) -> str:
    """dmp's diff_toDelta (the core's when it takes the ops; dmp's own for anything unusual)."""
    if _CORE is not None:
        delta = _CORE.to_delta(ops)
        if delta is not None:
            return delta
    return _new_dmp().diff_toDelta(ops)


def from_delta(old: str, delta: str) -> list[Op]:
    """dmp's diff_fromDelta: the ops a delta encodes against ``old`` (the core's for a
    well-formed delta; dmp's own, with its errors, for anything else)."""
    if _CORE is not None and isinstance(old, str) and isinstance(delta, str):
        ops = _CORE.from_delta(old, delta)
        if ops is not None:
            return ops
    return _new_dmp().diff_fromDelta(old, delta)


def rebuild(old: str, delta: str) -> str:
    """Apply a stored delta to ``old``; ValueError when it does not fit."""
    try:
        ops = from_delta(old, delta)
    except ValueError as exc:  # includes UnicodeDecodeError from a split surrogate pair
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"delta does not fit the base text: {msg}") from None
    return "".join(s for op, s in ops if op != DELETE)


def compact_ops(ops: Iterable[Op]) -> list[list]:
    """Storage form: equal segments become their length so the document is not repeated."""
    return [[EQUAL, len(s)] if op == EQUAL else [op, s] for op, s in ops]


def expand_ops(old: str, compact: list[list]) -> list[tuple[int, str]]:
    """Inverse of compact_ops given the old text; ValueError when they do not match."""
    ops: list[Op] = []
    pos = 0
    for k, item in enumerate(compact):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise ValueError(f"compact op {k} is not a pair")
        op, val = item
        if op == EQUAL and isinstance(val, int) and not isinstance(val, bool) and val >= 0:
            if pos + val > len(old):
                raise ValueError(f"compact op {k} runs past the end of the old text")
            ops.append((EQUAL, old[pos : pos + val]))
            pos += val
        elif op == DELETE and isinstance(val, str):
            if old[pos : pos + len(val)] != val:
                raise ValueError(f"compact op {k} deletes text that is not in the old text")
            ops.append((DELETE, val))
            pos += len(val)
        elif op == INSERT and isinstance(val, str):
            ops.append((INSERT, val))
        else:
            raise ValueError(f"compact op {k} is malformed: op {op!r}")
    if pos != len(old):
        raise ValueError(f"compact ops cover {pos} of {len(old)} old characters")
    return ops
