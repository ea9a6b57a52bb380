"""Search indexes built where they are read: an import leaves them behind, `archive index`,
the CLI's searches and every served snapshot bring them up to date, with the same rows however
the work is split."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from datasette.app import Datasette
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.passages import indexing
from archive.record.git import import_git
from archive.store import Store
from archive.store.schema import MIGRATIONS
from tests.conftest import run_cli, served, table_rows
from tests.gitrepo import Repo

SEARCH_TABLES = ("reuse_sentences", "reuse_documents", "reuse_texts")
FTS = ("span_fts", "passages_fts")
SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
# The same sentence for its reuse key (case, quote style and spacing aside), written otherwise.
RESTATED = "the quick  brown fox jumps over the lazy dog near the river bank!"
# The schema before the indexes moved out of the import.
BEFORE = [m.__name__ for m in MIGRATIONS].index("_search_on_read")
NEW_TEXT = "An entirely fresh paragraph about migratory herons arriving late this year."


def ingest(db: Path, folder: Path) -> None:
    code, _, err = run_cli("ingest", str(folder), db=db)
    assert code == 0, err


def fts_rows(db: Path, table: str) -> list[tuple]:
    """What a full-text index holds, term by term with its positions (`fts5vocab`): the
    shadow tables' bytes depend on how the inserts were batched, this does not."""
    conn = sqlite3.connect(db)
    conn.execute(f"CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, {table}, instance)")
    rows = conn.execute("SELECT * FROM temp.vocab ORDER BY 1, 2, 3, 4").fetchall()
    conn.close()
    return rows


def index_state(db: Path) -> dict:
    """Every row the indexes hold, and how far they go."""
    state = {t: table_rows(db, t) for t in (*SEARCH_TABLES, "passage_documents")}
    state["span_state"] = {r["name"]: r["value"] for r in table_rows(db, "span_state")}
    state.update({t: fts_rows(db, t) for t in FTS})
    state["copies"] = [(v["id"], v["copied_from_version_id"]) for v in table_rows(db, "versions")]
    return state


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    out = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SEARCH_TABLES}
    out.update({t: len(fts_rows(db, t)) for t in FTS})
    conn.close()
    return out


def history(root: Path) -> tuple[Repo, list[str]]:
    """Four commits: a document, its edit, a second document restating its sentence (another
    written form of the same reuse key), a copy of the first."""
    repo = Repo(root)
    steps = [
        ("a.md", f"Policy A.\n\n{SENTENCE}\n"),
        ("a.md", f"Policy A, revised.\n\n{SENTENCE}\n\nA closing remark of some length here.\n"),
        ("b.md", f"Policy B.\n\n{RESTATED}\n"),
        ("c.md", f"Policy A, revised.\n\n{SENTENCE}\n\nA closing remark of some length here.\n"),
    ]
    commits = []
    for name, text in steps:
        repo.write(name, text.encode())
        commits.append(repo.commit(f"write {name}"))
    return repo, commits


def test_an_import_leaves_the_search_indexes_empty_and_index_fills_them(tmp_path: Path) -> None:
    repo, _ = history(tmp_path / "repo")
    db = tmp_path / "archive.db"
    assert run_cli("ingest", "--git", str(repo.root), db=db)[0] == 0
    assert set(counts(db).values()) == {0}
    assert table_rows(db, "passage_documents")  # kept: copy detection reads it
    copies = [v["copied_from_version_id"] for v in table_rows(db, "versions")]
    assert copies == [None, None, None, 2]  # c.md, copied from a.md@2 at import
    code, out, _ = run_cli("index", "--json", db=db)
    assert code == 0 and json.loads(out)["passages"] > 0 and json.loads(out)["versions"] == 4
    assert 0 not in counts(db).values()
    before = index_state(db)
    code, out, _ = run_cli("index", "--json", db=db)  # idempotent: nothing left to do
    assert code == 0 and json.loads(out) == {"passages": 0, "versions": 0}
    assert index_state(db) == before


@pytest.mark.parametrize("split", [1, 2, 3])
def test_an_index_caught_up_run_by_run_equals_one_built_at_once(tmp_path: Path, split) -> None:
    """Import the first `split` commits and index, then the rest and index again: every row
    as an import of the whole history indexed once, the shared sentence quoted as first
    written (whichever document made it shared, whenever the index ran)."""
    repo, commits = history(tmp_path / "repo")
    stepwise, whole = tmp_path / "stepwise.db", tmp_path / "whole.db"
    with Store(stepwise) as store:
        import_git(store, str(repo.root), "t", ref=commits[split - 1])
    assert run_cli("index", db=stepwise)[0] == 0
    with Store(stepwise) as store:
        import_git(store, str(repo.root), "t")
    assert run_cli("index", db=stepwise)[0] == 0
    with Store(whole) as store:
        import_git(store, str(repo.root), "t")
    assert run_cli("index", db=whole)[0] == 0
    assert index_state(stepwise) == index_state(whole)
    texts = [r["text"] for r in table_rows(whole, "reuse_texts")]
    assert SENTENCE in texts and not any("  brown" in t for t in texts)


# Paragraphs the generated histories are made of: sentences shared in two written forms.
PARAGRAPHS = (
    SENTENCE,
    RESTATED,
    "Another shared clause about cookies and their many uses online.",
    "ANOTHER shared clause about \u201ccookies\u201d and their many uses online!",
    NEW_TEXT,
    "Short one.",
)
STEP = st.dictionaries(
    st.sampled_from(["a.md", "b.md", "c.md"]),
    st.lists(st.sampled_from(range(len(PARAGRAPHS))), min_size=1, max_size=3),
    min_size=1,
)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(STEP, min_size=1, max_size=3), indexed=st.lists(st.booleans(), min_size=3))
def test_any_history_indexed_run_by_run_gives_the_rows_of_one_build(
    frozen_clock, steps, indexed
) -> None:
    """Whichever runs `archive index` follows, the rows are those of one build at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        dbs = {name: base / f"{name}.db" for name in ("stepwise", "once")}
        folders = {name: base / name for name in dbs}
        for step, index_now in zip(steps, indexed, strict=False):
            for name, folder in folders.items():
                folder.mkdir(exist_ok=True)
                for path, paragraphs in step.items():
                    (folder / path).write_text("\n\n".join(PARAGRAPHS[i] for i in paragraphs))
                ingest(dbs[name], folder)
            if index_now:
                assert run_cli("index", db=dbs["stepwise"])[0] == 0
        for db in dbs.values():
            assert run_cli("index", db=db)[0] == 0
        assert index_state(dbs["stepwise"]) == index_state(dbs["once"])


async def test_a_served_snapshot_has_the_indexes_and_the_live_file_is_left_alone(
    db: Path, folder: Path
) -> None:
    (folder / "a.md").write_text(f"Policy A.\n\n{SENTENCE}\n")
    (folder / "b.md").write_text(f"Policy B.\n\n{RESTATED}\n")
    ingest(db, folder)
    live = {t: table_rows(db, t) for t in ("span_state", "versions")}
    snapshot = served(db)
    assert {t: table_rows(db, t) for t in ("span_state", "versions")} == live
    assert set(counts(db).values()) == {0} and 0 not in counts(snapshot).values()
    ds = Datasette([str(snapshot)])
    search = (await ds.client.get("/-/archive/search?q=brown+fox+jumps")).text
    assert "a.md" in search and "b.md" in search
    trace = (await ds.client.get("/-/archive/trace?q=lazy+dog+near+the+river")).text
    assert "a.md" in trace and "b.md" in trace


def test_a_snapshot_says_when_it_has_a_long_backlog_to_index(
    db: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "a.md").write_text(f"Policy A.\n\n{SENTENCE}\n")
    ingest(db, folder)
    said: list[int] = []
    with Store(db) as store:
        indexing.indexed_snapshot(store, db.parent / "quiet.db", notice=said.append)
        assert said == []  # two passages: too few to mention
        monkeypatch.setattr(indexing, "NOTICE_PASSAGES", 2)
        indexing.indexed_snapshot(store, db.parent / "told.db", notice=said.append)
    assert said == [2]


async def test_readers_of_an_archive_with_stale_indexes_see_new_text(
    db: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "a.md").write_text(f"Policy A.\n\n{SENTENCE}\n")
    ingest(db, folder)
    assert run_cli("index", db=db)[0] == 0
    (folder / "b.md").write_text(f"Policy B.\n\n{NEW_TEXT}\n")
    ingest(db, folder)
    ds = Datasette([str(served(db))])
    assert "b.md" in (await ds.client.get("/-/archive/search?q=migratory+herons")).text
    monkeypatch.setattr(indexing, "NOTICE_PASSAGES", 1)  # so small a backlog is announced
    code, out, err = run_cli("trace", "fresh paragraph about migratory herons", "--json", db=db)
    assert code == 0 and json.loads(out)["first"]["path"] == "b.md"
    assert err.startswith("indexing 2 passages...")
    code, _, err = run_cli("trace", "fresh paragraph about migratory herons", db=db)
    assert code == 0 and "indexing" not in err  # caught up: nothing to announce


def test_verify_passes_before_and_after_the_indexes_are_built(db: Path, folder: Path) -> None:
    (folder / "a.md").write_text(f"Policy A.\n\n{SENTENCE}\n")
    (folder / "c.md").write_text(f"Policy A.\n\n{SENTENCE}\n")
    ingest(db, folder)
    assert run_cli("verify", db=db)[0] == 0
    assert run_cli("index", db=db)[0] == 0
    assert run_cli("verify", db=db)[0] == 0


def test_an_archive_made_before_the_indexes_moved_keeps_them(tmp_path: Path) -> None:
    """An archive whose import filled the indexes (as older releases did) is already up to
    date after its migration: nothing indexed twice, its rows as they were."""
    repo, _ = history(tmp_path / "repo")
    db = tmp_path / "archive.db"
    assert run_cli("ingest", "--git", str(repo.root), db=db)[0] == 0
    assert run_cli("index", db=db)[0] == 0
    before = index_state(db)
    conn = sqlite3.connect(db, isolation_level=None)  # as the migration found it
    conn.execute("DELETE FROM span_state WHERE name IN ('text', 'documents')")
    conn.execute(f"PRAGMA user_version = {BEFORE}")
    conn.close()
    with Store(db) as store:
        assert not store.spans.behind()
    code, out, _ = run_cli("index", "--json", db=db)
    assert code == 0 and json.loads(out) == {"passages": 0, "versions": 0}
    assert index_state(db) == before


def test_an_archive_that_cannot_be_written_is_read_as_indexed_and_index_says_why(
    db: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite refusing the write (a read-only file, for a user other than root): readers
    answer from the indexes as they stand and say so; `archive index` fails in one line."""
    (folder / "a.md").write_text(f"Policy A.\n\n{SENTENCE}\n")
    ingest(db, folder)

    def refused(self):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(Store, "write", refused)
    code, out, err = run_cli("reuse", db=db)
    assert code == 0 and "read-only" in err and "0 shared sentences" in err
    code, out, err = run_cli("index", db=db)
    assert code == 1 and err.count("\n") == 1 and "read-only" in err
    assert "Traceback" not in err


def test_a_served_snapshot_holds_no_free_page_and_the_same_rows(tmp_path: Path) -> None:
    """The snapshot is compacted after its indexes are built: the free pages of the live file
    (copied page by page) and of the index build are not served, and no row or rowid moves."""
    repo, _ = history(tmp_path / "repo")
    db = tmp_path / "archive.db"
    assert run_cli("ingest", "--git", str(repo.root), db=db)[0] == 0
    conn = sqlite3.connect(db)  # leave free pages in the live file, as deleted rows do
    conn.execute("CREATE TABLE scratch (x BLOB)")
    conn.executemany("INSERT INTO scratch VALUES (randomblob(3000))", [()] * 200)
    conn.commit()
    conn.execute("DROP TABLE scratch")
    conn.commit()
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] > 100
    conn.close()
    served_copy, indexed = tmp_path / "served.db", tmp_path / "indexed.db"
    with Store(db) as store:
        indexing.indexed_snapshot(store, served_copy)
    assert run_cli("index", db=db)[0] == 0
    with Store(db) as store:
        store.snapshot(indexed, public=True)  # the same rows, not compacted
    conn = sqlite3.connect(served_copy)
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    assert served_copy.stat().st_size < indexed.stat().st_size
    for table in ("versions", "diffs", "version_diffs", "passage_groups", "ledger", *SEARCH_TABLES):
        assert table_rows(served_copy, table) == table_rows(indexed, table), table
    assert index_state(served_copy) == index_state(indexed)
