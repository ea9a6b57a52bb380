"""The import's workers: a document's work on one worker that keeps its texts, passage groups
deflated there, and every failure path (a killed or raising worker, Ctrl-C) as before."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.diffs import pipeline
from archive.diffs.pipeline import WORKER_DIED, WorkerPool, diff_job, diff_ref_job
from archive.record.git import import_git
from archive.store import Store, database
from archive.store.groups import GroupReader, deferring_groups, flush_groups
from archive.store.passage_format import PassageError, compress_checked
from tests.conftest import ROOT, TIMES, run_archive, table_rows
from tests.gitrepo import Repo
from tests.test_import_speed import build, every_table, tables_per_worker_count

# The launcher lowers the pool's thresholds so this small history uses it.
POOLED = (
    "from archive.diffs import pipeline\n"
    "pipeline.PARALLEL_BYTES = 0\npipeline.POOL_MIN_PAIRS = 1\npipeline.POOL_MIN_CHARS = 0\n"
)


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pool thresholds lowered (so this small history uses it) and the store's clock frozen
    (so runs and ledger leaves compare too)."""
    for name in ("PARALLEL_BYTES", "POOL_MIN_PAIRS", "POOL_MIN_CHARS"):
        monkeypatch.setattr(pipeline, name, 0)
    frozen = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206 - datetime's signature
            return frozen if tz is None else frozen.astimezone(tz)

    monkeypatch.setattr(database, "datetime", Frozen)


def _launch(setup: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    code = f"{POOLED}{setup}\nfrom archive.cli import cli\ncli(prog_name='archive')\n"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ARCHIVE_WORKERS": "2", **(env or {})},
    )


def _broken_deflate(texts: object, zdict: bytes = b"") -> bytes:
    """A worker's deflate that does not prove (top-level: the workers fork with it)."""
    raise PassageError("a passage group does not inflate to its passages")


def _never_kept(key: object) -> None:
    """A worker that has lost every text it was counted on to keep."""
    return None


def test_rows_are_the_same_for_1_2_and_3_workers_and_work_follows_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pooled: None
) -> None:
    """Every table identical whatever the number of workers, with groups deflated and diffs
    made on them; each document's contents and diffs went to one worker, so most texts a diff
    needs were kept there, not sent again."""
    repo = Repo(tmp_path / "repo")
    build(repo)
    sent: list[int] = []
    real = WorkerPool.submit_jobs

    def counting(self, job, items, worker=None):
        if job is diff_ref_job:
            sent.extend(sum(text is not None for text in (j[2], j[4])) for j in items)
        return real(self, job, items, worker)

    monkeypatch.setattr(WorkerPool, "submit_jobs", counting)
    tables = tables_per_worker_count(tmp_path, repo.root, 3, monkeypatch)
    assert tables[0]["passage_groups"] and tables[0]["diffs"] and tables[0]["ledger"]
    assert tables[1] == tables[0] and tables[2] == tables[0]
    assert len(sent) == 2 * len(tables[0]["diffs"])  # every diff went to a worker, each time
    assert sum(sent) < len(sent) / 2  # most texts were named, kept where they were prepared


def test_a_text_a_worker_no_longer_keeps_is_diffed_here_with_the_same_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pooled: None
) -> None:
    repo = Repo(tmp_path / "repo")
    build(repo)
    monkeypatch.setenv("ARCHIVE_WORKERS", "1")
    with Store(tmp_path / "serial.db") as store:
        import_git(store, str(repo.root), "t", batch_size=4)
    monkeypatch.setattr(pipeline, "kept_text", _never_kept)  # the workers fork with it
    monkeypatch.setenv("ARCHIVE_WORKERS", "2")
    with Store(tmp_path / "missed.db") as store:
        import_git(store, str(repo.root), "t", batch_size=4)
    assert every_table(tmp_path / "missed.db") == every_table(tmp_path / "serial.db")


def test_a_named_text_is_only_used_where_it_is_kept() -> None:
    old, new = "one two three\n\nfour\n", "one two 3\n\nfour five\n"
    keys = (("a" * 64, "utf-8"), ("b" * 64, "utf-8"))
    import blake3

    target = (blake3.blake3(new.encode()).hexdigest(), "utf-8")
    pair = ("a" * 64, target[0])
    row = diff_job((pair, old, new, target, "x"))
    assert diff_ref_job((pair, keys[0], None, target, new, "x")) is None  # not kept here
    assert diff_ref_job((pair, keys[0], old, target, new, "x")) == row


def test_group_rows_wait_for_their_deflate_and_a_read_writes_them_first(
    tmp_path: Path,
) -> None:
    """A deferred group's passages are readable before the batch ends: a reader that needs
    its row writes the waiting rows first, so no read misses one; the bytes are the same."""
    texts = [b"first passage\n\n", b"second one\n"]
    calls: list[int] = []

    def deflate(parts, zdict):
        calls.append(len(parts))
        return lambda: compress_checked(parts, zdict)

    with Store(tmp_path / "a.db") as store, store.write():
        conn = store.conn
        with deferring_groups(conn, deflate) as deferred:
            store.passages._add_group(
                {k: ("para", t.decode()) for k, t in enumerate(texts, 1)}, [1, 2], {}, None
            )
            assert calls == [2] and len(deferred.rows) == 1
            assert conn.execute("SELECT COUNT(*) FROM passage_groups").fetchone() == (0,)
            assert GroupReader(conn).read([1, 2]) == {1: texts[0], 2: texts[1]}
            assert deferred.rows == []  # the read wrote it
            assert flush_groups(conn) == 0
        data = conn.execute("SELECT data FROM passage_groups").fetchone()[0]
    assert data == compress_checked(texts)


def test_a_raising_deflate_worker_rolls_the_batch_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pooled: None
) -> None:
    repo = Repo(tmp_path / "repo")
    build(repo)
    monkeypatch.setattr(pipeline, "compress_checked", _broken_deflate)  # on the workers
    monkeypatch.setenv("ARCHIVE_WORKERS", "2")
    with Store(tmp_path / "a.db") as store, pytest.raises(PassageError):
        import_git(store, str(repo.root), "t", batch_size=50)
    tables = every_table(tmp_path / "a.db")
    assert tables["commits"] == [] and tables["passages"] == [] and tables["blobs"] == []


def test_a_dead_deflate_worker_is_one_line_and_a_rerun_completes(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    build(repo)
    whole, died = tmp_path / "whole.db", tmp_path / "died.db"
    args = ("ingest", "--git", str(repo.root), "--batch", "3")
    assert _launch("", *args, "--db", str(whole)).returncode == 0
    result = _launch("", *args, "--db", str(died), env={"ARCHIVE_KILL_AT": "deflate_worker:5"})
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [f"Error: {WORKER_DIED}"]
    conn = sqlite3.connect(died)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    kept = conn.execute("SELECT COUNT(*) FROM commits").fetchone()[0]
    assert kept in (3, 6, 9)  # finished batches stay, the open one rolled back
    # every passage written sits in a written group: nothing half-written
    groups = [r[0] for r in conn.execute("SELECT id FROM passage_groups ORDER BY id")]
    last = conn.execute("SELECT max(id) FROM passages").fetchone()[0]
    assert groups and groups[0] == 1 and last is not None
    conn.close()
    assert _launch("", *args, "--db", str(died)).returncode == 0
    for table in ("blobs", "versions", "passages", "passage_groups", "blob_passages", "diffs"):
        drop = (*TIMES, "run_id")  # the failed run and its resumption are two runs
        assert table_rows(died, table, drop) == table_rows(whole, table, drop), table
    verified = run_archive("verify", "--db", str(died))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:  # a zombie not reaped yet is gone too
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="looks workers up in /proc")
def test_ctrl_c_stops_the_workers_and_keeps_finished_batches(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    build(repo)
    db, pids = tmp_path / "a.db", tmp_path / "pids"
    # the workers note their pids; Ctrl-C while the third batch's groups are written
    setup = (
        "import os\n"
        "import archive.record.git as g\n"
        "real_init = pipeline._worker_init\n"
        "def init(parent):\n"
        f"    open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        "    real_init(parent)\n"
        "pipeline._worker_init = init\n"
        "real = g.flush_groups\n"
        "calls = []\n"
        "def flush(conn):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 3:\n"
        "        raise KeyboardInterrupt\n"
        "    return real(conn)\n"
        "g.flush_groups = flush\n"
    )
    args = ("ingest", "--git", str(repo.root), "--batch", "3", "--db", str(db))
    result = _launch(setup, *args)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    assert "the 6 commits of finished batches are kept" in result.stderr
    workers = [int(p) for p in pids.read_text().split()]
    assert len(workers) == 2
    deadline = time.monotonic() + 10  # they go with their parent (PDEATHSIG)
    while not all(map(_gone, workers)) and time.monotonic() < deadline:
        os.sched_yield()
    assert all(map(_gone, workers))
    assert _launch("", *args).returncode == 0
    assert run_archive("verify", "--db", str(db)).returncode == 0


def test_workers_fork_after_the_warm_up_and_leave_nothing_behind() -> None:
    warmed: list[int] = []
    with WorkerPool(cpus=2, workers=2, warm=lambda: warmed.append(os.getpid())) as pool:
        assert pool.map(len, [b"x" * 10] * 6, pipeline.PARALLEL_BYTES) == [10] * 6
        assert warmed == [os.getpid()] and len(pool.processes) == 2
        pids = [w.process.pid for w in pool.processes]
    assert pool.processes == [] and all(map(_gone, pids))


def test_mapped_results_come_in_the_items_order_whatever_the_routing() -> None:
    """Items routed by key (a document's to one worker) in messages per worker: the results
    are still in the items' order, for any keys and sizes (hypothesis, one pool)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    items_st = st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "d", None]), st.integers(0, 3 * 65536)),
        min_size=1,
        max_size=30,
    )
    with WorkerPool(cpus=3, workers=3) as pool:

        @settings(max_examples=25, deadline=None)
        @given(items_st)
        def check(spec: list[tuple[str | None, int]]) -> None:
            items = [bytes(n % 7 for n in range(size % 97)) * (size // 97 + 1) for _, size in spec]
            keys = [(key, len(item)) for (key, _), item in zip(spec, items, strict=True)]
            size = max(pipeline.PARALLEL_BYTES, sum(map(len, items)))
            mapped = pool.start_map(len, items, size, keys=keys)
            assert mapped.results() == [len(item) for item in items]
            homes = {}
            for (key, _), worker in zip(keys, mapped.workers, strict=True):
                if key is not None:
                    assert homes.setdefault(key, worker) == worker  # one worker per key

        check()


def _fail(message: str) -> None:
    raise ValueError(message)


def test_a_worker_answers_in_order_raises_what_its_job_raises_and_its_death_is_seen() -> None:
    from concurrent.futures.process import BrokenProcessPool

    from archive.diffs.workers import start, stop_all

    workers = start(2, pipeline._worker_init, (os.getpid(),))
    try:
        first, second = workers
        sizes = [first.submit(len, b"x" * n) for n in (0, 70_000, 3, 1 << 20)]
        failed = second.submit(_fail, "no such passage")
        assert [p.result() for p in sizes] == [0, 70_000, 3, 1 << 20]
        with pytest.raises(ValueError, match="no such passage"):
            failed.result()
        with pytest.raises(ValueError):  # asked again, the same
            failed.result()
        assert second.submit(len, b"ab").result() == 2  # the worker goes on
        dead = second.submit(os._exit, 1)
        after = second.submit(len, b"abc")
        with pytest.raises(BrokenProcessPool):
            dead.result()
        with pytest.raises(BrokenProcessPool):
            after.result()
        assert first.submit(len, b"a").result() == 1  # the other one is unaffected
    finally:
        stop_all(workers)
    assert all(_gone(w.process.pid) for w in workers)


def test_group_rows_never_written_are_an_error_not_a_silent_loss(tmp_path: Path) -> None:
    from archive.errors import ArchiveError

    with Store(tmp_path / "a.db") as store, store.write():
        with pytest.raises(ArchiveError, match="1 passage group rows were never written"):
            with deferring_groups(store.conn, lambda parts, zdict: lambda: b""):
                store.passages._add_group({7: ("para", "text\n")}, [7], {}, None)


def test_a_small_import_starts_no_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Below the pool's thresholds nothing forks, not even for the passage groups."""
    repo = Repo(tmp_path / "repo")
    build(repo)
    started: list[int] = []
    monkeypatch.setattr(pipeline, "start", lambda n, *a: started.append(n) or [])
    monkeypatch.setenv("ARCHIVE_WORKERS", "2")
    with Store(tmp_path / "a.db") as store:
        import_git(store, str(repo.root), "t", batch_size=4)
    assert started == [] and every_table(tmp_path / "a.db")["passage_groups"]
