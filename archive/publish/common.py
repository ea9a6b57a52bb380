"""What every page of the plugin shares: the archive database, permissions, rendering, and
which snapshot it serves.

Kept apart from the hooks (archive/publish/__init__.py) so the page modules (front.py and the
routes in __init__) use the same helpers without importing each other.

`archive serve` serves a read-only snapshot; an ingest after it starts changes only the live
file. Every page's footer says when the snapshot was taken and which checkpoint it holds,
and once the live archive has a newer run, that a restart would show it. The live file is
looked at most every CHECK_INTERVAL_S seconds, and only read again when its size or mtime
(or its WAL's) changed; once newer, always newer (a snapshot never catches up).
"""

from __future__ import annotations

import asyncio
import importlib.resources
import inspect
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from datasette.utils.asgi import BadRequest, NotFound, Response

from archive.publish import pages, permissions, queries
from archive.store import GroupReader, iter_content, kept_reader, text_source

_DB_ATTR = "_provenance_archive_db"
_STATIC_ATTR = "_provenance_archive_static"


def known_archive_database(datasette):
    """The archive database once found (and still attached), else None."""
    cached = getattr(datasette, _DB_ATTR, None)
    if cached is not None and datasette.databases.get(cached.name) is cached:
        return cached
    return None


async def archive_database(datasette):
    """The database holding the archive: `archive` if it is one, else the first with versions."""
    cached = known_archive_database(datasette)
    if cached is not None:
        return cached
    names = list(datasette.databases)
    names.sort(key=lambda n: n != "archive")  # stable: "archive" first, then Datasette's order
    for name in names:
        db = datasette.databases[name]
        if (await db.execute(queries.HAS_VERSIONS)).first():
            setattr(datasette, _DB_ATTR, db)
            return db
    raise NotFound("No archive database is being served")


def static_url(datasette, filename: str) -> str:
    """Where Datasette mounted our static/ (named after the distribution, or the module)."""
    prefix = getattr(datasette, _STATIC_ATTR, None)
    if prefix is None:
        from datasette.plugins import get_plugins

        ours = str(importlib.resources.files("archive.publish") / "static")
        names = [p["name"] for p in get_plugins() if p["static_path"] == ours]
        name = names[0].replace("-", "_") if names else "provenance_archive"
        prefix = f"/-/static-plugins/{name}/"
        setattr(datasette, _STATIC_ATTR, prefix)
    return datasette.urls.path(prefix + filename)


async def allowed(datasette, request, db_name: str, page: str | tuple[str, ...]) -> None:
    """Raise Forbidden unless the actor may view every table the page reads (a page name of
    permissions.PAGE_TABLES, or the tables themselves), each decided on its own (see
    permissions.py); the database when it reads none."""
    tables = permissions.tables_of(page) if isinstance(page, str) else page
    await permissions.ensure_tables(datasette, request.actor, db_name, tables)


async def query_rows(db, sql: str, params: dict) -> list[dict]:
    return [dict(r) for r in (await db.execute(sql, params)).rows]


async def query_one(db, sql: str, params: dict, what: str) -> dict:
    found = await query_rows(db, sql, params)
    if not found:
        raise NotFound(f"No {what}")
    return found[0]


def parse(fn, *args):
    try:
        return fn(*args)
    except pages.BadRequest as e:
        raise BadRequest(str(e)) from None


def fetch(conn, sql: str, params: dict) -> list[dict]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def fetch_one(conn, sql: str, params: dict, what: str) -> dict:
    found = fetch(conn, sql, params)
    if not found:
        raise NotFound(f"No {what}")
    return found[0]


async def render(datasette, request, template: str, context: dict) -> Response:
    """A page of ours through Datasette's render_template (its hooks, context, CSRF token),
    the template itself rendered synchronously (see SyncTemplate)."""
    context = {**context, "db_name": (await archive_database(datasette)).name}
    html = await datasette.render_template(
        sync_template(datasette, template), context, request=request
    )
    return Response.html(html)


# Texts from inflated passage groups kept per served file ---------------------------------
# A text is rebuilt from passage groups: inflating them is most of what reading it costs,
# and a document's versions (a version page, the diffs on either side of it) share most of
# their groups. On an immutable database group rows never change, so the worker keeps the
# inflated groups of each served file, as SQLite keeps pages; the text itself is still
# assembled and checked against its hash on every read. One reader per file, shared by
# Datasette's SQL threads under a lock (each read points it at its own thread's connection),
# so a group is inflated once per worker, not once per thread. Bounded: past
# READER_MAX_INFLATED bytes the inflated texts are dropped, past READER_MAX_GROUPS group rows
# the reader starts afresh.

READER_MAX_GROUPS = 8192  # group rows (~1 KiB each without their inflated text)
READER_MAX_INFLATED = 32 << 20
KEPT_FILES = 4  # served files a worker keeps groups for


@dataclass
class KeptGroups:
    """One served file's GroupReader and the lock its users take turns with."""

    reader: GroupReader | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reader_for(self, conn: sqlite3.Connection) -> GroupReader:
        """The kept reader, reading through `conn` (call with the lock held)."""
        self.reader = kept_reader(self.reader, conn, READER_MAX_GROUPS, READER_MAX_INFLATED)
        return self.reader


_kept: dict[tuple, KeptGroups] = {}
_kept_lock = threading.Lock()


def kept_groups(identity: tuple) -> KeptGroups:
    """The kept groups of the immutable file `identity` names (publish.immutable_identity)."""
    with _kept_lock:
        kept = _kept.get(identity)
        if kept is None:
            while _kept and len(_kept) >= KEPT_FILES:
                del _kept[next(iter(_kept))]
            kept = _kept[identity] = KeptGroups()
        return kept


def read_text(conn: sqlite3.Connection, blake3: str, identity: tuple | None) -> str | None:
    """A blob's readable text (as archive.store.read_text), through the kept groups of the
    file when it is immutable (identity not None); None for binary or unknown content."""
    source = text_source(conn, blake3)
    if source is None:
        return None
    key, encoding = source
    if identity is None:
        return b"".join(iter_content(conn, key)).decode(encoding)
    kept = kept_groups(identity)
    with kept.lock:
        data = b"".join(iter_content(conn, key, kept.reader_for(conn)))
    return data.decode(encoding)


# Rendering without async Jinja ----------------------------------------------------------
# Datasette's Environment is async: every block, loop, call and attribute of a template goes
# through awaits and async generators, a large part of a cold page's CPU. Our pages' contexts
# hold plain values, so the same templates (same loader, filters and globals: an overlay of
# Datasette's environment) render synchronously, to the same bytes. Datasette's context holds
# async functions: menu_links (base.html always calls it) is awaited first; crumb_items (which
# our archive_base.html never calls) and any other becomes a stub that, if a template does
# call it, sends the page back to Datasette's async environment, as does any awaitable value.

_SYNC_ENV_ATTR = "_provenance_archive_sync_env"
SYNC_CACHE_SIZE = 400  # Jinja's default; a fresh cache (never the async one's templates)


class NeedsAsync(Exception):
    """A template called an async function of its context: render it the async way."""


def _needs_async(*args, **kwargs):
    raise NeedsAsync


class SyncTemplate(jinja2.Template):
    """A template of the synchronous overlay, handed to Datasette's render_template, which
    awaits `render_async`: here that renders synchronously once the context is plain."""

    async def render_async(self, *args, **kwargs) -> str:
        context = dict(*args, **kwargs)
        if any(inspect.isawaitable(v) or inspect.isasyncgen(v) for v in context.values()):
            return await self._render_async(context)
        links = context.get("menu_links")
        if inspect.iscoroutinefunction(links):
            found = await links()
            context["menu_links"] = lambda: found
        plain = {
            name: _needs_async if inspect.iscoroutinefunction(value) else value
            for name, value in context.items()
        }
        try:
            return self.render(plain)
        except NeedsAsync:
            return await self._render_async(context)

    async def _render_async(self, context: dict) -> str:
        async_env = self.environment.linked_to
        return await async_env.get_template(self.name).render_async(context)


def sync_environment(datasette) -> jinja2.Environment:
    """Datasette's Jinja environment without async mode, made once per instance (after
    startup, so plugins' filters are in; it shares them, the loader and auto_reload)."""
    env = getattr(datasette, _SYNC_ENV_ATTR, None)
    if env is None or env.linked_to is not datasette.jinja_env:
        env = sync_overlay(datasette.jinja_env)
        setattr(datasette, _SYNC_ENV_ATTR, env)
    return env


def sync_overlay(async_env: jinja2.Environment) -> jinja2.Environment:
    """`async_env` without async mode, its templates SyncTemplates (loaded by name from the
    shared loader, so a fallback finds the same template in `async_env`)."""
    env = async_env.overlay(enable_async=False, cache_size=SYNC_CACHE_SIZE)
    env.template_class = SyncTemplate
    return env


def sync_template(datasette, name: str) -> jinja2.Template:
    """Our template `name` (as Datasette's environment would find it), rendered synchronously."""
    return sync_environment(datasette).get_template(name)


# The served snapshot ------------------------------------------------------------------

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
    live_run: int | None = None  # the live archive's newest run, when last read
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
        self.live_run = live
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


REFRESH_ATTR = "_provenance_archive_refresh"


@dataclass
class Refresh:
    """How this worker gets a fresh snapshot (app.refresh_snapshot), and how that went."""

    take: Callable[[int], bool]
    started: bool = False
    failed: str | None = None

    def run(self, live_run: int) -> None:
        try:
            self.take(live_run)
        except Exception as e:  # noqa: BLE001 - the pages keep saying a restart would show it
            self.failed = f"{type(e).__name__}: {e}"


def set_refresh(datasette, take: Callable[[int], bool]) -> None:
    """Let requests start a fresh snapshot once the live archive has moved on."""
    setattr(datasette, REFRESH_ATTR, Refresh(take))


def refreshing(datasette) -> bool:
    """Whether a fresh snapshot is (or will be) taken for this worker without a restart."""
    refresh = getattr(datasette, REFRESH_ATTR, None)
    return refresh is not None and refresh.failed is None


def poke_refresh(datasette) -> None:
    """On each request (cheap): once the live archive has a newer run, start the refresh, once,
    off the event loop; pages say a fresh snapshot is coming until the workers restart."""
    refresh = getattr(datasette, REFRESH_ATTR, None)
    if refresh is None or refresh.started or not stale(datasette):
        return
    refresh.started = True
    live_run = described(datasette).freshness.live_run
    asyncio.get_running_loop().run_in_executor(None, refresh.run, live_run)
