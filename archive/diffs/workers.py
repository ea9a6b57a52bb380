"""One worker process with a queue of its own: messages and results in order, little locking.

Why not concurrent.futures: its pool has no affinity (work cannot go to the worker that keeps
a document's texts), and its threads (a manager and a feeder per executor) pickle, unpickle
and wake each other for every message while holding the interpreter's lock, which the main
process, the import's critical path, then waits for. Here the main process pickles a message
itself and hands the bytes to a thread that only writes them (the lock released while it
writes: a busy worker never blocks the main process), and a thread that only reads keeps the
results as bytes (a worker never blocks on a full pipe), unpickled where they are asked for.

A worker that dies (killed for lack of memory, a crash) is seen as its pipe's end: the
results asked for then raise BrokenProcessPool, as concurrent.futures does, and
`pipeline.worker_deaths` makes that one line. An exception raised by a job comes back and
is raised where its result is asked for. Workers ignore Ctrl-C (the main process stops them)
and die with the main process (PDEATHSIG, set by the initializer).
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

R = TypeVar("R")

_STOP = b""  # written to a worker's pipe: no more messages


# Texts a worker keeps for its diffs, in bytes of the content they decode (the cost both sides
# count): the main process counts on half of them being there (`pipeline.WorkerPool.holds`), so a
# worker's own order of use never evicts one it is sent for; a miss is computed in the main
# process all the same (slower, same row).
WORKER_TEXT_BYTES = 1 << 24

TextKey = tuple[str, str]  # (blob whose bytes decode to the text, encoding): `Store.text_target`

_kept: OrderedDict[TextKey, tuple[str, int]] = OrderedDict()  # a worker's texts
_kept_bytes = 0
_in_worker = False


def in_worker() -> bool:
    """Whether this process is one of a pool's workers."""
    return _in_worker


def keep_text(key: TextKey, text: str, size: int) -> None:
    """Keep a text in this worker for its later diffs (in the main process: nothing, its
    store keeps texts itself). key must name the bytes text was decoded from."""
    global _kept_bytes
    if not _in_worker:
        return
    old = _kept.pop(key, None)
    _kept_bytes -= old[1] if old else 0
    _kept[key] = (text, size)
    _kept_bytes += size
    while _kept_bytes > WORKER_TEXT_BYTES and _kept:
        _kept_bytes -= _kept.popitem(last=False)[1][1]


def kept_text(key: TextKey) -> str | None:
    """A text this worker keeps, if it does."""
    item = _kept.get(key)
    if item is None:
        return None
    _kept.move_to_end(key)
    return item[0]


def _serve(
    tasks: Connection, results: Connection, others: list[Connection], init: Callable, args: tuple
) -> None:
    """A worker's loop: each message is (function, argument); its answer (ok, value) goes
    back in order. others: the pipe ends of the main process and of the other workers,
    closed here so a worker's death is its own pipe's end."""
    global _in_worker
    _in_worker = True
    for conn in others:
        conn.close()
    init(*args)
    while True:
        try:
            data = tasks.recv_bytes()
        except (EOFError, OSError):
            return
        if data == _STOP:
            return
        function, argument = pickle.loads(data)
        try:
            answer: tuple[bool, Any] = (True, function(argument))
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the caller
            answer = (False, e)
        try:
            out = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001 - an unpicklable answer, as a plain error
            out = pickle.dumps((False, RuntimeError(f"{type(e).__name__}: {e}")))
        results.send_bytes(out)


class Pending(Generic[R]):
    """The result of one message, once asked for (as a Future's `result`)."""

    def __init__(self, worker: Worker, seq: int) -> None:
        self.worker = worker
        self.seq = seq
        self.answer: tuple[bool, Any] | None = None

    def result(self) -> R:
        if self.answer is None:
            try:
                self.answer = (True, self.worker.result(self.seq))
            except Exception as e:  # kept: asked again, it raises again
                self.answer = (False, e)
        ok, value = self.answer
        if not ok:
            raise value
        return value


class Worker:
    """One worker process and its two pipes; see the module docstring. Made by `start`."""

    def __init__(
        self, process: multiprocessing.process.BaseProcess, tasks: Connection, results: Connection
    ) -> None:
        self.process = process
        self.tasks = tasks
        self.results = results
        self.outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.sent = 0  # messages submitted
        self.taken = 0  # results taken off `inbox` (the first ones)
        self.inbox: dict[int, bytes] = {}  # result bytes by message number, not asked for yet
        self.received = 0
        self.ended = False  # its results pipe ended: no more results will come
        self.ready = threading.Condition()
        self.threads = [
            threading.Thread(target=self._write, daemon=True, name="worker-writer"),
            threading.Thread(target=self._read, daemon=True, name="worker-reader"),
        ]

    def _write(self) -> None:
        while (data := self.outbox.get()) is not None:
            try:
                self.tasks.send_bytes(data)
            except OSError:  # the worker is gone: its reader says so
                return

    def _read(self) -> None:
        try:
            while True:
                try:
                    data = self.results.recv_bytes()
                except (EOFError, OSError):
                    return
                with self.ready:
                    self.inbox[self.received] = data
                    self.received += 1
                    self.ready.notify_all()
        finally:  # however it ends, no result is waited for in vain
            with self.ready:
                self.ended = True
                self.ready.notify_all()

    def submit(self, function: Callable[[Any], R], argument: Any) -> Pending[R]:
        """function(argument) on this worker, after the messages before it."""
        self.outbox.put(pickle.dumps((function, argument), pickle.HIGHEST_PROTOCOL))
        self.sent += 1
        return Pending(self, self.sent - 1)

    def result(self, seq: int) -> Any:
        """The answer to message seq: its value, or its exception raised here;
        BrokenProcessPool when the worker died before answering."""
        with self.ready:
            while seq not in self.inbox and not self.ended:
                self.ready.wait()
            data = self.inbox.pop(seq, None)
        if data is None:
            raise BrokenProcessPool("a worker process died")
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        """End the worker now (its unfinished work is not wanted) and its threads."""
        self.outbox.put(None)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        for thread in self.threads:  # its pipes' ends end them (EOF, EPIPE)
            thread.join(timeout=5)
        self.tasks.close()
        self.results.close()


def start(count: int, init: Callable, args: tuple) -> list[Worker]:
    """count workers forked from this process (all forked before any of their threads
    start: a fork copies only the thread that calls it)."""
    ctx = multiprocessing.get_context("fork")
    pipes = [(ctx.Pipe(duplex=False), ctx.Pipe(duplex=False)) for _ in range(count)]
    ends = [end for pair in pipes for pipe in pair for end in pipe]
    processes = []
    for (task_r, _), (_, res_w) in pipes:
        others = [end for end in ends if end is not task_r and end is not res_w]
        process = ctx.Process(
            target=_serve, args=(task_r, res_w, others, init, args), daemon=True, name="worker"
        )
        process.start()
        processes.append(process)
    workers = []
    for process, ((task_r, task_w), (res_r, res_w)) in zip(processes, pipes, strict=True):  # noqa: B007
        task_r.close()
        res_w.close()
        worker = Worker(process, task_w, res_r)
        for thread in worker.threads:
            thread.start()
        workers.append(worker)
    return workers


def stop_all(workers: Sequence[Worker]) -> None:
    for worker in workers:
        worker.stop()
