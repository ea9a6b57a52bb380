"""How much of one content survives in another: git's rename score, cheap and deterministic.

An edited rename (a file moved *and* changed in one snapshot) is recognised when at least
half of the bytes are shared, like `git diff -M` (50%). The measure is git's
(diffcore-delta): both contents are cut into chunks that end at a newline or after 64 bytes,
and the bytes of chunks common to both (counted with multiplicity) are divided by the larger
size. It works on binary data too, needs no diff, and runs in linear time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from archive.record.plan import RENAME_SIMILARITY, Change, DocState, Observed, plan

CHUNK = 64
# Edited renames are looked for only when (vanished x new paths) is at most this many pairs;
# beyond it only exact renames are found (git's diff.renameLimit plays the same role).
MAX_PAIRS = 100 * 100


def chunk_weights(data: bytes) -> Counter[bytes]:
    """Bytes per distinct chunk (a line, or a 64-byte piece of a long line)."""
    weights: Counter[bytes] = Counter()
    for line in _lf_lines(data):
        if len(line) <= CHUNK:
            weights[line] += len(line)
        else:
            for i in range(0, len(line), CHUNK):
                piece = line[i : i + CHUNK]
                weights[piece] += len(piece)
    return weights


def _lf_lines(data: bytes) -> list[bytes]:
    """Lines ended by LF, each with its LF (bytes.splitlines would also cut at CR)."""
    lines = data.split(b"\n")
    last = lines.pop()
    return [line + b"\n" for line in lines] + ([last] if last else [])


def score(a: Counter[bytes], size_a: int, b: Counter[bytes], size_b: int) -> float:
    """Share of the larger content found in the other, from their chunk weights."""
    if size_a == size_b == 0:
        return 1.0
    if size_a == 0 or size_b == 0:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    common = sum(min(w, large[k]) for k, w in small.items() if k in large)
    return common / max(size_a, size_b)


def similarity(a: bytes | str, b: bytes | str) -> float:
    """0.0 (nothing shared) to 1.0 (same chunks); symmetric, deterministic."""
    a = a.encode() if isinstance(a, str) else a
    b = b.encode() if isinstance(b, str) else b
    if a == b:
        return 1.0
    return score(chunk_weights(a), len(a), chunk_weights(b), len(b))


def blob_similarity(read: Callable[[str], bytes | None]) -> Callable[[str, str], float]:
    """similarity(old_blob, new_blob) over content keys, for the planner; each content is
    read and chunked once per call site, and pairs too different in size are not read twice.
    read gives None for a content too large to compare (a large one is never held whole):
    it matches nothing but itself."""
    cache: dict[str, tuple[Counter[bytes], int] | None] = {}

    def weights(key: str) -> tuple[Counter[bytes], int] | None:
        if key not in cache:
            data = read(key)
            cache[key] = None if data is None else (chunk_weights(data), len(data))
        return cache[key]

    def compare(old: str, new: str) -> float:
        if old == new:
            return 1.0
        a, b = weights(old), weights(new)
        if a is None or b is None:
            return 0.0
        (wa, na), (wb, nb) = a, b
        if max(na, nb) and min(na, nb) / max(na, nb) < RENAME_SIMILARITY:
            return 0.0  # cannot reach the threshold: the shared bytes fit in the smaller one
        return score(wa, na, wb, nb)

    return compare


def plan_with_renames(
    docs: Iterable[DocState],
    observed: Iterable[Observed],
    keep_paths: Iterable[str] = (),
    read: Callable[[str], bytes | None] | None = None,
    max_pairs: int = MAX_PAIRS,
) -> list[Change]:
    """plan(), with edited renames when read(blob) can give contents and the number of
    candidate pairs (vanished x new documents left after exact renames) is small enough."""
    docs, observed, keep_paths = list(docs), list(observed), list(keep_paths)
    changes = plan(docs, observed, keep_paths)
    if read is None:
        return changes
    added = sum(c.kind == "added" for c in changes)
    deleted = sum(c.kind == "deleted" for c in changes)
    if not added or not deleted or added * deleted > max_pairs:
        return changes
    return plan(docs, observed, keep_paths, similarity=blob_similarity(read))
