"""What a cold page costs: table permission checks are made once per process for the
anonymous actor on a served snapshot, and never remembered for anyone else, for a denial, or
for a database that can change (timings: bench/serve_bench.sh, bench/page_render.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from datasette.app import Datasette

from archive.publish import common
from archive.publish.server.app import ServeConfig, build_datasette
from archive.record.folder import ingest_folder
from archive.store import Store, groups, read_text

COOKIE = {"Cookie": "anything=1"}  # an anonymous request the response cache steps aside for


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    """A served snapshot with one document in two versions."""
    tmp = tmp_path_factory.mktemp("cost")
    src = tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("first words\n")
    with Store(tmp / "work.db") as store:
        ingest_folder(store, str(src), "archive ingest src")
        (src / "a.txt").write_text("first words\nand more\n")
        ingest_folder(store, str(src), "archive ingest src")
        store.snapshot(tmp / "archive.db")
    return tmp / "archive.db"


def version_ids(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM versions ORDER BY id")]


def counting(ds: Datasette) -> list[object]:
    """Count the permission checks Datasette is asked to make (one entry per call)."""
    calls: list[object] = []
    original = ds.ensure_permissions

    async def ensure_permissions(actor, permissions):
        calls.append(actor)
        return await original(actor, permissions)

    ds.ensure_permissions = ensure_permissions
    return calls


async def test_anonymous_grants_are_checked_once_on_a_snapshot(snapshot):
    ds = Datasette(immutables=[str(snapshot)])
    calls = counting(ds)
    v1, v2 = version_ids(snapshot)
    assert (await ds.client.get(f"/-/archive/version/{v1}", headers=COOKIE)).status_code == 200
    assert calls  # the first page decides each table it reads
    calls.clear()
    for url in (f"/-/archive/version/{v2}", f"/-/archive/version/{v1}"):
        r = await ds.client.get(url, headers=COOKIE)
        assert r.status_code == 200 and "first words" in r.text
    assert calls == []
    r = await ds.client.get(f"/-/archive/diff?from={v1}&to={v2}", headers=COOKIE)
    assert r.status_code == 200
    assert len(calls) == 1  # only the table the version page did not read: diffs


async def test_a_denied_table_is_decided_again_every_time(snapshot):
    metadata = {"databases": {snapshot.stem: {"tables": {"blobs": {"allow": False}}}}}
    ds = Datasette(immutables=[str(snapshot)], metadata=metadata)
    calls = counting(ds)
    v1, _ = version_ids(snapshot)
    for _ in range(2):
        calls.clear()
        r = await ds.client.get(f"/-/archive/version/{v1}", headers=COOKIE)
        assert r.status_code == 403
        assert "blobs" not in str(calls) and calls  # asked again, and refused again


async def test_an_actors_checks_are_never_remembered(snapshot):
    ds = Datasette(immutables=[str(snapshot)])
    calls = counting(ds)
    v1, _ = version_ids(snapshot)
    cookies = {"ds_actor": ds.sign({"a": {"id": "reader"}}, "actor")}
    for _ in range(2):
        calls.clear()
        r = await ds.client.get(f"/-/archive/version/{v1}", cookies=cookies)
        assert r.status_code == 200
        assert calls and all(actor == {"id": "reader"} for actor in calls)


async def test_nothing_is_remembered_for_a_database_that_can_change(snapshot, tmp_path):
    live = tmp_path / "live.db"
    live.write_bytes(snapshot.read_bytes())
    ds = Datasette([str(live)])
    calls = counting(ds)
    v1, _ = version_ids(live)
    for _ in range(2):
        calls.clear()
        assert (await ds.client.get(f"/-/archive/version/{v1}", headers=COOKIE)).status_code == 200
        assert calls


def test_a_served_worker_never_stats_its_templates_per_render(snapshot):
    config = ServeConfig(snapshot=str(snapshot), metadata=None, allow_sql=False, secret="s")
    assert build_datasette(config).jinja_env.auto_reload is False


def text_blobs(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT blob FROM blob_passages ORDER BY blob")]


def identity_of(db: Path) -> tuple:
    """What names an immutable served file (as the plugin's immutable_identity does)."""
    return (str(db.resolve()), db.stat().st_ino, db.stat().st_size)


def test_texts_read_through_kept_groups_are_the_stores(snapshot):
    conn = sqlite3.connect(snapshot.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
    other = sqlite3.connect(snapshot.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
    blobs = text_blobs(snapshot)
    assert len(blobs) == 2
    identity = identity_of(snapshot)
    for blob in blobs:
        expected = read_text(conn, blob)
        assert common.read_text(conn, blob, identity) == expected
        assert common.read_text(other, blob, identity) == expected  # another SQL thread's
        assert common.read_text(conn, blob, None) == expected  # a file that can change
    kept = common.kept_groups(identity)
    assert kept is common.kept_groups(identity)  # one per file, whichever connection reads
    assert kept.reader is not None and kept.reader.inflated_bytes > 0
    assert common.kept_groups(("another", 1, 2)) is not kept


def test_kept_groups_are_bounded(snapshot, monkeypatch):
    conn = sqlite3.connect(snapshot.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
    identity = identity_of(snapshot) + ("bounded",)
    common.read_text(conn, text_blobs(snapshot)[0], identity)
    kept = common.kept_groups(identity)
    reader = kept.reader
    assert reader.inflated_bytes > 0
    monkeypatch.setattr(common, "READER_MAX_INFLATED", 0)
    assert kept.reader_for(conn) is reader
    assert reader.inflated_bytes == 0 and reader.inflated == {}  # its inflated texts dropped
    common.read_text(conn, text_blobs(snapshot)[0], identity)
    monkeypatch.setattr(common, "READER_MAX_GROUPS", 0)
    assert kept.reader_for(conn) is not reader  # too many group rows: afresh
    monkeypatch.setattr(common, "KEPT_FILES", 1)
    first = common.kept_groups(("a",))
    assert common.kept_groups(("b",)) is not first
    assert common.kept_groups(("a",)) is not first  # one file at most: "a" was dropped


def inflations(monkeypatch) -> list[int]:
    """Count the passage groups inflated (one entry per group)."""
    calls: list[int] = []
    original = groups.decompress_group

    def counted(data, zdict=b""):
        calls.append(len(data))
        return original(data, zdict)

    monkeypatch.setattr(groups, "decompress_group", counted)
    return calls


async def test_a_snapshots_pages_inflate_each_group_once(snapshot, monkeypatch, tmp_path):
    v1, v2 = version_ids(snapshot)
    urls = [f"/-/archive/version/{v2}", f"/-/archive/diff?from={v1}&to={v2}"]
    ds = Datasette(immutables=[str(snapshot)])  # three SQL threads: one reader for them all
    calls = inflations(monkeypatch)
    for url in urls * 2:
        r = await ds.client.get(url, headers=COOKIE)
        assert r.status_code == 200 and "more" in r.text
    assert 0 < len(calls) <= len(text_blobs(snapshot))  # each group once, for all four pages
    live = tmp_path / "live.db"
    live.write_bytes(snapshot.read_bytes())
    ds = Datasette([str(live)])
    calls.clear()
    for url in urls * 2:
        assert (await ds.client.get(url, headers=COOKIE)).status_code == 200
    assert len(calls) >= 6  # a file that can change: every read inflates what it needs
