"""Which snapshot a server shows, and whether the live archive has moved on since it was taken.

`archive serve` serves a read-only snapshot; an ingest after it starts changes only the live
file. Every page's footer says when the snapshot was taken and which checkpoint it holds,
and once the live archive has a newer run, that a restart would show it. The live file is
looked at most every CHECK_INTERVAL_S seconds, and only read again when its size or mtime
(or its WAL's) changed; once newer, always newer (a snapshot never catches up).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CHECK_INTERVAL_S = 2.0
LATEST = (
    "SELECT (SELECT max(id) FROM runs) AS last_run, tree_size, tree_root FROM runs"
    " WHERE tree_size IS NOT NULL ORDER BY id DESC LIMIT 1"
)


def snapshot_state(conn: sqlite3.Connection) -> dict:
    """The last run id and latest checkpoint of an archive (None values when it has none)."""
    row = conn.execute(LATEST).fetchone()
    if row is None:
        last = conn.execute("SELECT max(id) FROM runs").fetchone()[0]
        return {"last_run": last, "tree_size": None, "tree_root": None}
    return {"last_run": row[0], "tree_size": row[1], "tree_root": row[2]}


def live_last_run(path: str) -> int | None:
    """The live archive's newest run id, read-only (None when it cannot be read)."""
    try:
        uri = "file:" + os.path.abspath(path) + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=0.2)
        try:
            return conn.execute("SELECT max(id) FROM runs").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _signature(path: str) -> tuple:
    out = []
    for suffix in ("", "-wal"):
        try:
            st = os.stat(path + suffix)
            out.append((st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)


@dataclass
class Freshness:
    """Whether the live archive at `live_path` has a run newer than `last_run`."""

    live_path: str | None
    last_run: int | None
    clock: Callable[[], float] = time.monotonic
    interval: float = CHECK_INTERVAL_S
    _newer: bool = False
    _checked: float = field(default=float("-inf"))
    _seen: tuple | None = None

    def newer(self) -> bool:
        if self._newer or not self.live_path:
            return self._newer
        now = self.clock()
        if now - self._checked < self.interval:
            return False
        self._checked = now
        signature = _signature(self.live_path)
        if signature == self._seen:
            return False
        self._seen = signature
        live = live_last_run(self.live_path)
        self._newer = live is not None and (self.last_run is None or live > self.last_run)
        return self._newer


SNAPSHOT_ATTR = "_provenance_archive_snapshot"


@dataclass
class Snapshot:
    """What a served snapshot is: when it was taken, its last run and checkpoint, and whether
    the live archive has moved on since."""

    taken_at: str
    state: dict
    freshness: Freshness

    def template_vars(self) -> dict:
        return {**self.state, "taken_at": self.taken_at, "newer": self.freshness.newer()}


def attach(datasette, snapshot_path: str, live_path: str | None, taken_at: str | None) -> None:
    """Give a Datasette instance its snapshot's description (see `described`)."""
    conn = sqlite3.connect(Path(snapshot_path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        state = snapshot_state(conn)
    finally:
        conn.close()
    freshness = Freshness(live_path, state["last_run"])
    setattr(datasette, SNAPSHOT_ATTR, Snapshot(taken_at or "", state, freshness))


def described(datasette) -> Snapshot | None:
    """The snapshot `archive serve` serves (None for a plain `datasette` run)."""
    return getattr(datasette, SNAPSHOT_ATTR, None)


def stale(datasette) -> bool:
    """Whether the live archive has a run the served snapshot lacks."""
    snapshot = described(datasette)
    return snapshot is not None and snapshot.freshness.newer()
