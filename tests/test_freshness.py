"""The served snapshot knows when the live archive has moved on (a newer run)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from archive.publish.common import Freshness, snapshot_state
from archive.record.folder import ingest_folder
from archive.store import Store


def test_a_newer_run_in_the_live_archive_is_noticed(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("one\n")
    live = tmp_path / "archive.db"
    with Store(live) as store:
        ingest_folder(store, str(docs), "test")
        store.snapshot(tmp_path / "snap.db")
    conn = sqlite3.connect(tmp_path / "snap.db")
    state = snapshot_state(conn)
    conn.close()
    assert state["last_run"] == 1 and state["tree_size"] == 1 and len(state["tree_root"]) == 64
    now = [0.0]
    fresh = Freshness(str(live), state["last_run"], clock=lambda: now[0], interval=5)
    assert not fresh.newer()
    (docs / "a.txt").write_text("two\n")
    with Store(live) as store:
        ingest_folder(store, str(docs), "test")
    assert not fresh.newer()  # not looked at again within the interval
    now[0] = 10
    assert fresh.newer()
    assert fresh.newer()  # and it stays newer
    assert not Freshness(None, 1).newer()  # nothing live to compare with
