"""`archive verify` on copies of a real archive tampered with plain SQL (sqlite3, not our code)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from archive.ledger import compact, merkle
from archive.ledger.checkpoints import roots_at
from archive.record.folder import ingest_folder
from archive.store import Store
from archive.verify import CHECKS, Finding, verify, verify_external_checkpoint
from tests.conftest import run_cli


def _ingest(db: Path, folder: Path) -> None:
    with Store(db) as store:
        ingest_folder(store, str(folder), "test")


@pytest.fixture(scope="module")
def real_archive(tmp_path_factory) -> Path:
    return four_runs(tmp_path_factory.mktemp("real"))


def four_runs(base: Path) -> Path:
    """Four runs over one folder: adds, modifies, a rename, a delete and a restore."""
    docs = base / "docs"
    docs.mkdir()
    db = base / "archive.db"
    (docs / "a.txt").write_text("alpha\n")
    (docs / "b.txt").write_text("bravo\n")
    (docs / "c.bin").write_bytes(bytes(range(256)))
    _ingest(db, docs)
    (docs / "a.txt").write_text("alpha two\n")
    (docs / "b.txt").rename(docs / "b2.txt")
    (docs / "d.txt").write_text("delta\n")
    _ingest(db, docs)
    (docs / "c.bin").unlink()
    (docs / "a.txt").write_text("alpha three\n")
    _ingest(db, docs)
    (docs / "c.bin").write_bytes(bytes(range(256)))
    _ingest(db, docs)
    return db


@pytest.fixture
def copy(real_archive: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy.db"
    src = sqlite3.connect(real_archive)
    dst = sqlite3.connect(dest)
    src.backup(dst)
    src.close()
    dst.close()
    return dest


def sql(db: Path, *statements: tuple[str, tuple] | str) -> None:
    conn = sqlite3.connect(db)  # foreign keys off, as in the sqlite3 shell
    for s in statements:
        text, params = (s, ()) if isinstance(s, str) else s
        conn.execute(text, params)
    conn.commit()
    conn.close()


def one(db: Path, query: str, params: tuple = ()):
    conn = sqlite3.connect(db)
    row = conn.execute(query, params).fetchone()
    conn.close()
    return row


def findings(db: Path) -> list[Finding]:
    with Store(db, create=False) as store:
        return verify(store)


def test_untampered_archive_verifies_clean(copy: Path) -> None:
    assert findings(copy) == []
    code, out, _ = run_cli("verify", db=copy)
    assert code == 0 and out.startswith("ok")
    assert one(copy, "SELECT COUNT(*) FROM ledger WHERE version_id IS NOT NULL") == one(
        copy, "SELECT COUNT(*) FROM versions"
    )
    assert one(copy, "SELECT COUNT(*) FROM runs WHERE tree_size IS NULL") == (0,)


def _flip_same_length(db: Path) -> None:
    key, content = one(db, "SELECT blake3, content FROM blobs WHERE size = 256")
    changed = bytes([content[0] ^ 1]) + bytes(content[1:])
    sql(db, ("UPDATE blobs SET content = ? WHERE blake3 = ?", (changed, key)))


def _swap_version_ids(db: Path) -> None:
    sql(
        db,
        "UPDATE versions SET id = -1 WHERE id = 1",
        "UPDATE versions SET id = 1 WHERE id = 2",
        "UPDATE versions SET id = 2 WHERE id = -1",
    )


def _swap_seqs(db: Path) -> None:
    doc = one(db, "SELECT document_id FROM versions GROUP BY document_id HAVING COUNT(*) >= 3")[0]
    sql(
        db,
        ("UPDATE versions SET seq = -1 WHERE document_id = ? AND seq = 1", (doc,)),
        ("UPDATE versions SET seq = 1 WHERE document_id = ? AND seq = 2", (doc,)),
        ("UPDATE versions SET seq = 2 WHERE document_id = ? AND seq = -1", (doc,)),
    )


def _insert_version(db: Path) -> None:
    blob, run = one(db, "SELECT blob, run_id FROM versions WHERE blob IS NOT NULL LIMIT 1")
    sql(
        db,
        (
            "INSERT INTO versions (document_id, seq, blob, path, kind, run_id, observed_at)"
            " VALUES (1, 99, ?, 'forged.txt', 'modified', ?, '2020-01-01T00:00:00Z')",
            (blob, run),
        ),
    )


# The first version's leaf (content leaves come before it: each content's as it is stored).
FIRST_VERSION_LEAF = "(SELECT MIN(leaf_index) FROM ledger WHERE version_id IS NOT NULL)"


def leaf_at(db: Path, index: int | None = None) -> bytes:
    """A leaf's bytes as proofs carry them (rebuilt from its rows when kept as its hash);
    by default the first version's."""
    if index is None:
        (index,) = one(db, FIRST_VERSION_LEAF[1:-1])
    with Store(db, create=False) as store:
        return next(e["leaf"] for e in compact.iter_leaves(store) if e["leaf_index"] == index)


def _edit_leaf_consistently(db: Path) -> None:
    """Rewrite the first version's leaf and its hash so the hash column agrees: only the
    rebuild catches it."""
    leaf = leaf_at(db)
    forged = leaf.replace(b'"added"', b'"restored"')
    assert forged != leaf
    sql(
        db,
        (
            f"UPDATE ledger SET leaf = ?, leaf_hash = ? WHERE leaf_index = {FIRST_VERSION_LEAF}",
            (forged, merkle.leaf_hash(forged).hex()),
        ),
    )


OTHER_BLOB = "(SELECT blake3 FROM blobs WHERE size = 256)"
TAMPERS: dict[str, tuple[Callable[[Path], None], set[str]]] = {
    "blob bytes, same length": (_flip_same_length, {"blobs"}),
    "blob bytes, other length": (
        lambda db: sql(db, "UPDATE blobs SET content = x'00' WHERE size = 256"),
        {"blobs"},
    ),
    "blob content NULL": (
        lambda db: sql(db, "UPDATE blobs SET content = NULL WHERE size = 256"),
        {"blobs"},
    ),
    "leaf stored as text": (
        lambda db: sql(
            db,
            (
                "UPDATE ledger SET leaf = CAST(? AS TEXT) || ' '"
                f" WHERE leaf_index = {FIRST_VERSION_LEAF}",
                (leaf_at(db),),
            ),
        ),
        {"leaves", "checkpoints"},
    ),
    "leaf hash of a rebuilt leaf": (
        lambda db: sql(
            db,
            f"UPDATE ledger SET leaf_hash = '{'0' * 64}' WHERE leaf_index = {FIRST_VERSION_LEAF}",
        ),
        {"leaves", "checkpoints"},
    ),
    "leaf shape dropped": (
        lambda db: sql(
            db, f"UPDATE ledger SET shape = NULL WHERE leaf_index = {FIRST_VERSION_LEAF}"
        ),
        {"leaves", "checkpoints"},
    ),
    "leaf shape edited": (
        lambda db: sql(db, "UPDATE leaf_shapes SET columns = replace(columns, '\"mtime\",', '')"),
        {"leaves"},
    ),
    "leaf shape unreadable": (
        lambda db: sql(db, "UPDATE leaf_shapes SET columns = 'x'"),
        {"leaves"},
    ),
    "run row counts": (
        lambda db: sql(db, "UPDATE runs SET files_seen = files_seen + 1 WHERE id = 2"),
        {"leaves"},
    ),
    "blob sha256 column": (
        lambda db: sql(db, f"UPDATE blobs SET sha256 = '{'0' * 64}' WHERE size = 256"),
        {"blobs", "leaves"},
    ),
    "version kind": (
        lambda db: sql(db, "UPDATE versions SET kind = 'added' WHERE id = 4"),
        {"leaves"},
    ),
    "version path": (
        lambda db: sql(db, "UPDATE versions SET path = 'x.txt' WHERE id = 2"),
        {"leaves"},
    ),
    "version blob": (
        lambda db: sql(db, f"UPDATE versions SET blob = {OTHER_BLOB} WHERE id = 1"),
        {"leaves"},
    ),
    "version seq": (lambda db: sql(db, "UPDATE versions SET seq = 7 WHERE id = 1"), {"leaves"}),
    "version observed_at": (
        lambda db: sql(db, "UPDATE versions SET observed_at = '1999-01-01T00:00:00Z' WHERE id = 3"),
        {"leaves"},
    ),
    "version run": (lambda db: sql(db, "UPDATE versions SET run_id = 1 WHERE id = 5"), {"leaves"}),
    "version deleted": (lambda db: sql(db, "DELETE FROM versions WHERE id = 3"), {"leaves"}),
    "version inserted": (_insert_version, {"unledgered"}),
    "version ids swapped": (_swap_version_ids, {"leaves"}),
    "version seqs swapped": (_swap_seqs, {"leaves"}),
    "source renamed": (lambda db: sql(db, "UPDATE sources SET name = 'other'"), {"leaves"}),
    "checkpoint root": (
        lambda db: sql(db, f"UPDATE runs SET tree_root = '{'ab' * 32}' WHERE id = 2"),
        {"checkpoints"},
    ),
    "checkpoint size": (
        lambda db: sql(db, "UPDATE runs SET tree_size = tree_size - 1 WHERE id = 3"),
        {"checkpoints"},
    ),
    "checkpoint removed": (
        lambda db: sql(db, "UPDATE runs SET tree_size = NULL, tree_root = NULL WHERE id = 3"),
        {"checkpoints"},
    ),
    "leaf bytes": (
        lambda db: sql(db, "UPDATE ledger SET leaf = CAST('{}' AS BLOB) WHERE leaf_index = 2"),
        {"leaves", "checkpoints"},
    ),
    "leaf rewritten with its hash": (_edit_leaf_consistently, {"leaves", "checkpoints"}),
    "leaf deleted": (
        lambda db: sql(  # a version's leaf (not the first: it names the log)
            db,
            "DELETE FROM ledger WHERE leaf_index = (SELECT MIN(leaf_index) FROM ledger"
            " WHERE version_id IS NOT NULL AND leaf_index > 0)",
        ),
        {"leaves", "unledgered", "checkpoints"},
    ),
    "last leaf deleted": (
        lambda db: sql(
            db, "DELETE FROM ledger WHERE leaf_index = (SELECT MAX(leaf_index) FROM ledger)"
        ),
        {"unledgered", "checkpoints"},
    ),
}


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_tampering_is_caught(copy: Path, name: str) -> None:
    tamper, expected = TAMPERS[name]
    tamper(copy)
    found = findings(copy)
    assert {f.check for f in found} >= expected, found
    code, out, err = run_cli("verify", db=copy)
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert len(lines) == len(found) and all(": " in line for line in lines)
    code, out, _ = run_cli("verify", "--json", db=copy)
    assert code == 1
    assert [Finding(**f) for f in json.loads(out)] == found


def test_findings_name_the_row(copy: Path) -> None:
    sql(copy, "UPDATE versions SET path = 'x.txt' WHERE id = 2")
    (index,) = one(copy, "SELECT leaf_index FROM ledger WHERE version_id = 2")
    assert findings(copy) == [
        Finding(
            "leaves",
            "versions",
            "id 2",
            "version row (or the blob digests, source, provenance or capture its leaf states)"
            f" differs from its ledger leaf (leaf {index})",
        )
    ]


def _rewrite_history(db: Path) -> None:
    """A careful forger: edits a version and rebuilds its leaf, hashes and every checkpoint."""
    leaf = leaf_at(db)
    sql(db, "UPDATE versions SET path = 'forged.txt' WHERE id = 1")
    forged = leaf.replace(b'"path":"a.txt"', b'"path":"forged.txt"')
    assert forged != leaf
    sql(
        db,
        (
            f"UPDATE ledger SET leaf = ?, leaf_hash = ? WHERE leaf_index = {FIRST_VERSION_LEAF}",
            (forged, merkle.leaf_hash(forged).hex()),
        ),
    )
    conn = sqlite3.connect(db)
    hashes = [
        bytes.fromhex(h)
        for (h,) in conn.execute("SELECT leaf_hash FROM ledger ORDER BY leaf_index")
    ]
    runs = conn.execute("SELECT id, tree_size FROM runs").fetchall()
    roots = roots_at(hashes, [s for _, s in runs])
    for run_id, size in runs:
        conn.execute("UPDATE runs SET tree_root = ? WHERE id = ?", (roots[size].hex(), run_id))
    conn.commit()
    conn.close()


def test_published_checkpoint_catches_a_consistent_rewrite(copy: Path, tmp_path: Path) -> None:
    code, published, _ = run_cli("checkpoint", db=copy)
    assert code == 0
    (tmp_path / "cp.txt").write_text(published)
    assert run_cli("verify", "--checkpoint", str(tmp_path / "cp.txt"), db=copy)[0] == 0
    _rewrite_history(copy)
    # Internally consistent again: only the checkpoint kept elsewhere can tell.
    assert findings(copy) == []
    code, out, _ = run_cli("verify", "--checkpoint", str(tmp_path / "cp.txt"), db=copy)
    assert code == 1
    size = published.splitlines()[1]
    assert out.splitlines() == [
        f"external-checkpoint: ledger size {size}: root differs: history was rewritten"
    ]


def test_external_checkpoint_older_larger_and_malformed(copy: Path) -> None:
    with Store(copy, create=False) as store:
        hashes = store.leaf_hashes()
        old = f"x\n3\n{__import__('base64').b64encode(merkle.root(hashes[:3])).decode()}\n"
        assert verify_external_checkpoint(store, old) == []
        bigger = old.replace("\n3\n", "\n99\n")
        [f] = verify_external_checkpoint(store, bigger)
        assert f"only {len(hashes)} leaves" in f.problem
        with pytest.raises(Exception, match="not a checkpoint"):
            verify_external_checkpoint(store, "garbage")
    code, _, err = run_cli("verify", "--checkpoint", __file__, db=copy)
    assert code == 1 and err.strip().splitlines()[-1].startswith("Error: not a checkpoint")


def test_checks_are_a_plain_list() -> None:
    assert [c.__name__ for c in CHECKS] == [
        "check_blobs",
        "check_leaves",
        "check_unledgered",
        "check_checkpoints",
        "check_documents",
        "check_diffs",
        "check_passages",
        "check_derived",
        "check_evidence",
    ]


def test_verify_corpus(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    db = tmp_path / "archive.db"
    (docs / "keep.txt").write_text("same\n")
    (docs / "edit.txt").write_text("before\n")
    (docs / "gone.txt").write_text("bye\n")
    _ingest(db, docs)
    assert run_cli("verify", "--corpus", str(docs), db=db)[:2] == (
        0,
        "ok: the folder matches the archive\n",
    )
    (docs / "edit.txt").write_text("after!\n")  # same length would not matter: hashes differ
    (docs / "gone.txt").unlink()
    (docs / "new.txt").write_text("hello\n")
    code, out, _ = run_cli("verify", "--corpus", str(docs), db=db)
    assert code == 1
    assert out.splitlines() == [
        "corpus: files edit.txt: changed",
        "corpus: files gone.txt: missing",
        "corpus: files new.txt: untracked",
    ]
    code, out, _ = run_cli("verify", "--corpus", str(docs), "--json", db=db)
    assert code == 1 and {f["problem"] for f in json.loads(out)} == {
        "changed",
        "missing",
        "untracked",
    }
    other = tmp_path / "other"
    other.mkdir()
    code, _, err = run_cli("verify", "--corpus", str(other), db=db)
    assert code == 1 and "not an ingested folder source" in err
