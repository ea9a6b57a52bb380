"""What a diff changed: its counts, hunks and change class (cosmetic, substantive, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from archive.diffs import core
from archive.diffs.core import DELETE, EQUAL, INSERT, Op
from archive.diffs.tokens import words


def diff_stats(ops: list[Op], old_len: int, new_len: int) -> dict:
    counts = core.CORE.op_counts(ops) if core.CORE is not None else None
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
    return core.CORE.words_only(s) if core.CORE is not None else "".join(words(s))


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
    if core.CORE is not None:
        found = core.CORE.classify(ops)
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
