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


def start_server(db, *options: str) -> tuple[subprocess.Popen, str]:
    """`archive serve` on a free port as a real process; (process, base URL)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive", "serve", "--db", str(db), "--port", str(port), *options],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    return proc, f"http://127.0.0.1:{port}"


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


@pytest.fixture
def server(db, folder):
    (folder / "a.txt").write_text("first")
    assert run_archive("ingest", str(CORPUS), "--db", str(db)).returncode == 0
    assert run_archive("ingest", str(folder), "--db", str(db)).returncode == 0
    proc, base = start_server(db)
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


def children(pid: int) -> list[int]:
    """Child process ids (Linux /proc), for counting uvicorn's workers."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry))
    return found


def get_page(url: str) -> tuple[str, dict]:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return r.read().decode(), dict(r.headers)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="counts workers through /proc")
def test_serve_with_workers_serves_archive_pages(db, folder):
    (folder / "a.txt").write_text("first words")
    assert run_archive("ingest", str(folder), "--db", str(db)).returncode == 0
    (folder / "a.txt").write_text("second words")
    assert run_archive("ingest", str(folder), "--db", str(db)).returncode == 0
    proc, base = start_server(db, "--workers", "2")
    try:
        wait_for(base + "/-/versions.json", proc)
        v1, v2 = (r["id"] for r in table_rows(db, "versions"))
        doc = table_rows(db, "documents")[0]["id"]
        history, headers = get_page(f"{base}/-/archive/document/{doc}")
        assert "History of" in history and "a.txt" in history
        assert headers["x-archive-cache"] in ("hit", "miss")
        version, _ = get_page(f"{base}/-/archive/version/{v2}")
        assert "second words" in version
        diff, _ = get_page(f"{base}/-/archive/diff?from={v1}&to={v2}")
        assert "<del" in diff and "<ins" in diff
        workers = [p for p in children(proc.pid) if "spawn_main" in _cmdline(p)]
        assert len(workers) == 2
        # each worker accepts one connection per wake-up, so a burst of clients is shared
        assert all(b"UV_TCP_SINGLE_ACCEPT=1" in _environ(p) for p in workers)
        snapshot = next(d for d in get_json(base + "/-/databases.json") if d["name"] == "archive")
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in stderr and "ERROR" not in stderr  # no failing FTS count either
    assert not os.path.exists(snapshot["path"])  # the snapshot went with the server


def _environ(pid: int) -> list[bytes]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read().split(b"\0")


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
