"""`archive serve`: a real Datasette process over a read-only snapshot of the archive."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import CORPUS, ROOT, run_archive, table_rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, deadline_s: float = 30.0) -> None:
    """Poll until the server answers (bounded), failing early if it died."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read()}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError(f"server did not answer at {url}")


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


@pytest.fixture
def server(db, folder):
    (folder / "a.txt").write_text("first")
    assert run_archive("ingest", str(CORPUS), "--db", str(db)).returncode == 0
    assert run_archive("ingest", str(folder), "--db", str(db)).returncode == 0
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive", "serve", "--db", str(db), "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/-/versions.json", proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serves_tables_with_metadata(server):
    rows = get_json(server + "/archive/versions.json?_shape=array&_sort=id")
    assert [(r["path"], r["kind"]) for r in rows] == [
        ("000_7757f9e639917cb7.txt", "added"),
        ("004_2437b915e45a5cf0.txt", "added"),
        ("a.txt", "added"),
    ]
    meta = get_json(server + "/-/metadata.json")
    assert meta["title"] == "provenance-archive"
    assert "versions" in meta["databases"]["archive"]["tables"]


def test_served_snapshot_is_read_only_and_live_archive_stays_writable(server, db, folder):
    dbs = get_json(server + "/-/databases.json")
    archive_db = next(d for d in dbs if d["name"] == "archive")
    assert archive_db["is_mutable"] is False
    assert os.path.realpath(archive_db["path"]) != os.path.realpath(db)
    # An ingest while serving is not blocked, and the snapshot does not move under readers.
    (folder / "a.txt").write_text("second")
    assert run_archive("ingest", str(folder), "--db", str(db)).returncode == 0
    assert len(table_rows(db, "versions")) == 4
    rows = get_json(server + "/archive/versions.json?_shape=array")
    assert len(rows) == 3


def test_serve_without_archive_is_a_clear_error(tmp_path):
    result = run_archive("serve", "--db", str(tmp_path / "missing.db"))
    assert result.returncode == 1
    assert "no archive at" in result.stderr and "Traceback" not in result.stderr
