"""The served snapshot knows when the live archive has moved on (a newer run), and is
replaced by a fresh one."""

from __future__ import annotations

import os
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
    assert state["last_run"] == 1 and state["tree_size"] == 3 and len(state["tree_root"]) == 64
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


def test_a_fresh_snapshot_is_taken_once_and_named_in_the_config(tmp_path: Path) -> None:
    from archive.publish.server.app import ServeConfig, refresh_snapshot
    from archive.publish.server.serve import prepare

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("one\n")
    live = tmp_path / "archive.db"
    served = tmp_path / "served"
    served.mkdir()
    with Store(live) as store:
        ingest_folder(store, str(docs), "test")
        store.snapshot(served / "archive.db")
    config_path = prepare(
        str(served), str(served / "archive.db"), None, True, str(live), "T0", True
    )
    (docs / "a.txt").write_text("two\n")
    with Store(live) as store:
        ingest_folder(store, str(docs), "test")
    restarts = []
    assert refresh_snapshot(str(config_path), 2, lambda: restarts.append(1))
    assert not refresh_snapshot(str(config_path), 2, lambda: restarts.append(1))  # once a run
    assert restarts == [1]
    config = ServeConfig.read(config_path)
    assert Path(config.snapshot).name == "archive.db" and config.taken_at != "T0"
    conn = sqlite3.connect(config.snapshot)
    assert snapshot_state(conn)["last_run"] == 2
    conn.close()
    assert config.live == str(live) and config.supervised


def test_a_served_archive_shows_a_newer_run_without_a_restart(tmp_path: Path) -> None:
    """`archive serve` with two workers: after an ingest, a request starts a fresh snapshot
    and the workers are replaced; the pages then show the new version."""
    import json
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.browser.conftest import _free_port, _wait_ready
    from tests.conftest import ROOT, run_archive

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("one\n")
    db = tmp_path / "archive.db"
    assert run_archive("ingest", str(docs), "--db", str(db)).returncode == 0
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive", "serve", "--db", str(db), "--port", str(port)]
        + ["--workers", "2"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def versions() -> int:
        with urllib.request.urlopen(base + "/archive/versions.json?_shape=array") as r:
            return len(json.load(r))

    def home() -> str:
        with urllib.request.urlopen(base + "/") as r:
            return r.read().decode()

    try:
        _wait_ready(proc, base + "/-/versions.json")
        assert versions() == 1
        (docs / "a.txt").write_text("two\n")
        assert run_archive("ingest", str(docs), "--db", str(db)).returncode == 0
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:  # every worker replaced: bounded, not timed
            # a request may still reach a worker being replaced: wait until several in a row
            # come from fresh ones (the new version, and no "changed since" banner)
            seen.append((versions(), "has changed since" in home()))
            if seen[-4:] == [(2, False)] * 4:
                break
            time.sleep(0.2)
        assert seen[-4:] == [(2, False)] * 4, seen
    finally:
        proc.terminate()
        proc.wait(timeout=20)
