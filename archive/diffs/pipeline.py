"""The one worker pool and diff pipeline: per-content work and diffs on all cores, for every source.

Why one: folder runs and git imports record versions the same way, so their diffs go the same
way too. Each (from, to) pair is queued as soon as its version is recorded; once the batch has
enough work a process pool diffs the queue on other cores while the main process goes on
recording (packs passages, writes rows), so both run at once. Each worker proves its delta
rebuilds the new content (by hash) and packs the row; at the end of the batch the rows are
inserted in order of first appearance, inside the batch's transaction, whatever order the
workers finished in.

The same pool (`WorkerPool`, one per import) also runs each new content's own work
(`map`: decoding, media type, metadata extraction, passage split and keys, span-index
terms), in messages of about CHUNK_BYTES, results taken in submission order so
the rows written are the same whatever the number of workers. ARCHIVE_WORKERS=N sets its
processes (1: all in the main process). The pool starts only once there is enough work to
pay for it (the thresholds of POOL_MIN_*, PARALLEL_BYTES) and then serves the rest of the
import. A worker that dies (killed
for lack of memory, a crash) breaks the pool: `worker_deaths` turns that into a one-line error
once the open batch has rolled back.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
from collections import OrderedDict
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Generic, TypeVar

from archive import diffs
from archive.diffs.core import DiffResult
from archive.diffs.stored import DiffIntegrityError, Pair, diff_row, rebuild_problem
from archive.diffs.workers import (
    WORKER_TEXT_BYTES,
    Pending,
    TextKey,
    Worker,
    keep_text,
    kept_text,
    start,
    stop_all,
)
from archive.errors import ArchiveError
from archive.store.passage_format import compress_checked

if TYPE_CHECKING:
    from archive.store import Store

# Below these, a process pool costs more than it saves (start-up ~50 ms, texts pickled).
POOL_MIN_PAIRS = 8


POOL_MIN_CHARS = 256 * 1024


# On 2 cores, measured on a shared, busy machine (load ~2), the sample bundle's 1,339 pairs
# in batches of 160 took 13-16 s with 2 workers against 21 s serial: 2 cores are enough.
POOL_MIN_CPUS = 2
# Below this many bytes of contents, mapping per-content work onto workers costs more than it
# saves (pickling both ways); the main process does it.
PARALLEL_BYTES = 256 * 1024

# Work goes to a worker in messages of about this many bytes, not one per item: each message
# costs the main process a wake-up of the pool's threads (measured on a 5,000-commit synthetic
# history: 9,900 messages, 3.8 s of the main process's time in their pipe writes).
CHUNK_BYTES = 256 * 1024

T = TypeVar("T")
R = TypeVar("R")


def worker_count() -> int:
    """Worker processes of an import's pool: ARCHIVE_WORKERS (1: none, all in the main
    process), else one per core."""
    if workers := os.environ.get("ARCHIVE_WORKERS"):
        return max(1, int(workers))
    return os.cpu_count() or 1


def _diff_pair(texts: tuple[str, str]) -> DiffResult:
    """Top-level so a process pool can pickle it; looks the engine up at call time."""
    return diffs.diff_texts(*texts)


DiffJob = tuple[Pair, str, str, tuple[str, str] | None, str]  # pair, old, new, target, algorithm


def diff_job(job: DiffJob) -> dict:
    """The `diffs` row of one pair, computed, proved and packed wherever it runs (a worker:
    the main process only inserts it): the diff, then its delta rebuilt and hashed against
    target (the new content's text key and encoding, `Store.text_target`), then the delta
    compressed. DiffIntegrityError when it does not rebuild (the batch then rolls back)."""
    pair, old, new, target, algorithm = job
    result = diffs.diff_texts(old, new)
    problem = rebuild_problem(old, result.delta, target, pair[1])
    if problem:
        raise DiffIntegrityError(f"diff {pair[0][:12]}..{pair[1][:12]}: {problem}")
    return diff_row(pair, result, algorithm, old)


def pool_cpus() -> int:
    """Whether diffs go to the pool (more than 1) and how many processes they want at least.
    ARCHIVE_DIFF_WORKERS sets it (1: serial in the main process), e.g. to benchmark;
    otherwise the import's workers (`worker_count`), for either engine: a worker does the
    whole row (diff, rebuild check, delta compression), which costs the main process, the
    import's critical path, more than sending the texts (the compiled core alone diffs a pair
    faster than its texts cross, but not the check and the packing as well)."""
    if workers := os.environ.get("ARCHIVE_DIFF_WORKERS"):
        return int(workers)
    return worker_count()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
WORKER_DIED = (
    "a worker process died (killed, perhaps for lack of memory): nothing unfinished was"
    " written; run the same command again to resume"
)


@contextmanager
def worker_deaths() -> Iterator[None]:
    """A dead diff worker as a one-line ArchiveError, not a traceback. Put it outside the
    write transactions: the open batch rolls back on the way out, finished ones stay, and
    a re-run resumes (a git import after its last finished batch, a folder run afresh)."""
    try:
        yield
    except BrokenProcessPool:
        raise ArchiveError(WORKER_DIED) from None


def _run_chunk(work: tuple[Callable[[T], R], list[T]]) -> list[R]:
    """job(item) for each item of one message, in order (top-level: the pool pickles it)."""
    job, items = work
    return [job(item) for item in items]


def _kill_in(kind: str, numbers: Container[int]) -> bool:
    """Whether ARCHIVE_KILL_AT=<kind>:<n> names one of these item numbers (the test hook of
    `_worker_dies`: the message holding the n-th item kills its worker)."""
    name, _, n = os.environ.get("ARCHIVE_KILL_AT", "").partition(":")
    return name == kind and n.isdigit() and int(n) in numbers


def _worker_dies(item: object) -> DiffResult:
    """The job ARCHIVE_KILL_AT=diff_worker:<n> gives the n-th diff (content_worker:<n>, the
    n-th content): its worker exits at once, like a process killed for lack of memory (a test
    hook, as record._failpoint)."""
    os._exit(1)


def _worker_init(parent: int) -> None:
    """Workers leave Ctrl-C to the parent (which stops the pool) and die with it: a killed
    import must not leave diff processes behind (Linux; elsewhere they end with the pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError, TypeError):
        pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


class Mapped(Generic[R]):
    """The results of a `WorkerPool.start_map`, in the items' order, once asked for; workers:
    the worker each item went to (None: this process)."""

    def __init__(self, collect: Callable[[], list[R]], workers: list[int | None]) -> None:
        self.collect = collect
        self.workers = workers

    def results(self) -> list[R]:
        return self.collect()


class WorkerPool:
    """The import's worker processes, started on first need; a context manager.

    cpus: the diffs' share (see `pool_cpus`); workers: its processes for per-content work
    (see `worker_count`). One pool serves both, with as many processes as the larger asks.

    Each worker has a queue of its own (`archive/diffs/workers.py`), so work goes to the
    worker chosen for it (a document's contents and diffs to the same one: its texts are at
    hand there, and its caches warm) and a killed worker breaks the pool (`worker_deaths`).
    warm: run once in this process before the workers fork (the language model, mapped once
    and shared), so no worker pays for it.
    """

    def __init__(
        self,
        cpus: int | None = None,
        workers: int | None = None,
        warm: Callable[[], None] | None = None,
    ) -> None:
        self.cpus = pool_cpus() if cpus is None else cpus
        self.workers = worker_count() if workers is None else workers
        self.size = max(self.cpus, self.workers)
        self.warm = warm
        self.processes: list[Worker] = []
        self.submitted = 0
        self.mapped = 0
        self.deflated = 0
        self.home: dict[str, int] = {}  # a routing key (a document's path) -> its worker
        self.load = [0] * self.size  # bytes sent to each worker: new keys go to the least
        # the texts each worker keeps, as this process counts them: key -> bytes, LRU
        self.held: list[OrderedDict[TextKey, int]] = [OrderedDict() for _ in range(self.size)]
        self.held_bytes = [0] * self.size

    @property
    def executor(self) -> Worker | None:
        """The first worker once the pool runs (None: not started)."""
        return self.processes[0] if self.processes else None

    def worth_it(self, pairs: int, chars: int) -> bool:
        """Whether pending diffs of this size pay for a pool (or one runs already)."""
        if self.cpus < POOL_MIN_CPUS:
            return False
        if self.processes:
            return True
        return pairs >= POOL_MIN_PAIRS and chars >= POOL_MIN_CHARS

    def _executor(self, worker: int) -> Worker:
        if not self.processes:
            if self.warm is not None:
                self.warm()
            # this process's objects out of the collector's reach while the workers fork:
            # a worker's collections then never walk (and copy, page by page) what it
            # inherited (the gc module's advice for forked workers)
            gc.freeze()
            try:
                self.processes = start(self.size, _worker_init, (os.getpid(),))
            finally:
                gc.unfreeze()
        return self.processes[worker]

    def route(self, key: str | None, size: int) -> int:
        """The worker for work of this size under a routing key (always the same one for a
        key; a new key, or none, goes to the worker sent the fewest bytes so far)."""
        worker = self.home.get(key) if key is not None else None
        if worker is None:
            worker = min(range(self.size), key=self.load.__getitem__)
            if key is not None:
                self.home[key] = worker
        self.load[worker] += size
        return worker

    def holds(self, worker: int, key: TextKey | None) -> bool:
        """Whether this worker keeps the text (as far as this process counts)."""
        if key is None or key not in self.held[worker]:
            return False
        self.held[worker].move_to_end(key)
        return True

    def note_held(self, worker: int, key: TextKey, size: int) -> None:
        """Count a text as kept by this worker (it keeps what it prepared or was sent)."""
        held = self.held[worker]
        self.held_bytes[worker] -= held.pop(key, 0)
        held[key] = size
        self.held_bytes[worker] += size
        while self.held_bytes[worker] > WORKER_TEXT_BYTES // 2 and held:
            self.held_bytes[worker] -= held.popitem(last=False)[1]

    def holder(self, keys: Sequence[TextKey | None]) -> int | None:
        """The first worker found to keep the first of these texts it can (None: none)."""
        for key in keys:
            for worker in range(self.size):
                if key is not None and key in self.held[worker]:
                    return worker
        return None

    def submit(self, texts: tuple[str, str]) -> Pending[DiffResult]:
        """A diff of (old, new) on a worker."""
        return self.submit_job(_diff_pair, texts)

    def submit_job(self, job: Callable[[T], R], item: T, worker: int | None = None) -> Pending[R]:
        """job(item) on a worker (a diff's: ARCHIVE_KILL_AT=diff_worker:<n> kills the n-th)."""
        self.submitted += 1
        dies = _kill_in("diff_worker", (self.submitted,))
        worker = self.route(None, 0) if worker is None else worker
        return self._executor(worker).submit(_worker_dies if dies else job, item)

    def submit_jobs(
        self, job: Callable[[T], R], items: Sequence[T], worker: int | None = None
    ) -> Pending[list[R]]:
        """job(item) for each item, in one message to a worker (diffs: see `submit_job`)."""
        first = self.submitted + 1
        self.submitted += len(items)
        dies = _kill_in("diff_worker", range(first, self.submitted + 1))
        worker = self.route(None, 0) if worker is None else worker
        return self._executor(worker).submit(
            _run_chunk, (_worker_dies if dies else job, list(items))
        )

    def deflater(self) -> GroupDeflater:
        """Passage group deflates on the workers (a `groups.Deflate`)."""
        return GroupDeflater(self)

    @property
    def parallel(self) -> bool:
        """Whether per-content work may leave this process at all."""
        return self.workers >= POOL_MIN_CPUS

    def start_map(
        self,
        job: Callable[[T], R],
        items: Sequence[T],
        size: int,
        keys: Sequence[tuple[str | None, int]] | None = None,
    ) -> Mapped[R]:
        """Start job(item) for each item on the workers when there are some and the items
        (size: their bytes) pay for the trip, else leave it to this process; the results
        come, in the items' order, from `Mapped.results`. job must be a pure, top-level
        function: the results are the same wherever it runs. A single item goes too: the
        main process is the import's critical path (and a git import prepares ahead).
        keys: each item's routing key and bytes (`route`; default: none, the item's share)."""
        if not self.parallel or size < PARALLEL_BYTES or not items:
            return Mapped(lambda: [job(item) for item in items], [None] * len(items))
        n = len(items)
        share = -(-size // n)
        if keys:
            routed = [self.route(*k) for k in keys]
            weights = [k[1] for k in keys]
        else:  # no affinity: runs of about a message's worth, each to the least loaded
            per = max(1, min(-(-n * CHUNK_BYTES // max(size, 1)), -(-n // (2 * self.size))))
            routed = []
            for start in range(0, n, per):
                run = min(per, n - start)
                routed += [self.route(None, share * run)] * run
            weights = [share] * n
        # per worker, messages of about CHUNK_BYTES (bytes: keys' or each item's share)
        chunks: list[tuple[int, list[int]]] = []  # (worker, item indexes)
        open_: dict[int, tuple[list[int], list[int]]] = {}  # worker -> (indexes, [bytes])
        for i, worker in enumerate(routed):
            indexes, weight = open_.setdefault(worker, ([], [0]))
            indexes.append(i)
            weight[0] += weights[i]
            if weight[0] >= CHUNK_BYTES:
                chunks.append((worker, indexes))
                del open_[worker]
        chunks += [(worker, indexes) for worker, (indexes, _) in open_.items()]
        chunks.sort(key=lambda c: c[1][0])  # in the items' order: the first needed go first
        futures = []
        for worker, indexes in chunks:
            dies = _kill_in("content_worker", {self.mapped + i + 1 for i in indexes})
            chunk = [items[i] for i in indexes]
            future = self._executor(worker).submit(
                _run_chunk, (_worker_dies if dies else job, chunk)
            )
            futures.append((indexes, future))
        self.mapped += n

        def collect() -> list[R]:
            out: list = [None] * n
            for indexes, future in futures:
                for i, result in zip(indexes, future.result(), strict=True):
                    out[i] = result
            return out

        return Mapped(collect, list(routed))

    def map(self, job: Callable[[T], R], items: Sequence[T], size: int) -> list[R]:
        """`start_map`, then wait for its results."""
        return self.start_map(job, items, size).results()

    def close(self) -> None:
        stop_all(self.processes)
        self.processes = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def deflate_job(item: tuple[list[bytes], bytes]) -> bytes:
    """A passage group's stored bytes, proved (top-level: the pool pickles it)."""
    return compress_checked(*item)


class _Message:
    """Group deflates for one worker, sent once about CHUNK_BYTES or once one is needed."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.items: list[tuple[list[bytes], bytes]] = []
        self.size = 0
        self.future: Pending[list[bytes]] | None = None

    def send(self) -> None:
        if self.future is None:
            pool = self.pool
            pool.deflated += len(self.items)
            dies = _kill_in(
                "deflate_worker", range(pool.deflated - len(self.items) + 1, pool.deflated + 1)
            )
            worker = pool.route(None, self.size)
            job = _worker_dies if dies else deflate_job
            self.future = pool._executor(worker).submit(_run_chunk, (job, self.items))

    def result(self, index: int) -> bytes:
        self.send()
        assert self.future is not None
        return self.future.result()[index]


class GroupDeflater:
    """`groups.Deflate` on a pool's workers once they run (before: here, at once): each
    group's texts and dictionary go out in messages of about CHUNK_BYTES
    (ARCHIVE_KILL_AT=deflate_worker:<n>: the n-th group sent's worker dies, a test hook);
    its bytes come back when asked for."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.message = _Message(pool)

    def __call__(self, texts: Sequence[bytes], zdict: bytes) -> Callable[[], bytes]:
        if not self.pool.processes:  # no workers (yet): a few groups do not start them
            data = compress_checked(texts, zdict)
            return lambda: data
        if self.message.future is not None:  # sent already: its bytes were needed
            self.message = _Message(self.pool)
        message = self.message
        message.items.append((list(texts), zdict))
        message.size += sum(map(len, texts))
        index = len(message.items) - 1
        if message.size >= CHUNK_BYTES:
            message.send()
            self.message = _Message(self.pool)
        return partial(message.result, index)


DiffPool = WorkerPool  # its first name, when it served diffs only


RefJob = tuple[Pair, TextKey, str | None, TextKey, str | None, str]


def diff_ref_job(job: RefJob) -> dict | None:
    """`diff_job` on a worker, each text sent or, when it keeps it, named by its key (pair,
    old key, old text or None, new key (the target), new text or None, algorithm); the texts
    sent are kept for the document's next diff. None when a named text is not kept after all
    (the main process then does the pair: same row)."""
    pair, old_key, old, new_key, new, algorithm = job
    if old is None:
        old = kept_text(old_key)
    else:
        keep_text(old_key, old, len(old))
    if new is None:
        new = kept_text(new_key)
    else:
        keep_text(new_key, new, len(new))
    if old is None or new is None:
        return None
    return diff_job((pair, old, new, new_key, algorithm))


class DiffQueue:
    """The diffs of one batch: `extend` with pairs as versions are recorded, then `store`.

    Gives the rows `store_diffs` would give for the same pairs: one per new (from, to) pair
    not stored yet whose two sides have text, in order of first appearance. Each row is
    made whole by `diff_job` (on a worker once the pool pays): the main process only inserts
    the rows. On a worker, the pair goes where its new text is kept (prepared there: a
    document's contents go to one worker), and a text the worker keeps is named, not sent.
    """

    def __init__(self, store: Store, pool: WorkerPool) -> None:
        self.store = store
        self.pool = pool
        self.seen: set[Pair] = set()
        self.jobs: list[tuple[Pair, TextKey, TextKey]] = []  # in order of first appearance
        self.waiting: list[tuple[int, str, str]] = []  # (job, old, new) not on a worker (yet)
        self.chars = 0  # of the waiting texts
        self.pending: dict[int, tuple[list[int], list[RefJob], int]] = {}  # worker -> message
        self.futures: list[tuple[list[int], Pending[list[dict | None]]]] = []

    def extend(self, pairs: Iterable[Pair]) -> None:
        for pair in pairs:
            if pair in self.seen:
                continue
            self.seen.add(pair)
            if self.store.diff_exists(*pair, diffs.ALGORITHM):
                continue
            old_key, new_key = self.store.text_target(pair[0]), self.store.text_target(pair[1])
            if old_key is None or new_key is None:
                continue  # binary content: no diff
            self.jobs.append((pair, old_key, new_key))
            if self.pool.worth_it(0, 0):  # the pool runs: straight to a worker
                self._dispatch(len(self.jobs) - 1)
                continue
            old, new = self.store.read_text(pair[0]), self.store.read_text(pair[1])
            if old is None or new is None:  # as text_target said: not reached
                raise ArchiveError(f"diff {pair[0][:12]}..{pair[1][:12]}: a text is missing")
            self.waiting.append((len(self.jobs) - 1, old, new))
            self.chars += len(old) + len(new)
        if self.waiting and self.chars >= CHUNK_BYTES:
            self._start()

    def _start(self) -> None:
        """The waiting pairs to the workers, when they pay for the pool."""
        if self.pool.worth_it(len(self.waiting), self.chars):
            for job, old, new in self.waiting:
                self._dispatch(job, old, new)
            self.waiting, self.chars = [], 0

    def _dispatch(self, job: int, old: str | None = None, new: str | None = None) -> None:
        """A pair into its worker's next message: the worker keeping its new text (else its
        old one, else the least loaded); the texts it keeps named, the others read and sent."""
        pair, old_key, new_key = self.jobs[job]
        pool = self.pool
        worker = pool.holder([new_key, old_key])
        if worker is None:
            worker = pool.route(None, 0)
        texts: list[str | None] = []
        work = 0
        for blob, key, text in ((pair[0], old_key, old), (pair[1], new_key, new)):
            if pool.holds(worker, key):
                texts.append(None)
                work += pool.held[worker][key]
                continue
            text = self.store.read_text(blob) if text is None else text
            if text is None:
                raise ArchiveError(f"blob {blob} has no text to diff")
            pool.note_held(worker, key, len(text))
            texts.append(text)
            work += len(text)
        pool.load[worker] += work
        indexes, message, size = self.pending.get(worker, ([], [], 0))
        indexes.append(job)
        message.append((pair, old_key, texts[0], new_key, texts[1], diffs.ALGORITHM))
        self.pending[worker] = (indexes, message, size + work)
        if size + work >= CHUNK_BYTES:
            self._send(worker)

    def _send(self, worker: int) -> None:
        indexes, message, _ = self.pending.pop(worker)
        self.futures.append((indexes, self.pool.submit_jobs(diff_ref_job, message, worker)))

    def _local(self, job: int, old: str | None = None, new: str | None = None) -> dict:
        """A pair's row made here (serial, or a worker's miss)."""
        pair, _, new_key = self.jobs[job]
        old = self.store.read_text(pair[0]) if old is None else old
        new = self.store.read_text(pair[1]) if new is None else new
        if old is None or new is None:
            raise ArchiveError(f"diff {pair[0][:12]}..{pair[1][:12]}: a text is missing")
        return diff_job((pair, old, new, new_key, diffs.ALGORITHM))

    def store_all(self) -> int:
        """Insert the batch's checked diffs (inside its transaction); returns the count.

        A delta that does not rebuild its new text raises DiffIntegrityError."""
        if self.waiting:
            self._start()
        for worker in list(self.pending):
            self._send(worker)
        rows: list[dict | None] = [None] * len(self.jobs)
        for indexes, future in self.futures:
            for job, row in zip(indexes, future.result(), strict=True):
                rows[job] = row
        for job, old, new in self.waiting:
            rows[job] = self._local(job, old, new)
        done = [self._local(job) if row is None else row for job, row in enumerate(rows)]
        self.store.insert_diffs(done)
        self.jobs, self.waiting, self.futures, self.seen = [], [], [], set()
        self.chars = 0
        return len(done)
