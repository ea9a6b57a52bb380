"""A git import's batch recorded in memory (`VersionBatch`) writes the rows commit-by-commit
recording would: the same whatever the batch size, down to one commit per batch (each
commit's documents then read back from the rows the last one wrote), and leaves that
`archive verify` rebuilds from those rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive.record.git import import_git
from archive.store import ArchiveError, Store
from archive.verify import verify
from tests.gitrepo import Repo

# Rows of the tables a batch writes or that follow from them. Left out: the run row and its
# leaf (its command names the batch size; its clock differs between runs), and where each leaf
# sits in the log (a batch's content leaves come first: they move with the batch size).
TABLES = (
    "documents",
    "versions",
    "commits",
    "version_provenance",
    "ledger",
    "diffs",
    "blobs",
    "passages",
    "blob_passages",
    "passage_documents",
)


def rows(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    try:
        out = {t: sorted(conn.execute(f"SELECT * FROM {t}"), key=repr) for t in TABLES}
        out["ledger"] = sorted(  # each leaf, wherever the batch's content leaves put it
            conn.execute(
                "SELECT version_id, subject, leaf, leaf_hash, shape FROM ledger"
                " WHERE subject IS NULL OR subject NOT LIKE 'run:%'"
            ),
            key=repr,
        )
        return out
    finally:
        conn.close()


def imported(repo: Path, db: Path, batch: int) -> dict[str, list[tuple]]:
    with Store(db) as store:
        import_git(store, str(repo), "test", batch_size=batch)
        assert verify(store) == []  # every leaf rebuilt from its rows hashes as stored
    return rows(db)


def doc(n: int) -> bytes:
    return b"---\ntitle: Doc %d\n---\n" % n + b"".join(
        b"Sentence %d of document %d stays.\n" % (i, n) for i in range(12)
    )


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """One process, and the store's clock frozen: a source's creation time is in every leaf."""
    monkeypatch.setenv("ARCHIVE_WORKERS", "1")
    monkeypatch.setattr("archive.store.database.now_iso", lambda: "2001-02-03T04:05:06Z")


def test_every_kind_of_change_makes_the_same_rows_whatever_the_batch(
    tmp_path: Path, workers: None
) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("a.md", doc(1))
    repo.write("b.txt", doc(2))
    repo.commit("add a and b")
    repo.write("a.md", doc(1) + b"An added line.\n")
    repo.commit("modify a")
    repo.write("a.md", doc(1))
    repo.commit("revert a")  # same_as: the first version, written in this batch
    repo.git("mv", "b.txt", "c.txt")
    repo.commit("rename b to c")  # exact rename
    repo.write("c.txt", doc(2) + b"Edited after the move.\n")
    repo.git("mv", "c.txt", "d.txt")
    repo.commit("move and edit c")  # edited rename
    repo.remove("a.md")
    repo.commit("delete a")
    repo.write("a.md", doc(1))
    repo.write("e.md", doc(1))  # a new document with a content another one has
    repo.commit("restore a, copy it to e")
    repo.write("d.txt", doc(2))
    repo.commit("d back to b's first content")
    one_batch = imported(repo.root, tmp_path / "one.db", 200)
    by_commit = imported(repo.root, tmp_path / "each.db", 1)
    assert by_commit == one_batch
    assert imported(repo.root, tmp_path / "threes.db", 3) == one_batch
    versions = sqlite3.connect(tmp_path / "one.db").execute(
        "SELECT id, document_id, seq, kind, path, previous_version_id, same_as_version_id"
        " FROM versions ORDER BY id"
    )
    assert [tuple(r) for r in versions] == [
        (1, 1, 1, "added", "a.md", None, None),
        (2, 2, 1, "added", "b.txt", None, None),
        (3, 1, 2, "modified", "a.md", 1, None),
        (4, 1, 3, "reverted", "a.md", 3, 1),
        (5, 2, 2, "renamed", "c.txt", 2, 2),
        (6, 2, 3, "renamed", "d.txt", 5, None),
        (7, 1, 4, "deleted", "a.md", 4, None),
        (8, 1, 5, "restored", "a.md", 7, 4),
        (9, 3, 1, "added", "e.md", None, None),
        (10, 2, 4, "reverted", "d.txt", 6, 5),
    ]
    front = sqlite3.connect(tmp_path / "one.db").execute(
        "SELECT version_id, value FROM version_provenance WHERE key = 'title' ORDER BY 1"
    )
    titles = [(1, 1), (2, 2), (3, 1), (4, 1), (5, 2), (6, 2), (8, 1), (9, 1), (10, 2)]
    assert [tuple(r) for r in front] == [(v, f"Doc {n}") for v, n in titles]  # not the deletion


def two_commits(tmp_path: Path) -> Repo:
    """A repository where a.txt is added, then modified."""
    repo = Repo(tmp_path / "repo")
    repo.write("a.txt", doc(1))
    repo.commit("one")
    repo.write("a.txt", doc(2))
    repo.commit("two")
    return repo


def test_a_rerun_continues_from_the_rows_a_batch_wrote(tmp_path: Path, workers: None) -> None:
    repo = two_commits(tmp_path)
    db = tmp_path / "archive.db"
    imported(repo.root, db, 200)
    repo.write("a.txt", doc(1))  # back to the first content, recorded in the run before
    repo.commit("three")
    after = imported(repo.root, db, 200)
    assert [v[1:3] + v[5:6] for v in after["versions"]] == [
        (1, 1, "added"),
        (1, 2, "modified"),
        (1, 3, "reverted"),
    ]
    assert after["versions"][-1][13] == 1  # same_as_version_id: the first run's version


def test_a_commit_already_imported_elsewhere_is_named(tmp_path: Path, workers: None) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("a.txt", doc(1))
    oid = repo.commit("one")
    clone = tmp_path / "clone"
    repo.git("clone", "--quiet", str(repo.root), str(clone))
    db = tmp_path / "archive.db"
    with Store(db) as store:
        import_git(store, str(repo.root), "test")
        with pytest.raises(ArchiveError, match=f"commit {oid} is already in the archive from"):
            import_git(store, str(clone), "test")
        assert store.query("SELECT COUNT(*) AS n FROM versions") == [{"n": 1}]


def test_a_versions_column_added_later_is_in_the_leaves(tmp_path: Path, workers: None) -> None:
    """A column the batch does not know (added by a later migration, with a default) is read
    back for the leaves, so they state the rows as they are."""
    repo = two_commits(tmp_path)
    db = tmp_path / "archive.db"
    with Store(db) as store:
        store.conn.execute("ALTER TABLE versions ADD COLUMN note TEXT DEFAULT 'kept'")
    after = imported(repo.root, db, 200)  # verify rebuilds each leaf from its row
    assert [v[-1] for v in after["versions"]] == ["kept", "kept"]


# Random histories over a few paths: adds, edits back and forth among a few contents,
# deletions and moves. Whatever happens, one batch and commit-by-commit agree.
STEP = st.tuples(
    st.sampled_from(["write", "write", "remove", "move"]),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 2),
)


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=3, max_size=9))
def test_random_histories_agree_between_batch_sizes(
    tmp_path_factory: pytest.TempPathFactory, workers: None, steps: list[tuple]
) -> None:
    tmp = tmp_path_factory.mktemp("history")
    repo = Repo(tmp / "repo")
    files: set[str] = set()
    for n, (action, path, other, content) in enumerate(steps):
        name, target = f"p{path}.txt", f"p{other}.txt"
        if action == "write" or not files:
            repo.write(name, doc(content))
            files.add(name)
        elif action == "remove" and name in files:
            repo.remove(name)
            files.discard(name)
        elif action == "move" and name in files and target not in files:
            repo.git("mv", name, target)
            files.discard(name)
            files.add(target)
        repo.commit(f"step {n}")
    assert imported(repo.root, tmp / "each.db", 1) == imported(repo.root, tmp / "all.db", 200)


# A batch's metadata rows (`Store.put_metadata_many`, as `append_contents` writes them) are
# those of a `put_metadata` call per content: blob_metadata, item sets shared between
# contents with the same list (found in the archive or earlier in the batch), their items.
ITEMS = st.lists(
    st.tuples(
        st.sampled_from(["date", "quote", "url"]),
        st.integers(0, 2),
        st.sampled_from(["a", "b"]),
        st.none() | st.just("d"),
    ),
    max_size=3,
    unique_by=lambda r: r[:2],
)
CONTENT = st.tuples(st.integers(0, 2), st.sampled_from([None, "Title", "Other"]), ITEMS)
DATE, URL = ("date", 0, "a", None), ("url", 0, "b", "d")


def metadata_rows(db: Path) -> dict[str, list]:
    conn = sqlite3.connect(db)
    try:
        return {
            t: sorted(conn.execute(f"SELECT * FROM {t}"), key=repr)
            for t in ("blob_metadata", "item_sets", "set_items", "blob_item_sets")
        }
    finally:
        conn.close()


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(CONTENT, max_size=3), batch=st.lists(CONTENT, max_size=6))
@example(before=[(0, None, [DATE])], batch=[(0, "Title", [URL]), (1, None, [URL])])  # re-put
@example(before=[(0, None, [DATE])], batch=[(1, None, [URL]), (2, "Title", [URL])])  # shared
@example(before=[(0, None, [DATE])], batch=[(1, None, [DATE]), (2, None, [])])  # found, none
def test_a_batch_of_metadata_makes_the_rows_a_call_each_does(
    tmp_path_factory: pytest.TempPathFactory, before: list[tuple], batch: list[tuple]
) -> None:
    from ingest.content import describe

    tmp = tmp_path_factory.mktemp("metadata")
    results = []
    for name, many in (("each", False), ("many", True)):
        with Store(tmp / f"{name}.db") as store, store.write():
            for n in range(6):
                store.insert_blob(describe(f"{n}.txt", b"content %d" % n)[0], b"content %d" % n)
            key = {n: describe(f"{n}.txt", b"content %d" % n)[0].blake3 for n in range(6)}
            fields = {"extractor_version": "1"}
            for n, title, items in before:  # in the archive already (a re-extraction)
                store.put_metadata(key[n], {**fields, "title": title}, items)
            rows = [(key[n], {**fields, "title": title}, items) for n, title, items in batch]
            if many:
                store.put_metadata_many(rows)
            else:
                for row in rows:
                    store.put_metadata(*row)
        results.append(metadata_rows(tmp / f"{name}.db"))
    assert results[0] == results[1]
