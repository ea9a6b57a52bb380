"""Shared fixtures: real files in tmp dirs, a real SQLite archive, the real CLI."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from archive.cli import cli

# Hypothesis tests assert behaviour, never time: no per-example deadline (a busy machine made
# a 200 ms default fail tests whose code was right). Tests' own @settings inherit this.
settings.register_profile("archive", deadline=None)
settings.load_profile("archive")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture(params=["compiled", "pure"])
def diff_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Run the test once on each diff engine, as dulwich tests its C and pure versions:
    the compiled core (archive/diffs/_diffcore.c) and the pure-Python reference. A module
    opts in with `pytestmark = pytest.mark.usefixtures("diff_engine")`; `archive` processes
    the test starts get the same engine through ARCHIVE_PURE_DIFF."""
    from archive import diffs
    from archive.diffs.core import load_core

    monkeypatch.setenv("ARCHIVE_PURE_DIFF", "0" if request.param == "compiled" else "1")
    with diffs.engine(load_core() if request.param == "compiled" else None):
        assert diffs.engine_name() == ("compiled" if request.param == "compiled" else "pure-python")
        yield request.param


def run_cli(*args: str, db: Path | None = None) -> tuple[int, str, str]:
    """Invoke the real click CLI in-process; returns (exit code, stdout, stderr)."""
    argv = list(args) + (["--db", str(db)] if db is not None else [])
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def run_archive(*args: str, env: dict | None = None, cwd: Path | None = None):
    """Run `archive` as a separate process (for kills, locks and real exit codes)."""
    return subprocess.run(
        [sys.executable, "-m", "archive", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=cwd,
    )


def run_archive_after(setup: str, *args: str, env: dict | None = None):
    """`archive ARGS` in its own process after `setup` (Python lines run first, e.g. to lower
    a pool's thresholds so a small test history uses it, or to make workers die)."""
    launcher = f"import sys\n{setup}\nfrom archive.cli import cli\nsys.argv[0] = 'archive'\ncli()\n"
    return subprocess.run(
        [sys.executable, "-c", launcher, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def table_rows(db: Path, table: str, drop: tuple[str, ...] = ()) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    kind, sql = conn.execute(
        "SELECT type, sql FROM sqlite_master WHERE name = ?", (table,)
    ).fetchone()
    info = sorted(conn.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5])
    pk = ", ".join(r[1] for r in info if r[5])  # a WITHOUT ROWID table has no rowid
    order = pk if "WITHOUT ROWID" in sql.upper() else "rowid"
    if kind == "view":  # no rowid either: every column
        order = ", ".join(str(i + 1) for i in range(len(info)))
    rows = [
        {k: r[k] for k in r.keys() if k not in drop}
        for r in conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
    ]
    conn.close()
    return rows


# Columns that hold wall-clock times or run-specific values, ignored when comparing runs.
TIMES = (
    "observed_at",
    "first_seen",
    "last_seen",
    "started_at",
    "finished_at",
    "created_at",
    "mtime",
    "command",
)


def archive_state(db: Path) -> dict[str, list[dict]]:
    """Every table's rows, timestamps aside: what must be equal across equivalent runs."""
    return {
        t: table_rows(db, t, TIMES)
        for t in ("sources", "documents", "blobs", "versions", "problems")
    }


def served(db: Path) -> Path:
    """The snapshot `archive serve` and `archive package` serve (search indexes built in the
    copy, the live file untouched), under the archive's own file name (Datasette names the
    database after it), in a folder beside it; taken afresh at each call."""
    from archive.passages.indexing import indexed_snapshot
    from archive.store import Store

    snapshot = db.parent / "served" / db.name
    snapshot.parent.mkdir(exist_ok=True)
    snapshot.unlink(missing_ok=True)
    with Store(db, create=False) as store:
        indexed_snapshot(store, snapshot)
    return snapshot


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "docs"
    path.mkdir()
    return path


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> str:
    """The clock of runs frozen (their rows and the leaves that hold them), so two runs of the
    same import can be compared whole: without it a run leaf differs when the two runs
    straddle a second."""
    from archive.record import folder, git, web
    from archive.store import database

    frozen = "2001-02-03T04:05:06Z"
    for module in (database, folder, git, web):
        monkeypatch.setattr(module, "now_iso", lambda: frozen)
    return frozen
