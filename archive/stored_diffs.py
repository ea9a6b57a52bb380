"""Diffs kept in the archive: computed at the end of an ingest batch, checked, then stored.

Why at the end of a batch: diffs are the most expensive part of ingest, so a batch's pairs
are deduplicated (one row per (from, to, algorithm)) and computed together, across cores
when there are enough of them. Every delta is proved reversible before it is stored: the
new text rebuilt from the old text and the delta must hash to the new content.

What is stored: only the dmp delta (equal/delete lengths and the inserted text), zlib level 9
primed with the old text's last 32 KiB as its dictionary (inserted text often repeats the text
it replaces: about a sixth smaller than plain zlib on the sample history), with its codec named
in `delta_codec` (plain zlib, the first codec, where that is smaller). The ops are derived from
it and the old text on read (`diff_fromDelta`), so they are not stored twice; the stats and
change class stay columns so they can be queried, and `archive verify` recomputes them from
the derived ops.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import blake3

from archive import diffs
from archive.diffs import DiffResult
from archive.store import ArchiveError, Store

# Below these, a process pool costs more than it saves (start-up ~50 ms, texts pickled).
POOL_MIN_PAIRS = 8
POOL_MIN_CHARS = 256 * 1024
# On 2 cores, measured on a shared, busy machine (load ~2), the sample bundle's 1,339 pairs
# in batches of 160 took 13-16 s with 2 workers against 21 s serial: 2 cores are enough.
POOL_MIN_CPUS = 2

Pair = tuple[str, str]  # (from_blob, to_blob)


# zlib level 9 of the delta's UTF-8 text with the old text's last 32 KiB (UTF-8) as preset
# dictionary; a new codec gets a new name. Zstandard with the whole old text as dictionary was
# measured too (level 9: 8% smaller again, level 19: 12%, at 4x-17x the CPU, a new dependency
# and output that varies with its version): not worth it yet.
DELTA_CODEC = "zlib-base"
PLAIN_CODEC = "zlib"  # the first codec, still written when smaller: zlib level 9, no dictionary
CODECS = (DELTA_CODEC, PLAIN_CODEC)
_ZLIB_LEVEL9_HEADER = b"\x78\xda"  # deflate, 32 KiB window, "maximum compression", no dict
_ZLIB_LEVEL9_DICT_HEADER = b"\x78\xf9"  # the same with a preset dictionary (its Adler-32 next)
WINDOW = 32768
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


def _diff_pair(texts: tuple[str, str]) -> DiffResult:
    """Top-level so a process pool can pickle it; looks the engine up at call time."""
    return diffs.diff_texts(*texts)


def pool_cpus() -> int:
    """Processes for diffs. ARCHIVE_DIFF_WORKERS sets them (1: serial), e.g. to benchmark;
    otherwise every core for the pure-Python engine, and 1 for the compiled core, which diffs
    a pair faster than its texts cross to a worker and back (the sample bundle's import: 10.0 s
    wall serial against 11.3 s with 2 workers on 2 cores)."""
    if workers := os.environ.get("ARCHIVE_DIFF_WORKERS"):
        return int(workers)
    return 1 if diffs.compiled() else os.cpu_count() or 1


def workers_for(texts: Sequence[tuple[str, str]], cpus: int | None = None) -> int:
    """How many processes a batch deserves: 1 (serial) for a few small pairs or one core."""
    if cpus is None:
        cpus = pool_cpus()
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


def base_dict(old: str) -> bytes:
    """The dictionary a delta is primed with: the old text's last 32 KiB of UTF-8 (deflate's
    window; only the tail is encoded, so a long old text costs no more)."""
    return old[-WINDOW:].encode("utf-8")[-WINDOW:]


def pack_delta(delta: str, old: str) -> tuple[bytes, str]:
    """The stored form of a delta against its old text and its codec: primed with the old
    text (DELTA_CODEC) unless plain zlib is smaller, as for a tiny delta (the dictionary's
    checksum costs 4 bytes)."""
    data = delta.encode("utf-8")
    plain = zlib.compress(data, 9)
    zdict = base_dict(old)
    if not zdict:
        return plain, PLAIN_CODEC
    c = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zdict=zdict)
    primed = c.compress(data) + c.flush()
    return (primed, DELTA_CODEC) if len(primed) <= len(plain) else (plain, PLAIN_CODEC)


def _header(codec: object, zdict: bytes) -> bytes:
    """The exact zlib header a row of this codec starts with (so a changed byte is caught)."""
    if codec == DELTA_CODEC and zdict:
        return _ZLIB_LEVEL9_DICT_HEADER + zlib.adler32(zdict).to_bytes(4, "big")
    return _ZLIB_LEVEL9_HEADER


def unpack_delta(data: object, codec: object, old: str = "") -> str:
    """A stored delta back as text (old: the text it applies to, whose tail primed it);
    ValueError (one line) for an unknown codec or damaged data.

    The header must be the one level 9 writes (with the old text's dictionary named by its
    Adler-32) and the stream must end exactly at the blob's end, so a changed header or
    trailing byte is caught too; zlib's Adler-32 catches a changed byte inside, and whatever
    still slips through fails the hash check.
    """
    if codec not in CODECS:
        raise ValueError(f"unknown delta codec {codec!r}")
    if not isinstance(data, bytes):
        raise ValueError(f"delta is not a blob but {type(data).__name__}")
    zdict = base_dict(old) if codec == DELTA_CODEC else b""
    header = _header(codec, zdict)
    if data[: len(header)] != header:
        raise ValueError("delta does not decompress: not the zlib stream its codec writes")
    inflater = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
    try:
        text = inflater.decompress(data) + inflater.flush()
        if not inflater.eof or inflater.unused_data:
            raise ValueError("delta does not decompress: truncated or trailing bytes")
        return text.decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as e:
        raise ValueError(f"delta does not decompress: {type(e).__name__}") from None


def repacked(row: dict, old: str) -> tuple[bytes, str] | None:
    """A first-codec row's delta (data, codec) as it would be stored today (for a migration),
    or None when that changes nothing or it does not decompress (left for `archive verify`)."""
    if row["delta_codec"] != PLAIN_CODEC:
        return None
    try:
        packed = pack_delta(unpack_delta(row["delta"], PLAIN_CODEC), old)
    except ValueError:
        return None
    return None if packed[1] == PLAIN_CODEC else packed


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


def stats_of(ops: list[diffs.Op], old: str) -> dict:
    """The stats the engine gives these ops (recomputed, to check the stored columns)."""
    return diffs._stats(ops, len(old), len(_new_text(ops)))


def row_problems(row: dict, old: str, target: tuple[str, str] | None) -> list[str]:
    """Everything wrong with a stored row given the old text, [] when it is sound: its delta
    must decompress, fit the old text and rebuild the new content (by hash), and its change
    class and stats must be those of the ops it encodes."""
    try:
        ops = ops_of(old, unpack_delta(row.get("delta"), row.get("delta_codec"), old))
    except ValueError as e:
        return [str(e)]
    found = []
    problem = target_problem(_new_text(ops), target, str(row.get("to_blob")))
    if problem:
        found.append(problem)
    if diffs.classify(ops) != row.get("change_class"):
        found.append(f"change class {row.get('change_class')!r} does not match the delta")
    stats = stats_of(ops, old)
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
    rows = [
        checked_row(store, pair, old, result, algorithm)
        for pair, (old, _), result in zip(todo, texts, results, strict=True)
    ]
    store.insert_diffs(rows)
    return len(rows)


def checked_row(store: Store, pair: Pair, old: str, result: DiffResult, algorithm: str) -> dict:
    """The `diffs` row of a computed diff, once its delta is proved to rebuild the new
    content (by hash); DiffIntegrityError otherwise, so the caller's batch rolls back."""
    problem = rebuild_problem(old, result.delta, store.text_target(pair[1]), pair[1])
    if problem:
        raise DiffIntegrityError(f"diff {pair[0][:12]}..{pair[1][:12]}: {problem}")
    return diff_row(pair, result, algorithm, old)
