"""The ASGI app `archive serve` runs in each uvicorn worker: one Datasette over the snapshot.

Workers are separate processes (uvicorn imports `create_app` by name in each), so the parent
writes everything they need to a JSON file and names it in CONFIG_ENV. Every worker then builds
the same Datasette: same snapshot (immutable), metadata, settings, table counts and secret (so a
signed cookie or CSRF token made by one worker is valid in all of them).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sqlite3
from dataclasses import asdict, dataclass, replace
from pathlib import Path

CONFIG_ENV = "ARCHIVE_SERVE_CONFIG"

# Throughput and safety: no facet suggestions, bounded queries, bounded result pages.
SETTINGS: dict[str, object] = {
    "suggest_facets": False,
    "sql_time_limit_ms": 3000,
    "max_returned_rows": 1000,
    "allow_download": False,
}


@dataclass(frozen=True)
class ServeConfig:
    """What a worker needs to build the Datasette instance; JSON on disk between processes."""

    snapshot: str
    metadata: str | None
    allow_sql: bool
    secret: str
    inspect: str | None = None  # Datasette inspect data (table counts), precomputed once
    live: str | None = None  # the archive file the snapshot was taken from
    taken_at: str | None = None  # when (UTC)
    supervised: bool = False  # under uvicorn's supervisor: SIGHUP restarts the workers

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> ServeConfig:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


def inspect_data(snapshot: str) -> dict:
    """Datasette's inspect data for the snapshot (hash, size, table counts), computed once
    here instead of by every worker on its first request; it also spares Datasette counting
    the contentless FTS index, which fails and logs an error."""
    from datasette.inspect import inspect_hash

    from archive.store import table_counts

    path = Path(snapshot)
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        counts = table_counts(conn)
    finally:
        conn.close()
    return {
        path.stem: {
            "hash": inspect_hash(path),
            "size": path.stat().st_size,
            "file": str(path),
            "tables": {name: {"count": count} for name, count in counts.items()},
        }
    }


def settings(allow_sql: bool) -> dict[str, object]:
    """Datasette settings (typed, as Datasette() takes them) for a published archive."""
    return {**SETTINGS, "default_allow_sql": allow_sql}


def build_datasette(config: ServeConfig):
    """The Datasette instance every worker serves: the snapshot opened immutable."""
    from datasette.app import Datasette
    from datasette.utils import parse_metadata

    metadata = None
    if config.metadata:
        metadata = parse_metadata(Path(config.metadata).read_text(encoding="utf-8"))
    inspect_data = None
    if config.inspect:
        inspect_data = json.loads(Path(config.inspect).read_text(encoding="utf-8"))
    datasette = Datasette(
        immutables=[config.snapshot],
        metadata=metadata,
        settings=settings(config.allow_sql),
        secret=config.secret,
        inspect_data=inspect_data,
    )
    # The templates ship with the code, which does not change under a running worker: no
    # stat of every template file on every render to see whether it did.
    datasette.jinja_env.auto_reload = False
    from archive.publish.common import attach

    attach(datasette, config.snapshot, config.live, config.taken_at)
    return datasette


def restart_workers() -> None:
    """Ask uvicorn's supervisor (this worker's parent) to replace every worker."""
    os.kill(os.getppid(), signal.SIGHUP)


def refresh_snapshot(config_path: str, live_run: int, restart=restart_workers) -> bool:
    """Serve live run `live_run`: take a fresh snapshot beside the old one, point the
    workers' config at it, and ask uvicorn's supervisor to restart the workers (SIGHUP: each
    replacement is serving before the worker it replaces stops). Done once per run for all
    workers (an exclusive lock file); False when another worker is doing it."""
    folder = Path(config_path).parent
    try:
        os.close(os.open(folder / f"refresh-{live_run}.lock", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    from archive.store import Store, now_iso

    config = ServeConfig.read(config_path)
    fresh = folder / f"run-{live_run}"
    fresh.mkdir()
    snapshot = fresh / Path(config.snapshot).name  # the same name: the same database name
    taken_at = now_iso()
    from archive.passages.indexing import indexed_snapshot

    with Store(config.live, create=False) as store:
        indexed_snapshot(store, snapshot)  # the search indexes built in the copy
    inspect_path = fresh / "inspect-data.json"
    inspect_path.write_text(json.dumps(inspect_data(str(snapshot))), encoding="utf-8")
    new = replace(config, snapshot=str(snapshot), inspect=str(inspect_path), taken_at=taken_at)
    pending = folder / f"serve-{live_run}.json"
    new.write(pending)
    os.replace(pending, config_path)  # whole, or not at all
    restart()
    return True


async def warm_urls(datasette) -> list[str]:
    """Pages that use every template of ours and Datasette's main ones."""
    from archive.publish import archive_database, pages, queries

    db = await archive_database(datasette)
    urls = ["/", datasette.urls.database(db.name), datasette.urls.table(db.name, "versions")]
    urls += ["/-/archive/search", "/-/archive/verify"]
    row = (await db.execute(queries.WARM_VERSION)).first()
    if row is not None:
        urls += [pages.document_url(row["document_id"]), pages.version_url(row["id"])]
        if row["previous_version_id"] is not None:
            urls.append(pages.diff_url(row["previous_version_id"], row["id"]))
    return urls


async def warm_up(datasette) -> None:
    """Run Datasette's startup and render each kind of page once, before the worker takes
    requests: otherwise the first requests to a new worker pay for compiling templates, and
    under load every connection queued behind them does too. Best effort: errors are left
    for real requests to report."""
    try:
        await datasette.invoke_startup()
        for url in await warm_urls(datasette):
            await datasette.client.get(url)
    except Exception:  # noqa: BLE001 - never stop a server from starting
        pass
    freeze_heap()


def freeze_heap() -> None:
    """Move everything the worker has made so far (modules, Datasette, templates, the proof
    memo) out of the garbage collector's way: otherwise each full collection walks all of
    it (33 ms measured on the sample archive), and every request queued behind it waits."""
    gc.collect()
    gc.freeze()


def with_warm_up(app, datasette):
    """`app`, warming `datasette` up when the ASGI lifespan starts (before uvicorn serves)."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)

        async def receive_after_warm_up():
            message = await receive()
            if message["type"] == "lifespan.startup":
                await warm_up(datasette)
            return message

        return await app(scope, receive_after_warm_up, send)

    return wrapped


def create_app():
    """uvicorn's app factory (`--factory archive.publish.server.app:create_app`)."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise RuntimeError(f"{CONFIG_ENV} is not set: start the server with `archive serve`")
    config = ServeConfig.read(path)
    datasette = build_datasette(config)
    if config.supervised and config.live:
        from archive.publish.common import set_refresh

        set_refresh(datasette, lambda live_run: refresh_snapshot(path, live_run))
    return with_warm_up(datasette.app(), datasette)
