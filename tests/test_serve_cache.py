"""The response cache for immutable archives: its policy functions, its LRU, and the ASGI
wrapper in a real Datasette app (the plugin's asgi_wrapper), with test-only routes for what the
archive's own pages never do (slow, streaming, cookies, POST)."""

from __future__ import annotations

import asyncio
import gc
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from datasette import hookimpl
from datasette.app import Datasette
from datasette.plugins import pm
from datasette.utils.asgi import AsgiStream, Response
from hypothesis import given
from hypothesis import strategies as st

from archive.publish import queries
from archive.publish.server import cache
from archive.publish.server.cache import (
    ENTRY_OVERHEAD,
    LRU,
    CacheSettings,
    Entry,
    ResponseCache,
    all_immutable,
    cache_settings,
    request_key,
    response_cacheable,
)
from tests.browser.archive_builder import ROOT, build_archive

METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text())


def scope(method="GET", path="/p", query=b"", headers=(), **extra) -> dict:
    base = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(b"host", b"example.org"), *headers],
        "scheme": "http",
        "root_path": "",
    }
    return {**base, **extra}


# Policy --------------------------------------------------------------------------------


def test_get_and_head_share_a_key_other_methods_have_none():
    assert request_key(scope("GET")) == request_key(scope("HEAD")) is not None
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        assert request_key(scope(method)) is None
    assert request_key({"type": "websocket", "path": "/p"}) is None


@pytest.mark.parametrize("header", [b"cookie", b"Cookie", b"authorization"])
def test_credentials_bypass(header):
    assert request_key(scope(headers=[(header, b"ds_actor=x")])) is None


def test_key_separates_host_scheme_raw_path_and_query():
    base = request_key(scope(query=b"a=1"))
    assert request_key(scope(query=b"a=2")) != base
    assert request_key(scope(query=b"a=1", scheme="https")) != base
    other_host = scope(query=b"a=1")
    other_host["headers"] = [(b"host", b"evil.example")]
    assert request_key(other_host) != base
    # Datasette routes on the raw path: an encoded slash is another page.
    assert request_key(scope(path="/db/a%2Fb")) != request_key(scope(path="/db/a/b"))


@pytest.mark.parametrize(
    "path,query",
    [("/archive", b"sql=select+random()"), ("/archive/versions", b"_trace=1"), ("/-/threads", b"")],
)
def test_live_or_nondeterministic_pages_bypass(path, query):
    assert request_key(scope(path=path, query=query)) is None


@pytest.mark.parametrize(
    "status,headers,ok",
    [
        (200, [(b"content-type", b"text/html")], True),
        (200, [(b"vary", b"Cookie, Authorization")], True),
        (200, [(b"cache-control", b"max-age=5")], True),
        (404, [], False),
        (302, [(b"location", b"/")], False),
        (500, [], False),
        (200, [(b"set-cookie", b"ds_actor=x")], False),
        (200, [(b"Cache-Control", b"private, no-store")], False),
        (200, [(b"vary", b"Accept, Cookie")], False),
        (200, [(b"vary", b"*")], False),
    ],
)
def test_response_cacheable(status, headers, ok):
    assert response_cacheable(status, headers) is ok


def test_settings_from_environment():
    assert cache_settings({}) == CacheSettings(True, 64 << 20, 4 << 20)
    for off in ("0", "off", "false", "NO"):
        assert not cache_settings({cache.CACHE_ENV: off}).enabled
    small = cache_settings({cache.CACHE_MB_ENV: "1"})
    assert (small.max_bytes, small.max_body) == (1 << 20, 1 << 16)
    assert not cache_settings({cache.CACHE_MB_ENV: "0"}).enabled
    assert cache_settings({cache.CACHE_MB_ENV: "lots"}).max_bytes == 64 << 20


class _Db:
    def __init__(self, is_mutable: bool):
        self.is_mutable = is_mutable


def test_all_immutable_ignores_datasettes_internal_database():
    assert all_immutable({"archive": _Db(False), "_internal": _Db(True)})
    assert not all_immutable({"archive": _Db(False), "other": _Db(True)})
    assert not all_immutable({"_internal": _Db(True)})


# LRU -----------------------------------------------------------------------------------


def entry(n: int) -> Entry:
    return Entry(200, (), b"x" * n)


def test_lru_evicts_least_recently_used_by_bytes():
    lru = LRU(max_bytes=3 * (100 + ENTRY_OVERHEAD))
    for key in "abc":
        lru.put(key, entry(100))
    assert lru.get("a") is not None  # a is now the most recent
    lru.put("d", entry(100))
    assert "b" not in lru and all(k in lru for k in "acd")
    lru.put("e", entry(250))  # needs two entries' room: the two least recent (c, a) go
    assert list(lru._entries) == ["d", "e"]
    lru.put("huge", entry(10_000))  # larger than the whole cache: not kept, nothing evicted
    assert "huge" not in lru and len(lru) == 2
    assert lru.total == sum(e.size for e in lru._entries.values())


@given(
    st.lists(
        st.tuples(st.sampled_from(["put", "get"]), st.integers(0, 9), st.integers(0, 3000)),
        max_size=60,
    ),
    st.integers(0, 8000),
)
def test_lru_total_is_exact_and_bounded(ops, max_bytes):
    lru = LRU(max_bytes)
    for op, key, size in ops:
        if op == "put":
            lru.put(key, entry(size))
            fits = entry(size).size <= max_bytes
            assert (key in lru) is fits  # the newest entry is never the one evicted
        else:
            lru.get(key)
        assert lru.total == sum(e.size for e in lru._entries.values()) <= max_bytes


# The wrapper in a real Datasette -------------------------------------------------------


class Probe:
    """Test-only routes: counts renders; the slow one waits for `release`."""

    def __init__(self) -> None:
        self.renders = 0
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    def routes(self):
        async def slow(request):
            self.renders += 1
            self.entered.set()
            await self.release.wait()
            return Response.html(f"<p>rendered {self.renders}</p>")

        async def counted(request):
            self.renders += 1
            return Response.text(f"render {self.renders}")

        async def cookie(request):
            self.renders += 1
            response = Response.text(f"render {self.renders}")
            response.set_cookie("flavour", "oat")
            return response

        async def stream(request):
            self.renders += 1

            async def body(writer):
                for i in range(64):
                    await writer.write(f"{i:04d}," * 256)

            return AsgiStream(body, content_type="text/csv")

        return [
            (r"^/-/probe/slow$", slow),
            (r"^/-/probe/counted$", counted),
            (r"^/-/probe/cookie$", cookie),
            (r"^/-/probe/stream$", stream),
        ]


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory) -> Path:
    return build_archive(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def probe():
    probe = Probe()

    class Plugin:
        __name__ = "ArchiveCacheProbe"

        @hookimpl
        def register_routes(self, datasette):
            return probe.routes()

    pm.register(Plugin(), name="archive-cache-probe")
    try:
        yield probe
    finally:
        pm.unregister(name="archive-cache-probe")


def immutable_ds(db: Path) -> Datasette:
    return Datasette(immutables=[str(db)], metadata=METADATA)


def first_document(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(queries.WARM_VERSION).fetchone()[1]
    finally:
        conn.close()


async def test_second_get_is_a_hit_with_the_same_body_and_headers(archive_db):
    ds = immutable_ds(archive_db)
    url = f"/-/archive/document/{first_document(archive_db)}"
    first, second = await ds.client.get(url), await ds.client.get(url)
    assert first.status_code == second.status_code == 200
    assert (first.headers["x-archive-cache"], second.headers["x-archive-cache"]) == ("miss", "hit")
    assert second.content == first.content and b"History of" in first.content
    drop = lambda r: [(k, v) for k, v in r.headers.multi_items() if k != "x-archive-cache"]  # noqa: E731
    assert drop(second) == drop(first)
    head = await ds.client.request("HEAD", url)
    assert head.headers["x-archive-cache"] == "hit" and head.content == b""


async def test_mutable_database_is_never_cached(archive_db, tmp_path):
    live = tmp_path / "archive.db"
    shutil.copyfile(archive_db, live)
    ds = Datasette([str(live)], metadata=METADATA)
    doc = first_document(live)
    url = f"/-/archive/document/{doc}"
    before = await ds.client.get(url)
    conn = sqlite3.connect(live)
    conn.execute("UPDATE documents SET path = 'renamed-while-served.txt' WHERE id = ?", (doc,))
    conn.commit()
    conn.close()
    after = await ds.client.get(url)
    assert "x-archive-cache" not in before.headers and "x-archive-cache" not in after.headers
    assert b"renamed-while-served.txt" not in before.content
    assert b"renamed-while-served.txt" in after.content


async def test_cache_off_by_environment(archive_db, monkeypatch, probe):
    monkeypatch.setenv(cache.CACHE_ENV, "0")
    ds = immutable_ds(archive_db)
    for n in (1, 2):
        r = await ds.client.get("/-/probe/counted")
        assert r.text == f"render {n}" and "x-archive-cache" not in r.headers


@pytest.mark.parametrize("header", ["cookie", "authorization"])
async def test_credentials_bypass_the_cache_both_ways(archive_db, probe, header):
    ds = immutable_ds(archive_db)
    credentialed = {header: "ds_actor=someone" if header == "cookie" else "Bearer x"}
    r1 = await ds.client.get("/-/probe/counted", headers=credentialed)
    assert (r1.text, r1.headers["x-archive-cache"]) == ("render 1", "bypass")
    r2 = await ds.client.get("/-/probe/counted")  # not answered from the credentialed one
    assert (r2.text, r2.headers["x-archive-cache"]) == ("render 2", "miss")
    r3 = await ds.client.get("/-/probe/counted", headers=credentialed)  # nor the reverse
    assert (r3.text, r3.headers["x-archive-cache"]) == ("render 3", "bypass")


async def test_post_is_not_cached(archive_db, probe):
    ds = immutable_ds(archive_db)
    await ds.client.get("/-/probe/counted")  # a cached GET must not answer a POST
    for n in (2, 3):
        r = await ds.client.post("/-/probe/counted", data={}, headers={"host": "localhost"})
        assert (r.text, r.headers["x-archive-cache"]) == (f"render {n}", "bypass")
    assert probe.renders == 3


async def test_not_found_and_set_cookie_are_not_cached(archive_db, probe):
    ds = immutable_ds(archive_db)
    for _ in range(2):
        r = await ds.client.get("/-/archive/document/999999")
        assert (r.status_code, r.headers["x-archive-cache"]) == (404, "miss")
    for n in (1, 2):
        r = await ds.client.get("/-/probe/cookie")
        assert (r.text, r.headers["x-archive-cache"]) == (f"render {n}", "miss")
        assert "flavour=oat" in r.headers["set-cookie"]


async def test_streams_pass_through_and_past_the_cap_are_not_kept(archive_db, probe, monkeypatch):
    monkeypatch.setenv(cache.CACHE_MB_ENV, "1")  # 64 KiB per body; the stream is 80 KiB
    ds = immutable_ds(archive_db)
    expected = "".join(f"{i:04d}," * 256 for i in range(64))
    for _ in range(2):
        r = await ds.client.get("/-/probe/stream")
        assert r.text == expected and r.headers["x-archive-cache"] == "miss"
    assert probe.renders == 2


async def test_body_cap_and_eviction_in_the_app(archive_db, monkeypatch):
    monkeypatch.setenv(cache.CACHE_MB_ENV, "0.5")  # 32 KiB per body, 512 KiB in all
    ds = immutable_ds(archive_db)
    app = ds.client.app
    assert isinstance(app, ResponseCache)
    small = "/-/versions.json"
    await ds.client.get(small)
    assert (await ds.client.get(small)).headers["x-archive-cache"] == "hit"
    big = "/archive/versions"  # over 32 KiB of HTML: rendered every time
    assert len((await ds.client.get(big)).content) > app.max_body
    assert (await ds.client.get(big)).headers["x-archive-cache"] == "miss"
    assert app.entries.total <= app.entries.max_bytes


async def test_concurrent_misses_render_once(archive_db, probe):
    ds = immutable_ds(archive_db)
    app = ds.client.app
    first = asyncio.create_task(ds.client.get("/-/probe/slow"))
    await asyncio.wait_for(probe.entered.wait(), timeout=10)
    second = asyncio.create_task(ds.client.get("/-/probe/slow"))
    for _ in range(10_000):  # bounded: until the second request waits on the first
        if app.waiting == 1:
            break
        await asyncio.sleep(0)
    assert app.waiting == 1
    probe.release.set()
    r1, r2 = await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
    assert probe.renders == 1
    assert r1.text == r2.text == "<p>rendered 1</p>"
    assert (r1.headers["x-archive-cache"], r2.headers["x-archive-cache"]) == ("miss", "hit")
    assert app.waiting == 0


# The app every worker builds --------------------------------------------------------------


async def test_worker_app_has_archive_serve_settings_counts_and_warm_templates(
    archive_db, tmp_path
):
    from archive.publish import common
    from archive.publish.server.app import ServeConfig, build_datasette, with_warm_up
    from archive.publish.server.serve import prepare

    snapshot = tmp_path / "archive.db"
    shutil.copyfile(archive_db, snapshot)
    config = ServeConfig.read(prepare(str(tmp_path), str(snapshot), ROOT / "metadata.yml", False))
    ds = build_datasette(config)
    assert ds.setting("default_allow_sql") is False and ds.setting("suggest_facets") is False
    assert ds.metadata("title") == "provenance-archive"
    db = ds.databases["archive"]
    assert not db.is_mutable
    counts = await db.table_counts()
    conn = sqlite3.connect(snapshot)
    assert counts["versions"] == conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    conn.close()
    assert counts["passages_fts"] is None  # contentless: not counted, and not an error

    sent = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    app = with_warm_up(ds.app(), ds)
    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    ours = {key[1] for key in common.sync_environment(ds).cache.keys()}  # rendered in sync
    assert {"archive_history.html", "archive_version.html", "archive_diff.html"} <= ours
    assert "table.html" in {key[1] for key in ds.jinja_env.cache.keys()}
    frozen = gc.get_freeze_count()
    gc.unfreeze()  # a served worker keeps it frozen; this test process must not
    assert frozen > 0  # what warm-up made is out of the collector's way
