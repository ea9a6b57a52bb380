"""The import's worker pool: the same per-content work for every source, the same rows for
any number of workers, and a dead worker as a one-line error that a re-run recovers from."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from archive import diffs
from archive.diffs import pipeline
from archive.diffs.pipeline import WORKER_DIED, WorkerPool
from archive.passages import indexing
from archive.record.folder import ingest_folder
from archive.record.git import import_git
from archive.record.metadata import keep_unpacked, prepare_content, write_prepared
from archive.store import Store, database, passage_store
from ingest.extract import language
from tests.conftest import TIMES, run_archive_after, table_rows
from tests.gitrepo import Repo
from tests.test_import_speed import build, every_table, tables_per_worker_count

NOTES = (
    "---\ntitle: Terms of Service\ndate: 2020-05-01\nauthor: Legal Team\n---\n"
    "# Terms of Service\n\nLast updated: March 3, 2020.\n\n"
    "The company said \u201cwe keep your data safe for 30 days\u201d in 2019.\n"
)
PAGE = (
    "<!doctype html><html lang='en'><head><title>Privacy Policy</title></head>"
    "<body><h1>Privacy</h1><p>Effective January 5, 2021. We collect cookies.</p></body></html>"
)


def contents(db: Path) -> list[tuple]:
    """Each content's description and extracted metadata, by hash: what an ingest computes
    from a file's name and bytes, whatever the source."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        blobs = [
            dict(r)
            for r in conn.execute(
                "SELECT blake3, media_type, encoding, is_text, newline, flags, text_blob"
                " FROM blobs ORDER BY blake3"
            )
        ]
        metadata = [dict(r) for r in conn.execute("SELECT * FROM blob_metadata ORDER BY blake3")]
        items = conn.execute("SELECT * FROM blob_items ORDER BY blob, key, ordinal")
        provenance = conn.execute(
            "SELECT v.path, p.origin, p.key, p.value FROM version_provenance p"
            " JOIN versions v ON v.id = p.version_id ORDER BY v.path, p.origin, p.key"
        )
        problems = conn.execute("SELECT path, reason FROM problems ORDER BY path")
        return [
            blobs,
            metadata,
            *([tuple(r) for r in rows] for rows in (items, provenance, problems)),
        ]
    finally:
        conn.close()


def test_a_git_import_extracts_what_a_folder_ingest_does(tmp_path: Path) -> None:
    """Media type by name and content, readable text, front matter, titles, dates, quotes
    and format problems: the git import stores each content as the folder ingest does
    (it used to store Markdown as text/plain, with no metadata at all)."""
    repo = Repo(tmp_path / "repo")
    repo.write("notes.md", NOTES.encode())
    repo.write("site/page.html", PAGE.encode())
    repo.write("fake.pdf", b"not a pdf at all\n")
    repo.commit("three documents")
    with Store(tmp_path / "git.db") as store:
        summary = import_git(store, str(repo.root), "t")
    with Store(tmp_path / "folder.db") as store:
        ingest_folder(store, str(repo.root / "."), "t")  # .git is skipped by the scan
    from_git, from_folder = contents(tmp_path / "git.db"), contents(tmp_path / "folder.db")
    assert from_git == from_folder
    blobs, metadata, items, provenance, problems = from_git
    assert {b["media_type"] for b in blobs} >= {"text/markdown", "text/html"}
    assert len(metadata) == 3 and any(m["title"] == "Terms of Service" for m in metadata)
    assert ("notes.md", "front-matter", "author", "Legal Team") in provenance
    assert {"quote", "date", "heading"} <= {i[1] for i in items}
    assert {p[0] for p in problems} == {"fake.pdf"} and all("pdf" in p[1] for p in problems)
    assert [(p["path"], p["reason"]) for p in summary.problem_list] == problems


@pytest.mark.usefixtures("frozen_clock")
def test_the_rows_are_the_same_for_any_number_of_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every table, byte for byte, whether the contents are prepared in this process or on
    2 or 3 workers (the thresholds lowered so this small history uses the pool)."""
    repo = Repo(tmp_path / "repo")
    build(repo)
    monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 0)
    mapped = []
    real_map = WorkerPool.start_map

    def counting_map(self, job, items, size, keys=None):
        mapped.append((self.workers, len(items)))
        return real_map(self, job, items, size, keys)

    monkeypatch.setattr(WorkerPool, "start_map", counting_map)
    tables = tables_per_worker_count(tmp_path, repo.root, 4, monkeypatch)
    assert tables[0]["blob_metadata"] and tables[0]["diffs"] and tables[0]["ledger"]
    assert tables[1] == tables[0] and tables[2] == tables[0]
    assert {w for w, n in mapped if n > 1} == {1, 2, 3}  # each count did map contents


def test_the_pool_maps_in_order_and_only_when_worth_it() -> None:
    items = [("a.md", b"x" * n) for n in range(1, 6)]
    with WorkerPool(cpus=1, workers=2) as pool:
        assert pool.map(len, [d for _, d in items], 0) == [1, 2, 3, 4, 5]
        assert pool.executor is None  # too few bytes: done in this process
        assert pool.map(len, [d for _, d in items], pipeline.PARALLEL_BYTES) == [1, 2, 3, 4, 5]
        assert pool.executor is not None
        assert not pool.worth_it(1000, 1 << 30)  # diffs stay serial (cpus=1) all the same
    with WorkerPool(cpus=1, workers=1) as pool:
        assert pool.map(len, [b"ab"], 1 << 30) == [2] and pool.executor is None


# The launcher lowers the pool's threshold so this small history uses it.
POOLED = "from archive.diffs import pipeline\npipeline.PARALLEL_BYTES = 0"


def run_pooled(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_archive_after(POOLED, *args, env={"ARCHIVE_WORKERS": "2", **(env or {})})


def test_a_dead_content_worker_is_one_line_and_a_rerun_completes(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    build(repo)
    whole, died = tmp_path / "whole.db", tmp_path / "died.db"
    args = ("ingest", "--git", str(repo.root), "--batch", "2")
    assert run_pooled(*args, "--db", str(whole)).returncode == 0
    # batches of 2 commits map 2 contents each, a batch ahead: the 7th content is the fourth
    # batch's, so the worker dies while the third or fourth batch is open (one of the third's
    # contents may be unfinished when it dies): earlier batches stay, the open one rolls back
    result = run_pooled(*args, "--db", str(died), env={"ARCHIVE_KILL_AT": "content_worker:7"})
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [f"Error: {WORKER_DIED}"]
    conn = sqlite3.connect(died)
    assert conn.execute("SELECT COUNT(*) FROM commits").fetchone()[0] in (2, 4, 6)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    orphans = conn.execute(
        "SELECT COUNT(*) FROM blobs b WHERE NOT EXISTS"
        " (SELECT 1 FROM versions v WHERE v.blob = b.blake3)"
    ).fetchone()
    conn.close()
    assert orphans == (0,)  # nothing of the open batch was written
    resumed = run_pooled(*args, "--db", str(died))
    assert resumed.returncode == 0, resumed.stderr
    for table in ("documents", "blobs", "blob_metadata", "blob_items", "versions", "diffs"):
        drop = (*TIMES, "run_id")  # the failed run and its resumption are two runs
        assert table_rows(died, table, drop) == table_rows(whole, table, drop), table


@pytest.mark.usefixtures("frozen_clock")
def test_an_import_leaves_the_file_compact_and_every_row_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import's final compaction (VACUUM past COMPACT_FREE free pages) moves pages only:
    every table, rowids included, is the one an uncompacted import leaves."""
    repo = Repo(tmp_path / "repo")
    for i in range(4):  # contents long enough to need overflow pages until moved
        body = "".join(
            f"Paragraph {p} of revision {i // 2}: {'words ' * 40}\n\n" for p in range(60)
        )
        repo.write(f"long{i % 2}.md", body.encode())
        repo.commit(f"revision {i}")
    dbs, compacted = {}, []
    real = Store.compact
    monkeypatch.setattr(Store, "compact", lambda self: compacted.append(real(self)))
    for name, threshold in (("never", 2.0), ("always", 0.0)):
        monkeypatch.setattr(database, "COMPACT_FREE", threshold)
        dbs[name] = tmp_path / f"{name}.db"
        with Store(dbs[name]) as store:
            import_git(store, str(repo.root), "t", batch_size=4)
    assert compacted == [False, True]
    free = "PRAGMA freelist_count"
    assert sqlite3.connect(dbs["always"]).execute(free).fetchone()[0] == 0
    assert dbs["always"].stat().st_size <= dbs["never"].stat().st_size
    assert every_table(dbs["always"]) == every_table(dbs["never"])
    rowids = "SELECT rowid, * FROM diffs ORDER BY rowid"  # a table keyed by rowid
    assert [sqlite3.connect(db).execute(rowids).fetchall() for db in dbs.values()] == [
        sqlite3.connect(dbs["never"]).execute(rowids).fetchall()
    ] * 2


@pytest.mark.usefixtures("frozen_clock")
def test_a_folder_ingest_prepares_on_the_same_pool_with_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    for i in range(6):
        (folder / f"doc{i}.md").write_text(NOTES.replace("Terms", f"Terms {i}"))
    (folder / "sub" / "page.html").write_text(PAGE)
    (folder / "sub" / "same.md").write_text(NOTES.replace("Terms", "Terms 0"))  # a duplicate
    monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 0)
    tables = []
    for workers in ("1", "2"):
        monkeypatch.setenv("ARCHIVE_WORKERS", workers)
        with Store(tmp_path / f"w{workers}.db") as store:
            ingest_folder(store, str(folder), "t")
        tables.append(every_table(tmp_path / f"w{workers}.db"))
    assert len(tables[0]["blob_metadata"]) == 7 and len(tables[0]["versions"]) == 8
    assert tables[1] == tables[0]


def test_a_dead_content_worker_in_a_folder_ingest_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(4):
        (folder / f"doc{i}.md").write_text(NOTES.replace("Terms", f"Terms {i}"))
    db = tmp_path / "died.db"
    result = run_pooled(
        "ingest", str(folder), "--db", str(db), env={"ARCHIVE_KILL_AT": "content_worker:2"}
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [f"Error: {WORKER_DIED}"]
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM blobs").fetchone() == (0,)
    assert run_pooled("ingest", str(folder), "--db", str(db)).returncode == 0
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM blob_metadata").fetchone() == (4,)


@pytest.mark.usefixtures("frozen_clock")
def test_with_workers_the_main_process_splits_tokenises_and_diffs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On workers, a content's passages are split and keyed where it is prepared, its
    language told, and each diff is made and proved there (nothing is tokenised: the search
    indexes are built where they are read): an import whose main process may do none of it
    (each raises there) stores exactly a serial import's rows."""
    repo = Repo(tmp_path / "repo")
    build(repo)
    monkeypatch.setenv("ARCHIVE_WORKERS", "1")
    with Store(tmp_path / "serial.db") as store:
        import_git(store, str(repo.root), "t", batch_size=4)
    main = os.getpid()

    def off_main(real):
        def guarded(*args, **kwargs):
            assert os.getpid() != main, f"{real.__name__} ran in the main process"
            return real(*args, **kwargs)

        return guarded

    monkeypatch.setattr(passage_store, "split_text", off_main(passage_store.split_text))
    monkeypatch.setattr(indexing, "index_terms", off_main(indexing.index_terms))
    monkeypatch.setattr(diffs, "diff_texts", off_main(diffs.diff_texts))
    # nor tells a language (the model is mapped here once, before the workers fork: they
    # share it)
    monkeypatch.setattr(language, "detect_language", off_main(language.detect_language))
    language._classify.cache_clear()
    for name, value in (("PARALLEL_BYTES", 0), ("POOL_MIN_PAIRS", 1), ("POOL_MIN_CHARS", 0)):
        monkeypatch.setattr(pipeline, name, value)  # so small a history uses the pool
    monkeypatch.setenv("ARCHIVE_WORKERS", "2")
    with Store(tmp_path / "pooled.db") as store:
        import_git(store, str(repo.root), "t", batch_size=4)
    serial, pooled = every_table(tmp_path / "serial.db"), every_table(tmp_path / "pooled.db")
    assert serial["passage_documents"] and serial["passage_groups"] and serial["diffs"]
    assert pooled == serial


def test_a_content_written_ahead_of_its_packing_keeps_its_bytes_if_nothing_packs_it(
    tmp_path: Path,
) -> None:
    """A git import writes a new text's row without its bytes (its split holds them until
    its version packs it, so they are never written whole only to be freed); one that no
    version packed gets them back at the batch's end, and rename detection reads it meanwhile."""
    data = "One paragraph.\n\nAnother one, \u201cquoted\u201d, in Latin-1: caf\u00e9.\n".encode(
        "latin-1", "replace"
    )
    with Store(tmp_path / "a.db") as store, store.caching_texts(), store.write():
        prepared = prepare_content("a.txt", data)
        blake3 = prepared.info.blake3
        write_prepared(store, prepared, data, packed_soon=True)
        assert store.texts.held_bytes(blake3) == data
        assert store.query_one("SELECT content FROM blobs WHERE blake3 = ?", (blake3,)) == {
            "content": None
        }
        assert keep_unpacked(store) == 1 and keep_unpacked(store) == 0
        assert store.read_content(blake3) == data and store.texts.held_bytes(blake3) is None
