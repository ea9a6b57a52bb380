"""`archive ingest --git` against real repositories built in tmp dirs, and the sample bundle."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlite_utils

from archive.diffs.pipeline import WORKER_DIED
from archive.record.git import import_git, utc_iso
from archive.store import ArchiveError, Store
from archive.store.schema import MIGRATIONS, SCHEMA_VERSION
from ingest.hashing import blake3_hex
from tests.conftest import (
    TIMES,
    archive_state,
    run_archive,
    run_archive_after,
    run_cli,
    table_rows,
)
from tests.gitrepo import GIT_ENV, Repo

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "terms-sample.bundle"


def text(n: int, tag: str = "") -> bytes:
    return b"".join(b"%s line %d of a document\n" % (tag.encode(), i) for i in range(n))


def ingest(db: Path, repo: Path | str, *extra: str) -> tuple[int, str, str]:
    return run_cli("ingest", "--git", str(repo), *extra, db=db)


def rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def history(db: Path) -> list[tuple]:
    """(document id, seq, kind, path, old_path, commit message) of every version."""
    return rows(
        db,
        "SELECT v.document_id, v.seq, v.kind, v.path, v.old_path, c.message FROM versions v"
        ' JOIN commits c ON c.oid = v."commit" ORDER BY v.id',
    )


def test_add_modify_delete_restore_with_provenance(tmp_path: Path, db: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("a.txt", b"one\n")
    first = repo.commit("add a\n\nX-engine-version: 1.2.3")
    repo.write("a.txt", b"two\n")
    repo.commit("modify a")
    repo.remove("a.txt")
    repo.commit("delete a")
    repo.write("a.txt", b"one\n")
    repo.commit("bring a back")
    code, out, _ = ingest(db, repo.root)
    assert code == 0, out
    assert "4 commits" in out and "4 new versions" in out
    assert history(db) == [
        (1, 1, "added", "a.txt", None, "add a\n\nX-engine-version: 1.2.3\n"),
        (1, 2, "modified", "a.txt", None, "modify a\n"),
        (1, 3, "deleted", "a.txt", None, "delete a\n"),
        (1, 4, "restored", "a.txt", None, "bring a back\n"),
    ]
    (c1,) = table_rows(db, "commits")[:1]
    assert c1 == {
        "oid": first,
        "source_id": 1,
        "position": 1,
        "author_name": "Test Author",
        "author_email": "author@example.org",
        "author_date": "2020-01-01T00:00:06+02:00",
        "committer_name": "Test Committer",
        "committer_email": "committer@example.org",
        "committer_date": "2021-06-01T00:00:06-05:00",
        "message": "add a\n\nX-engine-version: 1.2.3\n",
        "parents": "",
    }
    # observed_at is the committer date in UTC (five hours on, here)
    assert rows(db, "SELECT observed_at FROM versions WHERE id = 1") == [("2021-06-01T05:00:06Z",)]
    assert rows(db, "SELECT kind, location, name FROM sources") == [("git", "repo", "repo")]
    positions = rows(db, "SELECT position, parents FROM commits ORDER BY position")
    assert [p for p, _ in positions] == [1, 2, 3, 4]
    assert positions[1][1] == first
    (run,) = table_rows(db, "runs")
    assert (run["files_seen"], run["new_versions"], run["unchanged"]) == (4, 4, 0)
    assert run["finished_at"] is not None


def test_exact_and_edited_renames_follow_the_document(tmp_path: Path, db: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("a.txt", text(20, "a"))
    repo.write("b.txt", text(20, "b"))
    repo.commit("two files")
    repo.write("moved/a.txt", text(20, "a"))
    repo.remove("a.txt")
    repo.commit("exact rename")
    repo.remove("b.txt")
    repo.write("b2.txt", text(20, "b") + b"an edit\n")
    repo.commit("edited rename")
    repo.remove("b2.txt")
    repo.write("c.txt", b"nothing in common\n")
    repo.commit("not a rename")
    os.chmod(repo.root / "c.txt", 0o755)
    repo.commit("mode only: no new version")
    assert ingest(db, repo.root)[0] == 0
    assert [h[:5] for h in history(db)] == [
        (1, 1, "added", "a.txt", None),
        (2, 1, "added", "b.txt", None),
        (1, 2, "renamed", "moved/a.txt", "a.txt"),
        (2, 2, "renamed", "b2.txt", "b.txt"),
        (2, 3, "deleted", "b2.txt", None),  # a commit's versions go in path order
        (3, 1, "added", "c.txt", None),
    ]
    run = table_rows(db, "runs")[0]
    # a rename's two paths make one version; the mode-only change makes none
    assert (run["files_seen"], run["new_versions"], run["unchanged"]) == (9, 6, 1)


def test_deleted_then_added_elsewhere_later_is_a_new_document(tmp_path: Path, db: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("a.txt", b"same content\n")
    repo.commit("add")
    repo.remove("a.txt")
    repo.commit("delete")
    repo.write("b.txt", b"same content\n")
    repo.commit("same bytes, other path, later")
    repo.write("a.txt", b"new text at the old path\n")
    repo.commit("old path again")
    assert ingest(db, repo.root)[0] == 0
    assert [h[:4] for h in history(db)] == [
        (1, 1, "added", "a.txt"),
        (1, 2, "deleted", "a.txt"),
        (2, 1, "added", "b.txt"),
        (1, 3, "restored", "a.txt"),  # a path that had a document brings it back
    ]


def test_merge_commits_follow_the_first_parent(tmp_path: Path, db: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("a.txt", b"base\n")
    repo.commit("base")
    repo.git("checkout", "--quiet", "-b", "side")
    repo.write("side.txt", b"side 1\n")
    repo.commit("side one")
    repo.write("side.txt", b"side 2\n")
    repo.commit("side two")
    repo.git("checkout", "--quiet", "main")
    repo.write("a.txt", b"main edit\n")
    repo.commit("main edit")
    repo.git("merge", "--quiet", "--no-ff", "-m", "merge side", "side")
    merge = repo.rev("HEAD")
    assert ingest(db, repo.root)[0] == 0
    assert rows(db, "SELECT message FROM commits ORDER BY position") == [
        ("base\n",),
        ("main edit\n",),
        ("merge side\n",),
    ]
    assert [h[2:4] + h[5:] for h in history(db)] == [
        ("added", "a.txt", "base\n"),
        ("modified", "a.txt", "main edit\n"),
        ("added", "side.txt", "merge side\n"),  # the side branch lands as one change
    ]
    (parents,) = rows(db, "SELECT parents FROM commits WHERE oid = ?", (merge,))[0]
    assert len(parents.split()) == 2


def test_binary_symlink_non_utf8_path_and_empty_commit(tmp_path: Path, db: Path) -> None:
    repo = Repo(tmp_path / "repo")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    repo.write("img.png", png)
    repo.write(b"caf\xe9.txt", b"latin-1 name\n")
    os.symlink("img.png", repo.root / "link")
    repo.commit("odd files")
    repo.commit("nothing at all")
    assert ingest(db, repo.root)[0] == 0
    with Store(db) as store:
        got = {
            r["path"]: (store.read_content(r["blob"]), r["is_text"])
            for r in store.query(
                "SELECT v.path, v.blob, b.is_text FROM versions v JOIN blobs b ON b.blake3 = v.blob"
            )
        }
    assert got == {
        "img.png": (png, 0),
        "caf\\xe9.txt": (b"latin-1 name\n", 1),
        "link": (b"img.png", 1),  # a symlink is a version of its target string
    }
    assert rows(
        db,
        'SELECT COUNT(*) FROM versions v JOIN commits c ON c.oid = v."commit"'
        " WHERE c.message = 'nothing at all\n'",
    ) == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM commits") == [(2,)]


def build_history(repo: Repo, start: int, count: int) -> None:
    """Commits that add, modify and now and then delete one of three documents."""
    for i in range(start, start + count):
        repo.write(f"doc{i % 3}.txt", text(3, f"rev{i}"))
        victim = repo.root / f"doc{(i + 1) % 3}.txt"
        if i % 4 == 3 and victim.exists():
            victim.unlink()
        repo.commit(f"commit {i}")


def test_kill_mid_import_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    build_history(repo, 0, 9)
    whole, killed = tmp_path / "whole.db", tmp_path / "killed.db"
    assert run_archive("ingest", "--git", str(repo.root), "--db", str(whole)).returncode == 0
    args = ("ingest", "--git", str(repo.root), "--db", str(killed), "--batch", "2")
    died = run_archive(*args, env={"ARCHIVE_KILL_AT": "commit:5"})
    assert died.returncode == -9
    # the first two batches (4 commits) landed, with their run's counts; the open batch did not
    assert rows(killed, "SELECT COUNT(*) FROM commits") == [(4,)]
    landed = rows(killed, "SELECT COUNT(*) FROM versions")[0][0]
    assert (
        landed
        == rows(
            whole,
            "SELECT COUNT(*) FROM versions v JOIN commits c ON c.oid ="
            ' v."commit" WHERE c.position <= 4',
        )[0][0]
    )
    assert rows(killed, "SELECT finished_at IS NULL, new_versions FROM runs") == [(1, landed)]
    resumed = run_archive(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert "5 commits" in resumed.stdout
    drop = ("run_id",)  # the killed run and its resumption are two runs

    def state(db: Path) -> dict:
        s = archive_state(db)
        s["versions"] = [{k: v for k, v in r.items() if k not in drop} for r in s["versions"]]
        s["commits"] = table_rows(db, "commits")
        return s

    assert state(killed) == state(whole)
    total = len(table_rows(whole, "versions"))
    assert [r["new_versions"] for r in table_rows(killed, "runs")] == [landed, total - landed]


def test_incremental_rerun_imports_only_new_commits(tmp_path: Path, db: Path) -> None:
    repo = Repo(tmp_path / "repo")
    build_history(repo, 0, 4)
    assert ingest(db, repo.root)[0] == 0
    code, out, _ = ingest(db, repo.root)
    assert code == 0 and "0 commits" in out and "0 new versions" in out
    build_history(repo, 4, 3)
    code, out, _ = ingest(db, repo.root)
    assert code == 0 and "3 commits" in out
    assert [p for (p,) in rows(db, "SELECT position FROM commits ORDER BY position")] == list(
        range(1, 8)
    )
    fresh = db.parent / "fresh.db"
    assert ingest(fresh, repo.root)[0] == 0
    assert archive_state(db)["versions"] != []
    strip = ("run_id",)
    assert [
        {k: v for k, v in r.items() if k not in strip} for r in archive_state(db)["versions"]
    ] == [{k: v for k, v in r.items() if k not in strip} for r in archive_state(fresh)["versions"]]
    assert len(table_rows(db, "runs")) == 3


def test_rewritten_history_is_refused(tmp_path: Path, db: Path) -> None:
    repo = Repo(tmp_path / "repo")
    build_history(repo, 0, 2)
    assert ingest(db, repo.root)[0] == 0
    repo.git("commit", "--quiet", "--amend", "-m", "rewritten")
    code, _, err = ingest(db, repo.root)
    assert code == 1 and "first-parent" in err and err.count("\n") == 1


def test_folder_and_git_sources_are_kept_apart(tmp_path: Path, db: Path, folder: Path) -> None:
    (folder / "a.txt").write_bytes(b"one\n")
    repo = Repo(tmp_path / "repo")
    repo.write("a.txt", b"one\n")
    repo.commit("same file in git")
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    assert ingest(db, repo.root)[0] == 0
    assert run_cli("ingest", str(folder), db=db)[1].count("0 new versions") == 1
    assert rows(
        db,
        "SELECT s.kind, d.path FROM documents d JOIN sources s ON s.id = d.source_id ORDER BY d.id",
    ) == [("folder", "a.txt"), ("git", "a.txt")]
    assert rows(db, 'SELECT "commit" IS NULL FROM versions ORDER BY id') == [(1,), (0,)]
    assert rows(db, "SELECT COUNT(*) FROM blobs") == [(1,)]  # one content, stored once


def test_bad_repo_and_usage_errors(tmp_path: Path, db: Path, folder: Path) -> None:
    code, _, err = ingest(db, tmp_path / "missing")
    assert code == 1 and "no such repository" in err and err.count("\n") == 1
    (tmp_path / "plain").mkdir()
    code, _, err = ingest(db, tmp_path / "plain")
    assert code == 1 and "not a git repository" in err and err.count("\n") == 1
    repo = Repo(tmp_path / "repo")
    build_history(repo, 0, 1)
    code, _, err = ingest(db, repo.root, "--ref", "nope")
    assert code == 1 and "bad ref" in err
    assert run_cli("ingest", str(folder), "--git", str(repo.root), db=db)[0] == 2
    assert run_cli("ingest", db=db)[0] == 2
    assert run_cli("ingest", str(folder), "--ref", "main", db=db)[0] == 2
    with Store(db) as store, pytest.raises(ArchiveError, match="batch size"):
        import_git(store, str(repo.root), "test", batch_size=0)


def test_utc_iso() -> None:
    assert utc_iso("2021-06-01T23:00:05-05:00") == "2021-06-02T04:00:05Z"
    assert utc_iso("2012-01-01T00:00:00Z") == "2012-01-01T00:00:00Z"
    with pytest.raises(ArchiveError):
        utc_iso("yesterday")


def test_a_v1_archive_migrates(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    db["sources"].insert({"name": "docs", "kind": "folder", "location": "docs"})
    db.conn.commit()
    db.close()
    with Store(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert "commit" in store.db["versions"].columns_dict
        assert store.db["commits"].pks == ["oid"]
        assert [fk.other_table for fk in store.db["versions"].foreign_keys].count("commits") == 1
        assert store.sources()[0]["name"] == "docs"


# The sample bundle --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The bundle imported once, and a bare clone to ask git about it."""
    tmp = tmp_path_factory.mktemp("sample")
    clone = tmp / "terms.git"
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(SAMPLE), str(clone)],
        check=True,
        env=GIT_ENV,
        capture_output=True,
    )
    db = tmp / "archive.db"
    code, out, err = run_cli("ingest", "--git", str(SAMPLE), db=db)
    assert code == 0, err
    return db, clone


def git_in(clone: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", f"--git-dir={clone}", *args], check=True, env=GIT_ENV, capture_output=True
    ).stdout


def test_sample_version_counts_match_git_log_follow(sample: tuple[Path, Path]) -> None:
    db, clone = sample
    docs = rows(
        db,
        "SELECT d.path, COUNT(*) FROM documents d JOIN versions v"
        " ON v.document_id = d.id GROUP BY d.id ORDER BY d.path",
    )
    assert len(docs) == 44
    copied = "Google Ads/Parent Organization Privacy Policy.md"  # a copy of AdSense's
    checked = [d for i, d in enumerate(docs) if i % 3 == 0 or d[0] == copied]  # ~1 s of git
    copies = 0
    for path, count in checked:
        follow = git_in(
            clone,
            "log",
            "--follow",
            "--first-parent",
            "--format=%x01%H",
            "--name-status",
            "--",
            path,
        ).decode()
        commits = [entry.split("\n", 2) for entry in follow.split("\x01")[1:]]
        # --follow also follows a copy back into its original's history; in the archive a
        # copy is a new document (the original lives on), so its history starts there.
        history = []
        for oid, _, status in commits:
            history.append(oid)
            if status.startswith("C"):
                copies += 1
                break
        assert count == len(history), path
    assert copies >= 1  # the sample has copies, so this difference is exercised


def test_sample_log_follow_counts_match_git_log_follow(sample: tuple[Path, Path]) -> None:
    """`archive log --follow` lists what `git log --follow --first-parent` lists, copies
    included: the copied document starts with its original's versions up to the copy."""
    db, clone = sample
    paths = [r[0] for r in rows(db, "SELECT path FROM documents ORDER BY path")]
    copied = "Google Ads/Parent Organization Privacy Policy.md"
    checked = [p for i, p in enumerate(paths) if i % 3 == 1 or p == copied]  # ~1 s of git
    for path in checked:
        code, out, err = run_cli("log", path, "--follow", "--json", db=db)
        assert code == 0, err
        versions = json.loads(out)["versions"]
        oids = git_in(clone, "log", "--follow", "--first-parent", "--format=%H", "--", path)
        assert len(versions) == len(oids.split()), path
        assert [v["commit"] for v in versions] == oids.decode().split()[::-1], path
    code, out, _ = run_cli("log", copied, "--json", "--follow", db=db)
    versions = json.loads(out)["versions"]
    assert versions[0]["document"]["path"] == "AdSense/Parent Organization Privacy Policy.md"
    assert versions[1]["copied_from_version_id"] == versions[0]["id"]
    code, out, _ = run_cli("log", copied, db=db)
    assert "copied from AdSense/Parent Organization Privacy Policy.md@1" in out
    kinds = dict(rows(db, "SELECT kind, COUNT(*) FROM versions GROUP BY kind"))
    assert kinds.get("restored", 0) == 0 and kinds["reverted"] == 324  # no deletion in it


def test_sample_version_bytes_match_git_show(sample: tuple[Path, Path]) -> None:
    db, clone = sample
    versions = rows(
        db, 'SELECT "commit", path, blob FROM versions WHERE blob IS NOT NULL ORDER BY id'
    )
    assert len(versions) == 1383
    spec = "".join(f"{commit}:{path}\n" for commit, path, _ in versions)
    replies = subprocess.run(
        ["git", f"--git-dir={clone}", "cat-file", "--batch"],
        input=spec.encode(),
        check=True,
        env=GIT_ENV,
        capture_output=True,
    ).stdout
    at = 0
    with Store(db) as store:
        for commit, path, blob in versions:
            end = replies.index(b"\n", at)
            size = int(replies[at:end].split()[2])
            expected, at = replies[end + 1 : end + 1 + size], end + 2 + size
            data = store.read_content(blob)
            assert blake3_hex(data) == blob
            assert data == expected, (commit, path)


# A diff worker that dies (OOM kill, crash): one-line error, finished batches kept, re-run
# completes. The pool thresholds are lowered in a launcher so this small history uses it.
POOLED = (
    "from archive.diffs import pipeline\npipeline.POOL_MIN_PAIRS, pipeline.POOL_MIN_CHARS = 1, 0"
)


def run_pooled(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`archive ARGS` in its own process, every diff computed in a 2-worker pool."""
    return run_archive_after(POOLED, *args, env={"ARCHIVE_DIFF_WORKERS": "2", **(env or {})})


def assert_one_line_worker_error(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"Error: {WORKER_DIED}"]


def test_a_dead_diff_worker_is_one_line_and_a_rerun_completes(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    build_history(repo, 0, 9)
    whole, died = tmp_path / "whole.db", tmp_path / "died.db"
    assert run_pooled("ingest", "--git", str(repo.root), "--db", str(whole)).returncode == 0
    args = ("ingest", "--git", str(repo.root), "--db", str(died), "--batch", "2")
    # commits 0-2 add the documents; the third diff falls in the third batch (commits 5, 6)
    result = run_pooled(*args, env={"ARCHIVE_KILL_AT": "diff_worker:3"})
    assert_one_line_worker_error(result)
    assert rows(died, "SELECT COUNT(*) FROM commits") == [(4,)]  # finished batches stay
    kept = table_rows(died, "diffs")  # theirs, and none of the open batch's
    assert 0 < len(kept) < 3 and kept == table_rows(whole, "diffs")[: len(kept)]
    orphans = 'SELECT COUNT(*) FROM versions v LEFT JOIN commits c ON c.oid = v."commit"'
    assert rows(died, orphans + " WHERE c.oid IS NULL") == [(0,)]
    assert sqlite3.connect(died).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    resumed = run_pooled(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert "5 commits" in resumed.stdout
    for table in ("documents", "blobs", "versions", "diffs", "commits"):
        drop = TIMES + ("run_id",)  # the failed run and its resumption are two runs
        assert table_rows(died, table, drop) == table_rows(whole, table, drop), table
    verified = run_archive("verify", "--db", str(died))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_dead_diff_worker_in_a_folder_ingest_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(4):
        (folder / f"doc{i}.txt").write_bytes(text(5, f"v1 {i}"))
    db, clean = tmp_path / "died.db", tmp_path / "clean.db"
    for target in (db, clean):
        assert run_pooled("ingest", str(folder), "--db", str(target)).returncode == 0
    for i in range(4):
        (folder / f"doc{i}.txt").write_bytes(text(5, f"v2 {i}"))
    before = archive_state(db)
    # the folder path diffs through the pipeline's pool too: its workers exit on any diff
    dies = "import os\nfrom archive import diffs\ndiffs.diff_texts = lambda old, new: os._exit(1)"
    result = run_archive_after(
        f"{POOLED}\n{dies}",
        "ingest",
        str(folder),
        "--db",
        str(db),
        env={"ARCHIVE_DIFF_WORKERS": "2"},
    )
    assert_one_line_worker_error(result)
    assert archive_state(db) == before
    assert run_pooled("ingest", str(folder), "--db", str(db)).returncode == 0
    assert run_pooled("ingest", str(folder), "--db", str(clean)).returncode == 0
    assert archive_state(db) == archive_state(clean)
    assert table_rows(db, "diffs") == table_rows(clean, "diffs")
