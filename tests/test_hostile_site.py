"""The published site as an attacker sees it: Host headers and the cache, per-table
permissions on every page and feed, bounded SQL functions, no server paths."""

from __future__ import annotations

import sqlite3
import time
import zlib
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from datasette.app import Datasette

from archive.publish import permissions, sqlfunctions
from archive.publish.server.cache import request_key
from tests.browser.archive_builder import ROOT, build_archive

METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text())


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory) -> Path:
    return build_archive(tmp_path_factory.mktemp("hostile-site"))


@pytest.fixture(scope="module")
def ids(archive_db) -> dict:
    conn = sqlite3.connect(archive_db)
    q = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    out = {
        "doc": q("SELECT document_id FROM versions WHERE seq = 2 ORDER BY id LIMIT 1"),
        "v2": q("SELECT id FROM versions WHERE seq = 2 ORDER BY id LIMIT 1"),
        "blob": q("SELECT blob FROM versions WHERE seq = 2 ORDER BY id LIMIT 1"),
        "path": q("SELECT path FROM versions WHERE seq = 2 ORDER BY id LIMIT 1"),
        "sha256": q(
            "SELECT b.sha256 FROM versions v JOIN blobs b ON b.blake3 = v.blob"
            " WHERE v.seq = 2 ORDER BY v.id LIMIT 1"
        ),
    }
    out["v1"] = conn.execute(
        "SELECT id FROM versions WHERE document_id = ? AND seq = 1", (out["doc"],)
    ).fetchone()[0]
    conn.close()
    return out


def page_url(page: str, ids: dict) -> str:
    return {
        "history": f"/-/archive/document/{ids['doc']}",
        "document_feed": f"/-/archive/document/{ids['doc']}.atom",
        "version": f"/-/archive/version/{ids['v2']}",
        "proof": f"/-/archive/version/{ids['v2']}/proof.json",
        "blame": f"/-/archive/version/{ids['v2']}/blame",
        "trace": "/-/archive/trace?q=the",
        "diff": f"/-/archive/diff?from={ids['v1']}&to={ids['v2']}",
        "raw": f"/-/archive/raw/{ids['blob']}",
        "lookup": f"/-/archive/lookup.json?sha256={ids['sha256']}",
        "verify": "/-/archive/verify",
        "search": "/-/archive/search?q=the",
        "changes_feed": "/-/archive/changes.atom",
        "timemap": f"/-/archive/timemap/link/{quote(ids['path'])}",
        "version_raw": f"/-/archive/version/{ids['v2']}/raw",
        "home": "/",
        "changes": "/-/archive/changes",
        "checkpoint": "/-/archive/checkpoint",
    }[page]


def denying(table: str, allowing: tuple[str, ...] = ()) -> dict:
    """Metadata where `table` is denied to everyone and `allowing` explicitly allowed."""
    tables = {t: {"allow": True} for t in allowing}
    tables[table] = {"allow": False}
    meta = {k: v for k, v in METADATA.items() if k != "databases"}
    return {**meta, "databases": {"archive": {"tables": tables}}}


def ds_for(db: Path, metadata: dict) -> Datasette:
    return Datasette(immutables=[str(db)], metadata=metadata)


async def test_every_page_is_served_when_nothing_is_denied(archive_db, ids):
    ds = ds_for(archive_db, METADATA)
    for page in permissions.PAGE_TABLES:
        response = await ds.client.get(page_url(page, ids))
        assert response.status_code == 200, (page, response.text[:300])


@pytest.mark.parametrize(
    ("page", "table"),
    [(p, t) for p in permissions.PAGE_TABLES for t in permissions.tables_of(p)],
)
async def test_each_page_is_refused_when_any_table_it_reads_is_denied(archive_db, ids, page, table):
    """Even with every other table explicitly allowed (a table-level allow answers first)."""
    others = tuple(t for t in permissions.tables_of(page) if t != table)
    ds = ds_for(archive_db, denying(table, allowing=others))
    response = await ds.client.get(page_url(page, ids))
    assert response.status_code == 403, (page, table)


async def test_history_with_documents_allowed_and_versions_denied(archive_db, ids):
    """The issue's case: the old check stopped at `documents` and showed every version."""
    ds = ds_for(archive_db, denying("versions", allowing=("documents",)))
    for page in ("history", "document_feed"):
        assert (await ds.client.get(page_url(page, ids))).status_code == 403


async def test_search_with_text_tables_denied_says_nothing_about_text(archive_db, ids):
    for table in ("passages", "passages_fts", "blob_passages"):
        ds = ds_for(archive_db, denying(table, allowing=("documents",)))
        response = await ds.client.get("/-/archive/search?q=the")
        assert response.status_code == 403
        assert "contain" not in response.text


# --- the cache and Host headers ---------------------------------------------------------


def scope(headers) -> dict:
    return {
        "type": "http",
        "method": "GET",
        "path": "/-/archive/changes.atom",
        "raw_path": b"/-/archive/changes.atom",
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "root_path": "",
    }


def test_several_host_headers_are_never_cached():
    assert request_key(scope([(b"host", b"good.example"), (b"host", b"evil.example")])) is None
    assert request_key(scope([(b"Host", b"good.example"), (b"host", b"good.example")])) is None


def test_key_holds_the_host_datasette_builds_links_from():
    one = request_key(scope([(b"host", b"Good.Example")]))
    assert one is not None and b"Good.Example" in one
    assert request_key(scope([])) == request_key(scope([(b"host", b"localhost")]))


async def test_two_host_headers_cannot_poison_the_feed(archive_db, ids, monkeypatch):
    import httpx

    monkeypatch.setenv("ARCHIVE_SERVE_CACHE", "1")
    ds = ds_for(archive_db, METADATA)
    app = ds.app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://good.example") as client:
        poisoned = await client.get(
            "/-/archive/changes.atom",
            headers=[("host", "good.example"), ("host", "evil.example")],
        )
        assert poisoned.headers.get("x-archive-cache") != "miss"
        clean = await client.get("/-/archive/changes.atom")
        assert clean.status_code == 200
        assert "evil.example" not in clean.text and "good.example" in clean.text


# --- SQL functions ----------------------------------------------------------------------


def test_passage_ids_inflate_with_a_bound():
    bomb = zlib.compress(b"\0" * (64 << 20), 9)  # 64 MiB of zero deltas in ~64 KiB
    start = time.perf_counter()
    assert sqlfunctions.passage_ids_json(bomb) is None
    assert time.perf_counter() - start < 1.0
    assert sqlfunctions.passage_ids_json(b"x" * (sqlfunctions.MAX_PACKED + 1)) is None
    assert sqlfunctions.passage_ids_json(b"not zlib") is None
    import array

    packed = zlib.compress(array.array("i", [5, 1, 1, 10]).tobytes())
    assert sqlfunctions.passage_ids_json(packed) == "[5, 6, 7, 17]"


def test_words_query_caps_its_input_and_output():
    huge = "word " * 1_000_000
    start = time.perf_counter()
    query = sqlfunctions.words_query(huge)
    assert time.perf_counter() - start < 1.0
    assert query.count('"word"') == sqlfunctions.MAX_WORDS
    assert sqlfunctions.words_query(None) == '""'
    assert sqlfunctions.words_query("a OR b NEAR(c)") == '"a" AND "OR" AND "b" AND "NEAR" AND "c"'


async def test_sql_functions_in_a_query_are_bounded(archive_db):
    ds = ds_for(archive_db, METADATA)
    sql = "select length(archive_words_query(replace(printf('%.*c', 2000000, 'x'), 'x', 'ab '))) n"
    start = time.perf_counter()
    response = await ds.client.get("/archive.json", params={"sql": sql, "_shape": "array"})
    assert time.perf_counter() - start < 5
    assert response.status_code == 200
    assert response.json()[0]["n"] <= sqlfunctions.MAX_WORDS * 12


# --- large contents and server paths ------------------------------------------------------


async def test_a_large_content_is_served_chunk_by_chunk_and_locations_are_relative(
    tmp_path, monkeypatch
):
    import random

    import archive.publish.raw
    from archive.record.folder import ingest_folder
    from archive.store import Store
    from ingest.chunks import LARGE_CONTENT

    outside = tmp_path / "server" / "private" / "corpus"  # not below the archive's folder
    outside.mkdir(parents=True)
    data = random.Random(5).randbytes(LARGE_CONTENT + 12345)
    (outside / "big.bin").write_bytes(data)
    live = tmp_path / "db" / "live.db"
    live.parent.mkdir()
    snapshot = tmp_path / "archive.db"
    with Store(live) as store:
        ingest_folder(store, str(outside), f"archive ingest {outside} --db {live}")
        assert store.sources()[0]["location"] == str(outside.resolve())
        store.snapshot(snapshot, public=True)
        blob = store.query("SELECT blob FROM versions")[0]["blob"]
    conn = sqlite3.connect(snapshot)
    location, command = conn.execute(
        "SELECT s.location, r.command FROM sources s JOIN runs r ON r.source_id = s.id"
    ).fetchone()
    conn.close()
    assert location == "corpus" and str(tmp_path) not in command
    ds = ds_for(snapshot, METADATA)
    page = await ds.client.get("/-/archive/version/1")
    assert page.status_code == 200 and str(tmp_path) not in page.text

    def never_whole(conn, key):
        raise AssertionError("a large content was read whole")

    monkeypatch.setattr(archive.publish.raw, "read_content", never_whole)
    response = await ds.client.get(f"/-/archive/raw/{blob}")
    assert response.status_code == 200 and response.content == data
