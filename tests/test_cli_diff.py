"""`archive diff`: every format, stored vs computed pairs, files, documents, errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from archive import diffs
from tests.conftest import run_archive, run_cli
from tests.tools import need_tool

# Every test here runs on both diff engines (compiled core and pure-Python reference).
pytestmark = pytest.mark.usefixtures("diff_engine")


OLD = "Terms of service.\nThe fee is <b>ten</b> euros.\nBye.\n"
NEW = "Terms of service.\nThe fee is <script>alert(1)</script> euros.\nBye.\n"


@pytest.fixture
def archive(db: Path, folder: Path) -> Path:
    """doc.txt at versions 1 and 2, other.txt at version 1, and a binary file."""
    (folder / "doc.txt").write_text(OLD)
    (folder / "other.txt").write_text("Another document entirely.\n")
    (folder / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x01\x02")
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    (folder / "doc.txt").write_text(NEW)
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    return db


def diff_json(db: Path, *args: str) -> dict:
    code, out, err = run_cli("diff", *args, "--format", "json", db=db)
    assert code == 0, err
    return json.loads(out)


def test_json_of_a_version_against_the_one_before(archive):
    got = diff_json(archive, "doc.txt@2")
    assert (got["from"]["ref"], got["to"]["ref"]) == ("doc.txt@1", "doc.txt@2")
    assert got["algorithm"] == diffs.ALGORITHM and got["change_class"] == "substantive"
    assert got["engine"] == diffs.engine_name()  # the engine in use, as this test sets it
    assert got["stats"]["words_deleted"] >= 2 and got["coarse"] is False
    assert diffs.expand_ops(OLD, got["ops"]) == diffs.diff_texts(OLD, NEW).ops
    assert got == diff_json(archive, "doc.txt@1", "doc.txt@2")


def test_uses_the_stored_diff_when_the_pair_is_stored(archive):
    conn = sqlite3.connect(archive)
    conn.execute("UPDATE diffs SET algorithm = 'stored-marker'")
    conn.commit()
    conn.close()
    assert diff_json(archive, "doc.txt@2")["algorithm"] == "stored-marker"
    # The reverse pair is not stored: computed.
    assert diff_json(archive, "doc.txt@2", "doc.txt@1")["algorithm"] == diffs.ALGORITHM


def test_html_escapes_document_text(archive):
    code, out, _ = run_cli("diff", "doc.txt@1", "doc.txt@2", "--format", "html", db=archive)
    assert code == 0
    assert "<script" not in out and "<b>" not in out and "&lt;" in out and "alert(1)" in out
    assert "<ins>" in out and "<del>" in out and out.startswith("<!DOCTYPE html>")
    # A page to send: styled, with a header naming both sides, their dates and hashes.
    assert "<style>" in out and ".archive-diff ins" in out and out.rstrip().endswith("</html>")
    assert "<title>doc.txt@1 → doc.txt@2</title>" in out
    conn = sqlite3.connect(archive)
    for blob, observed in conn.execute(
        "SELECT blob, observed_at FROM versions WHERE path = 'doc.txt'"
    ):
        assert blob in out and observed in out
    conn.close()
    code, out, _ = run_cli("diff", "doc.txt@2", "--format", "html", "--side-by-side", db=archive)
    assert code == 0 and "diff-side-by-side" in out and "<script" not in out


def test_patch_applies_with_patch(archive, tmp_path):
    need_tool("patch")
    code, out, _ = run_cli("diff", "doc.txt@2", "--format", "patch", db=archive)
    assert code == 0 and out.startswith("--- a/doc.txt@1\n+++ b/doc.txt@2\n")
    target = tmp_path / "target.txt"
    target.write_text(OLD)
    subprocess.run(["patch", "-s", str(target)], input=out, text=True, check=True)
    assert target.read_text() == NEW


def test_stat_line(archive):
    code, out, _ = run_cli("diff", "doc.txt@2", "--format", "stat", db=archive)
    assert code == 0
    assert out.endswith("substantive\n") and " words, " in out and "hunk" in out


def test_terminal_has_no_colour_unless_asked(archive):
    code, out, _ = run_cli("diff", "doc.txt@2", db=archive)
    assert code == 0 and "\x1b[" not in out
    assert "[-b>ten-]{+script>alert(1)+}" in out
    code, out, _ = run_cli("diff", "doc.txt@2", "--color", db=archive)
    assert code == 0 and "\x1b[31m" in out and "\x1b[32m" in out
    proc = run_archive("diff", "doc.txt@2", "--db", str(archive))  # a pipe, not a tty
    assert proc.returncode == 0 and "\x1b[" not in proc.stdout and "{+" in proc.stdout


def test_files_on_disk_and_cross_document(archive, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes("caf\xe9 ouvert\n".encode("cp1252"))
    b.write_text("café fermé\n")
    got = diff_json(archive, str(a), str(b))
    assert got["from"] == {"ref": str(a), "blake3": None}
    assert [op for op in got["ops"] if op[0] != 0] == [[-1, "ouvert"], [1, "fermé"]]
    cross = diff_json(archive, "doc.txt@1", "other.txt@1")
    assert cross["change_class"] == "substantive" and cross["to"]["ref"] == "other.txt@1"
    prefix = cross["to"]["blake3"][:10]
    assert diff_json(archive, "doc.txt@1", prefix)["ops"] == cross["ops"]


def test_errors_are_one_line(archive, tmp_path):
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    proc = run_archive("diff", "doc.txt@1", str(png), "--db", str(archive))
    assert proc.returncode == 1 and "binary" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert run_cli("diff", "doc.txt@1", "blob.bin@1", db=archive)[0] == 1
    assert run_cli("diff", "doc.txt@1", db=archive)[0] == 2  # nothing before version 1
    assert run_cli("diff", "nothing.txt@1", "doc.txt@1", db=archive)[0] == 2


def test_context_folds_html_and_terminal_alike(archive):
    """Lines 1 and 3 are context of the changed line 2: with --context 0 both formats drop
    them from view (HTML folds them, terminal omits them); `all` shows the whole text."""
    code, out, _ = run_cli("diff", "doc.txt@2", "--format", "html", "--context", "0", db=archive)
    assert code == 0 and out.count('<details class="fold">') == 2
    assert "<summary>1 unchanged line</summary>" in out and "<script" not in out
    code, out, _ = run_cli("diff", "doc.txt@2", "--format", "html", db=archive)
    assert code == 0 and "<details" not in out  # default 3: all within context
    code, out, _ = run_cli("diff", "doc.txt@2", "--context", "0", db=archive)
    assert code == 0 and "Terms of service." not in out and "@@ -2 +2 @@" in out
    code, out, _ = run_cli("diff", "doc.txt@2", "--context", "all", db=archive)
    assert code == 0 and "@@" not in out and out.splitlines()[1] == "Terms of service."
    code, _, err = run_cli("diff", "doc.txt@2", "--context", "some", db=archive)
    assert code == 2 and "not a number of lines or all" in err
