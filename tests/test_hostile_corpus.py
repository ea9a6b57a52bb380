"""A hostile folder made on the spot: every name, encoding, link, type and metadata trap, and
one large sparse file. The run completes, every file ends as a version or a problem, nothing
from outside the root gets in, and the archive verifies."""

from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
import zipfile
from pathlib import Path

import blake3
import pytest

from ingest.chunks import LARGE_CONTENT
from ingest.paths import path_bytes, path_text
from tests.conftest import run_archive, run_cli
from tests.test_hostile_ingest import HOSTILE_YAML

SECRET = b"TOP SECRET: outside the root\n"
# Just past SQLite's default largest string or blob (1,000,000,000 bytes): stored whole it
# aborted the run ("string or blob too big").
LARGE = 1_000_000_007
NAMES = [
    b"\xff.txt",
    b"\\xff.txt",
    b"caf\xe9.txt",
    b"line\nbreak.txt",
    b"carriage\rreturn.txt",
    b"tab\there.txt",
    b"\x1b[31mred\x1b[0m.txt",
    b"\x1b]0;title\x07.txt",
    "rtl\u202eexe.txt".encode(),
    "caf\u00e9-nfc.txt".encode(),
    "cafe\u0301-nfc.txt".encode(),
    b"100%.txt",
    b"%25.txt",
    b"-rf",
    b"..dots",
    b" leading space.txt",
    b"x" * 250 + b".txt",
    b"<script>alert(1)</script>.html",
    b"back\\slash.txt",
    b"\x7fdel.txt",
    "\u0085next-line.txt".encode(),
    "emoji-\U0001f600.txt".encode(),
]


def _docx_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<x/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as f:
            for _ in range(300):
                f.write(b"\0" * (1 << 20))
    return buf.getvalue()


CONTENTS: dict[str, bytes] = {
    "utf16-bom.txt": "\ufeffh\u00e9llo".encode("utf-16-le"),
    "utf16-nobom.txt": "hello".encode("utf-16-le"),
    "invalid-utf8.txt": b"ok \xc3\x28 \xa0\xa1 \xf0\x28\x8c\xbc",
    "nuls.txt": b"a\0b\0c\n" * 100,
    "cr-only.txt": b"one\rtwo\rthree\r",
    "mixed-newlines.txt": b"a\r\nb\nc\rd",
    "one-long-line.txt": b"word " * 200_000,
    "bom-only.txt": b"\xef\xbb\xbf",
    "empty.txt": b"",
    "binary.txt": bytes(range(256)) * 4,
    "binary.html": b"\0\1\2<html>" + bytes(range(256)),
    "fake.pdf": b"%PDF-1.7\n" + b"\xff" * 500,
    "fake.docx": b"PK\x03\x04" + b"\0" * 100,
    "bomb.docx": _docx_bomb(),
    "deep.html": b"<html><body>" + b"<div>" * 50_000 + b"deep" + b"</div>" * 50_000,
    "scripts.html": b"<html><script>alert(1)</script><p onclick=x>text</p></html>",
    "gzip.txt": b"\x1f\x8b\x08\x00" + b"\0" * 40,
    "control.txt": bytes(range(32)) * 10,
    "regex-bomb.txt": b"a" * 50_000 + b"!" + b"1" * 50_000 + b"January " * 5000,
    "dates.md": b"Published 2024-02-30, 31/02/2024 and February 30, 2024.\n",
}


def build(root: Path, outside: Path) -> set[bytes]:
    """The hostile folder; returns the raw relative names of every non-folder entry."""
    broot = os.fsencode(root)
    made: set[bytes] = set()

    def put(name: bytes, data: bytes) -> None:
        path = os.path.join(broot, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        made.add(name)

    for i, name in enumerate(NAMES):
        put(name, b"document %d\n" % i)
    for name, data in CONTENTS.items():
        put(name.encode(), data)
    for i, body in enumerate(HOSTILE_YAML):
        put(b"fm/%02d.md" % i, f"---\n{body}\n---\nbody {i}\n".encode())
        put(b"sidecars/%02d.txt" % i, b"described %d\n" % i)
        put(b"sidecars/%02d.txt.meta.yml" % i, body.encode())
    for i, body in enumerate(['{"n": ' + "9" * 5000 + "}", '{"s": "\\ud800"}', "[" * 50_000]):
        put(b"json/%d.txt" % i, b"json %d\n" % i)
        put(b"json/%d.txt.meta.json" % i, body.encode())
    put(b"json/orphan.txt.meta.json", b'{"url": "x"}')
    put(b"json/two.txt", b"two sidecars\n")
    put(b"json/two.txt.meta.json", b'{"url": "a"}')
    put(b"json/two.txt.meta.yml", b"url: b\n")
    # Links and special files.
    (outside / "secret.txt").write_bytes(SECRET)
    links = {
        b"links/outside.txt": str(outside / "secret.txt"),
        b"links/dotdot.txt": "../../outside/secret.txt",
        b"links/loop": "loop",
        b"links/broken": "nowhere",
        b"links/dir": "..",
        b"links/inside.txt": "../empty.txt",
    }
    os.makedirs(os.path.join(broot, b"links"))
    for name, target in links.items():
        os.symlink(target, os.path.join(broot, name))
        made.add(name)
    os.mkfifo(os.path.join(broot, b"fifo"))
    made.add(b"fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(root, "socket"))
    sock.close()
    made.add(b"socket")
    os.link(os.path.join(broot, b"empty.txt"), os.path.join(broot, b"hardlink.txt"))
    made.add(b"hardlink.txt")
    deep = b"/".join([b"d"] * 60) + b"/deep.txt"
    put(deep, b"deep\n")
    # Hundreds of small files of every kind above, in a few folders.
    for i in range(300):
        name = NAMES[i % len(NAMES)][:200]
        put(b"many/%03d-" % i + name, b"small %d " % i + bytes([i % 256]) * (i % 7))
    # One large sparse file (zeros, no disk used).
    with open(os.path.join(broot, b"large.bin"), "wb") as f:
        f.truncate(LARGE)
    made.add(b"large.bin")
    return made


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, Path, set[bytes], int, dict]:
    tmp = tmp_path_factory.mktemp("hostile")
    root, outside = tmp / "root", tmp / "outside"
    root.mkdir()
    outside.mkdir()
    made = build(root, outside)
    db = tmp / "archive.db"
    code, out, err = run_cli("ingest", str(root), "--json", db=db)
    return root, db, made, code, json.loads(out)


def test_the_run_completes_with_problems_listed(hostile):
    _root, _db, made, code, summary = hostile
    assert code == 1  # problems were recorded, the run went on
    assert summary["files_seen"] > 350
    assert all("\n" not in p["reason"] for p in summary["problem_list"])


def test_every_file_ends_as_a_version_or_a_problem(hostile):
    _root, db, made, _code, summary = hostile
    conn = sqlite3.connect(db)
    documents = {path_bytes(p) for (p,) in conn.execute("SELECT path FROM documents")}
    sidecars = {
        path_bytes(p)
        for (p,) in conn.execute("SELECT v.path FROM versions v WHERE v.sidecar_blob IS NOT NULL")
    }
    problems = {path_bytes(p["path"]) for p in summary["problem_list"]}
    described = {s + b".meta.yml" for s in sidecars} | {s + b".meta.json" for s in sidecars}
    missing = made - documents - problems - described
    assert not missing, sorted(missing)[:10]
    # Names that differ in one byte stay different documents.
    assert {b"\xff.txt", b"\\xff.txt", b"caf\xe9.txt"} <= documents
    assert path_text(b"\\xff.txt") != path_text(b"\xff.txt")


def test_nothing_outside_the_root_is_archived(hostile):
    _root, db, _made, _code, summary = hostile
    conn = sqlite3.connect(db)
    secret = blake3.blake3(SECRET).hexdigest()
    assert conn.execute("SELECT count(*) FROM blobs WHERE blake3 = ?", (secret,)).fetchone() == (0,)
    reasons = {p["path"]: p["reason"] for p in summary["problem_list"]}
    assert "outside" in reasons["links/outside.txt"]
    assert "outside" in reasons["links/dotdot.txt"]


def test_the_large_file_is_archived_exactly_and_verifies(hostile):
    _root, db, _made, _code, _summary = hostile
    conn = sqlite3.connect(db)
    row = conn.execute(
        "SELECT b.blake3, b.size, b.flags FROM versions v JOIN blobs b ON b.blake3 = v.blob"
        " WHERE v.path = 'large.bin'"
    ).fetchone()
    zeros = blake3.blake3(max_threads=blake3.blake3.AUTO)
    block = bytes(1 << 24)
    left = LARGE
    while left:
        zeros.update(block[: min(left, len(block))])
        left -= min(left, len(block))
    assert row[0] == zeros.hexdigest() and row[1] == LARGE and "large" in row[2]
    assert LARGE > LARGE_CONTENT
    result = run_archive("verify", "--db", str(db))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_second_run_changes_nothing(hostile):
    root, db, _made, _code, first = hostile
    code, out, _ = run_cli("ingest", str(root), "--json", db=db)
    again = json.loads(out)
    assert again["new_versions"] == 0
    # Problems of the files themselves again; those of contents were noted when first stored.
    seen = {(p["path"], p["reason"]) for p in first["problem_list"]}
    assert {(p["path"], p["reason"]) for p in again["problem_list"]} <= seen
