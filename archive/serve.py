"""Serve the archive in Datasette from a read-only snapshot, never the live file."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from archive.store import Store

PROJECT_METADATA = Path(__file__).resolve().parent.parent / "metadata.yml"
# Throughput and safety: no facet suggestions, bounded queries, bounded result pages.
SETTINGS = {
    "suggest_facets": "off",
    "sql_time_limit_ms": "3000",
    "max_returned_rows": "1000",
    "allow_download": "off",
}


def default_metadata() -> Path | None:
    for candidate in (Path("metadata.yml"), PROJECT_METADATA):
        if candidate.is_file():
            return candidate
    return None


def datasette_args(
    snapshot: str, metadata: Path | None, host: str, port: int, allow_sql: bool = True
) -> list[str]:
    args = [sys.executable, "-m", "datasette", "serve", "-i", snapshot, "-h", host, "-p", str(port)]
    if metadata:
        args += ["-m", str(metadata)]
    settings = dict(SETTINGS, default_allow_sql="on" if allow_sql else "off")
    for key, value in settings.items():
        args += ["--setting", key, value]
    return args


def serve(db: str, metadata: Path | None, host: str, port: int, allow_sql: bool = True) -> int:
    """Snapshot the archive (WAL folded in), then run Datasette on it immutably."""
    with Store(db, create=False) as store, tempfile.TemporaryDirectory() as tmp:
        snapshot = os.path.join(tmp, "archive.db")
        store.snapshot(snapshot)
        store.close()
        try:
            return subprocess.call(datasette_args(snapshot, metadata, host, port, allow_sql))
        except KeyboardInterrupt:
            return 0
