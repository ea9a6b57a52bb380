"""Memento (RFC 7089) for every document: TimeMaps, a TimeGate, and headers on each memento.

A document's mementos are its versions with content; a web document's original resource is
its URI, any other document's is its history page. Web archive clients and aggregators can
then ask the archive "what did this say at that time?" as they ask any web archive.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote

from datasette.utils.asgi import BadRequest, NotFound, Response

from archive.publish.raw import download
from archive.refs import version_at

LINK_FORMAT = "application/link-format"
# Characters left as they are when a target URI or path is put in a TimeMap/TimeGate URL.
TARGET_SAFE = "/:?=&@%+~,;!$'()*#[]"

FIND_DOCUMENTS = (
    "SELECT d.id, d.path, s.kind AS source_kind FROM documents d"
    " JOIN sources s ON s.id = d.source_id WHERE d.path = :path"
    " ORDER BY s.kind != 'web', d.id LIMIT 1"
)
DOCUMENT_TIMELINE = (
    "SELECT v.id, v.seq, v.observed_at, v.blob, v.kind FROM versions v"
    " WHERE v.document_id = :id ORDER BY v.observed_at, v.seq"
)
VERSION_DOCUMENT = (
    "SELECT v.id, v.observed_at, v.blob, d.id AS document_id, d.path, s.kind AS source_kind"
    " FROM versions v JOIN documents d ON d.id = v.document_id"
    " JOIN sources s ON s.id = d.source_id WHERE v.id = :id"
)


def http_date(iso: str) -> str:
    """An archive timestamp (ISO 8601, UTC) as an RFC 1123 date: `Wed, 01 May 2024 10:00:00 GMT`."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_accept_datetime(value: str) -> str:
    """An Accept-Datetime (RFC 1123, GMT) as the archive's ISO timestamp; ValueError if not."""
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"Accept-Datetime is not an RFC 1123 date: {value[:60]!r}") from None
    if moment is None:
        raise ValueError("Accept-Datetime is empty")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_force(timeline: Sequence[dict], moment: str | None) -> dict | None:
    """The version in force at moment (the last observed at or before it; the latest when
    moment is None); before the first version, the first (RFC 7089: the best memento)."""
    if not timeline:
        return None
    if moment is None:
        return timeline[-1]
    return version_at(timeline, moment) or timeline[0]


def _comparable(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def link_entry(uri: str, rel: str, **attrs: str) -> str:
    """One link-value (RFC 8288): `<uri>; rel="..."; name="value"`.

    The URI is hostile (a captured WARC-Target-URI): anything but printable ASCII, and `<`,
    `>`, `"`, is percent-encoded, so it cannot end the link or the header, and stays Latin-1.
    """
    safe = "".join(c if " " < c < "\x7f" and c not in '<>"' else quote(c, safe="") for c in uri)
    params = "".join(f'; {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<{safe}>; rel="{rel}"{params}'


def memento_rel(index: int, count: int) -> str:
    if count == 1:
        return "first last memento"
    if index == 0:
        return "first memento"
    return "last memento" if index == count - 1 else "memento"


def timemap_link(
    original: str, timemap: str, timegate: str, mementos: Sequence[tuple[str, str]]
) -> str:
    """A TimeMap in application/link-format; mementos are (URI, ISO datetime), oldest first."""
    self_attrs = {"type": LINK_FORMAT}
    if mementos:
        self_attrs |= {"from": http_date(mementos[0][1]), "until": http_date(mementos[-1][1])}
    lines = [
        link_entry(original, "original"),
        link_entry(timemap, "self", **self_attrs),
        link_entry(timegate, "timegate"),
    ]
    lines += [
        link_entry(uri, memento_rel(i, len(mementos)), datetime=http_date(when))
        for i, (uri, when) in enumerate(mementos)
    ]
    return ",\n".join(lines) + "\n"


def timemap_json(
    original: str,
    timemaps: dict[str, str],
    timegate: str,
    mementos: Sequence[tuple[str, str]],
) -> dict:
    """The same TimeMap as JSON (the shape the Memento aggregator's JSON TimeMaps have)."""
    items = [{"datetime": _rfc3339(when), "uri": uri} for uri, when in mementos]
    listing: dict = {"list": items}
    if items:
        listing |= {"first": items[0], "last": items[-1]}
    return {
        "original_uri": original,
        "timegate_uri": timegate,
        "timemap_uri": timemaps,
        "mementos": listing,
    }


def _rfc3339(iso: str) -> str:
    return _comparable(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def memento_link(original: str, timegate: str, timemap: str, memento: str, when: str) -> str:
    """The Link header of a memento (and of a TimeGate's redirect to it)."""
    return ", ".join(
        [
            link_entry(original, "original"),
            link_entry(timegate, "timegate"),
            link_entry(timemap, "timemap", type=LINK_FORMAT),
            link_entry(memento, "memento", datetime=http_date(when)),
        ]
    )


def target_path(target: str) -> str:
    """How a document's URI or path is written after /timemap/link/ or /timegate/."""
    return quote(target, safe=TARGET_SAFE)


def request_target(raw: str, query_string: str) -> list[str]:
    """The document names a TimeMap/TimeGate request can mean, most literal first.

    The target is everything after the route's prefix, its query string included (a URI's
    own query); clients send it as is or percent-encoded, and some proxies fold `//` to `/`.
    """
    target = raw + (f"?{query_string}" if query_string else "")
    names = [target, unquote(target)]
    for name in list(names):
        for scheme in ("http:/", "https:/"):
            if name.startswith(scheme) and not name.startswith(scheme + "/"):
                names.append(scheme + "/" + name[len(scheme) :])
    return list(dict.fromkeys(names))


class Urls:
    """Absolute URLs of one document's Memento resources, as this request sees the server."""

    def __init__(self, base: str, document: dict) -> None:
        self.base = base.rstrip("/")
        self.document = document
        name = target_path(document["path"])
        self.timemap = f"{self.base}/-/archive/timemap/link/{name}"
        self.timemap_json = f"{self.base}/-/archive/timemap/json/{name}"
        self.timegate = f"{self.base}/-/archive/timegate/{name}"

    @property
    def original(self) -> str:
        if self.document["source_kind"] == "web":
            return self.document["path"]
        return f"{self.base}/-/archive/document/{self.document['document_id']}"

    def memento(self, version_id: int) -> str:
        return f"{self.base}/-/archive/version/{version_id}"


# Routes ----------------------------------------------------------------------------------

ArchiveDatabase = Callable[[Any], Awaitable[Any]]
Allowed = Callable[..., Awaitable[None]]


async def memento_headers(datasette, request, db, version_id: int) -> dict[str, str]:
    """Memento-Datetime and Link for a version with content (a memento); {} otherwise."""
    row = (await db.execute(VERSION_DOCUMENT, {"id": version_id})).first()
    return {} if row is None else headers_of(datasette, request, dict(row))


def headers_of(datasette, request, row: Mapping[str, Any]) -> dict[str, str]:
    """memento_headers from a row the page has read already (VERSION_DOCUMENT's columns:
    id, observed_at, blob, document_id, the document's path, source_kind): no query."""
    if row["blob"] is None:
        return {}
    version_id = row["id"]
    document = {"document_id": row["document_id"], "path": row["path"]}
    urls = Urls(
        datasette.absolute_url(request, "/"), document | {"source_kind": row["source_kind"]}
    )
    memento = urls.memento(version_id)
    return {
        "Memento-Datetime": http_date(row["observed_at"]),
        "Link": memento_link(
            urls.original, urls.timegate, urls.timemap, memento, row["observed_at"]
        ),
    }


class Routes:
    """The Memento routes, given how the plugin finds its database and checks permissions."""

    def __init__(self, database: ArchiveDatabase, allowed: Allowed) -> None:
        self.database = database
        self.allowed = allowed

    def table(self) -> list[tuple[str, Callable]]:
        return [
            (r"^/-/archive/timemap/link/(?P<target>.+)$", self.timemap_link),
            (r"^/-/archive/timemap/json/(?P<target>.+)$", self.timemap_json),
            (r"^/-/archive/timegate/(?P<target>.+)$", self.timegate),
            (r"^/-/archive/version/(?P<id>[0-9]+)/raw$", self.version_raw),
        ]

    async def _document(self, datasette, request) -> tuple[Any, dict]:
        db = await self.database(datasette)
        await self.allowed(datasette, request, db.name, "timemap")
        query = request.scope.get("query_string", b"").decode("latin-1")
        for name in request_target(request.url_vars["target"], query):
            found = (await db.execute(FIND_DOCUMENTS, {"path": name})).first()
            if found is not None:
                doc = {"document_id": found["id"], "path": found["path"]}
                return db, doc | {"source_kind": found["source_kind"]}
        raise NotFound("No document with this URI or path")

    async def _mementos(self, datasette, request) -> tuple[Urls, list[dict]]:
        db, document = await self._document(datasette, request)
        urls = Urls(datasette.absolute_url(request, "/"), document)
        rows = await db.execute(DOCUMENT_TIMELINE, {"id": document["document_id"]})
        return urls, [dict(r) for r in rows]

    async def timemap_link(self, datasette, request):
        urls, timeline = await self._mementos(datasette, request)
        mementos = [(urls.memento(v["id"]), v["observed_at"]) for v in timeline if v["blob"]]
        body = timemap_link(urls.original, urls.timemap, urls.timegate, mementos)
        return Response(body, content_type=LINK_FORMAT)

    async def timemap_json(self, datasette, request):
        urls, timeline = await self._mementos(datasette, request)
        mementos = [(urls.memento(v["id"]), v["observed_at"]) for v in timeline if v["blob"]]
        maps = {"link_format": urls.timemap, "json_format": urls.timemap_json}
        data = timemap_json(urls.original, maps, urls.timegate, mementos)
        return Response(json.dumps(data, indent=2), content_type="application/json")

    async def timegate(self, datasette, request):
        """302 to the memento in force at Accept-Datetime (the latest without it)."""
        header = request.headers.get("accept-datetime")
        try:
            moment = parse_accept_datetime(header) if header is not None else None
        except ValueError as e:
            raise BadRequest(str(e)) from None
        urls, timeline = await self._mementos(datasette, request)
        with_content = [v for v in timeline if v["blob"]]
        chosen = in_force(with_content if moment is None else timeline, moment)
        vary = {"Vary": "accept-datetime"}
        if chosen is None or chosen["blob"] is None:
            links = ", ".join(
                [
                    link_entry(urls.original, "original"),
                    link_entry(urls.timemap, "timemap", type=LINK_FORMAT),
                ]
            )
            return Response.text(
                "No memento at that time: the document was deleted then.\n",
                status=404,
                headers={**vary, "Link": links},
            )
        memento = urls.memento(chosen["id"])
        when = chosen["observed_at"]
        link = memento_link(urls.original, urls.timegate, urls.timemap, memento, when)
        return Response(
            "",
            status=302,
            headers={**vary, "Location": memento, "Link": link},
            content_type="text/plain",
        )

    async def version_raw(self, datasette, request):
        """A version's exact bytes, as a memento (Memento-Datetime, Link): a download."""
        try:
            version_id = int(request.url_vars["id"])
        except ValueError:
            raise BadRequest("bad version id") from None
        db = await self.database(datasette)
        await self.allowed(datasette, request, db.name, "version_raw")
        row = (await db.execute(VERSION_DOCUMENT, {"id": version_id})).first()
        if row is None or row["blob"] is None:
            raise NotFound(f"No content for version {version_id}")
        headers = await memento_headers(datasette, request, db, version_id)
        return await download(db, row["blob"], f"version-{version_id}.bin", headers)
