"""The archive's Datasette plugin: history, version, diff, verify and feed pages, cell links.

Registered by the entry point `[project.entry-points.datasette] provenance_archive`, so plain
`datasette archive.db -m metadata.yml` loads it. Every route checks Datasette permissions
itself (custom routes get none for free) and reads the database through Datasette.
"""

from __future__ import annotations

import asyncio
import os

import markupsafe
from datasette import hookimpl
from datasette.utils.asgi import BadRequest, NotFound, Response

from archive.diffs import ALGORITHM, diff_texts
from archive.diffs.stored import result_of
from archive.ledger.checkpoints import inclusion_proof
from archive.passages.blame import blame
from archive.passages.trace import search_documents, trace
from archive.publish import (
    checkpoint,
    front,
    memento,
    pages,
    queries,
    raw,
    snippets,
    sqlfunctions,
)
from archive.publish.common import (
    allowed,
    archive_database,
    described,
    fetch,
    fetch_one,
    known_archive_database,
    parse,
    poke_refresh,
    query_one,
    query_rows,
    read_text,
    refreshing,
    render,
    stale,
    static_url,
)
from archive.publish.server import cache
from archive.store import ArchiveError, PassageStore, Store
from archive.store.passage_format import passage_digest

FEED_LIMIT = 50
NO_BEFORE = 2**63 - 1
TRACE_LIMIT = 20  # passages per page of the trace page
SEARCH_LIMIT = 25  # documents per page of each list on the search page
SEARCH_CAP = 10_000  # documents a text search lists at most (over all its pages)


# Page data read in one db.execute_fn call per page: each db.execute is a trip to a
# Datasette SQL thread and back through the event loop, which under load costs more than the
# queries themselves (a diff page made seven such trips).


def _version_data(conn, version_id: int, identity: tuple | None) -> tuple[dict, str | None]:
    """A version row and its readable text (None: binary, deleted), read through the worker's
    kept groups when the file is immutable (identity: immutable_identity; common.read_text)."""
    version = fetch_one(conn, queries.VERSION, {"id": version_id}, f"version {version_id}")
    blob = version["blob"]
    return version, read_text(conn, blob, identity) if blob else None


def _diff_data(conn, from_id: int, to_id: int, identity: tuple | None) -> dict:
    """Both versions, their texts, their neighbouring changes and the pair's stored diff."""
    old, old_text = _version_data(conn, from_id, identity)
    new, new_text = _version_data(conn, to_id, identity)
    nxt = fetch(
        conn, queries.NEXT_CONTENT_VERSION, {"document_id": new["document_id"], "seq": new["seq"]}
    )
    prv = fetch(
        conn,
        queries.PREVIOUS_CONTENT_VERSION,
        {"document_id": old["document_id"], "seq": old["seq"]},
    )
    stored = []
    if old_text is not None and new_text is not None:
        pair = {"from_blob": old["blob"], "to_blob": new["blob"]}
        stored = fetch(conn, queries.STORED_DIFF, pair)
    return {
        "old": old,
        "new": new,
        "old_text": old_text,
        "new_text": new_text,
        "neighbours": (prv[0]["id"] if prv else None, nxt[0]["id"] if nxt else None),
        "stored": stored,
    }


async def _diff(rows: list[dict], old_text: str | None, new_text: str | None):
    """(result, algorithm, stored) for two versions' texts: the stored diff of their blobs
    when there is one, else computed off the event loop; (None, None, False) without text."""
    if old_text is None or new_text is None:
        return None, None, False
    if rows:
        try:
            return result_of(rows[0], old_text), rows[0]["algorithm"], True
        except ValueError:
            pass  # a damaged row (archive verify reports it): show a fresh diff instead
    result = await asyncio.to_thread(diff_texts, old_text, new_text)
    return result, ALGORITHM, False


async def history_page(datasette, request):
    doc_id = parse(pages.parse_id, request.url_vars["id"], "document id")
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "history")
    before = None
    if request.args.get("before") is not None:
        before = parse(pages.parse_id, request.args.get("before"), "before")
    limit = pages.HISTORY_PAGE

    def read(conn):
        document = fetch_one(conn, queries.DOCUMENT, {"id": doc_id}, f"document {doc_id}")
        total = fetch(conn, queries.VERSION_COUNT, {"id": doc_id})[0]["n"]
        params = {"id": doc_id, "before": before or total + 1, "limit": limit + 1}
        versions = fetch(conn, queries.DOCUMENT_VERSIONS, params)
        return document, total, versions, fetch(conn, queries.DOCUMENT_CAPTURES, {"id": doc_id})

    document, total, versions, captures = await db.execute_fn(read)
    view = pages.history_view(document, versions, total, limit)
    view.update(pages.captures_view(document, captures))
    return await render(datasette, request, "archive_history.html", view)


def immutable_identity(db) -> tuple | None:
    """What names a served database file for the proof memo, or None when it may change
    (mutable, in memory, gone): only an immutable file's proofs may be memoized."""
    if db.is_mutable or not db.path:
        return None
    try:
        st = os.stat(db.path)
    except OSError:
        return None
    return (os.path.realpath(db.path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _proof(conn, version_id: int, identity: tuple | None) -> tuple[dict | None, str | None]:
    """(inclusion proof of the version's ledger leaf in the latest checkpoint, None) or
    (None, why there is none): the same proof `archive proof <version>` prints, from the
    process's memo of the tree when the database is immutable (identity not None)."""
    try:
        return inclusion_proof(Store.over(conn), version_id, immutable=identity), None
    except ArchiveError as e:
        return None, str(e)


def read_doc_metadata(conn, blob: str | None, version_id: int) -> tuple[list[dict], list[dict]]:
    """(metadata rows, provenance rows) of a version, for its page."""
    meta = fetch(conn, queries.DOC_METADATA, {"blob": blob}) if blob else []
    items = fetch(conn, queries.DOC_ITEMS, {"blob": blob}) if blob else []
    provenance = fetch(conn, queries.DOC_PROVENANCE, {"id": version_id})
    return pages.metadata_rows(meta[0] if meta else None, items), pages.provenance_rows(provenance)


def _version_page_data(conn, version_id: int, identity: tuple | None) -> tuple:
    version, text = _version_data(conn, version_id, identity)
    capture = fetch(conn, queries.VERSION_CAPTURE, {"id": version_id})
    proof, no_proof = _proof(conn, version_id, identity)
    vouched = checkpoint.vouched(conn, proof)
    about = read_doc_metadata(conn, version["blob"], version_id)
    return version, text, (proof, no_proof), (capture or [None])[0], vouched, about


async def version_page(datasette, request):
    version_id = parse(pages.parse_id, request.url_vars["id"], "version id")
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "version")
    identity = immutable_identity(db)
    (
        version,
        text,
        (proof, no_proof),
        capture,
        vouched,
        (metadata, provenance),
    ) = await db.execute_fn(lambda conn: _version_page_data(conn, version_id, identity))
    view = pages.version_view(version, text, proof, no_proof)
    view["capture"] = pages.capture_view(capture)
    view["evidence"] = vouched
    view.update(metadata=metadata, source_provenance=provenance)
    response = await render(datasette, request, "archive_version.html", {"view": view})
    row = {**version, "path": version["document_path"]}  # memento's columns, no second query
    response.headers.update(memento.headers_of(datasette, request, row))
    return response


def _blame_data(conn, version_id: int) -> tuple[dict, dict | None, str | None]:
    version = fetch_one(conn, queries.VERSION, {"id": version_id}, f"version {version_id}")
    store = Store.over(conn)
    try:
        return version, blame(store, store.document(version["document_id"]), version["seq"]), None
    except ValueError as e:
        return version, None, str(e)


async def blame_page(datasette, request):
    version_id = parse(pages.parse_id, request.url_vars["id"], "version id")
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "blame")
    version, result, no_blame = await db.execute_fn(lambda conn: _blame_data(conn, version_id))
    view = pages.blame_view(version, result, no_blame)
    return await render(datasette, request, "archive_blame.html", {"view": view})


def _trace_data(conn, q: str, pid: int | None, normalized: bool) -> tuple[str, dict | None]:
    """(the query traced, its trace): passage pid is traced by its hash (one SQL trip)."""
    if pid is not None:
        try:
            q = passage_digest(PassageStore(conn).texts([pid])[pid]).hex()
        except ArchiveError:
            raise NotFound(f"No passage {pid}") from None
    return q, (trace(Store.over(conn), q, normalized) if q else None)


async def trace_page(datasette, request):
    """Who said this first, and where it reappears: a passage's text or BLAKE3 hex."""
    q = (request.args.get("q") or "").strip()
    normalized = request.args.get("normalize") == "1"
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "trace")
    pid = None
    if request.args.get("passage") is not None:  # a passage by id (the passages table links)
        pid = parse(pages.parse_id, request.args.get("passage"), "passage")
    page = parse(snippets.parse_page, request.args.get("page"))
    q, result = await db.execute_fn(lambda conn: _trace_data(conn, q, pid, normalized))
    view = snippets.trace_view(q, normalized, result, TRACE_LIMIT, page)
    return await render(datasette, request, "archive_trace.html", {"view": view})


async def proof_json(datasette, request):
    """The version's inclusion proof as a file `archive verify-proof` checks offline."""
    version_id = parse(pages.parse_id, request.url_vars["id"], "version id")
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "proof")
    identity = immutable_identity(db)
    version, (proof, no_proof) = await db.execute_fn(
        lambda conn: (
            fetch_one(conn, queries.VERSION, {"id": version_id}, f"version {version_id}"),
            _proof(conn, version_id, identity),
        )
    )
    if proof is None:
        raise NotFound(no_proof)
    response = Response.json(proof)
    response.headers["content-disposition"] = (
        f'attachment; filename="version-{version["id"]}-proof.json"'
    )
    return response


async def checkpoint_file(datasette, request):
    """The latest checkpoint as a signed note (text/plain; `?stamped=1`: the exact note the
    newest time-stamp token covers), or with `.tsr` that token, for anyone to keep."""
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "checkpoint")
    try:
        note, token = await db.execute_fn(checkpoint.latest_note)
    except ArchiveError as e:
        raise NotFound(str(e)) from None
    if request.url_vars.get("tsr"):
        return checkpoint.token_response(token)
    return checkpoint.note_response(note, token, bool(request.args.get("stamped")))


async def diff_page(datasette, request):
    from_id = parse(pages.parse_id, request.args.get("from"), "from")
    to_id = parse(pages.parse_id, request.args.get("to"), "to")
    side_by_side = parse(pages.parse_view, request.args.get("view"))
    context = parse(pages.parse_context, request.args.get("context"))
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "diff")
    identity = immutable_identity(db)
    data = await db.execute_fn(lambda conn: _diff_data(conn, from_id, to_id, identity))
    old_text, new_text = data["old_text"], data["new_text"]
    result, algorithm, stored = await _diff(data["stored"], old_text, new_text)
    view = pages.diff_view(
        data["old"],
        data["new"],
        old_text,
        new_text,
        data["neighbours"],
        result,
        algorithm,
        stored,
        side_by_side,
        context,
    )
    return await render(datasette, request, "archive_diff.html", view)


async def raw_blob(datasette, request):
    blake3 = request.url_vars["blake3"]
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "raw")
    return await raw.download(db, blake3, f"{blake3}.bin")


async def _lookup(datasette, request) -> dict | None:
    """The lookup for ?sha256=, ?blake3= or ?hash= (either: a hash pasted on the verify page,
    from `sha256sum` or `b3sum`); None when none is given."""
    for kind, sql in (("sha256", queries.LOOKUP_SHA256), ("blake3", queries.LOOKUP_BLAKE3)):
        if kind in request.args:
            value = parse(pages.parse_hash, request.args.get(kind), kind)
            db = await archive_database(datasette)
            await allowed(datasette, request, db.name, "lookup")
            return pages.lookup_view(kind, value, await query_rows(db, sql, {"hash": value}))
    if "hash" in request.args:
        value = parse(pages.parse_hash, request.args.get("hash"), "hash")
        db = await archive_database(datasette)
        await allowed(datasette, request, db.name, "lookup")
        for kind, sql in (("sha256", queries.LOOKUP_SHA256), ("blake3", queries.LOOKUP_BLAKE3)):
            found = await query_rows(db, sql, {"hash": value})
            if found:
                return pages.lookup_view(kind, value, found)
        return pages.lookup_view("hash", value, [])
    return None


async def lookup_json(datasette, request):
    result = await _lookup(datasette, request)
    if result is None:
        raise BadRequest("give sha256=<hex> or blake3=<hex>")
    return Response.json(result)


async def verify_page(datasette, request):
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "verify")
    context = {
        "result": await _lookup(datasette, request),
        "verify_js": static_url(datasette, "verify.js"),
        "lookup_url": datasette.urls.path("/-/archive/lookup.json"),
    }
    return await render(datasette, request, "archive_verify.html", context)


def _search_data(conn, q: str, offset: int) -> tuple[list[dict], dict, dict[int, str]]:
    """A page of documents whose path matches (and one more, to know there is a next page),
    every document whose text holds q, and the texts of the passages that do."""
    params = {"pattern": queries.like_pattern(q), "limit": SEARCH_LIMIT + 1, "offset": offset}
    path_rows = fetch(conn, queries.SEARCH_PATHS, params)
    passages = PassageStore(conn)
    found = search_documents(passages, q, SEARCH_CAP)
    shown = found["documents"][offset : offset + SEARCH_LIMIT]
    texts = passages.texts([r["passage"] for r in shown])
    return path_rows, found, texts


async def search_page(datasette, request):
    """Documents whose path or text holds q, a page at a time; text hits with a snippet."""
    q = (request.args.get("q") or "").strip()
    page = parse(snippets.parse_page, request.args.get("page"))
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "search")
    offset = (page - 1) * SEARCH_LIMIT
    path_rows: list[dict] = []
    found: dict = {"documents": [], "truncated": False, "match_cap": None}
    texts: dict[int, str] = {}
    if q:
        path_rows, found, texts = await db.execute_fn(lambda conn: _search_data(conn, q, offset))
    view = snippets.search_view(q, page, path_rows, found, texts, SEARCH_LIMIT)
    return await render(datasette, request, "archive_search.html", view)


def _atom(body: str) -> Response:
    return Response(body, content_type="application/atom+xml; charset=utf-8")


def _feed_before(request) -> int:
    """?before=<version id>: an older page of a feed (RFC 5005 paging), else the newest."""
    value = request.args.get("before")
    return NO_BEFORE if value is None else parse(pages.parse_id, value, "before")


def _feed_page(rows: list[dict], self_url: str) -> tuple[list[dict], str | None]:
    """A feed page's rows and the URL of the next (older) page, if there is one."""
    if len(rows) <= FEED_LIMIT:
        return rows, None
    rows = rows[:FEED_LIMIT]
    return rows, f"{self_url}?before={int(rows[-1]['id'])}"


async def changes_feed(datasette, request):
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "changes_feed")
    params = {"before": _feed_before(request), "limit": FEED_LIMIT + 1}
    base = datasette.absolute_url(request, "/").rstrip("/")
    feed_url = base + "/-/archive/changes.atom"
    rows, older = _feed_page(await query_rows(db, queries.RECENT_CHANGES, params), feed_url)
    entries = [pages.change_entry(r, base) for r in rows]
    title = f"{datasette.metadata('title') or 'Archive'}: recent changes"
    alt = base + "/-/archive/changes"
    return _atom(pages.atom_feed(feed_url, title, feed_url, alt, entries, older))


async def document_feed(datasette, request):
    doc_id = parse(pages.parse_id, request.url_vars["id"], "document id")
    db = await archive_database(datasette)
    await allowed(datasette, request, db.name, "document_feed")
    document = await query_one(db, queries.DOCUMENT, {"id": doc_id}, f"document {doc_id}")
    params = {"id": doc_id, "before": _feed_before(request), "limit": FEED_LIMIT + 1}
    base = datasette.absolute_url(request, "/").rstrip("/")
    page = base + pages.document_url(doc_id)
    rows, older = _feed_page(await query_rows(db, queries.DOCUMENT_CHANGES, params), page + ".atom")
    entries = [pages.change_entry(r, base) for r in rows]
    title = f"Changes to {document['source']}:{document['path']}"
    return _atom(pages.atom_feed(page + ".atom", title, page + ".atom", page, entries, older))


@hookimpl
def register_routes(datasette):
    return [
        *front.ROUTES,
        (r"^/-/archive/document/(?P<id>[0-9]+)$", history_page),
        (r"^/-/archive/document/(?P<id>[0-9]+)\.atom$", document_feed),
        (r"^/-/archive/version/(?P<id>[0-9]+)$", version_page),
        (r"^/-/archive/version/(?P<id>[0-9]+)/proof\.json$", proof_json),
        (r"^/-/archive/version/(?P<id>[0-9]+)/blame$", blame_page),
        (r"^/-/archive/trace$", trace_page),
        (r"^/-/archive/diff$", diff_page),
        (r"^/-/archive/raw/(?P<blake3>[0-9a-f]{64})$", raw_blob),
        (r"^/-/archive/verify$", verify_page),
        (r"^/-/archive/checkpoint(?P<tsr>\.tsr)?$", checkpoint_file),
        (r"^/-/archive/lookup\.json$", lookup_json),
        (r"^/-/archive/search$", search_page),
        (r"^/-/archive/changes\.atom$", changes_feed),
        *memento.Routes(archive_database, allowed).table(),
    ]


def cell_link(table: str | None, column: str, value: object) -> markupsafe.Markup | None:
    """A link for an archive cell, or None to let Datasette render it; values are escaped."""
    if isinstance(value, str) and column in ("blake3", "sha256", "blob"):
        if column == "blob" and table not in ("versions", None):
            return None
        if not pages.HEX64.match(value):
            return None
        kind = "sha256" if column == "sha256" else "blake3"
        return markupsafe.Markup('<a href="{}" class="archive-hash">{}</a>').format(
            pages.verify_url(kind, value), value
        )
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if column == "document_id" or (table == "documents" and column == "id"):
        href = pages.document_url(value)
    elif column in ("version_id", "current_version_id", "previous_version_id") or (
        table == "versions" and column == "id"
    ):
        href = pages.version_url(value)
    else:
        return None
    return markupsafe.Markup('<a href="{}">{}</a>').format(href, value)


def archive_cell(table: str | None, column: str, value: object) -> markupsafe.Markup | None:
    """What an archive cell renders as: a link, or None (diff deltas: see `delta_cell`)."""
    if table not in {"documents", "versions", "blobs", "diffs", "version_diffs", None}:
        return None
    return cell_link(table, column, value)


def _row_dict(row) -> dict:
    """A Datasette row as a dict of plain values ({} when it is not a row): Datasette expands
    foreign keys (from_blob, to_blob) to {"value": ..., "label": ...}."""
    try:
        fields = {k: row[k] for k in row.keys()}
    except (AttributeError, TypeError, IndexError, KeyError):
        return {}
    return {k: v.get("value") if isinstance(v, dict) else v for k, v in fields.items()}


async def delta_cell(datasette, database: str, row) -> markupsafe.Markup | None:
    """A stored diff's (compressed) delta cell: its stats, linked to a version pair's diff."""
    try:
        db = await archive_database(datasette)
    except NotFound:
        return None
    if database != db.name:
        return None
    fields = _row_dict(row)
    versions = None
    if isinstance(fields.get("from_blob"), str) and isinstance(fields.get("to_blob"), str):
        found = await query_rows(
            db,
            queries.PAIR_VERSIONS,
            {"from_blob": fields["from_blob"], "to_blob": fields["to_blob"]},
        )
        versions = (found[0]["from_id"], found[0]["to_id"]) if found else None
    return pages.delta_cell(fields, versions)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """Link hashes, documents and versions, and summarise diff deltas, in the archive only."""
    if table == "diffs" and column == "delta":
        return delta_cell(datasette, database, row)
    if table == "passages" and column == "key":  # the id cell is Datasette's row link
        link = pages.passage_cell(_row_dict(row).get("id"), value)
    elif table == "documents" and column == "path":  # a path leads to its history
        link = pages.history_cell(_row_dict(row).get("id"), value)
    else:
        link = archive_cell(table, column, value)
    if link is None:
        return None
    known = known_archive_database(datasette)
    if known is not None:  # the usual case: no coroutine per cell
        return link if database == known.name else None

    async def inner():
        try:
            db = await archive_database(datasette)
        except NotFound:
            return None
        return link if database == db.name else None

    return inner()


@hookimpl
def prepare_connection(conn):
    # Bounded: a function runs inside a query, where sql_time_limit_ms cannot stop it.
    conn.create_function(
        "archive_passage_ids", 1, sqlfunctions.passage_ids_json, deterministic=True
    )
    conn.create_function("archive_words_query", 1, sqlfunctions.words_query, deterministic=True)


@hookimpl
def menu_links(datasette, actor, request):
    return [
        {"href": datasette.urls.path("/-/archive/verify"), "label": "Verify a file"},
        {"href": datasette.urls.path("/-/archive/search"), "label": "Search documents"},
        {"href": datasette.urls.path("/-/archive/changes"), "label": "Changes"},
        {"href": datasette.urls.path("/-/archive/trace"), "label": "Trace a passage"},
    ]


@hookimpl
def extra_css_urls(template, database, table, columns, view_name, request, datasette):
    """Our small stylesheet on every page, so linked hashes look the same everywhere."""
    return [static_url(datasette, "archive.css")]


@hookimpl
def extra_template_vars(datasette):
    """The served snapshot, for every page's footer (common.py)."""
    snapshot = described(datasette)
    if snapshot is None:
        return {}
    return {"archive_snapshot": {**snapshot.template_vars(), "refreshing": refreshing(datasette)}}


@hookimpl
def asgi_wrapper(datasette):
    """Cache rendered responses while every served database is immutable (see cache.py) and
    the live archive has not moved on (then every page must say so); once it has, start a
    fresh snapshot (common.poke_refresh)."""
    settings = cache.cache_settings(os.environ)

    def active() -> bool:
        return cache.all_immutable(datasette.databases) and not stale(datasette)

    def wrap(app):
        inner = cache.ResponseCache(app, active, settings) if settings.enabled else app
        if not refreshing(datasette):  # plain `datasette`, or `archive serve` with one worker
            return inner

        async def refreshing_app(scope, receive, send):
            if scope.get("type") == "http":
                poke_refresh(datasette)
            return await inner(scope, receive, send)

        return refreshing_app

    return wrap
