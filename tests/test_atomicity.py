"""A killed ingest leaves the archive as it was; two ingests never corrupt it."""

from __future__ import annotations

import signal
import sqlite3

import pytest

from tests.conftest import archive_state, run_archive, table_rows


def make_files(folder, n, tag=""):
    for i in range(n):
        (folder / f"doc{i:03}.txt").write_text(f"document {i} {tag}\n" * (i + 1))


@pytest.mark.parametrize("kill_at", ["blob:3", "versions:20"])
def test_sigkill_mid_ingest_then_rerun_equals_uninterrupted(tmp_path, kill_at):
    folder = tmp_path / "docs"
    folder.mkdir()
    make_files(folder, 10)
    killed, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    for db in (killed, clean):
        assert run_archive("ingest", str(folder), "--db", str(db)).returncode == 0
    make_files(folder, 20, tag="v2")  # 10 modified, 10 added
    before = archive_state(killed)

    result = run_archive(
        "ingest", str(folder), "--db", str(killed), env={"ARCHIVE_KILL_AT": kill_at}
    )
    assert result.returncode == -signal.SIGKILL
    assert archive_state(killed) == before  # nothing of the interrupted batch landed
    assert len(table_rows(killed, "runs")) == 1

    assert run_archive("ingest", str(folder), "--db", str(killed)).returncode == 0
    assert run_archive("ingest", str(folder), "--db", str(clean)).returncode == 0
    assert archive_state(killed) == archive_state(clean)
    assert sqlite3.connect(killed).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_second_writer_waits_then_refuses_with_a_message(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    make_files(folder, 3)
    db = tmp_path / "archive.db"
    assert run_archive("ingest", str(folder), "--db", str(db)).returncode == 0
    before = archive_state(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        make_files(folder, 4, tag="new")
        result = run_archive(
            "ingest", str(folder), "--db", str(db), env={"ARCHIVE_BUSY_TIMEOUT": "0.2"}
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert "is busy: another ingest is writing it" in result.stderr
    assert "Traceback" not in result.stderr
    assert archive_state(db) == before
    # Once the lock is free the same command succeeds.
    assert run_archive("ingest", str(folder), "--db", str(db)).returncode == 0
