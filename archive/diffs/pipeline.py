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
import os
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import TYPE_CHECKING, Generic, TypeVar

from archive import diffs
from archive.diffs.core import DiffResult
from archive.diffs.stored import DiffIntegrityError, Pair, diff_row, rebuild_problem
from archive.errors import ArchiveError

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


def _kill_in(kind: str, first: int, last: int) -> bool:
    """Whether ARCHIVE_KILL_AT=<kind>:<n> names one of the items first..last (the test hook
    of `_worker_dies`: the message holding the n-th item kills its worker)."""
    name, _, n = os.environ.get("ARCHIVE_KILL_AT", "").partition(":")
    return name == kind and n.isdigit() and first <= int(n) <= last


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
    """The results of a `WorkerPool.start_map`, in the items' order, once asked for."""

    def __init__(self, collect: Callable[[], list[R]]) -> None:
        self.collect = collect

    def results(self) -> list[R]:
        return self.collect()


class WorkerPool:
    """The import's process pool, started on first need; a context manager.

    cpus: the diffs' share (see `pool_cpus`); workers: its processes for per-content work
    (see `worker_count`). One pool serves both, with as many processes as the larger asks.
    """

    def __init__(self, cpus: int | None = None, workers: int | None = None) -> None:
        self.cpus = pool_cpus() if cpus is None else cpus
        self.workers = worker_count() if workers is None else workers
        self.executor: ProcessPoolExecutor | None = None
        self.submitted = 0
        self.mapped = 0

    def worth_it(self, pairs: int, chars: int) -> bool:
        """Whether pending diffs of this size pay for a pool (or one runs already)."""
        if self.cpus < POOL_MIN_CPUS:
            return False
        if self.executor is not None:
            return True
        return pairs >= POOL_MIN_PAIRS and chars >= POOL_MIN_CHARS

    def _executor(self) -> ProcessPoolExecutor:
        if self.executor is None:
            # no language model loaded here for the workers: each maps the cached one
            # (ingest.extract.language) when a text first needs it, a few ms
            self.executor = ProcessPoolExecutor(
                max(self.cpus, self.workers), initializer=_worker_init, initargs=(os.getpid(),)
            )
        return self.executor

    def submit(self, texts: tuple[str, str]) -> Future[DiffResult]:
        """A diff of (old, new) on a worker."""
        return self.submit_job(_diff_pair, texts)

    def submit_job(self, job: Callable[[T], R], item: T) -> Future[R]:
        """job(item) on a worker (a diff's: ARCHIVE_KILL_AT=diff_worker:<n> kills the n-th)."""
        self.submitted += 1
        dies = _kill_in("diff_worker", self.submitted, self.submitted)
        return self._executor().submit(_worker_dies if dies else job, item)

    def submit_jobs(self, job: Callable[[T], R], items: Sequence[T]) -> Future[list[R]]:
        """job(item) for each item, in one message to a worker (diffs: see `submit_job`)."""
        first = self.submitted + 1
        self.submitted += len(items)
        dies = _kill_in("diff_worker", first, self.submitted)
        return self._executor().submit(_run_chunk, (_worker_dies if dies else job, list(items)))

    @property
    def parallel(self) -> bool:
        """Whether per-content work may leave this process at all."""
        return self.workers >= POOL_MIN_CPUS

    def start_map(self, job: Callable[[T], R], items: Sequence[T], size: int) -> Mapped[R]:
        """Start job(item) for each item on the workers when there are some and the items
        (size: their bytes) pay for the trip, else leave it to this process; the results
        come, in the items' order, from `Mapped.results`. job must be a pure, top-level
        function: the results are the same wherever it runs. A single item goes too: the
        main process is the import's critical path (and a git import prepares ahead)."""
        if not self.parallel or size < PARALLEL_BYTES or not items:
            return Mapped(lambda: [job(item) for item in items])
        executor = self._executor()
        # messages of about CHUNK_BYTES, at least two per worker (so they share the work)
        n = len(items)
        per = max(1, min(-(-n * CHUNK_BYTES // max(size, 1)), -(-n // (2 * self.workers))))
        futures = []
        for start in range(0, n, per):
            chunk = list(items[start : start + per])
            dies = _kill_in("content_worker", self.mapped + 1, self.mapped + len(chunk))
            self.mapped += len(chunk)
            futures.append(executor.submit(_run_chunk, (_worker_dies if dies else job, chunk)))
        return Mapped(lambda: [r for f in futures for r in f.result()])

    def map(self, job: Callable[[T], R], items: Sequence[T], size: int) -> list[R]:
        """`start_map`, then wait for its results."""
        return self.start_map(job, items, size).results()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


DiffPool = WorkerPool  # its first name, when it served diffs only


class DiffQueue:
    """The diffs of one batch: `extend` with pairs as versions are recorded, then `store`.

    Gives the rows `store_diffs` would give for the same pairs: one per new (from, to) pair
    not stored yet whose two sides have text, in order of first appearance. Each row is
    made whole by `diff_job` (on a worker once the pool pays): the main process only reads
    the texts it holds and inserts the rows.
    """

    def __init__(self, store: Store, pool: WorkerPool) -> None:
        self.store = store
        self.pool = pool
        self.seen: set[Pair] = set()
        self.jobs: list[DiffJob] = []
        self.futures: list[Future[list[dict]]] = []  # each of a message of jobs, in order
        self.sent = 0  # jobs in those messages: the first ones
        self.chars = 0
        self.unsent = 0  # chars of the jobs not sent yet

    def extend(self, pairs: Iterable[Pair]) -> None:
        for pair in pairs:
            if pair in self.seen:
                continue
            self.seen.add(pair)
            if self.store.diff_exists(*pair, diffs.ALGORITHM):
                continue
            old, new = self.store.read_text(pair[0]), self.store.read_text(pair[1])
            if old is None or new is None:
                continue  # binary content: no diff
            target = self.store.text_target(pair[1])
            self.jobs.append((pair, old, new, target, diffs.ALGORITHM))
            self.chars += len(old) + len(new)
            self.unsent += len(old) + len(new)
        if self.unsent >= CHUNK_BYTES and self.pool.worth_it(len(self.jobs), self.chars):
            self._send()

    def _send(self) -> None:
        if self.sent < len(self.jobs):
            self.futures.append(self.pool.submit_jobs(diff_job, self.jobs[self.sent :]))
            self.sent, self.unsent = len(self.jobs), 0

    def store_all(self) -> int:
        """Insert the batch's checked diffs (inside its transaction); returns the count.

        A delta that does not rebuild its new text raises DiffIntegrityError."""
        if self.futures or self.pool.worth_it(len(self.jobs), self.chars):
            self._send()
        rows = [row for f in self.futures for row in f.result()]
        rows += [diff_job(job) for job in self.jobs[self.sent :]]
        self.store.insert_diffs(rows)
        self.jobs, self.futures, self.seen = [], [], set()
        self.sent = self.chars = self.unsent = 0
        return len(rows)
