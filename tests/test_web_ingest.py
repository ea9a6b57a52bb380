"""`archive ingest --warc`: captures across WARC/WACZ files become one history per URI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from archive.ledger import compact
from archive.store import Store
from ingest.hashing import blake3_file
from tests.conftest import run_cli
from tests.webwarcs import Warc, chunked, gzip_body, html, make_wacz

N = "https://news.example.org"
STORY, GONE, MOVED, ZIPPED, PIECES = (f"{N}/{p}" for p in ("story", "gone", "moved", "gz", "ch"))


@pytest.fixture
def crawls(tmp_path: Path) -> dict:
    """Two daily crawls: the story edited, a page deleted and restored, and trouble."""
    one, two = tmp_path / "day1.warc.gz", tmp_path / "day2.warc"
    ids: dict[str, str] = {}
    with Warc(one) as w:
        ids["v1"] = w.response(STORY, "2024-05-01T10:00:00Z", html("Story", "The mayor said no."))
        ids["req"] = w.request(STORY, "2024-05-01T10:00:00Z", ids["v1"])
        w.response(GONE, "2024-05-01T10:01:00Z", html("Gone", "Here today."))
        ids["moved"] = w.response(
            MOVED,
            "2024-05-01T10:02:00Z",
            b"",
            status="301 Moved Permanently",
            headers=[("Location", "/story")],
        )
        ids["gz"] = w.response(
            ZIPPED,
            "2024-05-01T10:03:00Z",
            gzip_body(html("Zipped", "Squeezed words.")),
            headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        )
        w.response(
            PIECES,
            "2024-05-01T10:04:00Z",
            chunked(html("Pieces", "Words in chunks.")),
            headers=[("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")],
        )
        w.response(f"{N}/never", "2024-05-01T10:05:00Z", b"nope", status="404 Not Found")
        w.raw(b"1.0\r\nthis is no record\r\n\r\n")
        w.response(
            f"{N}/bad",
            "2024-05-01T10:06:00Z",
            b"tampered",
            extra={"WARC-Payload-Digest": "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"},
        )
        w.response(f"{N}/down", "2024-05-01T10:07:00Z", b"busy", status="503 Busy")
    with Warc(two, gzip=False) as w:
        ids["v2"] = w.response(STORY, "2024-05-02T10:00:00Z", html("Story", "The mayor said yes."))
        w.metadata(STORY, "2024-05-02T10:00:00Z", ids["v2"], "outlinks: none\r\n")
        w.response(GONE, "2024-05-02T10:01:00Z", b"gone", status="410 Gone")
        w.revisit(STORY, "2024-05-03T10:00:00Z", "sha1:X", ids["v2"], "2024-05-02T10:00:00Z")
        w.response(STORY, "2024-05-04T10:00:00Z", html("Story", "The mayor said yes."))
        w.response(GONE, "2024-05-05T10:01:00Z", html("Gone", "Here today."))
    return {"one": one, "two": two, "ids": ids}


def ingest(db: Path, *files: Path, source: str | None = None) -> tuple[int, dict, str]:
    args = ["ingest", "--warc", *map(str, files), "--json"]
    if source:
        args += ["--source", source]
    code, out, err = run_cli(*args, db=db)
    return code, json.loads(out), err


def log(db: Path, ref: str) -> list[dict]:
    code, out, _ = run_cli("log", ref, "--json", db=db)
    assert code == 0, out
    return json.loads(out)["versions"]


def test_two_crawls_make_one_history_per_uri(crawls, db):
    code, summary, _ = ingest(db, crawls["one"], crawls["two"])
    assert code == 1  # the broken record and the digest mismatch are problems
    reasons = [p["reason"] for p in summary["problem_list"]]
    assert any("unreadable record" in r for r in reasons)
    assert any("payload digest failed" in r for r in reasons)
    assert summary["revisits"] == 1 and summary["requests"] == 1 and summary["metadata"] == 1

    story = log(db, STORY)
    assert [(v["kind"], v["observed_at"]) for v in story] == [
        ("added", "2024-05-01T10:00:00Z"),
        ("modified", "2024-05-02T10:00:00Z"),
    ]  # the capture of 05-04 had the same content: no version
    gone = log(db, GONE)
    assert [v["kind"] for v in gone] == ["added", "deleted", "restored"]
    assert [v["observed_at"][:10] for v in gone] == ["2024-05-01", "2024-05-02", "2024-05-05"]
    for absent in (f"{N}/never", f"{N}/bad", f"{N}/down"):
        assert run_cli("log", absent, db=db)[0] == 2  # no such document


def test_payload_decoded_text_extracted_transferred_bytes_kept(crawls, db):
    ingest(db, crawls["one"])
    with Store(db) as store:
        gz = store.versions(store.documents_at(ZIPPED)[0]["id"])[0]
        assert store.read_content(gz["blob"]) == html("Zipped", "Squeezed words.")
        text = store.read_text(gz["blob"])
        assert "Squeezed words." in text and "<p>" not in text
        capture = store.capture_of_version(gz["id"])
        assert store.read_content(capture["transferred_blob"]) == gzip_body(
            html("Zipped", "Squeezed words.")
        )
        pieces = store.versions(store.documents_at(PIECES)[0]["id"])[0]
        assert store.read_content(pieces["blob"]) == html("Pieces", "Words in chunks.")
        moved = store.capture_of_version(
            store.versions(store.documents_at(MOVED)[0]["id"])[0]["id"]
        )
        assert (moved["status"], moved["location"]) == (301, f"{N}/story")


def test_capture_provenance_in_rows_and_ledger_leaf(crawls, db):
    ingest(db, crawls["one"])
    ids = crawls["ids"]
    with Store(db) as store:
        version = store.versions(store.documents_at(STORY)[0]["id"])[0]
        rows = {
            r["key"]: r["value"] for r in store.provenance(version["id"]) if r["origin"] == "warc"
        }
        leaf = json.loads(compact.Rebuilder(store).leaf(store.ledger_entry(version["id"])))
    assert rows["record_id"] == ids["v1"]
    assert rows["status"] == "200" and rows["warc_date"] == "2024-05-01T10:00:00Z"
    assert rows["warc_blake3"] == blake3_file(crawls["one"])
    assert rows["request_id"] == ids["req"]
    assert rows["payload_digest"].startswith("sha1:")
    capture = leaf["capture"]  # leaf v2: the whole captures row (archive.ledger.records)
    assert capture["record_id"] == ids["v1"] and capture["target_uri"] == STORY
    assert capture["payload_digest"] == rows["payload_digest"]
    assert capture["warc_blake3"] == rows["warc_blake3"]
    assert capture["warc_offset"] == int(rows["warc_offset"])
    assert capture["version_id"] == version["id"] and capture["outcome"] == "added"
    headers = json.loads(capture["http"])["headers"]
    assert ["Content-Type", "text/html; charset=utf-8"] in [list(h) for h in headers]
    assert ["warc", "record_id", ids["v1"]] in leaf["provenance"]
    code, out, _ = run_cli("verify", db=db)
    assert code == 0, out


def test_rerun_adds_nothing_and_wacz_gives_the_same_history(crawls, db, tmp_path):
    ingest(db, crawls["one"], crawls["two"], source="daily")
    code, summary, _ = ingest(db, crawls["one"], crawls["two"], source="daily")
    assert summary["new_versions"] == 0 and summary["duplicates"] >= 6
    other = tmp_path / "other.db"
    clean = tmp_path / "clean.warc.gz"  # wacz create refuses the broken records of day 1
    with Warc(clean) as w:
        w.response(STORY, "2024-05-01T10:00:00Z", html("Story", "The mayor said no."))
        w.response(STORY, "2024-05-02T10:00:00Z", html("Story", "The mayor said yes."))
    wacz = make_wacz(tmp_path / "day1.wacz", clean)
    assert ingest(other, wacz)[0] == 0
    assert [v["kind"] for v in log(other, STORY)] == ["added", "modified"]
    with Store(other) as store:
        capture = store.capture_of_version(
            store.versions(store.documents_at(STORY)[0]["id"])[0]["id"]
        )
    assert capture["warc_member"] == "archive/clean.warc.gz"
    assert capture["warc_blake3"] == blake3_file(wacz)


def test_older_capture_after_newer_is_a_problem_not_a_version(crawls, db):
    ingest(db, crawls["two"])
    code, summary, _ = ingest(db, crawls["one"])
    assert code == 1
    assert any("older than the archive's latest" in p["reason"] for p in summary["problem_list"])
    assert [v["observed_at"][:10] for v in log(db, STORY)] == ["2024-05-02"]


def test_missing_and_non_warc_files_are_one_line_errors(db, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    code, summary, err = ingest(db, tmp_path / "nope.warc", tmp_path / "notes.txt")
    assert code == 1 and "Traceback" not in err
    assert len(summary["problem_list"]) == 2
    code, out, err = run_cli("ingest", "--warc", db=db)
    assert code == 2


def test_source_of_another_kind_is_refused(crawls, db, folder):
    assert run_cli("ingest", str(folder), db=db)[0] == 0  # a folder source named "docs"
    code, out, err = run_cli("ingest", "--warc", str(crawls["two"]), "--source", "docs", db=db)
    assert code == 1 and "is a folder source, not a web one" in err
    assert run_cli("ingest", str(folder), "--source", "x", db=db)[0] == 2


def test_run_rows_are_deterministic(crawls, tmp_path):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    for db in (a, b):
        ingest(db, crawls["one"], crawls["two"])

    def rows(db):
        conn = sqlite3.connect(db)
        out = conn.execute(
            "SELECT record_id, target_uri, captured_at, status, blob, outcome, version_id"
            " FROM captures ORDER BY id"
        ).fetchall()
        conn.close()
        return out

    assert rows(a) == rows(b)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE captures SET target_uri = 'https://evil.example/' WHERE version_id IS NOT NULL",
        "UPDATE captures SET warc_date = '1999-01-01T00:00:00Z' WHERE version_id IS NULL",
        "UPDATE captures SET http = NULL WHERE version_id IS NOT NULL",
    ],
    ids=["capture of a version", "capture that made no version", "capture headers"],
)
def test_an_edited_capture_is_found_by_verify(crawls, db, sql):
    """Every column of every capture is in a leaf: its version's, or its run's."""
    ingest(db, crawls["one"])
    conn = sqlite3.connect(db)
    assert conn.execute(sql).rowcount > 0
    conn.commit()
    conn.close()
    code, out, _ = run_cli("verify", db=db)
    assert code == 1 and "capture" in out, out
