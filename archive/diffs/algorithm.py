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
   ``core.MIN_SHARED_WORDS``) is unrelated text: it becomes one delete+insert at once, which is both
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

import re
from collections.abc import Iterable

from diff_match_patch import diff_match_patch

from archive.diffs import core
from archive.diffs.core import (
    DELETE,
    EQUAL,
    INSERT,
    DiffResult,
    Op,
    params,
)
from archive.diffs.delta import to_delta
from archive.diffs.lines import (
    anchored_diff,
    char_index,
    cost,
    index_char,
    line_blocks,
    myers,
    prefix_len,
    suffix_len,
    too_many,
    unrelated,
)
from archive.diffs.stats import classify, diff_stats
from archive.diffs.tokens import WORD_RE, tokens


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
        return self._tokens[char_index(ch)]

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
            chars = map(index_char, range(start, start + len(new)))
            self.items.extend(new)
            for t, c in zip(new, chars, strict=True):
                table[t] = c
                self.decode[ord(c)] = t
                if not _is_token_word(t):
                    self.non_words[ord(c)] = None
        return "".join(map(table.__getitem__, tokens))

    def fits(self, a_tok: list[str], b_tok: list[str]) -> bool:
        """Whether the new tokens of a block still have placeholders left."""
        if len(self.items) + len(a_tok) + len(b_tok) <= core.MAX_SYMBOLS:
            return True
        table = self.table
        extra = {t for t in a_tok if t not in table} | {t for t in b_tok if t not in table}
        return len(self.items) + len(extra) <= core.MAX_SYMBOLS


def _is_token_word(token: str) -> bool:
    """is_word for a TOKEN_RE token: multi-char tokens are words unless whitespace runs."""
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
    if too_many(a_tok, b_tok):
        return [(DELETE, old), (INSERT, new)], True
    if shared is None or not shared.fits(a_tok, b_tok):
        shared = _Tokens()
    a, b = shared.encode(a_tok), shared.encode(b_tok)
    non_words = shared.non_words
    if unrelated(a, b, non_words):
        return [(DELETE, old), (INSERT, new)], False
    dmp = _TokenDmp(shared.items, steps[0])

    def base(sa: str, sb: str) -> list[Op]:
        if cost(len(sa), len(sb)) <= core.SMALL_GAP_WORK:
            left, dmp.steps = dmp.steps, core.SMALL_GAP_WORK  # small gaps are always exact
            ops = myers(dmp, sa, sb)
            dmp.steps = left
            return ops
        if unrelated(sa, sb, non_words):
            return [(DELETE, sa), (INSERT, sb)]
        return myers(dmp, sa, sb)

    budget = [core.ANCHOR_BUDGET_FACTOR * (len(a) + len(b)) + 1000]
    ops = _merge(anchored_diff(a, b, base, budget))
    steps[0] = max(dmp.steps, 0)
    dmp.diff_cleanupSemantic(ops)
    dec = shared.decode
    return [(op, s.translate(dec)) for op, s in ops if s], dmp.bailed


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
    if core.CORE is not None:
        return core.CORE.diff_ops(old, new, params())
    if old == new:
        return ([(EQUAL, old)] if old else []), False
    # Identical leading/trailing whole lines, found at C speed (patience would keep them too).
    p = prefix_len(old, 0, len(old), new, 0, len(new))
    p = old.rfind("\n", 0, p) + 1
    k = suffix_len(old, p, len(old), new, p, len(new))
    nl = old.find("\n", len(old) - k) if k else -1
    q = len(old) - (nl + 1) if nl >= 0 else 0  # suffix starts right after a shared newline
    out: list[Op] = [(EQUAL, old[:p])] if p else []
    coarse = False
    steps = [
        core.MYERS_STEPS + int(core.MYERS_STEPS_PER_CHAR * (len(old) + len(new) - 2 * (p + q)))
    ]
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

    for op, s in line_blocks(old[p : len(old) - q], new[p : len(new) - q]):
        if op == EQUAL:
            flush()
            out.append((op, s))
        else:
            pending[op].append(s)
    flush()
    if q:
        out.append((EQUAL, old[len(old) - q :]))
    return _merge(out), coarse


def diff_texts(old: str, new: str) -> DiffResult:
    """Diff two texts: word-level ops, delta, stats, class. Pure and deterministic."""
    if not isinstance(old, str) or not isinstance(new, str):
        raise TypeError("diff_texts expects two str values")
    ops, coarse = _diff_ops(old, new)
    return DiffResult(
        ops=ops,
        delta=to_delta(ops),
        stats=diff_stats(ops, len(old), len(new)),
        change_class=classify(ops),
        coarse=coarse,
    )
