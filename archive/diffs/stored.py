"""Stored diffs read back and checked: rows to results, and why a row is unsound.

Every delta is proved reversible before it is stored and again by `archive verify`: the new
text rebuilt from the old text and the delta must hash to the new content. The ops are derived
from the delta and the old text on read (`diff_fromDelta`), so they are not stored twice; the
stats and change class stay columns so they can be queried, and are recomputed here from the
derived ops.
"""

from __future__ import annotations

from collections.abc import Sequence

import blake3

from archive import diffs
from archive.diffs.core import DiffResult
from archive.diffs.stats import diff_stats
from archive.errors import ArchiveError
from archive.store.delta_codec import pack_delta, unpack_delta

Pair = tuple[str, str]  # (from_blob, to_blob)

STATS = (
    "chars_inserted",
    "chars_deleted",
    "words_inserted",
    "words_deleted",
    "similarity",
    "hunks",
)


class DiffIntegrityError(ArchiveError):
    """A delta that does not rebuild the new content: never stored."""


def ops_of(old: str, delta: str) -> list[diffs.Op]:
    """The ops a delta encodes against the old text (the engine's ops exactly: one op per
    delta token); ValueError when the delta does not fit the old text."""
    try:
        return diffs.from_delta(old, delta)
    except ValueError as e:  # includes UnicodeError from a split surrogate pair
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"delta does not fit the base text: {msg}") from None


def _new_text(ops: Sequence[diffs.Op]) -> str:
    return "".join(s for op, s in ops if op != diffs.DELETE)


def target_problem(new: str, target: tuple[str, str] | None, new_key: str) -> str | None:
    """Why a rebuilt text is not the content `target` names, or None.

    target is (key, encoding) from `Store.text_target`: the rebuilt text, encoded, must hash
    to key (the blob itself, or its UTF-8 readable-text blob).
    """
    if target is None:
        return f"{new_key} has no text"
    key, encoding = target
    try:
        data = new.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError) as e:
        return f"rebuilt text does not encode as {encoding}: {type(e).__name__}"
    if blake3.blake3(data).hexdigest() != key:
        return f"rebuilt text does not hash to {key}"
    return None


def rebuild_problem(
    old: str, delta: str, target: tuple[str, str] | None, new_key: str
) -> str | None:
    """Why rebuilding from old + delta does not give the content `target` names, or None."""
    if target is None:
        return f"{new_key} has no text"
    try:
        rebuilt = diffs.rebuild(old, delta)
    except ValueError as e:
        return str(e)
    return target_problem(rebuilt, target, new_key)


def stats_of(ops: list[diffs.Op], old: str, new: str | None = None) -> dict:
    """The stats the engine gives these ops (recomputed, to check the stored columns); new:
    the text they rebuild, when built already."""
    return diff_stats(ops, len(old), len(_new_text(ops) if new is None else new))


def row_problems(
    row: dict, old: str, target: tuple[str, str] | None, new: str | None = None
) -> list[str]:
    """Everything wrong with a stored row given the old text, [] when it is sound: its delta
    must decompress, fit the old text and rebuild the new content (by hash), and its change
    class and stats must be those of the ops it encodes. new: the new content's text, when
    the caller holds it decoded from bytes found to hash to target (UTF-8, which decodes
    one way only): the rebuilt text equal to it needs no hashing."""
    try:
        ops = ops_of(old, unpack_delta(row.get("delta"), row.get("delta_codec"), old))
    except ValueError as e:
        return [str(e)]
    found = []
    rebuilt = _new_text(ops)
    problem = None if rebuilt == new else target_problem(rebuilt, target, str(row.get("to_blob")))
    if problem:
        found.append(problem)
    if diffs.classify(ops) != row.get("change_class"):
        found.append(f"change class {row.get('change_class')!r} does not match the delta")
    stats = stats_of(ops, old, rebuilt)
    wrong = [k for k in STATS if row.get(k) != stats[k]]
    if wrong:
        found.append(f"stats {', '.join(wrong)} do not match the delta")
    return found


def diff_row(pair: Pair, result: DiffResult, algorithm: str, old: str) -> dict:
    """The `diffs` row of a computed diff of old (compressed delta, stats as columns)."""
    delta, codec = pack_delta(result.delta, old)
    return {
        "from_blob": pair[0],
        "to_blob": pair[1],
        "algorithm": algorithm,
        "delta": delta,
        "delta_codec": codec,
        **{k: result.stats[k] for k in STATS},
        "change_class": result.change_class,
        "coarse": int(result.coarse),
    }


def result_of(row: dict, old: str) -> DiffResult:
    """A stored row back as a DiffResult (ops derived from the delta and the old text);
    ValueError when the row is damaged."""
    delta = unpack_delta(row["delta"], row["delta_codec"], old)
    ops = ops_of(old, delta)
    stats = {k: row[k] for k in STATS}
    return DiffResult(ops, delta, stats, row["change_class"], bool(row["coarse"]))
