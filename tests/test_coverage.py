"""Every recorded fact is covered: edit it with plain SQL and `archive verify` finds it,
either through the leaf that holds it or by re-deriving it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from archive.ledger import compact, records
from archive.store import Store
from tests.conftest import run_cli
from tests.gitrepo import Repo


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with front-matter provenance, a sidecar and a problem, and a git history."""
    root = tmp_path_factory.mktemp("coverage")
    folder = root / "docs"
    folder.mkdir()
    (folder / "note.md").write_text(
        "---\ntitle: Note\nsource_url: https://example.org/note\n---\nBody one.\n"
    )
    (folder / "plain.txt").write_text("plain\n")
    (folder / "page.html").write_text(
        "<html><head><title>A page</title></head><body><h1>News</h1>"
        '<p>The minister said "we will publish everything" on Monday.</p>'
        '<p>See <a href="https://example.org/source">the source</a>, 12 March 2024.</p>'
        "</body></html>\n"
    )
    (folder / "plain.txt.meta.yml").write_text("source_url: https://example.org/plain\n")
    (folder / "orphan.txt.meta.yml").write_text("source_url: https://example.org/none\n")
    db = root / "archive.db"
    run_cli("ingest", str(folder), db=db)
    (folder / "note.md").write_text(
        "---\ntitle: Note\nsource_url: https://example.org/note2\n---\nBody two.\n"
    )
    (folder / "plain.txt").rename(folder / "moved.txt")
    shutil.copy(folder / "page.html", folder / "page-copy.html")  # a copy: found after its leaf
    run_cli("ingest", str(folder), db=db)
    repo = Repo(root / "repo")
    repo.write("terms.md", b"Terms one.\n")
    repo.commit("snapshot abc123 engine 1.0")
    repo.write("terms.md", b"Terms two.\n")
    repo.commit("snapshot def456 engine 1.1")
    assert run_cli("ingest", "--git", str(repo.root), db=db)[0] == 0
    return db


def edited(archive: Path, tmp_path: Path, sql: str) -> tuple[int, str]:
    copy = tmp_path / "edited.db"
    shutil.copy(archive, copy)
    conn = sqlite3.connect(copy)
    changed = conn.execute(sql).rowcount
    conn.commit()
    conn.close()
    assert changed > 0, sql
    code, out, _ = run_cli("verify", db=copy)
    return code, out


def test_the_archive_verifies_and_new_leaves_are_v2(archive: Path) -> None:
    code, out, _ = run_cli("verify", db=archive)
    assert (code, out) == (0, "ok: everything checks\n")
    with Store(archive) as store:
        formats = [records.leaf_format(e["leaf"]) for e in compact.iter_leaves(store)]
        subjects = [e["subject"] for e in store.iter_ledger() if e["subject"]]
    assert set(formats) == {
        records.VERSION_V2,
        records.COMMIT_V1,
        records.RUN_V1,
        records.CONTENT_V1,
    }
    assert sum(s.startswith("commit:") for s in subjects) == 2
    assert sum(s.startswith("run:") for s in subjects) == 3
    with Store(archive) as store:
        copied = store.query("SELECT path, copied_from_version_id FROM versions WHERE seq = 1")
    assert [r["path"] for r in copied if r["copied_from_version_id"]] == ["page-copy.html"]


def test_front_matter_provenance_is_in_the_leaf(archive: Path) -> None:
    with Store(archive) as store:
        leaves = [json.loads(e["leaf"]) for e in compact.iter_leaves(store)]
    note = [
        leaf for leaf in leaves if leaf.get("version", {}).get("path") == "note.md"
    ][0]  # fmt: skip
    assert ["front-matter", "source_url", "https://example.org/note"] in note["provenance"]


TAMPERS = {
    "version mtime": "UPDATE versions SET mtime = '2001-01-01T00:00:00Z' WHERE path = 'note.md'",
    "version old_path": "UPDATE versions SET old_path = 'elsewhere.txt' WHERE old_path IS NOT NULL",
    "previous version": "UPDATE versions SET previous_version_id = NULL"
    " WHERE previous_version_id IS NOT NULL",
    "front-matter provenance": "UPDATE version_provenance SET value = 'https://evil.example/'"
    " WHERE value LIKE 'https://example.org/note%'",
    "commit message": "UPDATE commits SET message = 'snapshot 000000'",
    "committer": "UPDATE commits SET committer_name = 'Someone Else'",
    "parents": "UPDATE commits SET parents = '' WHERE parents != ''",
    "problems": "UPDATE problems SET reason = 'nothing wrong'",
    "dropped problem": "DELETE FROM problems",
    "run command": "UPDATE runs SET command = 'archive ingest elsewhere'",
    "source location": "UPDATE sources SET location = '/elsewhere' WHERE kind = 'folder'",
    "source name": "UPDATE sources SET name = 'renamed' WHERE kind = 'git'",
    "document path": "UPDATE documents SET path = 'renamed.md' WHERE path = 'note.md'",
    "document status": "UPDATE documents SET status = 'deleted' WHERE status = 'present'",
    "document first seen": "UPDATE documents SET first_seen = '1999-01-01T00:00:00Z'"
    " WHERE path = 'note.md'",
    "sidecar link": "UPDATE versions SET sidecar_blob = NULL WHERE sidecar_blob IS NOT NULL",
    "readable text link": "UPDATE blobs SET text_blob = (SELECT b.blake3 FROM blobs b"
    " WHERE b.is_text = 1 AND b.text_blob IS NULL AND b.blake3 != blobs.text_blob LIMIT 1)"
    " WHERE text_blob IS NOT NULL",
    "metadata": "UPDATE blob_metadata SET title = 'Forged title' WHERE title IS NOT NULL",
    "metadata items": "UPDATE set_items SET value = 'forged'",  # what the blob_items view reads
    "quotation ids": "UPDATE blob_passages SET quotes = ids WHERE quotes != ids",
    "copy source dropped": "UPDATE versions SET copied_from_version_id = NULL"
    " WHERE copied_from_version_id IS NOT NULL",
    "copy source forged": "UPDATE versions SET copied_from_version_id = 1 WHERE path = 'moved.txt'",
}


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_each_edit_is_found(archive: Path, tmp_path: Path, name: str) -> None:
    code, out = edited(archive, tmp_path, TAMPERS[name])
    assert code == 1, f"{name} passed verify"
    assert out.strip()


def test_a_column_added_later_keeps_old_leaves_valid(archive: Path, tmp_path: Path) -> None:
    """Another branch's migration adds a column (NULL in old rows): old leaves still check,
    a value set behind the ledger's back does not."""
    copy = tmp_path / "grown.db"
    shutil.copy(archive, copy)
    conn = sqlite3.connect(copy)
    conn.execute("ALTER TABLE versions ADD COLUMN copied_from INTEGER")
    conn.commit()
    assert run_cli("verify", db=copy)[0] == 0
    conn.execute("UPDATE versions SET copied_from = 1 WHERE id = 2")
    conn.commit()
    conn.close()
    code, out, _ = run_cli("verify", db=copy)
    assert code == 1 and "copied_from" in out
