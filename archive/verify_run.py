"""`archive verify` on every core (per-blob checks in units over a process pool) and `--quick`.

The checks that read content (blob hashes, diffs, snapshot joins, re-derivations) are split
into units of blobs in storage order, each with the diffs whose old side it holds, and run in
worker processes that each open the archive read-only; the main process runs the checks
over rows (leaves, checkpoints, documents, evidence) meanwhile. Findings are merged in
the order of `archive.verify.CHECKS`, each check's sorted by key, so the report is the same
whatever the number of workers (`ARCHIVE_VERIFY_WORKERS`, default: every core).

A clean run is recorded (`verifications`); `--quick` then checks only the blobs of the
leaves after it (and their diffs, passages and derived rows), that the ledger still holds
the tree it recorded, and every check over rows: a tamper in older content is left to the
full run.
"""

from __future__ import annotations

import gc
import math
import os
import pickle
import signal
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from archive.ledger import merkle
from archive.store import ArchiveError, Store, ledger_rows, now_iso
from archive.store.ledger_rows import DiffKey
from archive.verify import (
    Anchors,
    Finding,
    blob_findings,
    check_checkpoints,
    check_diffs,
    check_documents,
    check_evidence,
    check_leaves,
    check_unledgered,
    copy_findings,
    derived_findings,
    leaf_hashes,
    passage_key_findings,
    snapshot_findings,
    unused_chunk_findings,
)

T = TypeVar("T")  # what the main process's own checks return
WORKERS_ENV = "ARCHIVE_VERIFY_WORKERS"
WORKER_BLOBS = 200  # blobs a fresh interpreter must have to be worth starting (~0.25 s)
# ... and a forked worker: a fork costs ~2.5 ms of CPU, about 8 blobs' checks (measured on
# the sample); its units run while this process checks the rows, so the pool pays above it
FORK_BLOBS = 16
UNIT_BLOBS = 256  # blobs per work unit at most: their texts stay in the unit's cache
UNITS_PER_WORKER = 8  # small units even out the processes' shares (their caches stay)
TEXT_CACHE_CHARS = 1 << 24
KEPT_BYTES = 1 << 25  # a unit's whole contents kept for its re-derivations, at most


PASSAGE_CHUNK = 4096
TASK_ID = struct.Struct("<I")
MAX_TASKS = 1024  # a fork pool's queue: 4 KiB of task ids, one atomic write to a pipe


@dataclass(frozen=True)
class Unit:
    """One worker's share: blobs, the diffs whose old side is among them, the snapshot
    blobs and the rows to re-derive (text links, metadata) of those blobs."""

    blobs: tuple[str, ...]
    diffs: tuple[DiffKey, ...] = ()
    snapshots: tuple[str, ...] = ()
    links: tuple[dict, ...] = ()
    extracts: tuple[dict, ...] = ()
    passages: tuple[tuple[int, int], ...] = ()  # (after, upto] id ranges whose keys to check
    quotes: tuple[str, ...] = ()  # blobs whose quotations to find again (no content leaf)


@dataclass
class Outcome:
    """What a run found, and what it covered."""

    findings: list[Finding]
    quick: bool = False
    since: int = 0  # a quick run: the ledger size it started from
    blobs: int = 0
    diffs: int = 0
    notes: list[str] = field(default_factory=list)


def workers_wanted() -> int:
    """ARCHIVE_VERIFY_WORKERS when a positive integer, else the number of cores."""
    value = os.environ.get(WORKERS_ENV, "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return os.cpu_count() or 1


def plan(
    blobs: list[str],
    diffs: Iterable[DiffKey],
    snapshots: Iterable[str],
    links: Iterable[dict],
    extracts: Iterable[dict],
    units: int,
    passages: tuple[int, int] = (0, 0),
    covered: frozenset[str] | set[str] = frozenset(),
) -> list[Unit]:
    """Blobs cut into `units` runs (of at most UNIT_BLOBS); each diff goes with its old
    blob's unit (else its new blob's, else the last), each row with its blob's; the passage
    ids (after, upto] in ranges of PASSAGE_CHUNK ids (the same whatever the units), shared
    out in id order. covered: blobs a content leaf states the derived facts of (their rows
    are left out, their quotations not found again)."""
    count = max(1, units, math.ceil(len(blobs) / UNIT_BLOBS))
    size = max(1, math.ceil(len(blobs) / count))
    slices = [blobs[i : i + size] for i in range(0, len(blobs), size)] or [[]]
    where = {b: i for i, s in enumerate(slices) for b in s}
    last = len(slices) - 1
    parts: list[dict[str, list]] = [
        {"diffs": [], "snapshots": [], "links": [], "extracts": []} for _ in slices
    ]
    for key in diffs:
        parts[where.get(key[0], where.get(key[1], last))]["diffs"].append(key)
    for blob in snapshots:
        parts[where.get(blob, last)]["snapshots"].append(blob)
    for name, rows in (("links", links), ("extracts", extracts)):
        for row in rows:
            if row["blake3"] in where and row["blake3"] not in covered:
                parts[where[row["blake3"]]][name].append(row)
    after, upto = passages
    first = after // PASSAGE_CHUNK * PASSAGE_CHUNK
    ranges = [
        (max(lo, after), min(lo + PASSAGE_CHUNK, upto)) for lo in range(first, upto, PASSAGE_CHUNK)
    ]
    share = math.ceil(len(ranges) / len(slices))
    return [
        Unit(
            tuple(s),
            *(tuple(p[k]) for k in ("diffs", "snapshots", "links", "extracts")),
            tuple(ranges[i * share : (i + 1) * share]),
            tuple(b for b in s if b not in covered),
        )
        for i, (s, p) in enumerate(zip(slices, parts, strict=True))
    ]


def unit_findings(store: Store, unit: Unit) -> dict[str, list[Finding]]:
    """Every per-blob check of one unit; each blob's text is rebuilt once (cached), and each
    passage group inflated once per process (the cache of `units_findings`, when on)."""
    if store.texts is None:
        return units_findings(store, [unit])[0]
    kept: dict[str, bytes] = {}
    blobs, held, sound = [], 0, set()
    for b in unit.blobs:
        found = blob_findings(store, b, kept if held < KEPT_BYTES else None)
        blobs += found
        held += len(kept.get(b, b""))
        if not found:
            sound.add(b)
    chunks = (ledger_rows.passage_keys_between(store.conn, *r) for r in unit.passages)
    reader = store.texts.reader(store.conn)

    def read(key: str) -> bytes:
        data = kept.get(key)
        return store.read_content(key) if data is None else data

    return {
        "blobs": blobs,
        "passages": passage_key_findings(store, (c for c in chunks if c), reader),
        "diffs": check_diffs(store, unit.diffs, sound),
        "snapshots": snapshot_findings(store, unit.snapshots),
        "derived": derived_findings(store, unit.links, unit.extracts, unit.quotes, read)
        if unit.links or unit.extracts or unit.quotes
        else [],
    }


def units_findings(store: Store, units: Iterable[Unit]) -> list[dict[str, list[Finding]]]:
    """`unit_findings` of each unit, in order, through one text cache: the passage groups
    neighbouring units share (and the bases they are inflated with) are inflated once."""
    with store.caching_texts(TEXT_CACHE_CHARS):
        return [unit_findings(store, unit) for unit in units]


def worker_main() -> None:
    """A worker process (`python -m archive.verify_run`): a pickled (path, [(index, unit)])
    on stdin, the pickled [(index, findings by part)] on stdout; the archive read-only."""
    path, jobs = pickle.load(sys.stdin.buffer)
    conn = ledger_rows.open_read_only(path)
    try:
        store = Store.over(conn)
        found = units_findings(store, [unit for _, unit in jobs])
        done = [(i, f) for (i, _), f in zip(jobs, found, strict=True)]
    finally:
        conn.close()
    pickle.dump(done, sys.stdout.buffer)


def _start(path: str, jobs: list[tuple[int, Unit]]) -> subprocess.Popen:
    """A fresh interpreter per worker: the pool when this process cannot fork (`_forkable`)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive.verify_run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    try:
        pickle.dump((path, jobs), proc.stdin)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # it died at once: its exit status says so
    proc.stdin = None  # sent: communicate() only reads
    return proc


def _failed(why: str) -> ArchiveError:
    return ArchiveError(f"verify: a worker process failed ({why}); nothing was recorded")


def _finish(proc: subprocess.Popen) -> list[tuple[int, dict[str, list[Finding]]]]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise _failed(lines[-1] if lines else f"exit status {proc.returncode}")
    return pickle.loads(out)


def _forkable() -> bool:
    """Whether this process may fork its workers: a fork copies the calling thread only, so
    only while no other thread runs (Linux lists them in /proc; elsewhere, never)."""
    try:
        return hasattr(os, "fork") and len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _tasks(units: int) -> list[range]:
    """Units dealt out in at most MAX_TASKS runs of neighbours: their ids fit in one write
    to a pipe (PIPE_BUF), so a fork pool's queue never blocks nor splits an id."""
    step = max(1, math.ceil(units / MAX_TASKS))
    return [range(i, min(i + step, units)) for i in range(0, units, step)]


def _take(store: Store, units: list[Unit], tasks: list[range], queue: int) -> list[tuple]:
    """Run the tasks read from the queue (a pipe of 4-byte task ids) until it is empty."""

    def taken() -> Iterator[int]:
        while ask := os.read(queue, TASK_ID.size):
            yield from tasks[TASK_ID.unpack(ask)[0]]

    with store.caching_texts(TEXT_CACHE_CHARS):
        return [(i, unit_findings(store, units[i])) for i in taken()]


def _worker(path: str, units: list[Unit], tasks: list[range], queue: int, out: int) -> None:
    """A forked worker: its own read-only connection (the parent's is never touched), the
    queue's tasks, the pickled [(index, findings by part)] (or the error) written to out;
    it never returns into the parent's code."""
    code, result = 1, None
    try:
        conn = ledger_rows.open_read_only(path)
        try:
            result = _take(Store.over(conn), units, tasks, queue)
            code = 0
        finally:
            conn.close()
    except BaseException as e:  # reported by the parent, which decides
        result = f"{type(e).__name__}: {e}".splitlines()[0]
    finally:
        try:
            with os.fdopen(out, "wb") as f:
                pickle.dump(result, f)
        finally:
            os._exit(code)


def _collect(pid: int, out: int) -> list[tuple[int, dict[str, list[Finding]]]]:
    """A forked worker's results, once it has exited; a failure raises (one line)."""
    with os.fdopen(out, "rb") as f:
        data = f.read()
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    try:
        result = pickle.loads(data) if data else None
    except (pickle.UnpicklingError, EOFError, ValueError):
        result = None
    if code != 0 or not isinstance(result, list):
        raise _failed(result if isinstance(result, str) else f"exit status {code}")
    return result


def _forked(
    store: Store, units: list[Unit], children: int, meanwhile: Callable[[], T]
) -> tuple[dict[int, dict], T]:
    """Units shared by forked children and this process: it runs `meanwhile` first, then
    takes tasks from the same queue, so whoever is free takes the next one. A fork starts
    with every module this process imported (a fresh interpreter imports them again)."""
    tasks = _tasks(len(units))
    queue, feed = os.pipe()
    os.write(feed, b"".join(TASK_ID.pack(t) for t in range(len(tasks))))
    os.close(feed)  # emptied queue: EOF for all
    running: dict[int, int] = {}
    gc.freeze()  # a child's collections then never walk (and so copy) the pages it shares
    try:
        for _ in range(children):
            out_r, out_w = os.pipe()
            try:
                pid = os.fork()
            except OSError:  # no more processes (EAGAIN, ENOMEM): the others take its share
                os.close(out_r)
                os.close(out_w)
                break
            if pid == 0:  # the child
                os.close(out_r)
                _worker(store.path, units, tasks, queue, out_w)
            os.close(out_w)
            running[pid] = out_r
        gc.unfreeze()
        rows = meanwhile()
        results = dict(_take(store, units, tasks, queue))
        while running:
            pid, out = running.popitem()
            results.update(_collect(pid, out))
    finally:
        gc.unfreeze()
        os.close(queue)
        for pid, out in running.items():
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(out)
    return results, rows


def _content(
    store: Store, units: list[Unit], workers: int, meanwhile: Callable[[], T]
) -> tuple[list[dict[str, list[Finding]]], T]:
    """Every unit's findings in unit order, and what `meanwhile` returns. Forked workers
    and this process (once `meanwhile` is done) share the units; without fork, fresh
    interpreters each take a run of units (neighbouring revisions share passage groups)
    while this process runs `meanwhile`. Work too small to pay for a worker runs here."""
    blobs = sum(len(u.blobs) for u in units)
    fork = _forkable()
    least = FORK_BLOBS if fork else WORKER_BLOBS
    count = min(workers, len(units), max(1, blobs // least)) if store.path else 1
    if count <= 1:
        return units_findings(store, units), meanwhile()
    if fork:
        results, rows = _forked(store, units, count - 1, meanwhile)
        return [results[i] for i in range(len(units))], rows
    share = math.ceil(len(units) / count)
    jobs = list(enumerate(units))
    procs = [_start(store.path, jobs[w * share : (w + 1) * share]) for w in range(count)]
    try:
        rows = meanwhile()
        results: dict[int, dict] = {}
        for proc in procs:
            results.update(_finish(proc))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return [results[i] for i in range(len(units))], rows


_DERIVED_ORDER = {"blobs": 0, "blob_metadata": 1, "blob_items": 1, "blob_passages": 2}


def merge(results: list[dict[str, list[Finding]]]) -> dict[str, list[Finding]]:
    """Units' findings by part, each part sorted by key (stable: a key's findings keep their
    order), so the merge is the same whatever the units and their workers."""
    merged: dict[str, list[Finding]] = {}
    for part in ("blobs", "diffs", "passages", "snapshots", "derived"):
        found = [f for r in results for f in r[part]]
        if part == "passages":
            pass  # units hold passage ranges in id order
        elif part == "derived":
            found.sort(key=lambda f: (_DERIVED_ORDER.get(f.table, 3), f.key))
        else:
            found.sort(key=lambda f: f.key)
        merged[part] = found
    return merged


def run(
    store: Store,
    anchors: Anchors | None = None,
    *,
    quick: bool = False,
    workers: int | None = None,
    rederive: bool = False,
) -> Outcome:
    """Every check of `archive verify` (or, quick, those of what is new since the last clean
    run); findings in the order of CHECKS. A clean run is recorded for the next --quick.
    The facts a content leaf states are checked against it, unless rederive: then they are
    derived again from the content (the extractors run), as for contents without one."""
    workers = workers_wanted() if workers is None else workers
    conn = store.conn
    size, passages_upto = ledger_rows.leaf_count(conn), ledger_rows.max_passage_id(conn)
    last = ledger_rows.last_verified(conn) if quick else None
    outcome = Outcome([], quick=last is not None)
    if quick and last is None:
        outcome.notes.append("no clean verify recorded yet: checking everything")
    since = last["tree_size"] if last else 0
    outcome.since = since
    if last:
        blobs = ledger_rows.blobs_since(conn, since)
        new = set(blobs)
        diffs = [k for k in ledger_rows.diff_keys(conn) if k[0] in new or k[1] in new]
        snapshots = [b for b in store.passages.snapshot_blobs() if b in new]
    else:
        blobs, diffs = ledger_rows.blob_keys(conn), ledger_rows.diff_keys(conn)
        snapshots = store.passages.snapshot_blobs()
    from archive.ledger.contents import covered

    skip = frozenset() if rederive else frozenset(covered(store))
    units = plan(
        blobs,
        diffs,
        snapshots,
        store.text_links(),
        _extraction_rows(store) if any(b not in skip for b in blobs) else [],
        workers * UNITS_PER_WORKER if workers > 1 else 1,
        (last["passages_upto"] if last else 0, passages_upto),
        skip,
    )
    outcome.blobs, outcome.diffs = len(blobs), len(diffs)
    results, (rows, root) = _content(
        store, units, workers, lambda: _row_checks(store, anchors or Anchors(), last, size)
    )
    parts = merge(results)
    outcome.findings = [
        *rows["quick"],
        *parts["blobs"],
        *rows["chunks"],
        *rows["leaves"],
        *rows["unledgered"],
        *rows["checkpoints"],
        *rows["documents"],
        *parts["diffs"],
        *parts["passages"],
        *parts["snapshots"],
        *parts["derived"],
        *rows["copies"],
        *rows["evidence"],
    ]
    if not outcome.findings:
        _record(store, "quick" if outcome.quick else "full", size, root, passages_upto)
    return outcome


def _extraction_rows(store: Store) -> list[dict]:
    """The contents whose metadata would be extracted again (asked only when some content
    is not covered by a content leaf: the extractors are slow to import)."""
    from archive.record import rederive

    return rederive.extraction_rows(store)


def _row_checks(
    store: Store, anchors: Anchors, last: dict | None, size: int
) -> tuple[dict[str, list[Finding]], str]:
    """The checks over rows, run in the main process while the workers read content, and
    the root of the ledger's first `size` leaves (what a clean run records): the leaf
    hashes are read once for all of them."""
    since = last["tree_size"] if last else 0
    leaves = leaf_hashes(store)
    found = {
        "quick": [] if last is None else consistency(store, last, leaves),
        "chunks": unused_chunk_findings(store),
        "leaves": check_leaves(store, since),
        "unledgered": check_unledgered(store),
        "checkpoints": check_checkpoints(store, leaves),
        "documents": check_documents(store),
        "copies": copy_findings(store),
        "evidence": check_evidence(store, anchors, leaves),
    }
    return found, merkle.root(leaves[:size]).hex()


def consistency(store: Store, last: dict, leaves: list[bytes] | None = None) -> list[Finding]:
    """The ledger still holds the tree the last clean run covered (same size, same root);
    leaves: its leaf hashes, when read already."""
    leaves = leaf_hashes(store) if leaves is None else leaves
    key = f"size {last['tree_size']}"
    if len(leaves) < last["tree_size"]:
        problem = f"the ledger has only {len(leaves)} leaves: truncated since the last verify"
        return [Finding("quick", "ledger", key, problem)]
    if merkle.root(leaves[: last["tree_size"]]).hex() != last["tree_root"]:
        return [Finding("quick", "ledger", key, "root differs from the last verify: rewritten")]
    return []


def _record(store: Store, mode: str, size: int, root: str, passages_upto: int) -> None:
    """Keep a clean run (skipped, with no error, when the archive file is read-only)."""
    row = {
        "verified_at": now_iso(),
        "mode": mode,
        "tree_size": size,
        "tree_root": root,
        "passages_upto": passages_upto,
    }
    try:
        with store.write():
            ledger_rows.record_verified(store.conn, row)
    except (ArchiveError, OSError, sqlite3.Error) as e:
        if "readonly" not in str(e) and "read-only" not in str(e):
            raise


if __name__ == "__main__":
    worker_main()
