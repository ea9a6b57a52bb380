"""`archive verify` on a process pool and `--quick`, on real archives tampered with plain SQL."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest

import archive.verify_run as verify_run
from archive.record.folder import ingest_folder
from archive.store import Store
from archive.verify import Finding, verify
from archive.verify_run import Unit, merge, plan, run
from tests.conftest import run_cli
from tests.test_verify import TAMPERS, _edit_leaf_consistently, four_runs, sql

FORKABLE = verify_run._forkable  # the real check (the fixtures below replace it)


def _ingest(db: Path, folder: Path) -> None:
    with Store(db) as store:
        ingest_folder(store, str(folder), "test")


def _backup(src_path: Path, dest: Path) -> Path:
    src, dst = sqlite3.connect(src_path), sqlite3.connect(dest)
    src.backup(dst)
    src.close()
    dst.close()
    return dest


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    """An archive after a first import (old.txt, kept.txt: verified clean) and after a second
    one (new.txt added, kept.txt edited): (the archive, the folder)."""
    base = tmp_path_factory.mktemp("quick")
    docs = base / "docs"
    docs.mkdir()
    db = base / "archive.db"
    (docs / "old.txt").write_text("An old text that the first verify covers.\n" * 40)
    (docs / "kept.txt").write_text("A kept text, before its edit.\n" * 30)
    _ingest(db, docs)
    code, out, _ = run_cli("verify", db=db)
    assert code == 0 and "everything checks" in out
    (docs / "new.txt").write_text("A new text, \u201cquoted\u201d here, after the verify.\n" * 20)
    (docs / "kept.txt").write_text("A kept text, after its edit.\n" * 30)
    _ingest(db, docs)
    return db, docs


@pytest.fixture(autouse=True)
def small_work_starts_workers(monkeypatch) -> None:
    """Start worker processes even for these small archives (real ones have more blobs),
    forked as `archive verify` forks them (a test process has numpy's idle BLAS thread,
    which `_forkable` refuses to fork beside; a fork leaves it behind harmlessly)."""
    monkeypatch.setattr(verify_run, "WORKER_BLOBS", 1)
    monkeypatch.setattr(verify_run, "FORK_BLOBS", 1)
    monkeypatch.setattr(verify_run, "_forkable", lambda: True)


@pytest.fixture(params=["fork", "spawn"])
def pool(request, monkeypatch) -> str:
    """Both pools: forked workers (the default where this process runs no other thread)
    and fresh interpreters (the fallback)."""
    monkeypatch.setattr(verify_run, "_forkable", lambda: request.param == "fork")
    return request.param


@pytest.fixture
def archive(two_runs: tuple[Path, Path], tmp_path: Path) -> Path:
    return _backup(two_runs[0], tmp_path / "copy.db")


def _blob_of(db: Path, path: str, last: bool = True) -> str:
    order = "DESC" if last else "ASC"
    conn = sqlite3.connect(db)
    row = conn.execute(
        f"SELECT blob FROM versions WHERE path = ? ORDER BY id {order} LIMIT 1", (path,)
    ).fetchone()
    conn.close()
    return row[0]


def _corrupt_passage_of(db: Path, blob: str) -> None:
    """Change one passage's stored key: the text no longer hashes to it."""
    conn = sqlite3.connect(db)
    ids = conn.execute("SELECT ids FROM blob_passages WHERE blob = ?", (blob,)).fetchone()
    conn.close()
    assert ids is not None
    from archive.store.passage_format import unpack_ids

    first = unpack_ids(ids[0])[0]
    sql(db, ("UPDATE passages SET key = key + 1 WHERE id = ?", (first,)))


def test_quick_checks_only_the_new_part(archive: Path) -> None:
    with Store(archive, create=False) as store:
        outcome = run(store, quick=True)
        every = store.query_one("SELECT count(*) AS n FROM blobs")["n"]
    assert outcome.quick and outcome.since > 0 and outcome.findings == []
    assert 0 < outcome.blobs < every and outcome.diffs == 1
    code, out, err = run_cli("verify", "--quick", db=archive)  # clean: recorded just now
    assert code == 0, out + err
    assert out.startswith("quick check: 0 contents and 0 diffs of the leaves from ")
    assert "run `archive verify`" in out
    assert out.splitlines()[-1] == "ok: everything new checks"


def test_quick_finds_a_tamper_in_the_new_part(archive: Path) -> None:
    new = _blob_of(archive, "new.txt")
    sql(archive, ("UPDATE blobs SET sha256 = ? WHERE blake3 = ?", ("0" * 64, new)))
    code, out, _ = run_cli("verify", "--quick", db=archive)
    assert code == 1
    assert f"blobs: blobs {new}: content does not match its SHA-256" in out


def test_quick_finds_a_changed_diff_of_the_new_part(archive: Path) -> None:
    edited = _blob_of(archive, "kept.txt")
    sql(archive, ("UPDATE diffs SET change_class = 'cosmetic' WHERE to_blob = ?", (edited,)))
    code, out, _ = run_cli("verify", "--quick", db=archive)
    assert code == 1 and "diffs: diffs " in out and "change class" in out


def test_a_tamper_in_the_old_part_is_found_by_full_verify_only(archive: Path) -> None:
    old = _blob_of(archive, "old.txt")
    _corrupt_passage_of(archive, old)
    code, out, _ = run_cli("verify", "--quick", db=archive)
    assert code == 0 and "ok: everything new checks" in out
    code, out, _ = run_cli("verify", db=archive)
    assert code == 1 and "passages: passages id " in out


def test_quick_finds_a_rewritten_old_leaf(archive: Path) -> None:
    _edit_leaf_consistently(archive)  # leaf 0 and its hash: only a rebuild or a root sees it
    code, out, _ = run_cli("verify", "--quick", db=archive)
    assert code == 1
    assert "quick: ledger size " in out and "root differs from the last verify" in out


def test_quick_without_a_recorded_verify_checks_everything(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("alpha\n")
    db = tmp_path / "a.db"
    _ingest(db, docs)
    code, out, err = run_cli("verify", "--quick", db=db)
    assert code == 0 and out.strip() == "ok: everything checks"
    assert "checking everything" in err
    code, out, _ = run_cli("verify", "--quick", "--corpus", str(docs), db=db)
    assert code == 2


@pytest.mark.parametrize(
    "name", ["blob bytes, same length", "blob sha256 column", "version path", "leaf deleted"]
)
def test_parallel_findings_equal_serial(copy_of_verify_archive: Path, name: str, pool: str) -> None:
    TAMPERS[name][0](copy_of_verify_archive)
    with Store(copy_of_verify_archive, create=False) as store:
        serial = verify(store)
        one = run(store, workers=1).findings
        two = run(store, workers=2).findings
    assert serial and one == serial and two == serial


def test_parallel_findings_equal_serial_on_many_tampers(
    archive: Path, monkeypatch, pool: str
) -> None:
    """Tampers in several work units at once (a small unit size makes many units)."""
    monkeypatch.setattr(verify_run, "UNIT_BLOBS", 1)

    for path in ("old.txt", "new.txt", "kept.txt"):
        blob = _blob_of(archive, path)
        sql(archive, ("UPDATE blobs SET size = size + 1 WHERE blake3 = ?", (blob,)))
    _corrupt_passage_of(archive, _blob_of(archive, "kept.txt", last=False))
    sql(archive, "UPDATE diffs SET words_inserted = words_inserted + 1")
    with Store(archive, create=False) as store:
        serial = verify(store)
        found = [run(store, workers=n).findings for n in (1, 2, 3)]
    assert len(serial) >= 5 and all(f == serial for f in found)


def test_worker_count_from_the_environment(archive: Path, monkeypatch) -> None:
    monkeypatch.setenv("ARCHIVE_VERIFY_WORKERS", "2")
    code, out, _ = run_cli("verify", db=archive)
    assert code == 0 and out.strip() == "ok: everything checks"


def test_plan_puts_every_diff_and_snapshot_in_one_unit() -> None:
    blobs = [f"b{i}" for i in range(10)]
    diffs = [("b1", "b2", "w"), ("zz", "b9", "w"), ("x", "y", "w")]
    units = plan(blobs, diffs, ["b3", "gone"], [{"blake3": "b4"}], [{"blake3": "nope"}], 3)
    assert [b for u in units for b in u.blobs] == blobs
    assert sorted(d for u in units for d in u.diffs) == sorted(diffs)
    assert sorted(s for u in units for s in u.snapshots) == ["b3", "gone"]
    assert [r for u in units for r in u.links] == [{"blake3": "b4"}]
    assert not any(u.extracts for u in units)
    assert plan([], [], [], [], [], 4) == [Unit(())]


def test_merge_orders_by_key_whatever_the_units() -> None:
    a = Finding("blobs", "blobs", "aa", "x")
    b = Finding("blobs", "blobs", "bb", "y")
    empty = {"diffs": [], "passages": [], "snapshots": [], "derived": []}
    first = merge([{"blobs": [b], **empty}, {"blobs": [a], **empty}])
    second = merge([{"blobs": [a, b], **empty}])
    assert first == second and first["blobs"] == [a, b]


@pytest.fixture(scope="module")
def verify_archive(tmp_path_factory) -> Path:
    """The archive tests/test_verify.py tampers with: four runs over one folder."""
    return four_runs(tmp_path_factory.mktemp("real"))


@pytest.fixture
def copy_of_verify_archive(verify_archive: Path, tmp_path: Path) -> Path:
    return _backup(verify_archive, tmp_path / "copy.db")


def test_a_killed_worker_is_a_one_line_error_and_nothing_is_recorded(
    archive: Path, tmp_path: Path, monkeypatch
) -> None:
    """Each worker (a fresh interpreter) kills itself as it starts (a sitecustomize on its
    path): the run fails with one line, records no clean run, and a later run completes."""
    monkeypatch.setattr(verify_run, "_forkable", lambda: False)
    killer = tmp_path / "killer"
    killer.mkdir()
    (killer / "sitecustomize.py").write_text("import os, signal\nos.kill(os.getpid(), 9)\n")
    monkeypatch.setenv("ARCHIVE_VERIFY_WORKERS", "2")
    monkeypatch.setenv("PYTHONPATH", str(killer))
    code, out, err = run_cli("verify", db=archive)
    assert code == 1 and out == ""
    assert err.strip().startswith("Error: verify: a worker process failed (exit status -9)")
    assert len(err.strip().splitlines()) == 1
    assert _verifications(archive) == 1
    monkeypatch.delenv("PYTHONPATH")
    code, out, _ = run_cli("verify", db=archive)
    assert code == 0 and out.strip() == "ok: everything checks"
    assert _verifications(archive) == 2


def _verifications(db: Path) -> int:
    conn = sqlite3.connect(db)
    count = conn.execute("SELECT count(*) FROM verifications").fetchone()[0]
    conn.close()
    return count


def _killed(*args) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _raising(*args) -> None:
    raise sqlite3.DatabaseError("database disk image is malformed\nsecond line")


@pytest.mark.parametrize(
    ("worker", "why"),
    [(_killed, "exit status -9"), (_raising, "DatabaseError: database disk image is malformed")],
)
def test_a_forked_worker_that_dies_or_fails_is_a_one_line_error(
    archive: Path, monkeypatch, worker, why: str
) -> None:
    """A forked worker killed (or failing) as it starts: one line naming why, no clean run
    recorded, the main process done with it (no worker left behind); then a run completes."""
    monkeypatch.setattr(verify_run, "_forkable", lambda: True)
    monkeypatch.setattr(verify_run, "_take", _killed_in_children(verify_run._take, worker))
    monkeypatch.setenv("ARCHIVE_VERIFY_WORKERS", "3")
    before = _children()
    code, out, err = run_cli("verify", db=archive)
    assert code == 1 and out == ""
    assert err.strip() == f"Error: verify: a worker process failed ({why}); nothing was recorded"
    assert _verifications(archive) == 1
    assert _children() <= before  # every worker reaped: none alive, none a zombie
    monkeypatch.undo()
    code, out, _ = run_cli("verify", db=archive)
    assert code == 0 and out.strip() == "ok: everything checks"


def _children() -> set[int]:
    """This process's children, alive or zombie (not yet reaped), from /proc: the suite's
    other children (servers of session fixtures) are there too, so tests compare sets."""
    me, found = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        if int(stat.rpartition(")")[2].split()[1]) == me:
            found.add(int(entry))
    return found


def _killed_in_children(take, worker):
    parent = os.getpid()

    def patched(*args):
        if os.getpid() != parent:
            worker()
        return take(*args)

    return patched


def test_forked_workers_and_this_process_share_the_units(archive: Path, monkeypatch) -> None:
    """Every unit is run once, by a worker or by this process, whatever takes which."""
    monkeypatch.setattr(verify_run, "_forkable", lambda: True)
    monkeypatch.setattr(verify_run, "UNIT_BLOBS", 1)
    with Store(archive, create=False) as store:
        units = plan(verify_run.ledger_rows.blob_keys(store.conn), [], [], [], [], 1)
        results, rows = verify_run._forked(store, units, 2, lambda: {"rows": 1})
    assert rows == {"rows": 1} and sorted(results) == list(range(len(units))) and len(units) > 3
    assert all(not f for r in results.values() for f in r.values())


def test_tasks_fit_one_pipe_write_whatever_the_units() -> None:
    for units in (1, 7, verify_run.MAX_TASKS, verify_run.MAX_TASKS + 1, 100_000):
        tasks = verify_run._tasks(units)
        assert len(tasks) <= verify_run.MAX_TASKS
        assert [i for t in tasks for i in t] == list(range(units))


def test_verify_loads_no_time_stamp_signature_or_http_library_it_does_not_use(
    archive: Path,
) -> None:
    """An archive without tokens or signatures: verify checks it without importing httpx
    (only fetching a token needs it), X.509, rfc3161-client or Ed25519 (one per import:
    tens of milliseconds of each run)."""
    from tests.test_startup import loaded_by

    loaded = loaded_by("verify", "--db", str(archive))
    assert {"archive.verify", "archive.verify_run", "archive.ledger.evidence"} <= loaded
    assert not [m for m in loaded if m.split(".")[0] in ("httpx", "cryptography", "rfc3161_client")]


def test_a_delta_rebuilding_another_text_is_found_by_every_pool(archive: Path, pool: str) -> None:
    """A diff row rewritten whole (delta, stats, class: all of a real diff of the old text to
    another text) is sound but for its new text: the hash check finds it, also where the
    units compare rebuilt texts with the ones their blob checks decoded."""
    from archive.diffs import diff_texts
    from archive.diffs.stored import STATS
    from archive.store.delta_codec import pack_delta

    conn = sqlite3.connect(archive)
    old_blob, new_blob = conn.execute(
        "SELECT from_blob, to_blob FROM diffs WHERE from_blob IS NOT NULL LIMIT 1"
    ).fetchone()
    conn.close()
    with Store(archive, create=False) as store:
        old, new = store.read_text(old_blob), store.read_text(new_blob)
    assert old is not None and new is not None
    forged = diff_texts(old, new + "one more line\n")
    delta, codec = pack_delta(forged.delta, old)
    columns = ", ".join(f"{k} = ?" for k in STATS)
    stats = (forged.stats[k] for k in STATS)
    sql(
        archive,
        (
            f"UPDATE diffs SET delta = ?, delta_codec = ?, change_class = ?, {columns}"
            " WHERE from_blob = ? AND to_blob = ?",
            (delta, codec, forged.change_class, *stats, old_blob, new_blob),
        ),
    )
    with Store(archive, create=False) as store:
        serial = verify(store)
        found = [run(store, workers=n).findings for n in (1, 2)]
    assert [(f.check, f.problem) for f in serial] == [
        ("diffs", f"rebuilt text does not hash to {new_blob}")
    ]
    assert all(f == serial for f in found)


@pytest.mark.parametrize("key", ["key + 1", "'not a number'", "9.5", "x'00'"])
def test_a_passage_key_edited_to_anything_is_found(archive: Path, key: str) -> None:
    """The keys are compared packed, all at once: a key that is no 64-bit integer any more
    (text, a real, NULL) is still one finding, not a crash."""
    with Store(archive, create=False) as store:
        first = store.conn.execute("SELECT min(id) FROM passages").fetchone()[0]
    sql(archive, (f"UPDATE passages SET key = {key} WHERE id = ?", (first,)))
    with Store(archive, create=False) as store:
        found = run(store, workers=1).findings
    assert Finding("passages", "passages", f"id {first}", "text does not hash to its key") in found


def test_a_process_forks_its_workers_only_while_it_runs_no_other_thread() -> None:
    import subprocess
    import sys
    import threading

    probe = "import archive.verify_run as v; print(v._forkable())"
    fresh = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert fresh.stdout.strip() == "True"
    done = threading.Event()
    thread = threading.Thread(target=done.wait)
    thread.start()
    try:
        assert FORKABLE() is False
    finally:
        done.set()
        thread.join()


def test_an_interrupted_main_process_leaves_no_worker_behind(archive: Path) -> None:
    """Ctrl-C (or any error) in the main process while forked workers read: they are
    killed and reaped, and the interrupt goes on."""

    def interrupted() -> dict:
        raise KeyboardInterrupt

    before = _children()
    with Store(archive, create=False) as store:
        units = plan(verify_run.ledger_rows.blob_keys(store.conn), [], [], [], [], 4)
        with pytest.raises(KeyboardInterrupt):
            verify_run._forked(store, units, 2, interrupted)
    assert _children() <= before


def test_a_fork_refused_leaves_the_work_to_the_processes_there_are(
    archive: Path, monkeypatch
) -> None:
    """No process to be had (fork fails with EAGAIN): the run still checks everything, in
    the processes it has, with the same findings."""
    sql(archive, "UPDATE diffs SET words_inserted = words_inserted + 1")
    with Store(archive, create=False) as store:
        serial = verify(store)
        monkeypatch.setattr(os, "fork", _no_fork)
        found = run(store, workers=3).findings
    assert serial and found == serial


def _no_fork() -> int:
    raise BlockingIOError(11, "Resource temporarily unavailable")
