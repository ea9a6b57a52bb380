"""Content leaves: what was derived from a content is committed when it is recorded, so the
default `archive verify` checks those rows against the leaf (no extractor runs), while
`verify --rederive` and archives made before these leaves re-derive them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import archive.record.rederive as rederive
from archive.ledger import contents, records
from archive.record.folder import ingest_folder
from archive.store import Store
from archive.verify_run import run
from tests.conftest import run_cli

PAGE = (
    "<html><head><title>A page</title></head><body><h1>News</h1>"
    '<p>The minister said "we will publish everything" on Monday.</p></body></html>\n'
)
NOTE = '---\ntitle: Note\n---\nShe said "not today" and left.\n\n- one\n- two\n'


def _build(db: Path, folder: Path, **options: bool) -> None:
    (folder / "page.html").write_text(PAGE)
    (folder / "note.md").write_text(NOTE)
    with Store(db) as store:
        ingest_folder(store, str(folder), "test", **options)


def _sql(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        for statement in statements:
            assert conn.execute(statement).rowcount > 0, statement
    conn.close()


def _findings(db: Path, **options: bool) -> list:
    with Store(db) as store:
        return run(store, workers=1, **options).findings


def _subjects(db: Path) -> list[str]:
    with Store(db) as store:
        return [s for _, s in store.content_leaf_subjects()]


@pytest.fixture
def no_extractor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Default verify must not run the extractor on a content its leaf covers."""

    def refuse(*args, **kwargs):
        raise AssertionError("the extractor ran")

    monkeypatch.setattr(rederive, "extraction_for", refuse)
    monkeypatch.setattr(rederive, "readable", refuse)


def test_each_content_gets_a_leaf_and_verify_runs_no_extractor(db, folder, no_extractor):
    _build(db, folder)
    with Store(db) as store:
        blobs = {r["blake3"] for r in store.query("SELECT blob AS blake3 FROM versions")}
    assert {records.content_of(s)[0] for s in _subjects(db)} == blobs
    assert all(s.endswith(":1") for s in _subjects(db))
    assert _findings(db) == []


@pytest.mark.parametrize(
    ("table", "sql"),
    [
        ("blob_metadata", "UPDATE blob_metadata SET title = 'Forged' WHERE title IS NOT NULL"),
        ("blob_items", "UPDATE set_items SET value = 'forged' WHERE key = 'tag'"),  # the view's
        (
            "blob_items",  # a content's items dropped (its item set left to others)
            "DELETE FROM blob_item_sets"
            " WHERE item_set IN (SELECT item_set FROM set_items WHERE key = 'tag')",
        ),
        ("blob_passages", "UPDATE blob_passages SET quotes = ids WHERE quotes != ids"),
        ("blobs", "UPDATE blobs SET text_blob = NULL WHERE text_blob IS NOT NULL"),
    ],
)
def test_an_edited_derived_row_is_found_through_its_leaf(db, folder, no_extractor, table, sql):
    _build(db, folder)
    _sql(db, sql)
    found = _findings(db)
    assert found and {(f.check, f.table) for f in found} == {("leaves", table)}, found
    assert all("differs from its ledger leaf" in f.problem for f in found)


def test_rederive_catches_an_extractor_that_disagrees(db, folder, monkeypatch):
    """The leaf states what the extractor said when recording; only --rederive checks
    that the extractor (here: one that changed its mind on titles) still says it."""
    _build(db, folder)
    real = rederive.extraction_for

    def changed(store, row, data):
        extraction, problems = real(store, row, data)
        if extraction.fields.get("title"):
            extraction.fields["title"] = "Another title"
        return extraction, problems

    monkeypatch.setattr(rederive, "extraction_for", changed)
    assert _findings(db) == []
    found = _findings(db, rederive=True)
    assert {(f.check, f.table, f.problem) for f in found} == {
        ("derived", "blob_metadata", "differs from a fresh extraction")
    }
    code, out, _ = run_cli("verify", "--rederive", db=db)  # the CLI passes it on
    assert code == 1 and "differs from a fresh extraction" in out


def test_an_archive_without_content_leaves_is_re_derived(db, folder, monkeypatch):
    """Made before content leaves (none written): verify falls back to re-deriving."""
    monkeypatch.setattr(contents, "_append", lambda store, items: None)  # no leaf written
    _build(db, folder)
    monkeypatch.undo()
    assert _subjects(db) == []
    assert run_cli("verify", db=db)[:2] == (0, "ok: everything checks\n")
    _sql(db, "UPDATE blob_metadata SET title = 'Forged' WHERE title IS NOT NULL")
    found = _findings(db)
    assert {(f.check, f.table) for f in found} == {("derived", "blob_metadata")}


def test_reextract_appends_a_newer_leaf_under_a_checkpoint(db, folder, no_extractor):
    _build(db, folder, extract_metadata=False)
    assert _findings(db) == []
    with Store(db) as store:
        runs = len(store.runs())
    code, out, _ = run_cli("reextract", db=db)
    assert code == 0 and out.startswith("2 blobs re-extracted")
    subjects = _subjects(db)
    assert sorted(s.rsplit(":", 1)[1] for s in subjects) == ["1", "1", "2", "2"]
    with Store(db) as store:
        assert len(store.runs()) == runs + 1  # reextract's own run holds the new checkpoint
        assert store.runs()[-1]["tree_size"] == store.ledger_size()
    assert run_cli("verify", db=db)[:2] == (0, "ok: everything checks\n")
    # Re-extracting again changes nothing: no leaf, no run.
    assert run_cli("reextract", "--all", db=db)[0] == 0
    assert _subjects(db) == subjects
    _sql(db, "UPDATE blob_metadata SET title = 'Forged' WHERE title IS NOT NULL")
    found = _findings(db)
    assert {(f.check, f.table) for f in found} == {("leaves", "blob_metadata")}


def test_quick_checks_the_leaves_of_new_contents(db, folder, no_extractor):
    _build(db, folder)
    assert run_cli("verify", db=db)[0] == 0  # recorded: --quick starts after it
    (folder / "later.md").write_text("---\ntitle: Later\n---\nA later note.\n")
    with Store(db) as store:
        ingest_folder(store, str(folder), "test")
    _sql(
        db,
        "UPDATE blob_metadata SET title = 'Forged'"
        " WHERE blake3 = (SELECT blob FROM versions WHERE path = 'later.md')",
    )
    with Store(db) as store:
        found = run(store, workers=1, quick=True).findings
    assert [(f.check, f.table) for f in found] == [("leaves", "blob_metadata")]
