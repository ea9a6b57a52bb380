"""The archive's front door: the home page (/) and the Changes page, their data and routes.

The home page replaces Datasette's index (the plugin's route for `/` comes first): what the
archive is (metadata.yml's title and description), its counts, latest checkpoint, recent
changes and most-changed documents, a search box, and the tables below. The pages read a few
rows in one trip (`read_home`, `read_changes`) and shape them with plain functions
(`home_view`, `changes_view`); the templates escape everything, and the pages are cached
with the snapshot like every page of ours. Lists are bounded and paged by version id
(newest first), so no page grows with the archive.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from datasette.utils.asgi import NotFound, Request

from archive.publish.checkpoint import vouched
from archive.publish.common import allowed, archive_database, parse, render
from archive.publish.pages import parse_id
from archive.publish.queries import CHANGES, COUNTS, LATEST_CHECKPOINT, MOST_CHANGED

RECENT_LIMIT = 20  # changes on the home page
MOST_CHANGED_LIMIT = 10
CHANGES_PAGE = 50  # changes per page of /-/archive/changes

NO_LIMIT_ID = 2**63 - 1


def _rows(conn: sqlite3.Connection, sql: str, params: dict | None = None) -> list[dict]:
    cursor = conn.execute(sql, params or {})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_changes(conn: sqlite3.Connection, before: int | None, limit: int) -> list[dict]:
    """Up to `limit` + 1 versions before id `before` (all when None), newest first: the extra
    row only says whether an older page exists."""
    params = {"before": NO_LIMIT_ID if before is None else before, "limit": limit + 1}
    return _rows(conn, CHANGES, params)


def read_home(conn: sqlite3.Connection) -> dict[str, Any]:
    """Everything the home page shows, read in one trip to the database."""
    checkpoint = _rows(conn, LATEST_CHECKPOINT)
    latest = checkpoint[0] if checkpoint else None
    return {
        "counts": _rows(conn, COUNTS)[0],
        "checkpoint": latest,
        "evidence": None if latest is None else vouched(conn, latest),
        "recent": read_changes(conn, None, RECENT_LIMIT)[:RECENT_LIMIT],
        "most_changed": _rows(conn, MOST_CHANGED, {"limit": MOST_CHANGED_LIMIT}),
    }


def human_bytes(n: int) -> str:
    """1,234 bytes / 12.3 kB / 4.5 MB / 6.7 GB (decimal units)."""
    if n < 1000:
        return f"{n:,} byte{'' if n == 1 else 's'}"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{value:,.1f} {unit}"
    raise AssertionError("unreachable")


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 version', '2 versions' (never '1 versions')."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def change_row(v: dict) -> dict:
    """One change for a list: links to the version, its document and its diff, its class and
    the words it changed (when its diff is stored)."""
    prev = v.get("from_version_id") or v.get("previous_version_id")
    classified = bool(v.get("change_class"))
    return {
        **v,
        "url": f"/-/archive/version/{int(v['id'])}",
        "document_url": f"/-/archive/document/{int(v['document_id'])}",
        "diff_url": (
            f"/-/archive/diff?from={int(prev)}&to={int(v['id'])}"
            if prev is not None and v.get("blob")
            else None
        ),
        "words_changed": (
            (v.get("words_inserted") or 0) + (v.get("words_deleted") or 0) if classified else None
        ),
    }


def home_view(metadata: dict, data: dict, tables: list[dict]) -> dict:
    """The home page's context: the archive's title and description (from metadata.yml), its
    counts, latest checkpoint, recent changes, most-changed documents and tables."""
    counts = data["counts"]
    return {
        "title": metadata.get("title") or "Archive",
        "description": metadata.get("description") or "",
        "license": metadata.get("license"),
        "license_url": metadata.get("license_url"),
        "source": metadata.get("source"),
        "source_url": metadata.get("source_url"),
        "counts": [
            ("sources", plural(counts["sources"], "source")),
            ("documents", plural(counts["documents"], "document")),
            ("versions", plural(counts["versions"], "version")),
            ("contents", plural(counts["blobs"], "distinct content")),
            ("text", human_bytes(counts["text_bytes"]) + " of text"),
        ],
        "present": counts["present"],
        "checkpoint": data["checkpoint"],
        "evidence": data.get("evidence"),
        "recent": [change_row(v) for v in data["recent"]],
        "most_changed": [
            {**d, "url": f"/-/archive/document/{int(d['id'])}"} for d in data["most_changed"]
        ],
        "tables": tables,
    }


def changes_view(rows: list[dict], limit: int, before: int | None) -> dict:
    """A page of the archive's changes, newest first, with the link to older ones."""
    page = [change_row(v) for v in rows[:limit]]
    older = None
    if len(rows) > limit and page:
        older = f"/-/archive/changes?before={int(page[-1]['id'])}"
    return {
        "changes": page,
        "older_url": older,
        "newest_url": "/-/archive/changes" if before is not None else None,
    }


HOME_METADATA = ("title", "description", "license", "license_url", "source", "source_url")


async def visible_tables(datasette, request, db) -> list[dict]:
    """The database's tables the actor may see, Datasette's hidden ones aside, with counts
    (from the snapshot's inspect data: nothing is counted per request)."""
    hidden = set(await db.hidden_table_names())
    counts = await db.table_counts(limit=100)
    out = []
    for name in await db.table_names():
        if name in hidden:
            continue
        visible = await datasette.permission_allowed(
            request.actor, "view-table", (db.name, name), default=True
        )
        if visible:
            out.append({"name": name, "count": counts.get(name)})
    return out


async def home_page(datasette, request):
    """/: the archive's own home page (Datasette's table list is at the end of it); Datasette's
    own index when no archive is served (the plugin is installed for every `datasette`)."""
    try:
        db = await archive_database(datasette)
    except NotFound:
        from datasette.views.index import IndexView

        scope = {**request.scope, "url_route": {"kwargs": {"format": None}}}
        return await IndexView.as_view(datasette)(Request(scope, request.receive), None)
    await allowed(datasette, request, db.name, "home")
    data = await db.execute_fn(read_home)
    metadata = {key: datasette.metadata(key) for key in HOME_METADATA}
    tables = await visible_tables(datasette, request, db)
    view = home_view(metadata, data, tables)
    return await render(datasette, request, "archive_home.html", {"home": view})


async def changes_page(datasette, request):
    """/-/archive/changes: every version, newest first, a page at a time (?before=<id>)."""
    before = None
    if request.args.get("before") is not None:
        before = parse(parse_id, request.args.get("before"), "before")
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "changes")
    rows = await db.execute_fn(lambda conn: read_changes(conn, before, CHANGES_PAGE))
    view = changes_view(rows, CHANGES_PAGE, before)
    return await render(datasette, request, "archive_changes.html", {"view": view})


ROUTES = [
    (r"^/$", home_page),
    (r"^/-/archive/changes$", changes_page),
]
