"""`archive capture` from a local server, `archive export wacz` checked by `wacz validate`."""

from __future__ import annotations

import json
import subprocess

from archive.store import Store
from ingest.hashing import blake3_file
from ingest.warc import WebRecord, read_capture
from tests.conftest import run_cli
from tests.webserver import Page, Site, serve
from tests.webwarcs import Warc, gzip_body, html, wacz_tool


def test_capture_twice_with_the_page_changed(tmp_path, db):
    site = Site({"/story": Page(html("Story", "First words."))})
    out = tmp_path / "captures"
    with serve(site):
        url = site.base + "/story"
        args = ["capture", url, "--delay", "0", "--warc-dir", str(out), "--json"]
        code, first, err = run_cli(*args, db=db)
        assert code == 0, first + err
        site.pages["/story"] = Page(html("Story", "Second words."))
        code, second, err = run_cli(*args, db=db)
        assert code == 0, second + err
    warcs = sorted(out.glob("*.warc.gz"))
    assert len(warcs) == 2
    code, log, _ = run_cli("log", url, "--json", db=db)
    versions = json.loads(log)["versions"]
    assert [v["kind"] for v in versions] == ["added", "modified"]
    with Store(db) as store:
        captures = [store.capture_of_version(v["id"]) for v in versions]
        assert {c["warc_blake3"] for c in captures} == {blake3_file(w) for w in warcs}
        for warc in warcs:  # the WARC itself is kept in the archive, hashed
            assert store.read_content(blake3_file(warc)) == warc.read_bytes()
        assert [c["request_id"] is not None for c in captures] == [True, True]


def test_capture_urls_file_and_problems(tmp_path, db):
    site = Site({"/robots.txt": Page(b"User-agent: *\nDisallow: /private\n", headers=[])})
    site.pages["/a"] = Page(html("A", "a"))
    with serve(site):
        urls = tmp_path / "urls.txt"
        urls.write_text(f"# watched\n{site.base}/a\n\n{site.base}/private\n")
        code, out, err = run_cli(
            "capture", "--urls", str(urls), "--delay", "0", "--warc-dir", str(tmp_path), db=db
        )
    assert code == 1
    assert "disallowed by robots.txt" in err
    assert run_cli("log", site.base + "/a", db=db)[0] == 0
    assert run_cli("capture", db=db)[0] == 2


def test_export_wacz_validates_and_keeps_payload_digests(tmp_path, db):
    warc = tmp_path / "crawl.warc.gz"
    with Warc(warc) as w:
        w.response("https://n.example/a", "2024-05-01T10:00:00Z", html("A", "one"))
        w.response(
            "https://n.example/z",
            "2024-05-01T10:01:00Z",
            gzip_body(html("Z", "zipped")),
            headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        )
        w.response("https://n.example/a", "2024-05-02T10:00:00Z", html("A", "two"))
        w.resource("urn:notes:1", "2024-05-02T11:00:00Z", b"plain notes", "text/plain")
    assert run_cli("ingest", "--warc", str(warc), db=db)[0] == 0
    original = {
        r.record_id: r.payload_digest
        for r in read_capture(str(warc))
        if isinstance(r, WebRecord) and r.type in ("response", "resource")
    }
    out = tmp_path / "export.wacz"
    code, text, err = run_cli("export", "wacz", str(out), db=db)
    assert code == 0, text + err
    check = subprocess.run(
        [wacz_tool(), "validate", "-f", str(out)], capture_output=True, text=True
    )
    assert check.returncode == 0 and "valid" in check.stdout, check.stdout + check.stderr
    exported = [r for r in read_capture(str(out)) if isinstance(r, WebRecord)]
    digests = {
        r.record_id: (r.payload_digest, r.digest_ok) for r in exported if r.type != "warcinfo"
    }
    assert digests == {rid: (digest, True) for rid, digest in original.items()}


def test_export_wacz_without_captures_is_one_line(tmp_path, db, folder):
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    code, out, err = run_cli("export", "wacz", str(tmp_path / "x.wacz"), db=db)
    assert code == 1 and "no web captures" in (out + err) and "Traceback" not in err
    assert not (tmp_path / "x.wacz").exists()


def test_web_documents_go_into_bagit_ocfl_and_manifest(tmp_path, db):
    """A web document's path is its URI: exports used to refuse every one ("unsafe export
    path") and write an empty bag. Each now goes to web/<scheme>/<host>/<one name>, checked by
    the formats' own validators; a URI that is both a page and a "folder" keeps both."""
    import bagit

    from tests.tools import need_tool
    from tests.validators import bagit_cli_valid, ocfl_object_valid

    warc = tmp_path / "crawl.warc.gz"
    with Warc(warc) as w:
        w.response("https://n.example/a", "2024-05-01T10:00:00Z", html("A", "one"))
        w.response("https://n.example/a", "2024-05-02T10:00:00Z", html("A", "two"))
        w.response("https://n.example/a/b?x=1&y=..", "2024-05-01T10:00:00Z", html("B", "b"))
        w.response("https://n.example/", "2024-05-01T10:00:00Z", html("Home", "h"))
    assert run_cli("ingest", "--warc", str(warc), db=db)[0] == 0

    code, out, err = run_cli("export", "bagit", str(tmp_path / "bag"), db=db)
    assert (code, err) == (0, "")
    bag = bagit.Bag(str(tmp_path / "bag"))
    bag.validate()
    assert bagit_cli_valid(tmp_path / "bag")
    site = tmp_path / "bag/data/web/https/n.example"
    assert sorted(p.name for p in site.iterdir()) == ["~2F", "~2Fa", "~2Fa~2Fb~3Fx~3D1~26y~3D.."]
    assert b"two" in (site / "~2Fa").read_bytes()
    b3sum = need_tool("b3sum")
    checked = subprocess.run([b3sum, "-c", "blake3sums.txt"], cwd=tmp_path / "bag")
    assert checked.returncode == 0

    code, out, err = run_cli("export", "ocfl", str(tmp_path / "ocfl"), db=db)
    assert (code, err) == (0, "")
    objects = sorted(p for p in (tmp_path / "ocfl").glob("doc-*"))
    assert len(objects) == 3 and all(ocfl_object_valid(o) for o in objects)
    inventory = json.loads((tmp_path / "ocfl/doc-1/inventory.json").read_text())
    assert inventory["versions"]["v2"]["state"] != inventory["versions"]["v1"]["state"]

    code, listing, err = run_cli("export", "manifest", db=db)
    assert code == 0, err
    assert "  web/https/n.example/~2Fa\n" in listing
    (tmp_path / "bag/data/listing.b3").write_text(listing)
    again = subprocess.run([b3sum, "-c", "listing.b3"], cwd=tmp_path / "bag/data")
    assert again.returncode == 0
