"""The archive's front door in Datasette: the home page (/), the Changes page, the snapshot line.

The home page replaces Datasette's index (the plugin's route for `/` comes first): what the
archive is (metadata.yml's title and description), its counts, latest checkpoint, recent
changes and most-changed documents, a search box, and the tables below. Like every page of
ours it is server-rendered, escaped by the templates and cached with the snapshot.
"""

from __future__ import annotations

from archive.publish import home
from archive.publish.common import allowed, archive_database, parse, render
from archive.publish.pages import parse_id

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
    """/: the archive's own home page (Datasette's table list is at the end of it)."""
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, ("documents", "versions"))
    data = await db.execute_fn(home.read_home)
    metadata = {key: datasette.metadata(key) for key in HOME_METADATA}
    tables = await visible_tables(datasette, request, db)
    view = home.home_view(metadata, data, tables)
    return await render(datasette, request, "archive_home.html", {"home": view})


async def changes_page(datasette, request):
    """/-/archive/changes: every version, newest first, a page at a time (?before=<id>)."""
    before = None
    if request.args.get("before") is not None:
        before = parse(parse_id, request.args.get("before"), "before")
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, ("versions",))
    rows = await db.execute_fn(lambda conn: home.read_changes(conn, before, home.CHANGES_PAGE))
    view = home.changes_view(rows, home.CHANGES_PAGE, before)
    return await render(datasette, request, "archive_changes.html", {"view": view})


ROUTES = [
    (r"^/$", home_page),
    (r"^/-/archive/changes$", changes_page),
]
