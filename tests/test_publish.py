"""The Datasette plugin through Datasette's test client: pages, escaping, queries, feeds."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import markupsafe
import pytest
import yaml
from datasette.app import Datasette
from hypothesis import given
from hypothesis import strategies as st

from archive.ledger import checkpoints as integrity
from archive.passages import trace
from archive.publish import pages, queries
from archive.record.folder import ingest_folder
from archive.store import Store
from tests.browser.archive_builder import APPENDED, BINARY, CORPUS, ROOT, build_archive, plugin_env

METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text())
ATOM = "{http://www.w3.org/2005/Atom}"
PAYLOADS = [
    "<script>alert(1)</script>",
    "<script>alert('second')</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</pre><script>",
    "<svg onload=alert(1)>",
    "<iframe src=",
    "<body onload=alert(1)>",
    '<a href="javascript:alert(1)">',
]


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory) -> Path:
    return build_archive(tmp_path_factory.mktemp("publish"))


@pytest.fixture(scope="module")
def ids(archive_db) -> dict:
    """Version and document ids by role, read from the built archive."""
    conn = sqlite3.connect(archive_db)
    q = lambda sql, *a: conn.execute(sql, a).fetchone()[0]  # noqa: E731
    corpus_doc = sorted(CORPUS.iterdir())[0].name
    out = {
        "doc": q("SELECT id FROM documents WHERE path = ?", corpus_doc),
        "v1": q("SELECT id FROM versions WHERE path = ? AND seq = 1", corpus_doc),
        "v2": q("SELECT id FROM versions WHERE path = ? AND seq = 2", corpus_doc),
        "binary": q("SELECT id FROM versions WHERE path = 'image.png' AND seq = 1"),
        "deleted": q("SELECT id FROM versions WHERE kind = 'deleted'"),
        "binary_blake3": q("SELECT blob FROM versions WHERE path = 'image.png' AND seq = 1"),
        "v2_blake3": q("SELECT blob FROM versions WHERE path = ? AND seq = 2", corpus_doc),
        "v2_sha256": hashlib.sha256((CORPUS / corpus_doc).read_bytes() + APPENDED).hexdigest(),
        "path": corpus_doc,
        # A long word of the document's first version (so also of its second).
        "v1_word": max(re.findall(r"[A-Za-z]{6,}", (CORPUS / corpus_doc).read_text()), key=len),
        "versions": q("SELECT count(*) FROM versions"),
        "all_versions": [r[0] for r in conn.execute("SELECT id FROM versions ORDER BY id")],
        "all_documents": [r[0] for r in conn.execute("SELECT id FROM documents ORDER BY id")],
    }
    conn.close()
    return out


def make_ds(db: Path, metadata: dict | None = None) -> Datasette:
    return Datasette(immutables=[str(db)], metadata=metadata or METADATA)


@pytest.fixture
def ds(archive_db) -> Datasette:
    return make_ds(archive_db)


def page_urls(ids: dict) -> list[str]:
    return [
        f"/-/archive/document/{ids['doc']}",
        f"/-/archive/version/{ids['v1']}",
        f"/-/archive/version/{ids['binary']}",
        f"/-/archive/version/{ids['deleted']}",
        f"/-/archive/diff?from={ids['v1']}&to={ids['v2']}",
        "/-/archive/verify",
        f"/-/archive/verify?blake3={ids['v2_blake3']}",
        "/-/archive/search?q=txt",
        f"/-/archive/version/{ids['v2']}/blame",
        "/-/archive/trace?q=Amended+clause",
    ]


async def test_every_page_renders(ds, ids):
    for url in page_urls(ids):
        r = await ds.client.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"].startswith("text/html"), url
        assert "/-/static-plugins/" in r.text and "archive.css" in r.text, url


@pytest.mark.parametrize(
    "url",
    [
        "/-/archive/document/99999",
        "/-/archive/document/99999.atom",
        "/-/archive/version/99999",
        "/-/archive/version/99999/blame",
        "/-/archive/version/99999/proof.json",
        "/-/archive/diff?from=1&to=99999",
        "/-/archive/raw/" + "0" * 64,
        "/-/archive/document/abc",
    ],
)
async def test_unknown_ids_are_404(ds, url):
    assert (await ds.client.get(url)).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/-/archive/diff?from=x&to=1",
        "/-/archive/diff?to=1",
        "/-/archive/lookup.json",
        "/-/archive/lookup.json?sha256=abc",
        "/-/archive/verify?blake3=" + "g" * 64,
    ],
)
async def test_bad_parameters_are_400(ds, url):
    assert (await ds.client.get(url)).status_code == 400


async def test_history_lists_versions_with_size_bars_and_diff_links(ds, ids):
    html = (await ds.client.get(f"/-/archive/document/{ids['doc']}")).text
    assert f'href="/-/archive/version/{ids["v1"]}"' in html
    assert f'href="/-/archive/diff?from={ids["v1"]}&amp;to={ids["v2"]}"' in html
    assert f"+{len(APPENDED):,}" in html
    assert 'class="bar grow" style="width: 120px"' in html
    assert html.count('class="diff-link"') == 1  # version 1 has nothing to diff against


async def test_version_page_shows_text_hashes_and_provenance(ds, ids):
    html = (await ds.client.get(f"/-/archive/version/{ids['v2']}")).text
    assert ids["v2_blake3"] in html and ids["v2_sha256"] in html
    assert "&lt;script&gt;alert(&#39;v2&#39;)&lt;/script&gt;" in html
    assert "modified" in html and f"/-/archive/raw/{ids['v2_blake3']}" in html


async def test_version_page_shows_its_ledger_proof_and_the_proof_verifies(
    ds, archive_db, ids, tmp_path
):
    """The page's proof is the CLI's (same leaf, path and root), roots at the archive's
    latest checkpoint, and the downloaded file passes `archive verify-proof` offline."""
    html = (await ds.client.get(f"/-/archive/version/{ids['v2']}")).text
    response = await ds.client.get(f"/-/archive/version/{ids['v2']}/proof.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    proof = response.json()
    conn = sqlite3.connect(archive_db)
    (root,) = conn.execute(
        "SELECT tree_root FROM runs WHERE tree_size IS NOT NULL ORDER BY id DESC LIMIT 1"
    ).fetchone()
    (leaf_hash,) = conn.execute(
        "SELECT leaf_hash FROM ledger WHERE version_id = ?", (ids["v2"],)
    ).fetchone()
    conn.close()
    assert proof["root"] == root and proof["leaf_hash"] == leaf_hash
    assert json.loads(proof["leaf"])["version"]["blob"] == ids["v2_blake3"]
    assert 'id="ledger-proof"' in html and root in html and leaf_hash in html
    assert all(h in html for h in proof["proof"]) and len(proof["proof"]) >= 1
    path = tmp_path / "proof.json"

    def verify_proof(text: str) -> subprocess.CompletedProcess:
        path.write_text(text)
        return subprocess.run(
            [sys.executable, "-m", "archive", "verify-proof", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=plugin_env(tmp_path),
        )

    cli = verify_proof(response.text)
    assert cli.returncode == 0 and "valid inclusion proof" in cli.stdout, cli.stdout + cli.stderr
    cli = verify_proof(json.dumps({**proof, "leaf_hash": "00" * 32}))
    assert cli.returncode == 1 and "invalid proof" in cli.stdout


async def test_a_version_without_a_leaf_says_why_there_is_no_proof(tmp_path, archive_db, ids):
    copy = tmp_path / "unledgered.db"
    copy.write_bytes(archive_db.read_bytes())
    conn = sqlite3.connect(copy)
    conn.execute("DELETE FROM ledger WHERE version_id = ?", (ids["v2"],))
    conn.commit()
    conn.close()
    ds = make_ds(copy)
    html = (await ds.client.get(f"/-/archive/version/{ids['v2']}")).text
    assert f"No proof: version {ids['v2']} is not in the ledger yet" in html
    assert (await ds.client.get(f"/-/archive/version/{ids['v2']}/proof.json")).status_code == 404


async def test_an_immutable_archive_proves_from_memo_a_writable_one_never(
    tmp_path, archive_db, ids, monkeypatch
):
    """Proofs of a served immutable file are the uncached ones and, once its tree is held,
    read no leaf hashes; a writable archive's proofs follow its new checkpoints."""
    monkeypatch.setattr(integrity, "IMMUTABLE_TREES", integrity.TreeMemo())
    with Store(archive_db, create=False) as store:
        expected = {v: integrity.inclusion_proof(store, v) for v in ids["all_versions"]}
    ds = make_ds(archive_db)
    url = f"/-/archive/version/{ids['v2']}/proof.json"
    assert (await ds.client.get(url)).json() == expected[ids["v2"]]
    reads = []
    real = Store.leaf_hashes
    monkeypatch.setattr(Store, "leaf_hashes", lambda *a: reads.append(a) or real(*a))
    for v in ids["all_versions"]:
        r = await ds.client.get(f"/-/archive/version/{v}/proof.json")
        assert r.json() == expected[v]
        page = (await ds.client.get(f"/-/archive/version/{v}")).text
        assert expected[v]["root"] in page and all(h in page for h in expected[v]["proof"])
    assert reads == []  # every proof came from the memo
    held = dict(integrity.IMMUTABLE_TREES.trees)

    live = tmp_path / "live.db"
    live.write_bytes(archive_db.read_bytes())
    writable = Datasette([str(live)], metadata=METADATA)
    before = (await writable.client.get(url)).json()
    assert before == expected[ids["v2"]]
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "new.txt").write_text("a new document\n")
    with Store(live) as store:
        ingest_folder(store, str(extra), "archive ingest more")
        after = integrity.inclusion_proof(store, ids["v2"])
    # the new content, the version and the run
    assert after["tree_size"] == before["tree_size"] + 3
    assert (await writable.client.get(url)).json() == after  # not the earlier tree's proof
    assert integrity.IMMUTABLE_TREES.trees == held  # nothing memoized for a writable file


def _blame_rows(html: str) -> list[tuple[str, str]]:
    """(since, passage text as escaped in the page) of each row of a blame table."""
    return re.findall(
        r'<tr[^>]*><td class="nowrap"><a href="[^"]+">@(\d+)</a></td>.*?'
        r'<pre class="archive-passage">(.*?)</pre>',
        html,
        flags=re.S,
    )


async def test_blame_page_credits_each_passage_to_the_version_that_brought_it(ds, ids):
    html = (await ds.client.get(f"/-/archive/version/{ids['v2']}/blame")).text
    rows = _blame_rows(html)
    assert len(rows) > 3
    amended = [since for since, text in rows if "Amended clause" in text]
    assert amended == ["2"]
    assert {since for since, text in rows if "Amended clause" not in text} == {"1"}
    assert "&lt;script&gt;alert(&#39;v2&#39;)&lt;/script&gt;" in html
    assert html.count('href="/-/archive/trace?q=') == len(rows)
    version = (await ds.client.get(f"/-/archive/version/{ids['v2']}")).text
    assert f'href="/-/archive/version/{ids["v2"]}/blame"' in version
    deleted = (await ds.client.get(f"/-/archive/version/{ids['deleted']}/blame")).text
    assert "No blame:" in deleted and "archive-blame" not in deleted


async def test_trace_page_finds_who_said_it_first_and_every_document_with_it(ds, ids):
    html = (await ds.client.get("/-/archive/trace?q=Amended+clause")).text
    assert "(substring match)" in html
    first = re.search(r"<dt>First said</dt><dd>(.*?)</dd>", html, flags=re.S).group(1)
    assert f'href="/-/archive/version/{ids["v2"]}"' in first
    assert f'href="/-/archive/document/{ids["doc"]}"' in html
    blame = (await ds.client.get(f"/-/archive/version/{ids['v2']}/blame")).text
    by_hash = re.search(r'href="(/-/archive/trace\?q=[0-9a-f]{64})"', blame).group(1)
    traced = (await ds.client.get(by_hash)).text
    assert "(hash match)" in traced and "1 passage " in traced
    assert f'href="/-/archive/version/{ids["v1"]}"' in traced
    loose = (await ds.client.get("/-/archive/trace?q=AMENDED++CLAUSE&normalize=1")).text
    assert "(normalized-substring match)" in loose and "checked" in loose
    none = (await ds.client.get("/-/archive/trace?q=no+such+words+anywhere+zzqx")).text
    assert "0 passages (none match)" in none
    hostile = (await ds.client.get("/-/archive/trace?q=" + quote("</textarea><script>x"))).text
    assert "&lt;/textarea&gt;&lt;script&gt;x" in hostile and "</textarea><script>" not in hostile


async def test_trace_and_search_pages_say_when_a_query_is_too_common(ds, ids, monkeypatch):
    """Past the cap, both pages say only the first passages were checked and to refine the
    query; under it, they say nothing of the kind."""
    monkeypatch.setattr(trace, "MATCH_CAP", 3)
    common = (await ds.client.get("/-/archive/trace?q=the")).text
    assert "More than 3 passages hold these words: only the first 3 stored were checked" in common
    assert 0 < common.count('<section class="archive-trace">') <= 3
    search = (await ds.client.get("/-/archive/search?q=the")).text
    assert "More than 3 passages hold these words: only the first 3 stored were searched" in search
    rare = (await ds.client.get("/-/archive/trace?q=Amended+clause")).text
    assert "(substring match)" in rare and "More than" not in rare
    assert "More than" not in (await ds.client.get("/-/archive/search?q=Amended+clause")).text


def test_metadata_describes_every_table_view_and_column_of_a_real_archive(archive_db):
    tables = METADATA["databases"]["archive"]["tables"]
    conn = sqlite3.connect(archive_db)
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'passages_fts_%' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    missing = []
    for name in names:
        meta = tables.get(name) or {}
        if meta.get("hidden"):
            continue
        if not meta.get("description"):
            missing.append(name)
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info([{name}])")]
        missing += [f"{name}.{c}" for c in columns if c not in (meta.get("columns") or {})]
    conn.close()
    assert "passages" in names and missing == []


async def test_passages_table_search_box_finds_text_and_links_each_hit_to_its_trace(ds, ids):
    page = await ds.client.get("/archive/passages?_search=Amended+clause")
    assert page.status_code == 200 and 'name="_search"' in page.text
    hits = re.findall(r'href="/-/archive/trace\?passage=(\d+)"', page.text)
    assert len(hits) == 1
    traced = (await ds.client.get(f"/-/archive/trace?passage={hits[0]}")).text
    assert "Amended clause" in traced and "(hash match)" in traced
    assert f'href="/-/archive/version/{ids["v2"]}"' in traced
    assert (await ds.client.get("/-/archive/trace?passage=99999999")).status_code == 404
    assert (await ds.client.get("/-/archive/trace?passage=x")).status_code == 400


async def test_binary_version_offers_download_and_raw_is_an_attachment(ds, ids):
    html = (await ds.client.get(f"/-/archive/version/{ids['binary']}")).text
    assert "Binary content" in html and '<pre class="archive-text">' not in html
    r = await ds.client.get(f"/-/archive/raw/{ids['binary_blake3']}")
    assert r.status_code == 200 and r.content == BINARY
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_diff_page_shows_the_word_diff_inline_and_side_by_side(ds, ids):
    url = f"/-/archive/diff?from={ids['v1']}&to={ids['v2']}"
    html = (await ds.client.get(url)).text
    assert '<div class="archive-diff"><div class="diff">' in html
    assert "<ins>" in html and "&lt;script&gt;alert(&#39;v2&#39;)&lt;/script&gt;" in html
    assert "<script>alert('v2')" not in html
    assert "substantive" in html and "stored at ingest" in html
    assert ids["v2_blake3"] in html and ids["v2_sha256"] in html  # both sides' provenance
    assert 'rel="prev"' not in html and 'rel="next"' not in html  # only one change
    assert f'href="{url.replace("&", "&amp;")}&amp;view=side"' in html
    side = (await ds.client.get(url + "&view=side")).text
    assert '<table class="diff diff-side-by-side">' in side and "<ins>" in side
    assert "<script>alert('v2')" not in side
    deleted = await ds.client.get(f"/-/archive/diff?from={ids['binary']}&to={ids['deleted']}")
    assert deleted.status_code == 200 and "No content (deleted)" in deleted.text
    assert 'class="archive-diff' not in deleted.text
    assert (await ds.client.get(url + "&view=nonsense")).status_code == 400


async def test_diff_page_folds_unchanged_text_and_context_all_shows_it(ds, ids):
    """The corpus document had text appended: the diff shows the end, the rest is folded
    into one <details> (on the page, escaped, openable); context=all shows everything."""
    url = f"/-/archive/diff?from={ids['v1']}&to={ids['v2']}"
    lines = (CORPUS / ids["path"]).read_text(encoding="utf-8").splitlines()
    for view in ("", "&view=side"):
        html = (await ds.client.get(url + view)).text
        assert html.count('<details class="fold">') == 1
        folded = int(re.search(r"<summary>(\d+) unchanged lines</summary>", html)[1])
        assert len(lines) - 4 <= folded <= len(lines) - 3  # all but the last lines' context
        fold_end = html.index("</details>", html.index('<details class="fold">'))
        assert fold_end < html.index("<ins>")  # the change is outside the fold
        assert "Amended clause" in html[fold_end:]
        # Datasette's script closes every open <details> on a click elsewhere: not ours.
        assert "details:not(.fold)" in html and "Close any open details" not in html
        assert f'href="{(url + view).replace("&", "&amp;")}&amp;context=all"' in html
        whole = (await ds.client.get(url + view + "&context=all")).text
        assert '<details class="fold">' not in whole and "<ins>" in whole
        assert "whole text</strong>" in whole
        for line in lines:
            assert str(markupsafe.escape(line)) in whole
        assert f'href="{(url + view).replace("&", "&amp;")}" class="context-toggle"' in whole
        assert "<script>alert('v2')" not in html + whole
    other = (await ds.client.get(f"/-/archive/version/{ids['v1']}")).text
    assert "Close any open details" in other and "details:not(.fold)" not in other
    zero = (await ds.client.get(url + "&context=0")).text
    assert "changes with 0 lines of context" in zero
    assert f'href="{url.replace("&", "&amp;")}&amp;view=side&amp;context=0"' in zero
    for bad in ("x", "-1", "1e3", "9999999"):
        assert (await ds.client.get(url + "&context=" + bad)).status_code == 400


async def test_diff_page_computes_pairs_not_stored(ds, ids):
    """Reversed, the pair has no stored diff: computed, still escaped."""
    html = (await ds.client.get(f"/-/archive/diff?from={ids['v2']}&to={ids['v1']}")).text
    assert "computed now" in html and "<del>" in html
    assert "<script>alert('v2')" not in html


async def test_history_shows_change_class_and_words_bar(ds, ids):
    html = (await ds.client.get(f"/-/archive/document/{ids['doc']}")).text
    assert 'class="change-class class-substantive"' in html
    assert 'class="bar words" style="width: 120px"' in html


async def test_diffs_delta_cell_links_a_summary_to_the_diff_page(ds, archive_db, ids):
    html = (await ds.client.get(f"/{archive_db.stem}/diffs")).text
    link = f'<a href="/-/archive/diff?from={ids["v1"]}&amp;to={ids["v2"]}" class="diff-summary">'
    assert link in html and "Binary:" not in html
    assert "<script>alert('v2')" not in html
    row = {"words_inserted": 3, "words_deleted": 0, "hunks": 1, "change_class": "<b>x</b>"}
    cell = str(pages.delta_cell(row, None))
    assert cell == ('<span class="diff-summary">+3 −0 words, 1 hunk, &lt;b&gt;x&lt;/b&gt;</span>')
    assert "+? −? words, ? hunks" in str(pages.delta_cell({"hunks": "1"}, (1, 2)))


async def test_diff_canned_queries_run(ds, archive_db, ids):
    for name in ("substantive_changes", "largest_changes"):
        r = await ds.client.get(f"/{archive_db.stem}/{name}.json?_shape=array")
        assert r.status_code == 200, name
        assert ids["v2"] in [row["version_id"] for row in r.json()], name


def test_plugin_sql_never_reads_blob_content():
    sql = " ".join(v for k, v in vars(queries).items() if k.isupper() and isinstance(v, str))
    assert "content" not in sql.lower()


async def test_lookup_json_finds_every_version_of_a_content(ds, ids):
    r = await ds.client.get(f"/-/archive/lookup.json?sha256={ids['v2_sha256'].upper()}")
    data = r.json()
    assert data["found"] and [m["version_id"] for m in data["matches"]] == [ids["v2"]]
    assert data["matches"][0]["version_url"] == f"/-/archive/version/{ids['v2']}"
    r = await ds.client.get(f"/-/archive/lookup.json?blake3={ids['binary_blake3']}")
    assert [m["version_id"] for m in r.json()["matches"]] == [ids["binary"]]
    missing = (await ds.client.get("/-/archive/lookup.json?sha256=" + "ab" * 32)).json()
    assert missing == {"query": {"sha256": "ab" * 32}, "found": False, "matches": []}


async def test_atom_feeds_are_valid_and_escaped(ds, ids):
    r = await ds.client.get("/-/archive/changes.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(r.content)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == min(ids["versions"], 50)
    for tag in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{tag}").text
    titles = [e.find(f"{ATOM}title").text for e in entries]
    assert any("<img src=x onerror=alert(1)>.txt" in t for t in titles)  # text, not markup
    assert b"<img src" not in r.content
    doc = ET.fromstring((await ds.client.get(f"/-/archive/document/{ids['doc']}.atom")).content)
    links = [e.find(f"{ATOM}link").get("href") for e in doc.findall(f"{ATOM}entry")]
    assert [link.rsplit("/", 1)[1] for link in links] == [str(ids["v2"]), str(ids["v1"])]


async def test_hostile_text_and_paths_never_appear_unescaped(ds, ids, monkeypatch):
    monkeypatch.setattr(trace, "MATCH_CAP", 2)  # so trace and search pages show their cap note
    urls = [f"/-/archive/document/{d}" for d in ids["all_documents"]]
    urls += [f"/-/archive/version/{v}" for v in ids["all_versions"]]
    # Diffs between neighbouring versions (mostly of different, hostile documents): folded
    # and whole, inline and side by side.
    tails = ["", "&view=side&context=all", "&context=all", "&view=side&context=0"]
    versions = ids["all_versions"]
    urls += [
        f"/-/archive/diff?from={a}&to={b}" + tails[k % len(tails)]
        for k, (a, b) in enumerate(zip(versions, versions[1:], strict=False))
    ]
    urls += [f"/-/archive/version/{v}/blame" for v in ids["all_versions"]]
    urls += ["/-/archive/trace?q=" + quote(p) for p in PAYLOADS + ["<img src=x", "\u202e"]]
    urls += ["/-/archive/trace?q=the", "/-/archive/search?q=the"]
    urls += ["/-/archive/search?q=" + p for p in ("<img", '">', "javascript:", "\u202e")] + [
        "/archive/versions",
        "/archive/documents",
        "/archive/recent_changes",
        "/archive/search_documents?q=%3C",
        "/-/archive/verify?sha256=" + "ab" * 32,
    ]
    seen_escaped = seen_capped = False
    for url in urls:
        r = await ds.client.get(url)
        assert r.status_code == 200, url
        for payload in PAYLOADS:
            assert payload not in r.text, (url, payload)
        seen_escaped |= "&lt;img src=x onerror=alert(1)&gt;" in r.text
        seen_capped |= "More than 2 passages hold these words" in r.text
    assert seen_escaped and seen_capped


async def test_cells_link_to_archive_pages(ds, ids):
    row = (await ds.client.get(f"/archive/versions/{ids['v2']}")).text
    assert f'<a href="/-/archive/document/{ids["doc"]}">{ids["doc"]}</a>' in row
    assert f'href="/-/archive/verify?blake3={ids["v2_blake3"]}"' in row
    blobs = (await ds.client.get("/archive/blobs")).text
    assert f'href="/-/archive/verify?sha256={ids["v2_sha256"]}"' in blobs
    query = (await ds.client.get("/archive/recent_changes")).text
    assert f'<a href="/-/archive/version/{ids["v2"]}">{ids["v2"]}</a>' in query


async def json_rows(ds, url: str) -> list[dict]:
    r = await ds.client.get(url + ("&" if "?" in url else "?") + "_shape=array")
    assert r.status_code == 200, r.text
    return r.json()


async def test_canned_queries_return_the_right_rows(ds, ids):
    by_path = await json_rows(ds, f"/archive/document_history.json?document={ids['path']}")
    by_id = await json_rows(ds, f"/archive/document_history.json?document={ids['doc']}")
    assert (
        [r["version_id"] for r in by_path]
        == [ids["v1"], ids["v2"]]
        == [r["version_id"] for r in by_id]
    )
    recent = await json_rows(ds, "/archive/recent_changes.json")
    assert [r["version_id"] for r in recent] == sorted(ids["all_versions"], reverse=True)
    for prefix in (ids["v2_blake3"][:8], ids["v2_sha256"][:10].upper(), ids["v2_sha256"]):
        found = await json_rows(ds, f"/archive/find_by_hash.json?hash={prefix}")
        assert [r["version_id"] for r in found] == [ids["v2"]], prefix
    assert await json_rows(ds, f"/archive/find_by_hash.json?hash={ids['v2_blake3'][:3]}") == []
    every = await json_rows(ds, "/archive/changed_between.json?start=0000&end=9999")
    assert len(every) == ids["versions"]
    assert await json_rows(ds, "/archive/changed_between.json?start=9999&end=99999") == []
    hits = await json_rows(ds, "/archive/search_documents.json?q=onerror")
    assert [r["path"] for r in hits] == ["<img src=x onerror=alert(1)>.txt"]
    assert await json_rows(ds, "/archive/search_documents.json?q=%25") == []  # % is literal
    amended = await json_rows(ds, "/archive/search_text.json?q=amended+CLAUSE")
    assert [(r["version_id"], r["passages_matched"]) for r in amended] == [(ids["v2"], 1)]
    both = await json_rows(ds, "/archive/search_text.json?q=" + quote(ids["v1_word"]))
    assert {ids["v1"], ids["v2"]} <= {r["version_id"] for r in both}
    assert await json_rows(ds, "/archive/search_text.json?q=zzqx+amended") == []
    hostile = await json_rows(ds, "/archive/search_text.json?q=" + quote('" OR * NEAR('))
    assert hostile == []  # FTS syntax in the text is searched as words, not run
    assert await json_rows(ds, "/archive/search_text.json?q=%3F%21") == []  # no words at all


async def test_search_page_matches_paths_literally(ds):
    html = (await ds.client.get("/-/archive/search?q=_7757")).text
    assert "000_7757f9e639917cb7.txt" in html and "004_" not in html
    assert "1 document." in html


async def test_plugin_is_listed(ds):
    plugins = (await ds.client.get("/-/plugins.json")).json()
    ours = [p for p in plugins if "archive.publish" in json.dumps(p) or "provenance" in p["name"]]
    assert ours and "register_routes" in ours[0]["hooks"] and "render_cell" in ours[0]["hooks"]


def test_entry_point_is_declared_and_loads_the_package_with_templates(tmp_path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["datasette"] == {"provenance_archive": "archive.publish"}
    code = (
        "import json; from datasette.plugins import get_plugins;"
        "print(json.dumps([p for p in get_plugins() if p['templates_path']]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=plugin_env(tmp_path), capture_output=True, check=True
    )
    plugins = json.loads(out.stdout)
    assert [p["name"] for p in plugins] == ["provenance-archive"]
    assert plugins[0]["templates_path"] == str(ROOT / "archive" / "publish" / "templates")
    assert Path(plugins[0]["static_path"], "verify.js").is_file()


async def test_pages_obey_datasette_permissions(archive_db, ids):
    ds = make_ds(archive_db, {**METADATA, "allow": {"id": "root"}})
    url = f"/-/archive/version/{ids['v1']}"
    for u in (url, "/-/archive/lookup.json?sha256=" + "ab" * 32, "/-/archive/changes.atom"):
        assert (await ds.client.get(u)).status_code == 403, u
    cookie = {"ds_actor": ds.sign({"a": {"id": "root"}}, "actor")}
    assert (await ds.client.get(url, cookies=cookie)).status_code == 200


# Pure functions ------------------------------------------------------------------------


ASCII = st.text(st.characters(min_codepoint=1, max_codepoint=127))


@given(ASCII, ASCII)
def test_like_pattern_matches_exactly_substrings(needle, haystack):
    """%, _ and \\ in user input are literal; LIKE folds ASCII case."""
    conn = sqlite3.connect(":memory:")
    sql = "SELECT ? LIKE ? ESCAPE '\\'"
    got = conn.execute(sql, (haystack, queries.like_pattern(needle))).fetchone()[0]
    assert bool(got) == (needle.lower() in haystack.lower())


@given(st.text(), st.lists(st.text(), max_size=3))
def test_atom_feed_parses_and_keeps_every_xml_character(title, paths):
    entries = [
        pages.FeedEntry(f"urn:x:{i}", p, "2024-01-01T00:00:00Z", f"http://h/{i}", p)
        for i, p in enumerate(paths)
    ]
    root = ET.fromstring(pages.atom_feed("urn:feed", title, "http://h/f", "http://h/", entries))
    assert (root.find(f"{ATOM}title").text or "") == pages.xml_text(title)
    got = [e.find(f"{ATOM}title").text or "" for e in root.findall(f"{ATOM}entry")]
    assert got == [pages.xml_text(p) for p in paths]


@given(st.integers(-(10**9), 10**9), st.integers(0, 10**9))
def test_bar_width_is_bounded_and_visible_for_any_change(delta, largest):
    largest = max(largest, abs(delta))
    width = pages.bar_width(delta, largest)
    assert 0 <= width <= pages.BAR_MAX_PX
    assert (width == 0) == (delta == 0)


@pytest.mark.parametrize("bad", [None, "", "-1", "1.0", "１", "12a", "9" * 19])
def test_parse_id_rejects_non_ids(bad):
    with pytest.raises(pages.BadRequest):
        pages.parse_id(bad, "id")


def test_cell_link_escapes_and_ignores_non_archive_values():
    from archive.publish import cell_link

    assert cell_link("versions", "blob", "<script>") is None
    assert cell_link("versions", "id", "7") is None
    assert cell_link("runs", "id", 7) is None
    assert str(cell_link(None, "version_id", 7)) == '<a href="/-/archive/version/7">7</a>'


async def test_search_finds_documents_by_their_text(ds):
    r = await ds.client.get("/-/archive/search?q=" + "Khamenei")
    assert r.status_code == 200
    hits = r.text.split("archive-text-hits", 1)[1]
    # Both seed reports carry his words; neither has the name in its path.
    assert "000_7757f9e639917cb7.txt" in hits and "004_2437b915e45a5cf0.txt" in hits
    r = await ds.client.get("/-/archive/search?q=" + "zzqqxx-not-there")
    assert "0 documents, each at its newest version" in r.text


# The history page's per-version diff lookup, against the version_diffs view it replaces.
VIEW_DOCUMENT_VERSIONS = (
    "SELECT v.id, v.document_id, v.seq, v.blob, v.path, v.kind, v.run_id, v.observed_at,"
    " v.mtime, v.previous_version_id, v.old_path, b.sha256, b.size,"
    " vd.from_version_id, vd.change_class, vd.words_inserted, vd.words_deleted, vd.coarse"
    " FROM versions v LEFT JOIN blobs b ON b.blake3 = v.blob"
    " LEFT JOIN version_diffs vd ON vd.version_id = v.id"
    " WHERE v.document_id = :id ORDER BY v.seq"
)


def test_document_versions_match_the_version_diffs_view(archive_db, ids):
    conn = sqlite3.connect(archive_db)
    try:
        with_diff = 0
        for doc in ids["all_documents"]:
            # The view's columns come first; reverts and copies follow them.
            everything = {"id": doc, "before": 2**62, "limit": -1}
            rows = [r[:18] for r in conn.execute(queries.DOCUMENT_VERSIONS, everything)][::-1]
            assert rows == conn.execute(VIEW_DOCUMENT_VERSIONS, {"id": doc}).fetchall()
            with_diff += sum(1 for r in rows if r[13] is not None)
        assert with_diff > 0  # the comparison covered versions that have a stored diff
    finally:
        conn.close()


def test_timeline_rows_escape_every_value():
    """History rows are built in Python now: every document-derived value is escaped."""
    hostile = '"><img src=x onerror=alert(1)>'
    version = {
        "id": 7, "document_id": 1, "seq": 2, "blob": "ab" * 32, "path": hostile,
        "kind": hostile, "observed_at": hostile, "previous_version_id": 6, "old_path": hostile,
        "size": 1234, "change_class": hostile, "words_inserted": 1, "words_deleted": 2,
    }  # fmt: skip
    view = pages.history_view({"id": 1}, [{**version, "id": 6, "seq": 1}, version])
    html = str(view["timeline"])
    assert hostile not in html
    assert html.count("&#34;&gt;&lt;img src=x onerror=alert(1)&gt;") == 2 * 7  # 7 per row
    assert 'href="/-/archive/diff?from=6&amp;to=7" class="diff-link"' in html
    assert "1,234" in html and 'style="width: 120px"' in html


async def test_blame_page_links_each_run_of_words_to_its_version_and_diff(ds, ids):
    html = (await ds.client.get(f"/-/archive/version/{ids['v2']}/blame")).text
    runs = re.findall(r'<a href="/-/archive/version/(\d+)" class="blame-run[^"]*"', html)
    assert str(ids["v2"]) in runs and len(set(runs)) >= 2
    assert 'class="archive-words"' in html and "/-/archive/diff" in html
    assert "&lt;script&gt;" in html and "<script>alert" not in html


async def test_trace_page_shows_a_timeline_of_appearances(ds, ids):
    html = (await ds.client.get("/-/archive/trace?q=Amended+clause")).text
    assert 'class="trace-timeline"' in html and "first said in" in html
