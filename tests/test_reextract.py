"""`archive reextract`: refills missing or outdated metadata and touches nothing else."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from archive.record.folder import ingest_folder
from archive.record.metadata import reextract
from archive.store import Store
from ingest.extract import EXTRACTOR_VERSION
from tests.conftest import CORPUS, run_cli, table_rows
from tests.test_formats import make_pdf

FIX = Path(__file__).parent / "fixtures" / "extract"
UNTOUCHED = (
    "sources",
    "documents",
    "blobs",
    "versions",
    "runs",
    "problems",
    "version_provenance",
    "sidecar_changes",
)


def build(db: Path, folder: Path) -> None:
    for seed in CORPUS.iterdir():
        shutil.copy(seed, folder / seed.name)
    shutil.copy(FIX / "page.html", folder / "page.html")
    (folder / "doc.pdf").write_bytes(make_pdf(["Iran and Russia meet"]))
    (folder / "doc.pdf.meta.yml").write_text("publisher: Example Press\n")
    with Store(db) as store:
        ingest_folder(store, str(folder), "test")


def snapshot(db: Path) -> dict[str, list[dict]]:
    return {t: table_rows(db, t) for t in UNTOUCHED}


def metadata(db: Path) -> tuple[list[dict], list[dict]]:
    """Sorted by key: reextract replaces rows, so their rowids (not their content) change."""
    rows = sorted(table_rows(db, "blob_metadata"), key=lambda r: r["blake3"])
    items = sorted(table_rows(db, "blob_items"), key=lambda r: (r["blob"], r["key"], r["ordinal"]))
    return rows, items


def execute(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(sql)
    conn.close()


def test_reextract_refills_deleted_and_outdated_rows_only(db, folder):
    build(db, folder)
    before, meta_before = snapshot(db), metadata(db)
    assert len(meta_before[0]) == 4  # two seeds, the page, the PDF: not text or sidecar blobs
    seed0 = "e9efdd4a0acd5b6339f9993bc89e0ab45b88819a7854ddf7f035a37d39f80f3f"
    execute(db, f"DELETE FROM blob_item_sets WHERE blob = '{seed0}'")  # blob_items: a view
    execute(db, f"DELETE FROM blob_metadata WHERE blake3 = '{seed0}'")
    execute(db, "UPDATE blob_metadata SET extractor_version = '0', title = 'stale'"
            " WHERE media_type = 'text/html'")  # fmt: skip
    with Store(db) as store:
        summary = reextract(store)
    assert summary.blobs == 2 and summary.problems == []
    assert snapshot(db) == before  # versions, blobs (bytes included) and the rest unchanged
    assert metadata(db) == meta_before
    with Store(db) as store:
        assert reextract(store).blobs == 0
        assert reextract(store, everything=True).blobs == 4
    assert snapshot(db) == before and metadata(db) == meta_before


def test_reextract_fills_an_archive_ingested_without_extraction(db, folder):
    (folder / "a.txt").write_text("Alpha title\n\n• one\n• two\n")
    with Store(db) as store:
        ingest_folder(store, str(folder), "test", extract_metadata=False)
    assert table_rows(db, "blob_metadata") == []
    code, out, _ = run_cli("reextract", "--json", db=db)
    assert code == 0
    assert json.loads(out) == {"extractor_version": EXTRACTOR_VERSION, "blobs": 1, "problems": []}
    (row,) = table_rows(db, "blob_metadata")
    assert row["title"] == "Alpha title" and row["extractor_version"] == EXTRACTOR_VERSION
    tags = [(i["ordinal"], i["value"]) for i in table_rows(db, "blob_items") if i["key"] == "tag"]
    assert tags == [(0, "one"), (1, "two")]


def test_reextract_reports_problems_with_exit_status_1(db, folder):
    pdf = make_pdf(["text"])
    (folder / "cut.pdf").write_bytes(pdf[:200])
    (folder / "ok.txt").write_text("Fine\n")
    with Store(db) as store:
        ingest_folder(store, str(folder), "test")
    before = snapshot(db)
    code, out, err = run_cli("reextract", "--all", db=db)
    assert code == 1
    assert out.startswith("2 blobs re-extracted")
    assert "problem: cut.pdf: pdf: cannot read" in err
    assert snapshot(db) == before
    assert len(table_rows(db, "blob_metadata")) == 2
