"""Ops to and from dmp deltas: how a stored diff rebuilds the new text from the old."""

from __future__ import annotations

from collections.abc import Iterable

from archive.diffs import core
from archive.diffs.core import DELETE, EQUAL, INSERT, Op
from archive.diffs.lines import new_dmp


def to_delta(ops: list[Op]) -> str:
    """dmp's diff_toDelta (the core's when it takes the ops; dmp's own for anything unusual)."""
    if core.CORE is not None:
        delta = core.CORE.to_delta(ops)
        if delta is not None:
            return delta
    return new_dmp().diff_toDelta(ops)


def from_delta(old: str, delta: str) -> list[Op]:
    """dmp's diff_fromDelta: the ops a delta encodes against ``old`` (the core's for a
    well-formed delta; dmp's own, with its errors, for anything else)."""
    if core.CORE is not None and isinstance(old, str) and isinstance(delta, str):
        ops = core.CORE.from_delta(old, delta)
        if ops is not None:
            return ops
    return new_dmp().diff_fromDelta(old, delta)


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
