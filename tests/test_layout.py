"""The layout stays as the README describes it: scripts/layout_check.py passes, and fails
on a cycle or a private cross-import planted in a copy of the tree."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "layout_check.py"


def check(root) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(root / "scripts" / "layout_check.py")], capture_output=True, text=True
    )


def test_the_layout_has_no_cycles_no_oversized_modules_no_private_imports():
    result = check(ROOT)
    assert result.returncode == 0, result.stdout


def test_the_check_finds_a_planted_cycle_and_private_import(tmp_path):
    for name in ("archive", "ingest", "scripts"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("*.so"))
    store = tmp_path / "archive" / "store" / "content.py"
    late = "\n\ndef _late():\n    from archive.record import folder\n"  # lazy, still a cycle
    store.write_text(store.read_text() + late)
    ingest = tmp_path / "ingest" / "hashing.py"
    ingest.write_text(ingest.read_text() + "\nfrom archive.diffs.lines import _x\n")
    out = check(tmp_path).stdout
    assert "cycle: " in out and "archive.store.content" in out
    assert "imports a later stage: archive.store.content -> archive.record.folder" in out
    assert "private import: ingest.hashing imports _x" in out
    assert "ingest imports archive: ingest.hashing -> archive.diffs.lines" in out
