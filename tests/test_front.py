"""The archive's front pages: the home page's data and the paged Changes list."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from archive.publish import front as home
from tests.browser.archive_builder import CORPUS, build_archive


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory) -> Path:
    return build_archive(tmp_path_factory.mktemp("front"))


@pytest.fixture
def conn(archive_db):
    c = sqlite3.connect(archive_db)
    yield c
    c.close()


def test_home_counts_are_the_archive_s(conn) -> None:
    data = home.read_home(conn)
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    counts = data["counts"]
    assert counts["documents"] == one("SELECT count(*) FROM documents")
    assert counts["versions"] == one("SELECT count(*) FROM versions")
    assert counts["blobs"] == one("SELECT count(*) FROM blobs")
    assert counts["sources"] == 1
    assert counts["text_bytes"] == one("SELECT sum(size) FROM blobs WHERE is_text = 1") > 0
    cp = data["checkpoint"]
    assert cp["tree_size"] == one("SELECT count(*) FROM ledger") and len(cp["tree_root"]) == 64


def test_recent_changes_are_the_newest_with_their_diffs(conn) -> None:
    data = home.read_home(conn)
    recent = data["recent"]
    newest = [r[0] for r in conn.execute("SELECT id FROM versions ORDER BY id DESC LIMIT 20")]
    assert [r["id"] for r in recent] == newest
    rows = [home.change_row(r) for r in recent]
    modified = [r for r in rows if r["path"] == sorted(CORPUS.iterdir())[0].name]
    assert modified and modified[0]["change_class"] == "substantive"
    assert modified[0]["words_changed"] == modified[0]["words_inserted"] > 0
    assert modified[0]["diff_url"].startswith("/-/archive/diff?from=")
    deleted = [r for r in rows if r["kind"] == "deleted"]
    assert deleted and deleted[0]["diff_url"] is None and deleted[0]["words_changed"] is None


def test_most_changed_documents_have_the_most_versions(conn) -> None:
    most = home.read_home(conn)["most_changed"]
    counts = dict(conn.execute("SELECT document_id, count(*) FROM versions GROUP BY document_id"))
    assert most and all(d["versions"] == counts[d["id"]] > 1 for d in most)
    assert [d["versions"] for d in most] == sorted((d["versions"] for d in most), reverse=True)


@pytest.mark.parametrize("limit", [1, 3, 7, 100])
def test_changes_pages_cover_every_version_once_newest_first(conn, limit) -> None:
    seen, before, pages = [], None, 0
    while True:
        view = home.changes_view(home.read_changes(conn, before, limit), limit, before)
        assert len(view["changes"]) <= limit
        seen += [c["id"] for c in view["changes"]]
        assert (view["newest_url"] is None) == (before is None)
        pages += 1
        if view["older_url"] is None:
            break
        before = int(view["older_url"].rsplit("=", 1)[1])
    everything = [r[0] for r in conn.execute("SELECT id FROM versions ORDER BY id DESC")]
    assert seen == everything
    assert pages == max(1, -(-len(everything) // limit))


def test_home_view_says_what_the_archive_is() -> None:
    data = {
        "counts": {
            "sources": 1,
            "documents": 1,
            "present": 1,
            "versions": 1,
            "blobs": 1,
            "text_bytes": 1_234_567,
            "runs": 1,
        },
        "checkpoint": None,
        "recent": [],
        "most_changed": [],
    }
    view = home.home_view({"title": "T", "description": "D"}, data, [])
    labels = dict(view["counts"])
    assert labels["versions"] == "1 version" and labels["documents"] == "1 document"
    assert labels["text"] == "1.2 MB of text"
    assert (view["title"], view["description"]) == ("T", "D")
    assert home.home_view({}, data, [])["title"] == "Archive"


@pytest.mark.parametrize(
    "n,text",
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1000, "1.0 kB"),
        (25_300_000, "25.3 MB"),
        (7 * 10**15, "7,000.0 TB"),
    ],
)
def test_human_bytes(n, text) -> None:
    assert home.human_bytes(n) == text


def test_document_metadata_rows_link_only_web_urls() -> None:
    from archive.publish.pages import metadata_rows, provenance_rows, web_url

    assert web_url("https://example.org/a") == "https://example.org/a"
    for hostile in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "//x", 3):
        assert web_url(hostile) is None
    rows = metadata_rows(
        {"title": "<b>T</b>", "author": "", "canonical_url": "javascript:alert(1)"},
        [{"key": "tag", "value": "a"}, {"key": "tag", "value": "b"}],
    )
    assert [(r["label"], r["value"], r["url"]) for r in rows] == [
        ("Title", "<b>T</b>", None),
        ("Source URL", "javascript:alert(1)", None),
        ("Tags", "a, b", None),
    ]
    prov = provenance_rows([{"origin": "sidecar", "key": "url", "value": "http://x.org"}])
    assert prov[0]["url"] == "http://x.org"


async def test_every_page_says_which_snapshot_and_when_the_archive_moved_on(tmp_path) -> None:
    import yaml
    from datasette.app import Datasette

    from archive.publish.common import attach, described
    from archive.record.folder import ingest_folder
    from archive.store import Store
    from tests.browser.archive_builder import ROOT

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("one\n")
    live, snap = tmp_path / "archive.db", tmp_path / "served" / "archive.db"
    snap.parent.mkdir()
    with Store(live) as store:
        ingest_folder(store, str(docs), "test")
        store.snapshot(snap)
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))
    ds = Datasette(immutables=[str(snap)], metadata=metadata)
    attach(ds, str(snap), str(live), "2026-01-02T03:04:05Z")
    described(ds).freshness.interval = 0  # look at the live file on every request
    for path in ("/", "/-/archive/changes", "/archive/versions"):
        html = (await ds.client.get(path)).text
        assert (
            "Snapshot taken 2026-01-02T03:04:05Z" in html and "checkpoint of 3 records" in html
        )  # a content, a version and a run
        assert "has changed since" not in html
    (docs / "a.txt").write_text("two\n")
    with Store(live) as store:
        ingest_folder(store, str(docs), "test")
    for path in ("/", "/-/archive/changes", "/archive/versions"):  # cached pages too
        assert "The archive has changed since" in (await ds.client.get(path)).text


def test_trace_and_search_pages_are_paged() -> None:
    from archive.publish import pages, snippets

    def passage(i: int) -> dict:
        return {"text": f"passage {i} says hello\n\n", "first": None, "documents": []}

    result = {"match": "substring", "passages": [passage(i) for i in range(45)]}
    view = snippets.trace_view("hello", False, result, 20, page=3)
    assert [p["text"].split()[1] for p in view["passages"]] == [str(i) for i in range(40, 45)]
    assert (view["page"], view["page_count"], view["next_url"]) == (3, 3, None)
    assert view["prev_url"].endswith("&page=2")
    assert str(view["passages"][0]["excerpt"]["snippet"]) == "passage 40 says <mark>hello</mark>"
    beyond = snippets.trace_view("hello", False, result, 20, page=99)
    assert beyond["page"] == 3  # past the end: the last page
    docs = [{"id": i, "passage": i, "document_id": i} for i in range(30)]
    found = {"documents": docs, "truncated": False, "match_cap": 1000}
    view = snippets.search_view("x <b>", 2, [], found, {25: "a x <b> z"}, 25)
    assert [r["id"] for r in view["text_rows"]] == list(range(25, 30))
    assert str(view["text_rows"][0]["excerpt"]["snippet"]) == "a <mark>x &lt;b&gt;</mark> z"
    assert view["pager"]["prev_url"] == "/-/archive/search?q=x+%3Cb%3E&page=1"
    for bad in ("0", "-1", "x", "9999999"):
        with pytest.raises(pages.BadRequest):
            snippets.parse_page(bad)


async def test_history_pages_newest_first_with_links_to_older(archive_db, monkeypatch) -> None:
    import re

    from datasette.app import Datasette

    from archive.publish import pages

    monkeypatch.setattr(pages, "HISTORY_PAGE", 1)
    conn = sqlite3.connect(archive_db)
    doc = conn.execute("SELECT id FROM documents WHERE path = 'wide-text.txt'").fetchone()[0]
    v1, v2 = [r[0] for r in conn.execute("SELECT id FROM versions WHERE document_id = ?", (doc,))]
    conn.close()
    ds = Datasette(immutables=[str(archive_db)])
    seen, url = [], f"/-/archive/document/{doc}"
    while url:
        html = (await ds.client.get(url)).text
        seen += [int(v) for v in re.findall(r'<td><a href="/-/archive/version/(\d+)">', html)]
        older = re.search(r'<a href="([^"]+)" rel="next">older', html)
        url = older.group(1) if older else None
        assert "Versions" in html and ">2 · <a" in html  # the total, not the page's count
    assert seen == [v2, v1]
    html = (await ds.client.get(f"/-/archive/document/{doc}?before=2")).text
    assert f'href="/-/archive/document/{doc}" rel="prev">← newer' in html
    assert (await ds.client.get(f"/-/archive/document/{doc}?before=x")).status_code == 400


async def test_feeds_page_back_through_every_change(archive_db, monkeypatch) -> None:
    import xml.etree.ElementTree as ET

    from datasette.app import Datasette

    import archive.publish as plugin

    atom = "{http://www.w3.org/2005/Atom}"
    monkeypatch.setattr(plugin, "FEED_LIMIT", 4)
    ds = Datasette(immutables=[str(archive_db)])
    conn = sqlite3.connect(archive_db)
    everything = [r[0] for r in conn.execute("SELECT id FROM versions ORDER BY id DESC")]
    conn.close()
    seen, url = [], "/-/archive/changes.atom"
    while url:
        feed = ET.fromstring((await ds.client.get(url)).content)
        entries = feed.findall(f"{atom}entry")
        assert len(entries) <= 4
        seen += [int(e.find(f"{atom}link").get("href").rsplit("/", 1)[1]) for e in entries]
        nxt = [
            link.get("href") for link in feed.findall(f"{atom}link") if link.get("rel") == "next"
        ]
        url = nxt[0].split("localhost", 1)[1] if nxt else None
    assert seen == everything


async def test_home_page_of_an_empty_archive_and_of_no_archive(tmp_path) -> None:
    from datasette.app import Datasette

    from archive.store import Store

    with Store(tmp_path / "archive.db"):
        pass
    html = (await Datasette([str(tmp_path / "archive.db")]).client.get("/")).text
    assert "Nothing archived yet" in html and "0 versions" in html
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE birds (name TEXT)")
    conn.close()
    r = await Datasette([str(other)]).client.get("/")
    assert r.status_code == 200 and "birds" in r.text  # Datasette's own index
