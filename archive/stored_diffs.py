"""Diffs kept in the archive: computed at the end of an ingest batch, checked, then stored.

Why at the end of a batch: diffs are the most expensive part of ingest, so a batch's pairs
are deduplicated (one row per (from, to, algorithm)) and computed together, across cores
when there are enough of them. Every delta is proved reversible before it is stored: the
new text rebuilt from the old text and the delta must hash to the new content.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import blake3
from diff_match_patch import diff_match_patch

from archive import diffs
from archive.diffs import DiffResult
from archive.store import ArchiveError, Store

# Below these, a process pool costs more than it saves (start-up ~50 ms, texts pickled).
POOL_MIN_PAIRS = 8
POOL_MIN_CHARS = 256 * 1024
# On 2 cores, measured on a shared machine, 2 workers were slower than serial (19 s vs 27 s
# for the sample bundle's 1,089 pairs): a pool needs at least this many cores.
POOL_MIN_CPUS = 3

Pair = tuple[str, str]  # (from_blob, to_blob)


class DiffIntegrityError(ArchiveError):
    """A delta that does not rebuild the new content: never stored."""


def _diff_pair(texts: tuple[str, str]) -> DiffResult:
    """Top-level so a process pool can pickle it; looks the engine up at call time."""
    return diffs.diff_texts(*texts)


def workers_for(texts: Sequence[tuple[str, str]], cpus: int | None = None) -> int:
    """How many processes a batch deserves: 1 (serial) for a few small pairs or one core."""
    if cpus is None:  # ARCHIVE_DIFF_WORKERS caps the pool (1: serial), e.g. to benchmark
        cpus = int(os.environ.get("ARCHIVE_DIFF_WORKERS") or os.cpu_count() or 1)
    chars = sum(len(a) + len(b) for a, b in texts)
    if cpus < POOL_MIN_CPUS or len(texts) < POOL_MIN_PAIRS or chars < POOL_MIN_CHARS:
        return 1
    return min(cpus, len(texts))


def compute(
    texts: Sequence[tuple[str, str]],
    workers: int = 1,
    engine: Callable[[tuple[str, str]], DiffResult] = _diff_pair,
) -> list[DiffResult]:
    """Diff each (old, new) pair, in input order whatever order the workers finish in.

    The largest pairs are handed out first so one slow pair does not end the batch alone.
    """
    if workers <= 1:
        return [engine(t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: (-(len(texts[i][0]) + len(texts[i][1])), i))
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(engine, [texts[i] for i in order]))
    out: list[DiffResult | None] = [None] * len(texts)
    for i, result in zip(order, results, strict=True):
        out[i] = result
    return out  # type: ignore[return-value]


def rebuild_problem(
    old: str, delta: str, target: tuple[str, str] | None, new_key: str
) -> str | None:
    """Why rebuilding from old + delta does not give the content `target` names, or None.

    target is (key, encoding) from `Store.text_target`: the rebuilt text, encoded, must hash
    to key (the blob itself, or its UTF-8 readable-text blob).
    """
    if target is None:
        return f"{new_key} has no text"
    key, encoding = target
    try:
        rebuilt = diffs.rebuild(old, delta)
    except ValueError as e:
        return str(e)
    try:
        data = rebuilt.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError) as e:
        return f"rebuilt text does not encode as {encoding}: {type(e).__name__}"
    if blake3.blake3(data).hexdigest() != key:
        return f"rebuilt text does not hash to {key}"
    return None


def ops_problem(old: str, ops_json: str, delta: str, change_class: str) -> str | None:
    """Why stored compact ops disagree with the delta (or their change class), or None."""
    try:
        ops = diffs.expand_ops(old, json.loads(ops_json))
    except (ValueError, TypeError) as e:
        return f"ops do not fit the old text: {str(e).splitlines()[0] if str(e) else e!r}"
    if diff_match_patch().diff_toDelta(ops) != delta:
        return "ops disagree with the delta"
    if diffs.classify(ops) != change_class:
        return f"change class {change_class!r} does not match the ops"
    return None


def diff_row(pair: Pair, result: DiffResult, algorithm: str) -> dict:
    """The `diffs` row of a computed diff (ops in compact JSON, stats as columns)."""
    s = result.stats
    return {
        "from_blob": pair[0],
        "to_blob": pair[1],
        "algorithm": algorithm,
        "ops": json.dumps(diffs.compact_ops(result.ops), ensure_ascii=False, separators=(",", ":")),
        "delta": result.delta,
        "chars_inserted": s["chars_inserted"],
        "chars_deleted": s["chars_deleted"],
        "words_inserted": s["words_inserted"],
        "words_deleted": s["words_deleted"],
        "similarity": s["similarity"],
        "hunks": s["hunks"],
        "change_class": result.change_class,
        "coarse": int(result.coarse),
    }


def result_of(row: dict, old: str) -> DiffResult:
    """A stored row back as a DiffResult (ops expanded against the old text)."""
    stats = {
        k: row[k]
        for k in (
            "chars_inserted",
            "chars_deleted",
            "words_inserted",
            "words_deleted",
            "similarity",
            "hunks",
        )
    }
    ops = diffs.expand_ops(old, json.loads(row["ops"]))
    return DiffResult(ops, row["delta"], stats, row["change_class"], bool(row["coarse"]))


def store_diffs(store: Store, pairs: Sequence[Pair], cpus: int | None = None) -> int:
    """Compute, check and insert the diffs of a batch's pairs not stored yet; returns how
    many rows were added. Call inside the batch's write transaction: a delta that fails its
    check raises DiffIntegrityError and the whole batch rolls back."""
    algorithm = diffs.ALGORITHM
    todo: list[Pair] = []
    texts: list[tuple[str, str]] = []
    for pair in dict.fromkeys(pairs):
        if store.diff_exists(*pair, algorithm):
            continue
        old, new = store.read_text(pair[0]), store.read_text(pair[1])
        if old is None or new is None:
            continue  # binary content: no diff
        todo.append(pair)
        texts.append((old, new))
    results = compute(texts, workers_for(texts, cpus))
    rows = []
    for pair, (old, _), result in zip(todo, texts, results, strict=True):
        problem = rebuild_problem(old, result.delta, store.text_target(pair[1]), pair[1])
        if problem:
            raise DiffIntegrityError(f"diff {pair[0][:12]}..{pair[1][:12]}: {problem}")
        rows.append(diff_row(pair, result, algorithm))
    store.insert_diffs(rows)
    return len(rows)
