"""The `archive` command: output, --json, exit codes, one-line errors."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import CORPUS, run_archive, run_cli

SEED = "000_7757f9e639917cb7.txt"


def test_ingest_twice_then_log_and_show(db):
    code, out, _ = run_cli("ingest", str(CORPUS), db=db)
    assert code == 0
    assert "2 new versions (2 added)" in out
    code, out, _ = run_cli("ingest", str(CORPUS), db=db)
    assert code == 0 and "0 new versions" in out and "2 unchanged" in out
    code, out, _ = run_cli("log", str(CORPUS / SEED), db=db)
    assert code == 0
    assert out.splitlines()[0] == f"corpus:{SEED} (#1, present)"
    assert out.splitlines()[1].startswith("@1    added")
    result = run_archive("show", f"{SEED}@1", "--db", str(db))
    assert result.returncode == 0
    assert result.stdout.encode() == (CORPUS / SEED).read_bytes()


def test_json_output(db):
    code, out, _ = run_cli("ingest", str(CORPUS), "--json", db=db)
    summary = json.loads(out)
    assert summary["new_versions"] == 2 and summary["kinds"] == {"added": 2}
    code, out, _ = run_cli("log", f"corpus:{SEED}", "--json", db=db)
    data = json.loads(out)
    assert [v["kind"] for v in data["versions"]] == ["added"]
    assert data["versions"][0]["blob"] == (
        "e9efdd4a0acd5b6339f9993bc89e0ab45b88819a7854ddf7f035a37d39f80f3f"
    )


def test_version_references(db, folder):
    (folder / "a.txt").write_text("one")
    run_cli("ingest", str(folder), db=db)
    (folder / "a.txt").write_text("two")
    run_cli("ingest", str(folder), db=db)
    for ref, expected in [
        ("a.txt@1", "one"),
        ("a.txt@2", "two"),
        ("a.txt", "two"),
        ("a.txt@-1", "two"),
        ("a.txt@-2", "one"),
        ("#1@latest", "two"),
        ("docs:a.txt@1", "one"),
    ]:
        result = run_archive("show", ref, "--db", str(db))
        assert (result.returncode, result.stdout) == (0, expected), ref


def test_user_mistakes_are_one_line_errors(db, folder, tmp_path):
    (folder / "a.txt").write_text("one")
    run_cli("ingest", str(folder), db=db)
    cases = [
        (("show", "nope.txt@1", "--db", str(db)), 2, "no document named 'nope.txt'"),
        (("show", "a.txt@5", "--db", str(db)), 2, "a.txt has versions 1 to 1, not 5"),
        (("show", "a.txt@x", "--db", str(db)), 2, "bad version number"),
        (("log", "a.txt", "--db", str(tmp_path / "none.db")), 1, "no archive at"),
        (("ingest", str(tmp_path / "missing"), "--db", str(db)), 2, "does not exist"),
        (("ingest", str(folder / "a.txt"), "--db", str(db)), 2, "is a file"),  # alike: usage
        (("frobnicate",), 2, "No such command"),
    ]
    for args, code, message in cases:
        result = run_archive(*args)
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr
        assert "Traceback" not in result.stderr


def test_not_an_archive_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    result = run_archive("log", "x", "--db", str(junk))
    assert result.returncode == 1
    assert "is not a usable archive" in result.stderr and "Traceback" not in result.stderr
    assert junk.read_bytes() == b"this is not sqlite" * 100


def test_deleted_version_has_no_content(db, folder):
    (folder / "a.txt").write_text("one")
    run_cli("ingest", str(folder), db=db)
    (folder / "a.txt").unlink()
    run_cli("ingest", str(folder), db=db)
    result = run_archive("show", "a.txt@2", "--db", str(db))
    assert result.returncode == 1 and "is a deletion" in result.stderr


def test_problems_give_exit_status_1(db, folder):
    import os

    (folder / "a.txt").write_text("one")
    os.mkfifo(folder / "fifo")
    result = run_archive("ingest", str(folder), "--db", str(db))
    assert result.returncode == 1
    assert "problem: fifo: not a regular file (fifo)" in result.stderr
    assert "1 problems" in result.stdout
    rows = sqlite3.connect(db).execute("SELECT path, reason FROM problems").fetchall()
    assert rows == [("fifo", "not a regular file (fifo)")]


def test_version_says_which_diff_engine_runs():
    """`archive --version` names the engine: the compiled core by default, the pure-Python
    reference with ARCHIVE_PURE_DIFF=1 (so a user can tell which one made a diff)."""
    default = run_archive("--version", env={"ARCHIVE_PURE_DIFF": "0"})
    pure = run_archive("--version", env={"ARCHIVE_PURE_DIFF": "1"})
    assert default.returncode == pure.returncode == 0
    assert default.stdout.endswith("(diff engine: compiled)\n")
    assert pure.stdout.endswith("(diff engine: pure-python)\n")
