"""The published archive in a real browser: pages, verify (WebCrypto), search, feed, XSS."""

from __future__ import annotations

import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from tests.browser.archive_builder import CORPUS, HOSTILE_NAMES

ATOM = "{http://www.w3.org/2005/Atom}"
# Elements or attributes only an injection could have produced on our pages.
INJECTED = (
    "img[src='x'], svg[onload], iframe, [onerror], [onload], body[onload] , "
    "a[href^='javascript:' i], script[src*='evil']"
)
HOSTILE_SEARCHES = ["<img", '">', "javascript:", "\u202e", "<script>alert(1)</script>"]


def injected(tab) -> list[str]:
    """Outer HTML of injected nodes: payload elements, or inline scripts calling alert()."""
    return tab.page.evaluate(
        """sel => [...document.querySelectorAll(sel)].map(e => e.outerHTML).concat(
            [...document.querySelectorAll("script:not([src])")]
                .filter(s => s.textContent.includes("alert(")).map(s => s.outerHTML))""",
        INJECTED,
    )


def test_history_page_shows_the_timeline(server, tab):
    tab.page.goto(server.url(f"/-/archive/document/{server.ids['doc']}"))
    rows = tab.page.locator("table.archive-timeline tbody tr")
    assert rows.count() == 2
    bars = tab.page.locator(".bar.grow").all()  # newest first: the added version's is last
    assert max(bar.bounding_box()["width"] for bar in bars) > 10
    tab.screenshot("history")
    assert tab.page.locator(".change-class").first.inner_text() == "substantive"
    tab.page.locator("a.diff-link").click()
    tab.page.wait_for_url("**/-/archive/diff?from=*")
    assert tab.page.locator(".archive-diff ins").count() >= 1
    assert tab.dialogs == []


def test_diff_page_shows_the_word_diff(server, tab):
    tab.page.goto(server.url(f"/-/archive/diff?from={server.ids['v1']}&to={server.ids['v2']}"))
    assert tab.page.locator("section.archive-side").count() == 2  # both sides' provenance
    inserted = tab.page.locator(".archive-diff ins")
    assert inserted.count() >= 1
    assert "<script>alert('v2')</script>" in " ".join(inserted.all_inner_texts())  # as text
    assert tab.page.locator(".archive-diff del").count() == 0  # text was only appended
    assert "substantive" in tab.page.locator(".diff-summary").inner_text()
    tab.screenshot("diff")
    tab.page.locator("a.view-toggle").click()
    tab.page.wait_for_url("**view=side")
    table = tab.page.locator(".archive-diff table.diff-side-by-side")
    assert table.count() == 1 and table.locator("td.diff-new ins").count() >= 1
    tab.screenshot("diff-side-by-side")
    assert tab.dialogs == [] and injected(tab) == []


def test_diff_page_folds_unchanged_text_and_opens_it_in_place(server, tab):
    """Folds open on a click without a request, stay open when another is opened, and
    hold the document's text; context=all shows it unfolded."""
    url = server.url(f"/-/archive/diff?from={server.ids['v1']}&to={server.ids['v2']}")
    first_line = (CORPUS / server.ids["path"]).read_text(encoding="utf-8").splitlines()[0]
    requests: list[str] = []
    tab.page.on("request", lambda r: requests.append(r.url))
    for view in ("", "&view=side&context=1"):
        tab.page.goto(url + view)
        folds = tab.page.locator(".archive-diff details.fold")
        assert folds.count() >= 1 and not folds.first.evaluate("d => d.open")
        assert not tab.page.get_by_text(first_line, exact=True).first.is_visible()
        requests.clear()
        folds.first.locator("summary").click()
        assert folds.first.evaluate("d => d.open")
        assert tab.page.get_by_text(first_line, exact=True).first.is_visible()
        tab.page.locator("h1").click()  # Datasette closes open menus on such a click
        assert folds.first.evaluate("d => d.open") and requests == []
        assert tab.page.locator(".archive-diff ins").first.is_visible()  # the change, unfolded
    tab.screenshot("diff-fold-open")
    tab.page.locator("a.context-toggle").click()
    tab.page.wait_for_url("**context=all")
    assert tab.page.locator(".archive-diff details.fold").count() == 0
    assert tab.page.get_by_text(first_line, exact=True).first.is_visible()
    assert tab.dialogs == [] and injected(tab) == []


def test_version_page_shows_text_hashes_and_provenance(server, tab):
    tab.page.goto(server.url(f"/-/archive/version/{server.ids['v1']}"))
    text = tab.page.locator("pre.archive-text").inner_text()
    assert text == (CORPUS / server.ids["path"]).read_text(encoding="utf-8")
    meta = tab.page.locator("dl.archive-meta").first.inner_text()
    for label in ("BLAKE3", "SHA-256", "Observed at", "Source", "Run", "Media type"):
        assert label in meta
    about = tab.page.locator("dl.archive-doc-meta").inner_text()  # what the text says of itself
    assert "Words" in about and "Language" in about
    tab.screenshot("version")
    tab.page.goto(server.url(f"/-/archive/version/{server.ids['binary']}"))
    assert tab.page.locator("a[download]").count() >= 1
    assert tab.page.locator("pre.archive-text").count() == 0


def test_verify_finds_an_archived_file(server, tab):
    tab.page.goto(server.url("/-/archive/verify"))
    assert tab.page.evaluate("window.isSecureContext")
    tab.page.set_input_files("#file-input", str(CORPUS / server.ids["path"]))
    tab.page.wait_for_selector("body[data-verify]")
    assert tab.page.get_attribute("body", "data-verify") == "found"
    verdict = tab.page.locator("#verify-result").inner_text()
    assert f"version 1 of {server.ids['path']}" in verdict
    href = tab.page.locator("#verify-result ul.matches a").first.get_attribute("href")
    assert href == f"/-/archive/version/{server.ids['v1']}"
    tab.screenshot("verify-found")


def test_verify_says_when_a_file_is_not_archived(server, tab, tmp_path):
    stranger = tmp_path / "<img src=x onerror=alert(1)>.txt"
    stranger.write_bytes(b"never archived\n")
    tab.page.goto(server.url("/-/archive/verify"))
    tab.page.set_input_files("#file-input", str(stranger))
    tab.page.wait_for_selector("body[data-verify]")
    assert tab.page.get_attribute("body", "data-verify") == "missing"
    assert "Not in the archive" in tab.page.locator("#verify-result").inner_text()
    tab.screenshot("verify-missing")
    assert tab.dialogs == [] and injected(tab) == []


def test_search_page_and_canned_query(server, tab):
    tab.page.goto(server.url("/-/archive/search"))
    tab.page.fill("input[name=q]", "7757")
    tab.page.click("form.archive-search button")
    tab.page.wait_for_url("**/-/archive/search?q=7757")
    links = tab.page.locator("table.archive-paths tbody a")
    assert links.all_inner_texts() == [server.ids["path"]]
    tab.screenshot("search")
    links.first.click()
    tab.page.wait_for_url(f"**/-/archive/document/{server.ids['doc']}")
    tab.page.goto(server.url("/archive/search_documents?q=onerror"))
    cells = tab.page.locator("td.col-path").all_inner_texts()
    assert cells == ["<img src=x onerror=alert(1)>.txt"]
    tab.screenshot("canned-search")
    assert tab.dialogs == [] and injected(tab) == []


def test_atom_feeds_parse(server):
    for path in ("/-/archive/changes.atom", f"/-/archive/document/{server.ids['doc']}.atom"):
        with urllib.request.urlopen(server.url(path), timeout=10) as r:
            assert r.headers["Content-Type"].startswith("application/atom+xml")
            feed = ET.fromstring(r.read())
        assert feed.tag == f"{ATOM}feed" and feed.find(f"{ATOM}updated").text
        assert feed.findall(f"{ATOM}entry"), path


def test_sweep_detector_catches_a_real_injection(tab):
    """Control: the same checks do fire on a page where the payload is live."""
    tab.page.set_content("<p>x</p><img src=x onerror=alert(1)>")
    assert tab.dialogs == ["alert: 1"]
    assert injected(tab) != []


def test_xss_sweep_every_page_type(server, tab):
    """No dialog fires and no injected element exists on any page showing hostile content."""
    ids = server.ids
    paths = [f"/-/archive/document/{d}" for d in ids["documents"]]
    paths += [f"/-/archive/version/{v}" for v in ids["versions"]]
    paths += [f"/-/archive/diff?from={a}&to={b}" for a, b in ids["diffs"]]
    paths += ["/-/archive/search?q=" + urllib.parse.quote(q) for q in HOSTILE_SEARCHES]
    paths += [
        "/-/archive/verify?blake3=" + "0" * 64,
        "/archive/versions",
        "/archive/documents",
        "/archive/recent_changes",
        "/archive/search_documents?q=%3C",
    ]
    for path in paths:
        tab.page.goto(server.url(path), wait_until="domcontentloaded")
        assert injected(tab) == [], path
    tab.page.goto(server.url("/archive/documents"))
    shown = tab.page.locator("td.col-path").all_inner_texts()
    assert set(HOSTILE_NAMES) <= set(shown)
    tab.screenshot("documents-table")
    assert tab.dialogs == []


def test_error_pages_keep_the_way_back(server, tab):
    for path in ("/-/archive/version/999999999", "/archive/no_such_table", "/no-such-db"):
        tab.page.goto(server.url(path))
        assert tab.page.locator("h1").inner_text().startswith("Error")
        nav = tab.page.locator("header nav a")
        assert "home" in nav.all_inner_texts(), path
        assert tab.page.locator("form.archive-search input[name=q]").count() == 1
    tab.page.locator("header nav a", has_text="home").click()
    tab.page.wait_for_url(server.url("/"))


def test_home_page_is_the_archive_s(server, tab):
    import sqlite3

    import yaml

    from tests.browser.archive_builder import ROOT

    meta = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))
    conn = sqlite3.connect(server.db)
    newest = conn.execute("SELECT max(id) FROM versions").fetchone()[0]
    root = conn.execute(
        "SELECT tree_root FROM runs WHERE tree_size IS NOT NULL ORDER BY id DESC"
    ).fetchone()[0]
    versions = conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    conn.close()
    tab.page.goto(server.url("/"))
    assert tab.page.title() == meta["title"]
    assert tab.page.locator("h1").inner_text() == meta["title"]
    assert (
        meta["description"].split(".")[0] in tab.page.locator(".archive-description").inner_text()
    )
    assert f"{versions} versions" in tab.page.locator(".archive-counts").inner_text()
    assert root in tab.page.locator(".archive-checkpoint").inner_text()
    rows = tab.page.locator("table.archive-changes tbody tr")
    assert 1 <= rows.count() <= 20
    first = rows.first.locator("a[href^='/-/archive/version/']").get_attribute("href")
    assert first == f"/-/archive/version/{newest}"
    assert tab.page.locator("table.archive-changes .change-class").count() >= 1
    assert tab.page.locator(".archive-most-changed li").count() >= 1
    links = tab.page.locator(".archive-links a").all_inner_texts()
    assert {"Verify a file", "Atom feed", "All changes", "Tables"} <= set(links)
    tables = tab.page.locator(".archive-table-list a").all_inner_texts()
    assert "documents" in tables and "passages_fts" not in tables  # hidden stays hidden
    tab.screenshot("home")
    assert tab.dialogs == [] and injected(tab) == []
    tab.page.locator("table.archive-changes a.diff-link").first.click()
    tab.page.wait_for_url("**/-/archive/diff?from=*")
    tab.page.goto(server.url("/"))
    tab.page.fill(".archive-home input[name=q]", "7757")
    tab.page.locator(".archive-home form.archive-search button").click()
    tab.page.wait_for_url("**/-/archive/search?q=7757")
    assert tab.page.locator("table.archive-paths tbody a").count() == 1


def test_changes_page_pages_through_every_version(server, tab):
    tab.page.goto(server.url("/-/archive/changes"))
    seen = []
    while True:
        hrefs = tab.page.locator("table.archive-changes a[href^='/-/archive/version/']")
        seen += [
            int(h.rsplit("/", 1)[1])
            for h in hrefs.evaluate_all("a => a.map(x => x.getAttribute('href'))")
        ]
        older = tab.page.locator("a[rel=next]")
        if older.count() == 0:
            break
        older.click()
        tab.page.wait_for_url("**before=*")
    assert seen == sorted(server.ids["versions"], reverse=True)
    assert tab.page.locator("a[href='/-/archive/changes.atom']").count() >= 1


def test_trace_and_search_results_highlight_the_match(server, tab):
    tab.page.goto(server.url("/-/archive/trace?q=Opening+clause"))
    marks = tab.page.locator(".archive-trace .archive-excerpt mark").all_inner_texts()
    assert marks == ["Opening clause"]
    snippet = tab.page.locator(".archive-trace .archive-excerpt").first.inner_text()
    assert len(snippet) < 400  # a snippet, not the 3,000-character paragraph
    more = tab.page.locator(".archive-trace details.archive-more").first
    assert not more.evaluate("d => d.open")
    more.locator("summary").click()
    assert "Donaudampfschifffahrtsgesellschaft" * 3 in more.inner_text()
    tab.screenshot("trace-highlighted")
    tab.page.goto(server.url("/-/archive/search?q=Amended+clause"))
    hits = tab.page.locator("table.archive-text-hits .archive-excerpt")
    assert hits.count() == 1
    assert [m.lower() for m in hits.locator("mark").all_inner_texts()] == ["amended clause"]
    assert "<script>alert('v2')</script>" in hits.inner_text()  # document text, as text
    for q in ("<script>", '"><svg onload=alert(1)>'):
        tab.page.goto(server.url("/-/archive/trace?q=" + urllib.parse.quote(q)))
        assert injected(tab) == []
    assert tab.dialogs == []


def test_documents_table_paths_lead_to_their_history(server, tab):
    tab.page.goto(server.url("/archive/documents"))
    link = tab.page.locator("td.col-path a.archive-history-link", has_text=server.ids["path"])
    link.click()
    tab.page.wait_for_url(f"**/-/archive/document/{server.ids['doc']}")
    assert server.ids["path"] in tab.page.locator("h1").inner_text()


def test_verify_takes_a_pasted_hash_without_webcrypto(server, browser):
    import hashlib

    from tests.browser.archive_builder import APPENDED

    context = browser.new_context()
    context.add_init_script(
        "delete window.crypto.subtle; Object.defineProperty(window.crypto,"
        " 'subtle', {value: undefined});"
    )
    page = context.new_page()
    try:
        page.goto(server.url("/-/archive/verify"))
        page.set_input_files("#file-input", str(CORPUS / server.ids["path"]))
        assert "paste the file's hash" in page.locator("#verify-status").inner_text()
        digest = hashlib.sha256((CORPUS / server.ids["path"]).read_bytes() + APPENDED).hexdigest()
        page.fill("#hash-input", digest.upper())
        page.locator("form.archive-paste-hash button").click()
        page.wait_for_url("**/-/archive/verify?hash=*")
        assert "version 2 of" in page.locator("#verify-result").inner_text()
        page.goto(server.url("/-/archive/verify?hash=" + "0" * 64))
        assert "Not in the archive" in page.locator("#verify-result").inner_text()
    finally:
        context.close()


def test_the_html_diff_is_a_page_to_send(tab, tmp_path):
    """`archive diff --format html` opened from a file: styled, blank lines kept, a deletion
    and the insertion beside it set apart, a header naming both sides."""
    import subprocess
    import sys

    from tests.browser.archive_builder import ROOT

    (tmp_path / "old.txt").write_text("Score: 7-2 today.\n\nSecond paragraph.\n")
    (tmp_path / "new.txt").write_text("Score: 6-3 today.\n\nSecond paragraph.\n")
    page = subprocess.run(
        [sys.executable, "-m", "archive", "diff", "old.txt", "new.txt", "--format", "html",
         "--context", "all"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    (tmp_path / "change.html").write_text(page, encoding="utf-8")
    tab.page.goto((tmp_path / "change.html").as_uri())
    assert tab.page.title() == "old.txt → new.txt"
    header = tab.page.locator(".diff-header").inner_text()
    assert "old.txt" in header and "new.txt" in header and "SHA-256" in header
    lines = tab.page.locator(".archive-diff .dl")
    assert lines.count() == 3 and all(box["height"] > 5 for box in
                                      (ln.bounding_box() for ln in lines.all()))  # fmt: skip
    deleted, inserted = tab.page.locator(".archive-diff del"), tab.page.locator(".archive-diff ins")
    assert deleted.inner_text() == "7-2" and inserted.inner_text() == "6-3"
    assert "line-through" in deleted.evaluate("e => getComputedStyle(e).textDecorationLine")
    gap = inserted.bounding_box()["x"] - (
        deleted.bounding_box()["x"] + deleted.bounding_box()["width"]
    )
    assert gap >= 2  # not run together
    tab.screenshot("diff-standalone")
