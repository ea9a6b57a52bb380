"""Build a small archive for the publishing tests: corpus/, hostile documents, two runs.

Shared by tests/test_publish.py (Datasette's test client) and the real-browser tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from archive.passages.indexing import indexed_snapshot
from archive.record.folder import ingest_folder
from archive.store import Store

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
XSS = ROOT / "tests" / "fixtures" / "xss"
# File names that are themselves payloads: made at run time (see tests/fixtures/xss/README.md).
HOSTILE_NAMES = {
    "<img src=x onerror=alert(1)>.txt": b"named like an img tag\n",
    '"><svg onload=alert(1)>.txt': b"named like an svg tag\n",
    "javascript:alert(1).txt": b"named like a javascript: URL\n",
}
# Text that stretches pages: one unbroken 3,000-character word, a long URL, long code lines,
# right-to-left paragraphs and a long file name (each must wrap or scroll in its own box).
LONG_WORD = "Donaudampfschifffahrtsgesellschaft" * 90
LONG_URL = "https://example.org/" + "/".join(f"segment-{i}" for i in range(120)) + "?q=" + "x" * 300
LONG_NAME = "a-very-long-file-name-" + "without-any-spaces-" * 10 + "end.txt"
WIDE = {
    "wide-text.txt": (
        f"Opening clause with {LONG_WORD} inside it.\n\nSee {LONG_URL} for the rest.\n\n"
        + "    code = call("
        + ", ".join(f"argument_{i}" for i in range(80))
        + ")\n\n"
        + "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 " * 200
        + "\n\n"
        + "\u05e2\u05d1\u05e8\u05d9\u05ea" * 300
        + "\n"
    ).encode(),
    LONG_NAME: b"A document whose name is longer than a phone screen is wide.\n",
}
BINARY = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"<script>alert(1)</script>"
APPENDED = b"\nAmended clause: <script>alert('v2')</script> takes effect.\n"


def build_archive(tmp: Path) -> Path:
    """An immutable-ready snapshot `tmp/archive.db` with 2+ versions of several documents."""
    src = tmp / "src"
    src.mkdir(parents=True)
    for folder in (CORPUS, XSS):
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.name != "README.md":
                shutil.copyfile(f, src / f.name)
    for name, data in {**HOSTILE_NAMES, **WIDE}.items():
        (src / name).write_bytes(data)
    (src / "image.png").write_bytes(BINARY)
    work = tmp / "work.db"
    with Store(work) as store:
        ingest_folder(store, str(src), "archive ingest src")
        corpus_doc = sorted(CORPUS.iterdir())[0].name
        with open(src / corpus_doc, "ab") as f:
            f.write(APPENDED)
        (src / "script-tags.txt").write_bytes(b"<script>alert('second')</script>\n")
        wide = WIDE["wide-text.txt"] + f"Second run: {LONG_WORD[::-1]} {LONG_URL}/more\n".encode()
        (src / "wide-text.txt").write_bytes(wide)
        (src / "image.png").unlink()
        ingest_folder(store, str(src), "archive ingest src")
        snapshot = tmp / "archive.db"
        indexed_snapshot(store, snapshot, public=False)  # as `archive serve` takes it
    return snapshot


def plugin_env(tmp: Path) -> dict[str, str]:
    """Environment for a Datasette subprocess: this checkout first on the path, so the
    installed entry point loads OUR plugin code (as `make test` installs it)."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env
