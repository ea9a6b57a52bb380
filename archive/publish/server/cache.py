"""A response cache for immutable archives, as an ASGI wrapper (the plugin's asgi_wrapper).

A served snapshot never changes, so a page rendered once is valid for the life of the process:
repeated requests are answered from memory instead of re-running SQL and Jinja. The policy is
plain functions (`request_key`, `response_cacheable`, `all_immutable`); `ResponseCache` is the
ASGI plumbing: an LRU bounded by bytes, single-flight misses, streams passed straight through.

Only anonymous GET/HEAD requests are cached (no Cookie, no Authorization: whatever can carry
an actor), only complete 200 responses without Set-Cookie, private/no-store or a Vary beyond
Cookie/Authorization; free-form SQL (`?sql=`, which may call random() or 'now') and pages that
describe the live process (/-/threads) always reach Datasette.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

CACHE_ENV = "ARCHIVE_SERVE_CACHE"  # "0" (or off/false/no) turns the cache off
CACHE_MB_ENV = "ARCHIVE_SERVE_CACHE_MB"  # total bytes the cache may hold, in MiB
DEFAULT_MAX_MB = 64
HEADER = b"x-archive-cache"
HIT, MISS, BYPASS = b"hit", b"miss", b"bypass"
# Rough per-entry cost beyond body and headers (key, dict slot, objects), so that many tiny
# entries are bounded too.
ENTRY_OVERHEAD = 256
UNCACHED_PATHS = (b"/-/threads",)
UNCACHED_PARAMS = frozenset({"sql", "_trace"})
QUIET_VARY = frozenset({b"cookie", b"authorization"})  # requests with these are never cached

Key = tuple[str, bytes, str, bytes, bytes]  # scheme, Host, root_path, raw path, query string
Headers = tuple[tuple[bytes, bytes], ...]
Scope = Mapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Callable, Send], Awaitable[None]]


@dataclass(frozen=True)
class CacheSettings:
    enabled: bool
    max_bytes: int
    max_body: int  # larger bodies (and streams past it) pass through uncached


def cache_settings(environ: Mapping[str, str]) -> CacheSettings:
    """From the environment (so every uvicorn worker reads the same): on, 64 MiB by default;
    one body may take at most 1/16 of it, so no single page can flush the cache."""
    enabled = environ.get(CACHE_ENV, "1").strip().lower() not in ("0", "off", "false", "no")
    try:
        mb = float(environ.get(CACHE_MB_ENV, DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    max_bytes = max(0, int(mb * 1024 * 1024))
    return CacheSettings(enabled and max_bytes > 0, max_bytes, max_bytes // 16)


def all_immutable(databases: Mapping[str, Any]) -> bool:
    """Whether everything served is an immutable file (Datasette's own _internal aside): only
    then is a rendered page valid for as long as the process lives."""
    served = [db for name, db in databases.items() if name != "_internal"]
    return bool(served) and all(not db.is_mutable for db in served)


def _has_param(query_string: bytes, names: frozenset[str]) -> bool:
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return any(name in names for name, _ in pairs)


def request_key(scope: Scope) -> Key | None:
    """The cache key of a request, or None when it must always reach Datasette.

    HEAD shares GET's key (it is answered from a GET's entry). The key has the raw path
    (Datasette routes on it: /a%2Fb is not /a/b), the raw query string, and the scheme and
    Host exactly as Datasette builds absolute URLs from them (feeds, JSON next_url):
    `Request.host` is the Host header's value, "localhost" when there is none. A request
    with several Host headers is never cached: which one a page is built from is
    Datasette's business, and one such request must not decide the links everyone gets.
    """
    if scope.get("type") != "http" or scope.get("method") not in ("GET", "HEAD"):
        return None
    hosts = []
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name in QUIET_VARY:
            return None
        if name == b"host":
            hosts.append(value)
    if len(hosts) > 1:
        return None
    host = hosts[0] if hosts and hosts[0] else b"localhost"
    path = (scope.get("raw_path") or scope.get("path", "").encode("utf-8")).partition(b"?")[0]
    if path.startswith(UNCACHED_PATHS):
        return None
    query = scope.get("query_string", b"")
    if query and _has_param(query, UNCACHED_PARAMS):
        return None
    return (scope.get("scheme") or "http", host, scope.get("root_path", ""), path, query)


def response_cacheable(status: int, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a response may be replayed to anyone asking the same key: a 200 that sets no
    cookie, is not private/no-store, and varies on nothing but Cookie/Authorization."""
    if status != 200:
        return False
    for name, value in headers:
        name, value = name.lower(), value.lower()
        if name == b"set-cookie":
            return False
        if name == b"cache-control" and any(
            part.strip() in (b"private", b"no-store", b"no-cache") for part in value.split(b",")
        ):
            return False
        if name == b"vary" and not {p.strip() for p in value.split(b",")} <= QUIET_VARY:
            return False
    return True


@dataclass(frozen=True)
class Entry:
    status: int
    headers: Headers
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + ENTRY_OVERHEAD


class LRU:
    """Entries by key, least recently used evicted first, bounded by total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.total = 0
        self._entries: OrderedDict[Key, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Key) -> bool:
        return key in self._entries

    def get(self, key: Key) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Key, entry: Entry) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.total -= old.size
        if entry.size > self.max_bytes:
            return
        self._entries[key] = entry
        self.total += entry.size
        while self.total > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.total -= evicted.size


def _tagged(send: Send, value: bytes) -> Send:
    """`send` with the cache header added to the response start."""

    async def tagged(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), (HEADER, value)]}
        await send(message)

    return tagged


async def _replay(entry: Entry, send: Send, head: bool) -> None:
    headers = [*entry.headers, (HEADER, HIT)]
    await send({"type": "http.response.start", "status": entry.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else entry.body})


class ResponseCache:
    """ASGI middleware: answer repeated anonymous GET/HEAD from memory while `active()` (every
    database immutable); concurrent misses of one key render once, the others wait for it."""

    def __init__(self, app: ASGIApp, active: Callable[[], bool], settings: CacheSettings):
        self.app = app
        self.active = active
        self.max_body = settings.max_body
        self.entries = LRU(settings.max_bytes)
        self._inflight: dict[Key, asyncio.Future[Entry | None]] = {}
        self.waiting = 0  # requests waiting for another's render of the same key

    async def __call__(self, scope: Scope, receive: Callable, send: Send) -> None:
        if scope.get("type") != "http" or not self.active():
            return await self.app(scope, receive, send)
        key = request_key(scope)
        if key is None:
            return await self.app(scope, receive, _tagged(send, BYPASS))
        head = scope["method"] == "HEAD"
        entry = self.entries.get(key)
        if entry is not None:
            return await _replay(entry, send, head)
        if head:  # a HEAD response has no body to keep: it never fills the cache
            return await self.app(scope, receive, _tagged(send, MISS))
        pending = self._inflight.get(key)
        if pending is not None:
            self.waiting += 1
            try:
                entry = await asyncio.shield(pending)
            finally:
                self.waiting -= 1
            if entry is not None:
                return await _replay(entry, send, head)
            return await self.app(scope, receive, _tagged(send, MISS))  # it was not cacheable
        done: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = done
        entry = None
        try:
            entry = await self._render(scope, receive, send)
            if entry is not None:
                self.entries.put(key, entry)
        finally:
            del self._inflight[key]
            done.set_result(entry)

    async def _render(self, scope: Scope, receive: Callable, send: Send) -> Entry | None:
        """Run the app, passing every message straight on, and keep a copy of the response
        while it stays cacheable: complete, and no bigger than max_body."""
        status, headers, chunks = 0, (), []
        keep, complete, size = True, False, 0

        async def tee(message: Message) -> None:
            nonlocal status, headers, keep, complete, size
            kind = message["type"]
            if kind == "http.response.start":
                status, headers = message["status"], tuple(message.get("headers", ()))
                keep = response_cacheable(status, headers)
                message = {**message, "headers": [*headers, (HEADER, MISS)]}
            elif kind == "http.response.body":
                body = message.get("body", b"")
                size += len(body)
                if size > self.max_body:  # stop copying; the rest streams through
                    keep = False
                    chunks.clear()
                elif keep:
                    chunks.append(body)
                    complete = not message.get("more_body", False)
            else:
                keep = False  # trailers, file extensions: not ours to replay
            await send(message)

        await self.app(scope, receive, tee)
        if keep and complete:
            return Entry(status, tuple(headers), b"".join(chunks))
        return None
