"""Memento (RFC 7089) in the Datasette plugin, header by header; web pages show captures."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from datasette.app import Datasette

from archive.store import Store
from tests.conftest import run_cli
from tests.webwarcs import Warc, html

STORY = "https://news.example.org/story?id=7"
HOME = "https://news.example.org/"
V1, V2 = "2024-05-01T10:00:00Z", "2024-05-03T10:00:00Z"


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, dict]:
    warc = tmp_path / "crawl.warc.gz"
    with Warc(warc) as w:
        w.response(STORY, V1, html("Story", "The mayor said <b>no</b>."))
        w.response(STORY, V2, html("Story", "The mayor said yes."))
        w.response(STORY, "2024-05-05T10:00:00Z", b"", status="404 Not Found")
        w.response(HOME, V1, html("Home", "Front page."))
    db = tmp_path / "archive.db"
    code, out, err = run_cli("ingest", "--warc", str(warc), db=db)
    assert code == 0, out + err
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a b.txt").write_text("a note\n")
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    with Store(db) as store:
        doc = store.documents_at(STORY)[0]
        versions = store.versions(doc["id"])
        note = store.documents_at("a b.txt")[0]
        ids = {
            "doc": doc["id"],
            "v1": versions[0]["id"],
            "v2": versions[1]["id"],
            "gone": versions[2]["id"],
            "note_doc": note["id"],
            "note": store.versions(note["id"])[0]["id"],
        }
    return db, ids


@pytest.fixture
def ds(archive):
    return Datasette([str(archive[0])])


BASE = "http://localhost"


def varies_on(response) -> set[str]:
    return {p.strip().lower() for p in response.headers["vary"].split(",")}


def links(header: str) -> dict[str, tuple[str, dict]]:
    """A Link header as {rel: (uri, params)} (RFC 8288, as the entries here are written)."""
    found = {}
    for uri, params in re.findall(r"<([^>]*)>((?:\s*;\s*[a-z-]+=\"[^\"]*\")*)", header):
        attrs = dict(re.findall(r'([a-z-]+)="([^"]*)"', params))
        found[attrs.pop("rel")] = (uri, attrs)
    return found


async def test_timemap_link_format(ds, archive):
    _, ids = archive
    r = await ds.client.get("/-/archive/timemap/link/" + STORY)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/link-format")
    entries = links(r.text.replace("\n", " "))
    assert entries["original"] == (STORY, {})
    assert entries["self"][0] == f"{BASE}/-/archive/timemap/link/{STORY}"
    assert entries["self"][1] == {
        "type": "application/link-format",
        "from": "Wed, 01 May 2024 10:00:00 GMT",
        "until": "Fri, 03 May 2024 10:00:00 GMT",
    }
    assert entries["timegate"][0] == f"{BASE}/-/archive/timegate/{STORY}"
    assert entries["first memento"] == (
        f"{BASE}/-/archive/version/{ids['v1']}",
        {"datetime": "Wed, 01 May 2024 10:00:00 GMT"},
    )
    assert entries["last memento"][0] == f"{BASE}/-/archive/version/{ids['v2']}"
    assert f"/version/{ids['gone']}" not in r.text  # a deletion is no memento


async def test_a_uri_ending_in_a_slash(ds):
    r = await ds.client.get("/-/archive/timemap/link/" + HOME)
    assert r.status_code == 200 and links(r.text.replace("\n", " "))["original"][0] == HOME
    r = await ds.client.get("/-/archive/timegate/" + HOME)
    assert r.status_code == 302 and links(r.headers["link"])["original"][0] == HOME


async def test_timemap_json(ds, archive):
    _, ids = archive
    r = await ds.client.get("/-/archive/timemap/json/" + STORY)
    data = r.json()
    assert data["original_uri"] == STORY
    assert [m["datetime"] for m in data["mementos"]["list"]] == [V1, V2]
    assert data["timemap_uri"]["link_format"].endswith("/-/archive/timemap/link/" + STORY)


@pytest.mark.parametrize(
    "accept,expected",
    [
        ("Thu, 02 May 2024 00:00:00 GMT", "v1"),
        ("Wed, 01 May 2024 10:00:00 GMT", "v1"),
        ("Fri, 03 May 2024 10:00:01 GMT", "v2"),
        ("Mon, 01 Jan 2001 00:00:00 GMT", "v1"),  # before the first: the first
        (None, "v2"),  # no Accept-Datetime: the latest memento
    ],
)
async def test_timegate_redirects_to_the_memento_in_force(ds, archive, accept, expected):
    _, ids = archive
    headers = {"Accept-Datetime": accept} if accept else {}
    r = await ds.client.get("/-/archive/timegate/" + STORY, headers=headers)
    assert r.status_code == 302
    memento = f"{BASE}/-/archive/version/{ids[expected]}"
    assert r.headers["location"] == memento
    assert "accept-datetime" in varies_on(r)
    entries = links(r.headers["link"])
    assert entries["original"][0] == STORY
    assert entries["timegate"][0] == f"{BASE}/-/archive/timegate/{STORY}"
    assert entries["timemap"] == (
        f"{BASE}/-/archive/timemap/link/{STORY}",
        {"type": "application/link-format"},
    )
    assert entries["memento"][0] == memento and "datetime" in entries["memento"][1]


async def test_timegate_errors(ds):
    r = await ds.client.get(
        "/-/archive/timegate/" + STORY, headers={"Accept-Datetime": "last tuesday"}
    )
    assert r.status_code == 400
    r = await ds.client.get(
        "/-/archive/timegate/" + STORY, headers={"Accept-Datetime": "Mon, 06 May 2024 00:00:00 GMT"}
    )
    assert r.status_code == 404 and "accept-datetime" in varies_on(r)
    assert "timemap" in links(r.headers["link"])
    assert (await ds.client.get("/-/archive/timegate/https://nowhere.example/x")).status_code == 404


async def test_mementos_carry_memento_datetime_and_link(ds, archive):
    _, ids = archive
    for url in (f"/-/archive/version/{ids['v1']}", f"/-/archive/version/{ids['v1']}/raw"):
        r = await ds.client.get(url)
        assert r.status_code == 200
        assert r.headers["memento-datetime"] == "Wed, 01 May 2024 10:00:00 GMT"
        entries = links(r.headers["link"])
        assert entries["original"][0] == STORY
        assert entries["memento"][0] == f"{BASE}/-/archive/version/{ids['v1']}"
        assert set(entries) == {"original", "timegate", "timemap", "memento"}
    raw = await ds.client.get(f"/-/archive/version/{ids['v1']}/raw")
    assert raw.content == html("Story", "The mayor said <b>no</b>.")
    assert raw.headers["content-security-policy"].startswith("default-src 'none'")
    deleted = await ds.client.get(f"/-/archive/version/{ids['gone']}")
    assert "memento-datetime" not in deleted.headers


async def test_documents_of_other_sources_by_path(ds, archive):
    _, ids = archive
    r = await ds.client.get("/-/archive/timemap/link/" + quote("a b.txt"))
    entries = links(r.text.replace("\n", " "))
    assert entries["original"][0] == f"{BASE}/-/archive/document/{ids['note_doc']}"
    assert entries["first last memento"][0] == f"{BASE}/-/archive/version/{ids['note']}"


async def test_history_and_version_pages_show_captures(ds, archive):
    _, ids = archive
    page = (await ds.client.get(f"/-/archive/document/{ids['doc']}")).text
    assert STORY.replace("&", "&amp;") in page or STORY in page
    assert "404" in page and "2024-05-05T10:00:00Z" in page
    assert "/-/archive/timemap/link/" in page
    version = (await ds.client.get(f"/-/archive/version/{ids['v1']}")).text
    assert "WARC-Record-ID" in version and "urn:uuid:" in version
    assert "<b>no</b>" not in version  # the page is escaped, never the captured markup
