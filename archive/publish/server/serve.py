"""Serve the archive in Datasette from a read-only snapshot, never the live file.

One port, several uvicorn worker processes (httptools parser, uvloop), each building the same
Datasette over the snapshot (archive.publish.server.app). The snapshot never changes while it is
served, so the plugin caches rendered pages (archive.publish.server.cache).
"""

from __future__ import annotations

import importlib.resources
import json
import os
import secrets
import signal
import sys
import tempfile
from pathlib import Path

from archive.passages.indexing import indexed_snapshot
from archive.publish.server.app import CONFIG_ENV, ServeConfig, inspect_data
from archive.publish.server.cache import CACHE_ENV
from archive.store import Store, now_iso

# The site's metadata: shipped inside the package (setup.py copies the repository's
# metadata.yml, the one source, into the wheel), or the checkout's for an editable install.
BUNDLED_METADATA = "metadata.yml"
CHECKOUT_METADATA = Path(__file__).resolve().parents[3] / "metadata.yml"
APP_FACTORY = "archive.publish.server.app:create_app"
# uvloop does not exist on Windows; uvicorn's own asyncio loop serves there.
LOOP = "asyncio" if sys.platform == "win32" else "uvloop"
# The workers share one listening socket, and libuv (under uvloop) accepts every pending
# connection at once: the first worker to wake takes a whole burst of clients (29 of 32 seen)
# and queues their pages while the other idles. One accept per wake-up spreads them (libuv's
# own switch for multi-process servers); an explicit setting in the environment is kept.
SINGLE_ACCEPT_ENV = "UV_TCP_SINGLE_ACCEPT"


def default_metadata() -> Path | None:
    """The metadata `archive serve` uses without --metadata: the package's own, never the
    working directory's (a stray metadata.yml must not change what an archive serves)."""
    packaged = importlib.resources.files("archive.publish") / BUNDLED_METADATA
    if packaged.is_file():
        return Path(str(packaged))
    return CHECKOUT_METADATA if CHECKOUT_METADATA.is_file() else None


def default_workers() -> int:
    """One worker per CPU this process may run on: Python renders pages on one core each."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def prepare(
    folder: str,
    snapshot: str,
    metadata: Path | None,
    allow_sql: bool,
    live: str | None = None,
    taken_at: str | None = None,
    supervised: bool = False,
) -> Path:
    """Write the workers' config (and inspect data) into `folder`; returns the config's path.

    live, taken_at: the archive the snapshot was taken from, and when (the page footer says
    so, and when the live archive has moved on)."""
    inspect_path = Path(folder, "inspect-data.json")
    inspect_path.write_text(json.dumps(inspect_data(snapshot)), encoding="utf-8")
    config = ServeConfig(
        snapshot=snapshot,
        metadata=str(metadata) if metadata else None,
        allow_sql=allow_sql,
        secret=secrets.token_hex(32),
        inspect=str(inspect_path),
        live=os.path.abspath(live) if live else None,
        taken_at=taken_at,
        supervised=supervised,
    )
    config_path = Path(folder, "serve.json")
    config.write(config_path)
    return config_path


def say_indexing(passages: int) -> None:
    """Say why serving waits: the snapshot's search indexes are being built."""
    print(f"indexing {passages:,} passages in the snapshot...", file=sys.stderr, flush=True)


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def run_server(
    config_path: Path, host: str, port: int, workers: int, cache: bool, access_log: bool
) -> int:
    """uvicorn on one port with `workers` processes; 0 after Ctrl-C or SIGTERM."""
    import uvicorn

    os.environ[CONFIG_ENV] = str(config_path)  # workers inherit the environment
    if workers > 1:
        os.environ.setdefault(SINGLE_ACCEPT_ENV, "1")
    if not cache:
        os.environ[CACHE_ENV] = "0"
    previous = signal.signal(signal.SIGTERM, _stop)  # so the snapshot's temp dir is removed
    try:
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http="httptools",
            loop=LOOP,
            lifespan="on",
            log_level="info",
            access_log=access_log,
        )
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def serve(
    db: str,
    metadata: Path | None,
    host: str,
    port: int,
    allow_sql: bool = True,
    workers: int | None = None,
    cache: bool = True,
    access_log: bool = False,
) -> int:
    """Snapshot the archive (WAL folded in, search indexes built in the copy), then serve it
    immutably with uvicorn workers."""
    with Store(db, create=False) as store, tempfile.TemporaryDirectory() as tmp:
        snapshot = os.path.join(tmp, "archive.db")
        taken_at = now_iso()
        # public: no absolute server path is published
        indexed_snapshot(store, snapshot, notice=say_indexing)
        store.close()
        workers = workers or default_workers()
        # Workers under uvicorn's supervisor (several, not on Windows) refresh the snapshot
        # themselves: a fresh one, a new config, SIGHUP to the supervisor (app.refresh).
        supervised = workers > 1 and sys.platform != "win32"
        config_path = prepare(tmp, snapshot, metadata, allow_sql, db, taken_at, supervised)
        return run_server(config_path, host, port, workers, cache, access_log)
