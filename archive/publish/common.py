"""What every page of the plugin shares: finding the archive database, permissions, rendering.

Kept apart from the hooks (archive/publish/__init__.py) so the page modules (front.py and the
routes in __init__) use the same helpers without importing each other.
"""

from __future__ import annotations

import importlib.resources

from datasette.utils.asgi import BadRequest, NotFound, Response

from archive.publish import pages, queries

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


async def allowed(datasette, request, db_name: str, tables: tuple[str, ...] = ()) -> None:
    """Raise Forbidden unless the actor may see these tables (or the database, the instance)."""
    checks: list = [("view-table", (db_name, t)) for t in tables]
    await datasette.ensure_permissions(
        request.actor, [*checks, ("view-database", db_name), "view-instance"]
    )


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
    context = {**context, "db_name": (await archive_database(datasette)).name}
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html)
