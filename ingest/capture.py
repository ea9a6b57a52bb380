"""Fetch web pages politely and write every exchange to a WARC file: the raw evidence of a capture.

This is the fetch side of `archive capture`. Each URL is fetched with httpx (timeouts, a size
cap, a user agent naming the tool, a delay between requests to one host, robots.txt honoured
unless told otherwise), redirects are followed hop by hop, and each exchange is written as a
`request` and a `response` record (warcio). httpx hands over the body de-chunked, so the
recorded body is exactly what came after the chunking, still content-encoded as sent, and the
`Transfer-Encoding` header is kept as `X-Archive-Orig-Transfer-Encoding` (as web archives do).
The WARC is written to a temporary name and renamed when complete: never a half-written file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from io import BytesIO
from typing import IO
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Codings warcio can decode when the capture is read back.
ACCEPT_ENCODING = "gzip, deflate"
HOP_BY_HOP_RENAMED = frozenset({"transfer-encoding"})


def _version() -> str:
    try:
        return metadata.version("provenance-archive")
    except metadata.PackageNotFoundError:
        return "dev"


USER_AGENT = f"provenance-archive/{_version()} (document provenance archive; archive capture)"


@dataclass(frozen=True)
class CaptureOptions:
    timeout: float = 30.0  # seconds, for connecting and for each read
    max_bytes: int = 50 * 1024 * 1024  # a body over this is a problem, not a record
    delay: float = 1.0  # seconds between two requests to one host (robots.txt may ask more)
    robots: bool = True  # honour robots.txt
    max_redirects: int = 5
    user_agent: str = USER_AGENT
    trust_env: bool = True  # proxies and certificates from the environment, as httpx does


@dataclass(frozen=True)
class Exchange:
    """One URL fetched (or not): what was written to the WARC, or why nothing was."""

    url: str
    status: int | None = None
    response_id: str | None = None
    location: str | None = None  # a redirect's target
    problem: str | None = None


@dataclass
class _Host:
    last: float | None = None
    robots: RobotFileParser | None = None


@dataclass
class _Session:
    client: httpx.Client
    writer: WARCWriter
    options: CaptureOptions
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    now: Callable[[], datetime]
    hosts: dict[str, _Host] = field(default_factory=dict)


def warc_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def capture(
    urls: Iterable[str],
    warc_path: str,
    options: CaptureOptions = CaptureOptions(),  # noqa: B008 - frozen, so shared safely
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Exchange]:
    """Fetch each URL (following redirects) into a new gzipped WARC at warc_path."""
    partial = warc_path + ".part"
    exchanges: list[Exchange] = []
    client = httpx.Client(
        timeout=options.timeout,
        follow_redirects=False,
        trust_env=options.trust_env,
        headers={"User-Agent": options.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
    )
    try:
        with client, open(partial, "wb") as out:
            session = _Session(client, _writer(out, warc_path, options), options, sleep, clock, now)
            for url in urls:
                exchanges.extend(_follow(session, url))
        os.replace(partial, warc_path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return exchanges


def _writer(out: IO[bytes], warc_path: str, options: CaptureOptions) -> WARCWriter:
    writer = WARCWriter(out, gzip=True)
    info = {
        "software": f"provenance-archive {_version()} (httpx {httpx.__version__})",
        "format": "WARC File Format 1.0",
        "http-header-user-agent": options.user_agent,
        "robots": "obey" if options.robots else "ignore",
    }
    writer.write_record(writer.create_warcinfo_record(os.path.basename(warc_path), info))
    return writer


def _follow(session: _Session, url: str) -> list[Exchange]:
    """A URL and its redirects, one exchange per hop."""
    hops: list[Exchange] = []
    for _ in range(session.options.max_redirects + 1):
        exchange = _fetch_allowed(session, url)
        hops.append(exchange)
        if exchange.location is None:
            return hops
        url = exchange.location
    hops.append(Exchange(url, problem=f"more than {session.options.max_redirects} redirects"))
    return hops


def _fetch_allowed(session: _Session, url: str) -> Exchange:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Exchange(url, problem="not an http(s) URL")
    origin = f"{parts.scheme}://{parts.netloc}"
    host = session.hosts.setdefault(origin, _Host())
    if session.options.robots:
        if host.robots is None:
            host.robots = _robots(session, origin, host)
        if not host.robots.can_fetch(session.options.user_agent, url):
            return Exchange(url, problem="disallowed by robots.txt")
    return _exchange(session, url, host)[0]


def _robots(session: _Session, origin: str, host: _Host) -> RobotFileParser:
    """robots.txt as RFC 9309 reads it: 4xx allows all; 5xx or unreachable disallows all."""
    parser = RobotFileParser(origin + "/robots.txt")
    exchange, body = _exchange(session, origin + "/robots.txt", host)
    if exchange.status is None or exchange.status >= 500:
        parser.disallow_all = True
    elif exchange.status >= 400:
        parser.allow_all = True
    else:
        parser.parse(body.decode("utf-8", "replace").splitlines())
    parser.modified()  # robotparser answers False to everything until it was "read"
    return parser


def _wait(session: _Session, host: _Host) -> None:
    delay = session.options.delay
    if host.robots is not None:
        delay = max(delay, float(host.robots.crawl_delay(session.options.user_agent) or 0))
    if host.last is not None:
        remaining = host.last + delay - session.clock()
        if remaining > 0:
            session.sleep(remaining)
    host.last = session.clock()


def _exchange(session: _Session, url: str, host: _Host) -> tuple[Exchange, bytes]:
    """GET url (after the host's delay); write request and response records."""
    _wait(session, host)
    moment = warc_date(session.now())
    try:
        request = session.client.build_request("GET", url)
        response = session.client.send(request, stream=True)
        try:
            body = _body(response, session.options.max_bytes)
        finally:
            response.close()
    except httpx.HTTPError as e:
        return Exchange(url, problem=f"fetch failed: {type(e).__name__}: {e}"[:300]), b""
    except _TooLarge:
        return Exchange(url, problem=f"body over {session.options.max_bytes} bytes"), b""
    response_id = _write(session.writer, request, response, body, moment)
    location = response.headers.get("location")
    target = urljoin(url, location) if location and response.status_code in REDIRECTS else None
    return Exchange(url, response.status_code, response_id, target), body


class _TooLarge(Exception):
    pass


def _body(response: httpx.Response, cap: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        parts.append(chunk)
    return b"".join(parts)


def _write(
    writer: WARCWriter, request: httpx.Request, response: httpx.Response, body: bytes, date: str
) -> str:
    url = str(request.url)
    response_headers = StatusAndHeaders(
        f"{response.status_code} {response.reason_phrase}".strip(),
        _recorded_headers(response.headers.raw),
        protocol=response.http_version or "HTTP/1.1",
    )
    response_record = writer.create_warc_record(
        url,
        "response",
        payload=BytesIO(body),
        length=len(body),
        http_headers=response_headers,
        warc_headers_dict={"WARC-Date": date},
    )
    target = request.url.raw_path.decode("ascii", "replace")
    request_headers = StatusAndHeaders(
        f"GET {target}",
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
        protocol="HTTP/1.1",
    )
    request_record = writer.create_warc_record(
        url, "request", http_headers=request_headers, warc_headers_dict={"WARC-Date": date}
    )
    writer.write_request_response_pair(request_record, response_record)
    return response_record.rec_headers.get_header("WARC-Record-ID")


def _recorded_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Response headers as received; hop-by-hop codings already undone are renamed."""
    headers = []
    for name, value in raw:
        text = name.decode("latin-1")
        if text.lower() in HOP_BY_HOP_RENAMED:
            text = "X-Archive-Orig-" + text
        headers.append((text, value.decode("latin-1")))
    return headers
