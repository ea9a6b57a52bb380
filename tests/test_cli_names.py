"""The CLI accepts back every name it prints: old paths after a rename, `source:path@n` from
lookup, hash prefixes, bare ids; unknown names get close matches; --db goes anywhere."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import blake3
import pytest

from tests.conftest import run_archive, run_cli


@pytest.fixture
def renamed(tmp_path: Path) -> tuple[Path, Path]:
    """An archive where timeline.md was renamed (content unchanged) and a.txt modified."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("alpha one\n")
    (docs / "timeline.md").write_text("# Timeline\n\n1990: founded.\n2000: renamed.\n")
    db = tmp_path / "archive.db"
    assert run_cli("ingest", str(docs), db=db)[0] == 0
    (docs / "timeline.md").rename(docs / "06-timeline.md")
    (docs / "a.txt").write_text("alpha two\n")
    assert run_cli("ingest", str(docs), db=db)[0] == 0
    return db, docs


def test_an_old_path_names_the_renamed_document(renamed) -> None:
    db, _ = renamed
    code, out, err = run_cli("log", "timeline.md", db=db)
    assert code == 0, err
    assert out.splitlines()[0].startswith("docs:06-timeline.md")
    code, out, _ = run_cli("show", "docs:timeline.md@1", db=db)
    assert code == 0 and out.startswith("# Timeline")


def test_every_ref_lookup_prints_is_accepted_back(renamed) -> None:
    db, docs = renamed
    code, out, _ = run_cli("lookup", str(docs / "06-timeline.md"), db=db)
    assert code == 0
    refs = re.findall(r"^(\S+@\d+)", out, re.M)
    assert len(refs) == 2  # before and after the rename
    content = (docs / "06-timeline.md").read_bytes()
    for ref in refs:
        code, shown, err = run_cli("show", ref, db=db)
        assert code == 0, err
        assert shown.encode() == content
        assert run_cli("meta", ref, db=db)[0] == 0
        assert run_cli("proof", ref, db=db)[0] == 0


def test_hash_prefixes_name_versions_everywhere(renamed) -> None:
    db, docs = renamed
    digest = blake3.blake3((docs / "a.txt").read_bytes()).hexdigest()
    for command in ("show", "meta", "proof"):
        code, out, err = run_cli(command, digest[:10], db=db)
        assert code == 0, (command, err)
    assert run_cli("show", digest[:10], db=db)[1] == "alpha two\n"


def test_ids_work_bare_and_with_a_hash_sign(renamed) -> None:
    db, _ = renamed
    first = run_cli("log", "#1", db=db)
    assert first[0] == 0 and run_cli("log", "1", db=db)[1] == first[1]


def test_unknown_names_get_close_matches(renamed) -> None:
    db, _ = renamed
    code, _, err = run_cli("log", "06-timelin.md", db=db)
    assert code == 2
    assert "did you mean 06-timeline.md" in err and "archive ls" in err
    assert "Traceback" not in err


def test_ls_lists_documents_with_filters(renamed, tmp_path) -> None:
    db, docs = renamed
    code, out, _ = run_cli("ls", db=db)
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["docs:06-timeline.md", "docs:a.txt"]
    (docs / "a.txt").unlink()
    run_cli("ingest", str(docs), db=db)
    code, out, _ = run_cli("ls", "--status", "deleted", db=db)
    assert [line.split()[0] for line in out.splitlines()] == ["docs:a.txt"]
    code, out, _ = run_cli("ls", "*.md", "--json", db=db)
    rows = json.loads(out)
    assert [r["path"] for r in rows] == ["06-timeline.md"] and rows[0]["versions"] == 2
    assert run_cli("ls", "--source", "nope", db=db)[0] == 2


def test_db_before_or_after_the_command_and_from_the_environment(renamed, tmp_path) -> None:
    db, _ = renamed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = run_archive("--db", str(db), "proof", "a.txt@1", cwd=elsewhere)
    after = run_archive("proof", "a.txt@1", "--db", str(db), cwd=elsewhere)
    env = run_archive("proof", "a.txt@1", env={"ARCHIVE_DB": str(db)}, cwd=elsewhere)
    assert before.returncode == after.returncode == env.returncode == 0, before.stderr
    assert before.stdout == after.stdout == env.stdout
    missing = run_archive("log", "a.txt", cwd=elsewhere)
    assert missing.returncode == 1
    assert str(elsewhere / "archive.db") in missing.stderr and "ARCHIVE_DB" in missing.stderr
    assert not (elsewhere / "archive.db").exists()


def test_diff_of_two_files_needs_no_archive(tmp_path) -> None:
    (tmp_path / "x.txt").write_text("one two three\nfour\n")
    (tmp_path / "y.txt").write_text("one 2 three\nfour\n")
    for fmt in ("terminal", "json", "html", "patch", "stat"):
        result = run_archive("diff", "x.txt", "y.txt", "--format", fmt, cwd=tmp_path)
        assert result.returncode == 0, (fmt, result.stderr)
        assert "1 hunk" in result.stdout if fmt == "stat" else "2" in result.stdout
    assert not (tmp_path / "archive.db").exists()
    versions = run_archive("diff", "x.txt@1", "y.txt", cwd=tmp_path)
    assert versions.returncode == 1 and "no archive at" in versions.stderr


def test_diff_of_a_path_compares_the_file_with_its_latest_version(renamed) -> None:
    db, docs = renamed
    (docs / "a.txt").write_text("alpha three\n")
    code, out, err = run_cli("diff", str(docs / "a.txt"), "--no-color", db=db)
    assert code == 0, err
    assert "a.txt@2" in out.splitlines()[0] and "on disk" in out.splitlines()[0]
    assert "[-two-]{+three+}" in out
    (docs / "a.txt").write_text("alpha two\n")
    code, out, _ = run_cli("diff", str(docs / "a.txt"), db=db)
    assert code == 0 and "same as a.txt@2" in out


def test_cwd_is_not_where_the_names_come_from(renamed) -> None:
    db, docs = renamed
    here = os.getcwd()
    try:
        os.chdir(docs)
        assert run_cli("log", "a.txt", db=db)[0] == 0  # a path on disk inside the source
    finally:
        os.chdir(here)


def test_ingest_names_what_changed(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(25):
        (docs / f"d{i:02}.txt").write_text(f"text {i}\n")
    (docs / "x\x1b[2J.txt").write_text("hostile name\n")
    db = tmp_path / "archive.db"
    code, out, _ = run_cli("ingest", str(docs), db=db)
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "  added     d00.txt" and len(lines) == 1 + 20 + 1
    assert lines[-1] == "  ... and 6 more (--json lists them all)"
    assert "\x1b" not in out
    (docs / "d00.txt").write_text("changed\n")
    (docs / "d01.txt").rename(docs / "moved.txt")
    (docs / "d02.txt").unlink()
    code, out, _ = run_cli("ingest", str(docs), "--json", db=db)
    assert json.loads(out)["changed"] == [
        {"kind": "modified", "path": "d00.txt"},
        {"kind": "deleted", "path": "d02.txt"},
        {"kind": "renamed", "path": "moved.txt", "old_path": "d01.txt"},
    ]


def test_a_waiting_ingest_says_so(tmp_path) -> None:
    import sqlite3

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("one\n")
    db = tmp_path / "archive.db"
    assert run_cli("ingest", str(docs), db=db)[0] == 0
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the archive
    try:
        result = run_archive(
            "ingest", str(docs), "--db", str(db), env={"ARCHIVE_BUSY_TIMEOUT": "0.2"}
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert "Waiting for another ingest to finish writing the archive" in result.stderr
    assert "is busy" in result.stderr


def test_ctrl_c_says_what_was_kept(tmp_path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("one\n")
    db = tmp_path / "archive.db"
    # An ingest interrupted (SIGINT: what Ctrl-C sends) while it hashes: nothing is kept.
    hang = (
        "import os, signal\n"
        "import archive.record.folder as f\n"
        "real = f.scan\n"
        "def scan(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(*a, **k)\n"
        "f.scan = scan\n"
        "from archive.cli import cli\n"
        "cli(prog_name='archive')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", hang, "ingest", str(docs), "--db", str(db)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 130, result.stderr
    assert "Interrupted: nothing was recorded" in result.stderr
    assert "Traceback" not in result.stderr


def test_log_without_a_name_lists_the_documents(renamed) -> None:
    db, _ = renamed
    assert run_cli("log", db=db)[1] == run_cli("ls", db=db)[1] != ""


def test_ctrl_c_in_a_git_import_says_which_commits_were_kept(tmp_path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.gitrepo import Repo

    repo = Repo(tmp_path / "repo")
    for i in range(5):
        repo.write("doc.txt", f"version {i}\n".encode())
        repo.commit(f"commit {i}")
    db = tmp_path / "archive.db"
    # Ctrl-C (KeyboardInterrupt) while the second batch of two commits is recorded.
    interrupt = (
        "import archive.record.git as g\n"
        "real = g._record_commit\n"
        "calls = []\n"
        "def record(*a, **k):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 3:\n"
        "        raise KeyboardInterrupt\n"
        "    return real(*a, **k)\n"
        "g._record_commit = record\n"
        "from archive.cli import cli\n"
        "cli(prog_name='archive')\n"
    )
    args = ["ingest", "--git", str(repo.root), "--batch", "2", "--db", str(db)]
    result = subprocess.run(
        [sys.executable, "-c", interrupt, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 130, result.stderr
    assert "Interrupted: the 2 commits of finished batches are kept" in result.stderr
    assert "Traceback" not in result.stderr
    again = run_archive(*args)
    assert again.returncode == 0 and "3 commits" in again.stdout  # the rest, not all again
