"""Word-level blame from a chain of word diffs: each word goes to the version that brought it.

Why: blaming whole paragraphs gives a paragraph to the version that changed one word in it (or
only the blank line after it). git blame instead carries each line's origin through the diffs
of the history; this does the same for words, through the stored word diffs (archive.diffs
ops: (op, text) with DELETE=-1, EQUAL=0, INSERT=1). Pure: plain data in and out.

Work per version is linear in its ops plus the runs carried so far (runs of consecutive
characters from one version, merged when adjacent), never in the number of versions before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DELETE, EQUAL, INSERT = -1, 0, 1

Op = tuple[int, str]


class BlameError(ValueError):
    """Diff ops that do not fit the text they are said to transform."""


@dataclass(frozen=True)
class Run:
    start: int  # character offsets in the blamed version's text
    end: int
    origin: int  # index, in the chain, of the version that introduced these characters


def _push(runs: list[list[int]], length: int, origin: int) -> None:
    if length <= 0:
        return
    if runs and runs[-1][1] == origin:
        runs[-1][0] += length
    else:
        runs.append([length, origin])


def step(runs: list[list[int]], ops: Iterable[Op], origin: int) -> list[list[int]]:
    """Carry [length, origin] runs of the old text through ops to the new text: EQUAL text
    keeps its origins, INSERT text gets `origin`, DELETE text is dropped."""
    out: list[list[int]] = []
    i, used = 0, 0  # current old run, characters of it already consumed
    for op, text in ops:
        n = len(text)
        if op == INSERT:
            _push(out, n, origin)
            continue
        if op not in (EQUAL, DELETE):
            raise BlameError(f"unknown diff op {op!r}")
        while n:
            if i >= len(runs):
                raise BlameError("diff ops run past the end of the old text")
            length, where = runs[i]
            take = min(n, length - used)
            if op == EQUAL:
                _push(out, take, where)
            n -= take
            used += take
            if used == length:
                i, used = i + 1, 0
    if i < len(runs):
        raise BlameError("diff ops stop before the end of the old text")
    return out


def blame_chain(chain: Sequence[Sequence[Op] | str]) -> list[Run]:
    """Runs of the last version's text, each with the chain index that introduced it.

    chain[k] is either the ops turning text k-1 into text k, or a text: a version with no
    diff to its predecessor (the first, or one after a deletion), all of it its own."""
    runs: list[list[int]] = []
    for k, item in enumerate(chain):
        if isinstance(item, str):
            runs = [[len(item), k]] if item else []
        else:
            runs = step(runs, item, k)
    out, at = [], 0
    for length, origin in runs:
        out.append(Run(at, at + length, origin))
        at += length
    return out


def word_runs(text: str, runs: Sequence[Run]) -> list[Run]:
    """Runs fit for showing: a run of whitespace alone joins the run before it, and runs of
    the same origin that then touch are merged."""
    out: list[Run] = []
    for r in runs:
        piece = text[r.start : r.end]
        if out and not piece.strip():
            last = out.pop()
            out.append(Run(last.start, r.end, last.origin))
            continue
        if out and out[-1].origin == r.origin:
            last = out.pop()
            out.append(Run(last.start, r.end, r.origin))
        else:
            out.append(r)
    return out


def check_ops(old: str, ops: Sequence[Op]) -> str:
    """The new text of ops applied to old; BlameError when their EQUAL/DELETE text is not old."""
    kept = "".join(t for op, t in ops if op != INSERT)
    if kept != old:
        raise BlameError("diff ops do not match the old text")
    return "".join(t for op, t in ops if op != DELETE)
