"""A lean archive (issue #18): leaves kept as their hash and rebuilt from their rows, items
kept once per distinct list, and an archive of the schema before converted and verified."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.ledger import compact, merkle
from archive.ledger.checkpoints import check_proof, inclusion_proof
from archive.ledger.records import SHAPE_TABLES
from archive.store import ArchiveError, Store
from archive.store.metadata_rows import put_items
from archive.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import run_cli
from tests.gitrepo import Repo

PAGE = (
    "<html><head><title>{0}</title></head><body><h1>{0}</h1><h2>Scope</h2><p>{1}</p>"
    "</body></html>\n"
)

# The schema as the migration before `_lean` left it (later ones are appended after it).
BEFORE_LEAN = [m.__name__ for m in MIGRATIONS].index("_lean")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two folder runs (an edit that keeps a page's headings: its items are shared) and a git
    history: version, run and commit leaves."""
    root = tmp_path_factory.mktemp("lean")
    folder = root / "docs"
    folder.mkdir()
    (folder / "a.html").write_text(PAGE.format("Terms", "First text."))
    (folder / "b.md").write_text("---\ntags: [one, two]\n---\n# Notes\n\nBody.\n")
    db = root / "archive.db"
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    (folder / "a.html").write_text(PAGE.format("Terms", "Second text, same headings."))
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    repo = Repo(root / "repo")
    repo.write("terms.md", b"# Terms\n\nOne.\n")
    repo.commit("snapshot abc123 engine 1.0")
    repo.write("terms.md", b"# Terms\n\nTwo.\n")
    repo.commit("snapshot def456 engine 1.1")
    assert run_cli("ingest", "--git", str(repo.root), db=db)[0] == 0
    return db


@pytest.fixture
def copy(archive: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy.db"
    shutil.copy(archive, dest)
    return dest


def sql(db: Path, statement: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(statement, params)
    conn.close()


def verified(db: Path) -> tuple[int, str]:
    code, out, _ = run_cli("verify", db=db)
    return code, out


def test_leaves_are_kept_as_their_hash_and_rebuilt_exactly(archive: Path) -> None:
    with Store(archive, create=False) as store:
        stored = list(store.iter_ledger())
        kinds = {(e["subject"] or "version:").split(":")[0] for e in stored}
        assert kinds == {"version", "run", "commit", "content"}
        rows = [e for e in stored if not (e["subject"] or "").startswith("content:")]
        assert all(e["leaf"] is None and e["shape"] is not None for e in rows)
        # a content leaf is kept as it is: once `reextract` supersedes it, no row states it
        contents = [e for e in stored if e not in rows]
        assert all(e["leaf"] is not None and e["shape"] is None for e in contents)
        rebuilt = list(compact.iter_leaves(store))
        assert [merkle.leaf_hash(e["leaf"]).hex() for e in rebuilt] == [
            e["leaf_hash"] for e in stored
        ]
        for entry in (e for e in stored if e["version_id"] is not None):
            doc = inclusion_proof(store, entry["version_id"])
            assert check_proof(doc)
            assert merkle.leaf_hash(doc["leaf"].encode()).hex() == entry["leaf_hash"]
    assert verified(archive) == (0, "ok: everything checks\n")


def test_a_column_added_later_keeps_every_leaf_and_a_value_in_it_is_found(copy: Path) -> None:
    """The shape holds the columns a leaf was written with: a migration adding a column does
    not change the rebuilt leaf; a value set in it later is named."""
    sql(copy, "ALTER TABLE versions ADD COLUMN note TEXT")
    sql(copy, "ALTER TABLE commits ADD COLUMN note TEXT")
    assert verified(copy) == (0, "ok: everything checks\n")
    sql(copy, "UPDATE versions SET note = 'later' WHERE id = 1")
    sql(copy, "UPDATE commits SET note = 'later'")
    code, out = verified(copy)
    assert code == 1
    assert "leaves: versions id 1: versions.note was set after its ledger leaf was written" in out
    assert out.count("commits.note was set after its ledger leaf was written") == 2


def test_a_dropped_column_is_named(copy: Path) -> None:
    sql(copy, "ALTER TABLE versions DROP COLUMN mtime")
    code, out = verified(copy)
    assert code == 1 and "versions.mtime is in the leaf but no longer in the archive" in out


def test_a_proof_refuses_rows_that_no_longer_give_the_leaf(copy: Path) -> None:
    sql(copy, "UPDATE versions SET path = 'forged.html' WHERE id = 1")
    sql(copy, "UPDATE commits SET message = 'forged'")
    with Store(copy, create=False) as store:
        with pytest.raises(ArchiveError, match="rows differ from the leaf"):
            inclusion_proof(store, 1)
        inclusion_proof(store, 2)  # the others still prove
        with pytest.raises(ArchiveError, match="rows differ from the leaf"):
            list(compact.iter_leaves(store))
    code, out = verified(copy)
    assert code == 1
    assert "leaves: versions id 1: version row" in out and "leaves: commits " in out


def test_items_are_stored_once_per_distinct_list(archive: Path) -> None:
    conn = sqlite3.connect(archive)
    blobs = conn.execute("SELECT count(*) FROM blob_item_sets").fetchone()[0]
    sets = conn.execute("SELECT count(*) FROM item_sets").fetchone()[0]
    headings = conn.execute(
        "SELECT i.blob, i.value FROM blob_items i JOIN versions v ON v.blob = i.blob"
        " WHERE v.path = 'a.html' AND i.key = 'heading' ORDER BY v.seq, i.ordinal"
    ).fetchall()
    conn.close()
    assert sets < blobs  # the two versions of a.html share one set
    assert [h for _, h in headings] == ["Terms", "Scope"] * 2
    assert len({b for b, _ in headings}) == 2


ITEMS = st.lists(
    st.tuples(st.sampled_from(["tag", "heading"]), st.integers(0, 2), st.sampled_from("xyz")),
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(puts=st.lists(st.tuples(st.sampled_from("ab"), ITEMS), max_size=6))
def test_item_sets_hold_the_last_items_of_each_blob_and_no_orphan(
    tmp_path_factory: pytest.TempPathFactory, puts: list
) -> None:
    """Whatever the order of replacements, each blob reads back its last list and every set
    stored is one some blob points at, stored once."""
    db = tmp_path_factory.getbasetemp() / "items.db"
    if not db.exists():
        Store(db).close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    try:
        last: dict[str, list] = {}
        for blob, raw in puts:
            items = {(k, n): (k, n, v, None) for k, n, v in raw}  # one per (key, ordinal)
            put_items(conn, blob * 64, items.values())
            last[blob * 64] = sorted(items.values(), key=lambda r: r[:2])
        for blob, items in last.items():
            rows = conn.execute(
                "SELECT key, ordinal, value, detail FROM blob_items WHERE blob = ?"
                " ORDER BY key, ordinal",
                (blob,),
            ).fetchall()
            assert rows == items
        used = {r[0] for r in conn.execute("SELECT item_set FROM blob_item_sets")}
        assert {r[0] for r in conn.execute("SELECT id FROM item_sets")} == used
        assert {r[0] for r in conn.execute("SELECT DISTINCT item_set FROM set_items")} == used
        distinct = {tuple(v) for v in last.values() if v}
        assert len(used) == len(distinct)
    finally:
        conn.execute("ROLLBACK")
        conn.close()


# The previous schema's tables as it made them (frozen: what `_lean` converts).
OLD_ITEMS = (
    'CREATE TABLE "blob_items" ("blob" TEXT REFERENCES "blobs"("blake3"), "key" TEXT,'
    ' "ordinal" INTEGER, "value" TEXT NOT NULL, "detail" TEXT,'
    ' PRIMARY KEY ("blob", "key", "ordinal"))',
    'CREATE INDEX "idx_blob_items_key_value" ON "blob_items" ("key", "value")',
)
OLD_LEDGER = (
    "CREATE TABLE ledger (leaf_index INTEGER PRIMARY KEY, version_id INTEGER REFERENCES"
    " versions(id), leaf BLOB NOT NULL, leaf_hash TEXT NOT NULL, subject TEXT)",
    "CREATE UNIQUE INDEX idx_ledger_version_id ON ledger (version_id)",
    "CREATE UNIQUE INDEX idx_ledger_subject ON ledger (subject)",
)


def as_previous_schema(db: Path) -> tuple[list, list]:
    """Turn an archive back into what the schema before `_lean` made: every leaf stored as
    bytes, items in one rowid table; returns its (items, ledger) rows."""
    with Store(db, create=False) as store:
        ledger = [
            (e["leaf_index"], e["version_id"], e["leaf"], e["leaf_hash"], e["subject"])
            for e in compact.iter_leaves(store)
        ]
    conn = sqlite3.connect(db, isolation_level=None)
    items = conn.execute("SELECT * FROM blob_items ORDER BY blob, key, ordinal").fetchall()
    conn.execute("BEGIN")
    for statement in (
        "DROP VIEW blob_items",
        "DROP TABLE set_items",
        "DROP TABLE blob_item_sets",
        "DROP TABLE item_sets",
        "DROP TABLE ledger",
        "DROP TABLE leaf_shapes",
        *OLD_ITEMS,
        *OLD_LEDGER,
    ):
        conn.execute(statement)
    conn.executemany("INSERT INTO blob_items VALUES (?, ?, ?, ?, ?)", items)
    conn.execute("INSERT INTO blob_items VALUES ('c' || hex(zeroblob(31)), NULL, 0, 'x', NULL)")
    conn.executemany("INSERT INTO ledger VALUES (?, ?, ?, ?, ?)", ledger)
    conn.execute(f"PRAGMA user_version = {BEFORE_LEAN}")
    conn.execute("COMMIT")
    conn.close()
    return items, ledger


def test_an_archive_of_the_previous_schema_upgrades_and_verifies(
    copy: Path, tmp_path: Path
) -> None:
    items, ledger = as_previous_schema(copy)
    assert items and ledger
    with Store(copy) as store:  # migrates, with the data step, in one transaction
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        after = store.conn.execute("SELECT * FROM blob_items ORDER BY blob, key, ordinal")
        assert after.fetchall() == items  # the row with a NULL key part was never valid
        kept = store.conn.execute(
            "SELECT leaf_index, version_id, leaf, leaf_hash, subject FROM ledger"
        ).fetchall()
        assert kept == ledger  # every old leaf's bytes and hash, unchanged
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
        assert "blob_items_old" not in tables
    assert verified(copy) == (0, "ok: everything checks\n")
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "c.html").write_text(PAGE.format("Terms", "After the upgrade."))
    assert run_cli("ingest", str(folder), db=copy)[0] == 0
    with Store(copy, create=False) as store:
        new = [e for e in store.iter_ledger() if e["leaf_index"] >= len(ledger)]
        rows = [e for e in new if not (e["subject"] or "").startswith("content:")]
        assert rows and all(e["leaf"] is None for e in rows)
    assert verified(copy) == (0, "ok: everything checks\n")


def test_a_shape_row_rolled_back_is_written_again(copy: Path) -> None:
    """The store remembers the shape id per schema; a run rolled back takes the row it added
    with it, and the next leaf must not name a shape that is gone."""
    sql(copy, "DELETE FROM leaf_shapes")
    conn = sqlite3.connect(copy, isolation_level=None)
    store = Store.over(conn)
    conn.execute("BEGIN")
    store.leaf_shape_id(SHAPE_TABLES)
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM leaf_shapes").fetchone() == (0,)
    again = store.leaf_shape_id(SHAPE_TABLES)
    assert conn.execute("SELECT id FROM leaf_shapes").fetchall() == [(again,)]
    conn.close()
