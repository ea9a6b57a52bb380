"""An archive made by the first release opens, migrates and verifies with today's code."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from archive.schema import SCHEMA_VERSION
from archive.store import Store
from archive.verify import verify
from ingest.hashing import blake3_hex
from tests.conftest import ROOT, run_cli

V1 = ROOT / "tests" / "data" / "archive-v1.db"


@pytest.fixture
def old_archive(tmp_path):
    db = tmp_path / "archive.db"
    shutil.copy(V1, db)
    return db


def test_fixture_is_a_first_release_archive():
    conn = sqlite3.connect(V1)
    assert conn.execute("PRAGMA user_version").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM versions").fetchone() == (7,)
    conn.close()


def test_v1_archive_migrates_without_losing_a_byte(old_archive):
    conn = sqlite3.connect(old_archive)
    before = dict(conn.execute("SELECT blake3, content FROM blobs"))
    versions = conn.execute("SELECT * FROM versions ORDER BY id").fetchall()
    conn.close()
    with Store(old_archive) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        rows = store.query("SELECT blake3, is_text, content FROM blobs")
        assert {r["blake3"] for r in rows} == set(before)
        for row in rows:
            # Text moved into passages; every blob still reads back exactly.
            assert (row["content"] is None) == bool(row["is_text"])
            data = store.read_content(row["blake3"])
            assert data == before[row["blake3"]] and blake3_hex(data) == row["blake3"]
        after = store.conn.execute(
            "SELECT id, document_id, seq, blob, path, kind, run_id, observed_at, mtime,"
            " previous_version_id, old_path FROM versions ORDER BY id"
        ).fetchall()
        assert after == versions


def test_v1_archive_keeps_working(old_archive, folder):
    (folder / "new.txt").write_text("after the upgrade\n")
    assert run_cli("ingest", str(folder), db=old_archive)[0] == 0
    # The ledger backfills the old versions at the first checkpoint; all of it verifies.
    with Store(old_archive) as store:
        assert verify(store) == []
        ledger = store.conn.execute("SELECT version_id FROM ledger ORDER BY leaf_index")
        assert [v for (v,) in ledger] == list(range(1, 9))  # old versions first, in order
    code, out, _ = run_cli("reextract", db=old_archive)
    assert code == 0
    with Store(old_archive) as store:
        titles = dict(store.conn.execute("SELECT blake3, title FROM blob_metadata"))
    seed = "e9efdd4a0acd5b6339f9993bc89e0ab45b88819a7854ddf7f035a37d39f80f3f"
    assert (
        titles[seed] == "Iran and Russia can cooperate to contain the US's threat to the humanity"
    )
    code, out, _ = run_cli("log", "v1docs:f0.txt", db=old_archive)
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["added", "modified"]
