"""Extracted metadata and provenance in the archive: seeds, formats, sidecars, broken inputs."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import ingest.extract as extract_pkg
from archive.record.folder import ingest_folder
from archive.record.metadata import format_problem, sidecar_target
from archive.store import Store
from ingest.content import text_blob
from ingest.formats import MEDIA_DOCX
from ingest.hashing import blake3_hex
from ingest.sidecar import SIDECAR_SUFFIXES
from tests.conftest import CORPUS, run_cli, table_rows
from tests.test_formats import make_pdf

FIX = Path(__file__).parent / "fixtures" / "extract"
SEED0 = "000_7757f9e639917cb7.txt"
SEED4 = "004_2437b915e45a5cf0.txt"


def ingest(db: Path, folder: Path, **kw):
    with Store(db) as store:
        return ingest_folder(store, str(folder), "test", **kw)


def q(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def items(db: Path, path: str, key: str) -> list[tuple[str, str | None]]:
    return q(
        db,
        "SELECT i.value, i.detail FROM blob_items i JOIN versions v ON v.blob = i.blob"
        " WHERE v.path = ? AND i.key = ? ORDER BY i.ordinal",
        (path, key),
    )


def field(db: Path, path: str, name: str):
    sql = f"SELECT m.{name} FROM blob_metadata m JOIN versions v ON v.blob = m.blake3"
    return q(db, sql + " WHERE v.path = ? ORDER BY v.id DESC LIMIT 1", (path,))[0][0]


def provenance(db: Path, path: str) -> dict[tuple[str, str], str]:
    rows = q(
        db,
        "SELECT p.origin, p.key, p.value FROM version_provenance p"
        " JOIN versions v ON v.id = p.version_id WHERE v.path = ?"
        " AND v.id = (SELECT MAX(id) FROM versions WHERE path = ?)",
        (path, path),
    )
    return {(o, k): v for o, k, v in rows}


def make_docx(paragraphs: list[str], title: str) -> bytes:
    import docx  # python-docx: a dependency

    document = docx.Document()
    document.core_properties.title = title
    for p in paragraphs:
        document.add_paragraph(p)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


# --- seeds ------------------------------------------------------------------------------------


def test_seed_metadata_is_stored(db):
    summary = ingest(db, CORPUS)
    assert summary.problems == 0
    assert field(db, SEED0, "title") == (
        "Iran and Russia can cooperate to contain the US's threat to the humanity"
    )
    assert field(db, SEED4, "title") == (
        "Khamenei: Iran, Russia Should Cooperate to Isolate U.S., Foster Middle East Stability"
    )
    assert items(db, SEED0, "tag") == [("Iran", None), ("Russia", None), ("Syria Summit", None)]
    comments = items(db, SEED0, "comment")
    assert [d for _, d in comments] == ["2019-01-06T10:27", "2019-02-06T03:41"]
    assert comments[0][0].startswith("Masha'ALLAH, adequate coverage")
    assert field(db, SEED0, "comment_count") == 2
    assert items(db, SEED0, "date")[0] == ("2018-09-07", "September 7, 2018")
    assert field(db, SEED0, "first_date") == "2018-09-07"
    assert items(db, SEED4, "date_partial") == [
        ("--11-18", "November 18"),
        ("--10-13", "October 13"),
    ]
    assert [v for v, _ in items(db, SEED4, "year")] == ["2015", "1979", "1991"]
    quotes0 = [v for v, _ in items(db, SEED0, "quote")]
    assert quotes0[0].startswith("The cooperation between Iran and Russia in the matter of Syria")
    quotes4 = [v for v, _ in items(db, SEED4, "quote")]
    assert quotes4[2].startswith("America’s hostility is towards the Iranian nation")
    for path in (SEED0, SEED4):
        assert field(db, path, "language") == "en"
        assert field(db, path, "media_type") == "text/plain"
        assert field(db, path, "encoding") == "utf-8"
        assert field(db, path, "line_endings") == "LF"
        assert field(db, path, "word_count") > 400
    assert provenance(db, SEED0) == {
        ("filename", "corpus_number"): "000",
        ("filename", "identifier"): "7757f9e639917cb7",
    }
    # Plain text needs no readable-text blob: diffs read the blob itself.
    assert q(db, "SELECT COUNT(*) FROM blobs WHERE text_blob IS NOT NULL") == [(0,)]


def test_meta_command_shows_fields_items_and_provenance(db):
    ingest(db, CORPUS)
    code, out, _ = run_cli("meta", f"{SEED0}@1", "--json", db=db)
    assert code == 0
    data = json.loads(out)
    assert data["fields"]["title"].startswith("Iran and Russia can cooperate")
    assert {"key": "tag", "ordinal": 2, "value": "Syria Summit", "detail": None} in data["items"]
    assert {"origin": "filename", "key": "identifier", "value": "7757f9e639917cb7"} in data[
        "provenance"
    ]
    code, out, _ = run_cli("meta", SEED0, db=db)
    assert code == 0 and "comment[1]:" in out and "(2019-02-06T03:41)" in out
    code, _, _ = run_cli("meta", f"{SEED0}@7", db=db)
    assert code == 2


# --- formats ----------------------------------------------------------------------------------


def test_each_format_gets_media_type_text_blob_and_metadata(db, folder):
    shutil.copy(FIX / "note.md", folder / "note.md")
    shutil.copy(FIX / "page.html", folder / "page.html")
    (folder / "doc.pdf").write_bytes(make_pdf(["Iran and Russia meet", "in Tehran."]))
    (folder / "doc.docx").write_bytes(make_docx(["Docx first paragraph."], "Docx title"))
    summary = ingest(db, folder)
    assert summary.problems == 0, summary.problem_list
    blobs = {b["blake3"]: b for b in table_rows(db, "blobs")}
    by_path = {v["path"]: blobs[v["blob"]] for v in table_rows(db, "versions")}
    assert {p: b["media_type"] for p, b in by_path.items()} == {
        "doc.docx": MEDIA_DOCX,
        "doc.pdf": "application/pdf",
        "note.md": "text/markdown",
        "page.html": "text/html",
    }
    assert by_path["note.md"]["text_blob"] is None
    with Store(db) as store:
        for path in ("page.html", "doc.pdf", "doc.docx"):
            raw = by_path[path]
            text = blobs[raw["text_blob"]]
            assert text["media_type"] == "text/plain" and text["encoding"] == "utf-8"
            assert blake3_hex(text["content"]) == text["blake3"]
            assert store.read_text(raw["blake3"]) == text["content"].decode("utf-8")
        assert store.read_text(by_path["page.html"]["blake3"]).split("\n\n")[0] == (
            "Leaders meet in Tehran"
        )
        assert "Iran and Russia meet" in store.read_text(by_path["doc.pdf"]["blake3"])
        assert store.read_text(by_path["doc.docx"]["blake3"]) == "Docx first paragraph."
        assert (
            store.read_content(by_path["page.html"]["blake3"]) == (FIX / "page.html").read_bytes()
        )
    assert field(db, "page.html", "title") == "Leaders meet in Tehran"
    assert field(db, "page.html", "canonical_url") == "https://example.org/news/leaders-meet"
    assert field(db, "page.html", "published") == "2018-09-07T18:30:00+00:00"
    assert ("2018-09-07", "September 7, 2018") in items(db, "page.html", "time")
    assert items(db, "doc.pdf", "doc_title") == [("Test PDF", "field")]
    assert items(db, "doc.docx", "doc_title") == [("Docx title", "field")]
    assert field(db, "note.md", "title") == "Summit notes"
    assert [v for v, _ in items(db, "note.md", "heading")] == ["Summit notes", "Background"]
    assert provenance(db, "note.md") == {
        ("front-matter", "licence"): "CC-BY-4.0",
        ("front-matter", "publisher"): "Example Press",
        ("front-matter", "retrieved_at"): "2024-03-01T12:00:00+00:00",
        ("front-matter", "source_url"): "https://example.org/note",
        ("front-matter", "tags"): '["summit", "diplomacy"]',
        ("front-matter", "title"): "Front matter title",
    }


def test_html_versions_diff_through_their_text_blobs(db, folder):
    page = folder / "page.html"
    page.write_text("<html><head><title>T</title></head><body><p>One.</p><p>Two.</p></body>")
    ingest(db, folder)
    page.write_text("<html><head><title>T</title></head><body><p>One.</p><p>Three.</p></body>")
    ingest(db, folder)
    with Store(db) as store:
        first, second = (v["blob"] for v in store.versions(1))
        assert store.read_text(first) == "One.\n\nTwo."
        assert store.read_text(second) == "One.\n\nThree."
        assert store.read_content(second) == page.read_bytes()


def test_broken_inputs_are_problems_and_the_ingest_goes_on(db, folder):
    pdf = make_pdf(["text"])
    (folder / "cut.pdf").write_bytes(pdf[: len(pdf) // 2])
    shutil.copy(FIX / "junk.html", folder / "junk.html")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (folder / "good.txt").write_text("A good file.\n")
    (folder / "good.txt.meta.yml").write_bytes((FIX / "bad.meta.yml").read_bytes())
    (folder / "orphan.txt.meta.json").write_text("{}")
    code, out, err = run_cli("ingest", str(folder), db=db)
    assert code == 1
    assert "4 new versions" in out
    problems: dict[str, list[str]] = {}
    for p in table_rows(db, "problems"):
        problems.setdefault(p["path"], []).append(p["reason"])
    assert set(problems) == {
        "cut.pdf",
        "junk.html",
        "broken.docx",
        "good.txt.meta.yml",
        "orphan.txt.meta.json",
    }
    # Text extraction and the document-info extractor each say why they could not read it.
    assert [r.split(" (")[0] for r in problems["cut.pdf"]] == [
        "pdf: cannot read",
        "docinfo: FormatError: pdf: cannot read",
    ]
    assert problems["junk.html"] == [
        "html: content is not HTML (detected application/octet-stream)"
    ]
    assert problems["broken.docx"] == ["docx: content is not DOCX (detected application/zip)"]
    assert [r[:23] for r in problems["good.txt.meta.yml"]] == ["sidecar: malformed YAML"]
    assert problems["orphan.txt.meta.json"] == ["sidecar: no document orphan.txt beside it"]
    reasons = [r for rs in problems.values() for r in rs]
    assert all("\n" not in r for r in reasons)
    assert table_rows(db, "runs")[0]["problems"] == len(reasons) == 6
    stored = {b["blake3"] for b in table_rows(db, "blobs")}
    for name in ("cut.pdf", "junk.html", "broken.docx", "good.txt.meta.yml"):
        assert blake3_hex((folder / name).read_bytes()) in stored  # bytes kept all the same
    assert field(db, "good.txt", "title") == "A good file."
    # A malformed sidecar is still linked, with no provenance rows from it.
    (version,) = [v for v in table_rows(db, "versions") if v["path"] == "good.txt"]
    assert version["sidecar_blob"] == blake3_hex((folder / "good.txt.meta.yml").read_bytes())
    assert not [k for k in provenance(db, "good.txt") if k[0] == "sidecar"]


def test_a_failing_extractor_is_a_problem_not_a_stop(db, folder, monkeypatch):
    def boom(text, ctx):
        raise RuntimeError("kaput\nsecond line")

    monkeypatch.setattr(extract_pkg, "EXTRACTORS", (*extract_pkg.EXTRACTORS, ("boom", boom)))
    (folder / "a.txt").write_text("Alpha title\n")
    summary = ingest(db, folder)
    assert summary.new_versions == 1
    assert summary.problem_list == [
        {"path": "a.txt", "reason": "boom: RuntimeError: kaput second line"}
    ]
    assert field(db, "a.txt", "title") == "Alpha title"


# --- sidecars ---------------------------------------------------------------------------------


def test_sidecars_are_stored_per_version_and_not_documents(db, folder):
    (folder / "story.txt").write_text("Story title\n\nBody.\n")
    shutil.copy(FIX / "story.txt.meta.yml", folder / "story.txt.meta.yml")
    (folder / "other.txt").write_text("Other\n")
    shutil.copy(FIX / "story.txt.meta.json", folder / "other.txt.meta.json")
    summary = ingest(db, folder)
    assert summary.problems == 0 and summary.files_seen == 2
    assert [d["path"] for d in table_rows(db, "documents")] == ["other.txt", "story.txt"]
    versions = {v["path"]: v for v in table_rows(db, "versions")}
    blobs = {b["blake3"]: b for b in table_rows(db, "blobs")}
    for doc, sidecar in (("story.txt", "story.txt.meta.yml"), ("other.txt", "other.txt.meta.json")):
        link = versions[doc]["sidecar_blob"]
        assert blobs[link]["content"] == (folder / sidecar).read_bytes()
        assert q(db, "SELECT COUNT(*) FROM blob_metadata WHERE blake3 = ?", (link,)) == [(0,)]
    story = provenance(db, "story.txt")
    assert story[("sidecar", "source_url")] == "https://example.org/story"
    assert story[("sidecar", "publisher")] == "Example Press"
    assert story[("sidecar", "retrieved_at")] == "2024-03-01T12:00:00"
    assert story[("sidecar", "author")] == "Jane Doe; John Roe"
    assert story[("sidecar", "licence")] == "CC-BY-4.0"
    assert story[("sidecar", "section")] == "World"
    other = provenance(db, "other.txt")
    assert other[("sidecar", "licence")] == "CC0-1.0" and other[("sidecar", "page")] == "3"


def test_sidecar_only_edits_are_recorded_without_new_versions(db, folder):
    doc = folder / "story.txt"
    sidecar = folder / "story.txt.meta.json"
    doc.write_text("Story\n")
    sidecar.write_text('{"publisher": "A"}')
    ingest(db, folder)
    versions_before = table_rows(db, "versions")
    sidecar.write_text('{"publisher": "B"}')
    summary = ingest(db, folder)
    assert summary.new_versions == 0 and summary.problems == 0
    assert table_rows(db, "versions") == versions_before  # version rows never rewritten
    changes = table_rows(db, "sidecar_changes")
    assert [(c["version_id"], c["run_id"], c["blob"]) for c in changes] == [
        (1, 2, blake3_hex(b'{"publisher": "B"}'))
    ]
    ingest(db, folder)  # nothing changed: nothing recorded
    assert len(table_rows(db, "sidecar_changes")) == 1
    sidecar.unlink()
    ingest(db, folder)
    assert table_rows(db, "sidecar_changes")[-1]["blob"] is None
    sidecar.write_text('{"publisher": "C"}')
    doc.write_text("Story, edited\n")  # the document changes too: a new version carries it
    ingest(db, folder)
    assert len(table_rows(db, "sidecar_changes")) == 2
    latest = table_rows(db, "versions")[-1]
    assert latest["seq"] == 2 and latest["sidecar_blob"] == blake3_hex(b'{"publisher": "C"}')
    assert provenance(db, "story.txt")[("sidecar", "publisher")] == "C"
    code, out, _ = run_cli("meta", "story.txt@1", "--json", db=db)
    assert code == 0
    assert [c["blob"] for c in json.loads(out)["sidecar_changes"]] == [
        blake3_hex(b'{"publisher": "B"}'),
        None,
    ]


# --- once per content, pure helpers -----------------------------------------------------------


def test_extraction_runs_once_per_distinct_content(db, folder, monkeypatch):
    import archive.record.metadata

    calls = []
    real = archive.record.metadata.extract

    def counting(*args, **kwargs):
        calls.append(kwargs["path"])
        return real(*args, **kwargs)

    monkeypatch.setattr(archive.record.metadata, "extract", counting)
    (folder / "a.txt").write_text("Same words\n")
    (folder / "b.txt").write_text("Same words\n")
    ingest(db, folder)
    ingest(db, folder)
    (folder / "c.txt").write_text("Same words\n")
    ingest(db, folder)
    assert calls == ["a.txt"]
    assert q(db, "SELECT COUNT(*) FROM blob_metadata") == [(1,)]
    assert q(db, "SELECT COUNT(*) FROM versions") == [(3,)]


def test_ingest_without_extraction_stores_no_metadata(db):
    ingest(db, CORPUS, extract_metadata=False)
    assert q(db, "SELECT COUNT(*) FROM blob_metadata") == [(0,)]
    assert q(db, "SELECT COUNT(*) FROM version_provenance") == [(4,)]


@given(st.text(max_size=300))
def test_text_blob_is_utf8_and_content_addressed(text):
    info, data = text_blob(text)
    assert data.decode("utf-8") == text
    assert info.blake3 == blake3_hex(data) and info.size == len(data)
    assert info.media_type == "text/plain" and info.is_text


@given(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
        lambda s: not s.endswith("/")
    ),
    st.sampled_from(SIDECAR_SUFFIXES),
)
def test_sidecar_target_strips_exactly_the_suffix(name, suffix):
    assert sidecar_target(name + suffix) == name
    assert sidecar_target(name + suffix.upper()) == name


def test_format_problem_only_when_the_name_promises_another_format():
    assert format_problem("a.pdf", "application/pdf") is None
    assert format_problem("a.txt", "application/pdf") is None
    assert format_problem("a.HTML", "application/octet-stream") == (
        "html: content is not HTML (detected application/octet-stream)"
    )
