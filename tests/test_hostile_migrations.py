"""Concurrent opens of an old archive: every one succeeds, the schema is migrated once."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time

from tests.conftest import ROOT

V1 = ROOT / "tests" / "data" / "archive-v1.db"
OPEN = """
import os, sys, time
from archive.store import Store
open(sys.argv[3], "w").close()  # ready: imported, about to open
while not os.path.exists(sys.argv[2]):
    time.sleep(0.001)
with Store(sys.argv[1]) as store:
    print(store.conn.execute("PRAGMA user_version").fetchone()[0])
"""


def test_concurrent_opens_of_an_old_archive_all_succeed(tmp_path):
    db = tmp_path / "archive.db"
    shutil.copy(V1, db)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, str(db), str(go), str(tmp_path / f"ready{i}")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    while not all((tmp_path / f"ready{i}").exists() for i in range(4)):
        assert all(p.poll() is None for p in procs), "a process died before opening"
        time.sleep(0.01)
    go.touch()  # all four open at once
    results = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0] * 4, [err[-400:] for _, err in results]
    versions = {out.strip() for out, _ in results}
    conn = sqlite3.connect(db)
    assert versions == {str(conn.execute("PRAGMA user_version").fetchone()[0])}
    conn.close()
