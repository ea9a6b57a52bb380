"""Hostile input through the archive: git trees, exports, the terminal, verify --corpus,
large contents in the store, and the swap race in a real ingest."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import blake3
import pytest

from archive.cli.common import shown
from archive.export import exportable, tag_value
from archive.export.bagit import export_bagit
from archive.store import Store
from ingest.chunks import LARGE_CONTENT
from tests.conftest import run_archive, run_cli
from tests.gitrepo import Repo
from tests.test_exports import _v, read_bytes
from tests.tools import need_tool

T1 = "2024-01-01T00:00:00Z"


def _mktree(repo: Repo, listing: str) -> str:
    done = subprocess.run(
        ["git", "mktree"], cwd=repo.root, input=listing.encode(), capture_output=True, check=True
    )
    return done.stdout.decode().strip()


@pytest.fixture
def hostile_repo(tmp_path: Path) -> Repo:
    """A history whose second commit's tree holds `.git/config`, `..` and `.GiT` entries."""
    repo = Repo(tmp_path / "r")
    repo.write("ok.txt", b"fine\n")
    first = repo.commit("clean")
    repo.write("loose", b"[core]\n\thooksPath = /tmp/evil\n")
    blob = repo.git("hash-object", "-w", "loose").decode().strip()
    ok = repo.rev("HEAD:ok.txt")
    sub = _mktree(repo, f"100644 blob {blob}\tconfig\n")
    top = _mktree(
        repo,
        f"040000 tree {sub}\t.git\n040000 tree {sub}\t..\n040000 tree {sub}\t.GiT\n"
        f"100644 blob {ok}\tok.txt\n100644 blob {blob}\tnew.txt\n",
    )
    commit = repo.git("commit-tree", top, "-p", first, "-m", "hostile").decode().strip()
    repo.git("update-ref", "refs/heads/main", commit)
    return repo


def test_hostile_git_tree_entries_are_problems_and_exports_work(tmp_path, hostile_repo):
    db = tmp_path / "a.db"
    code, out, err = run_cli("ingest", "--git", str(hostile_repo.root), "--json", db=db)
    summary = json.loads(out)
    assert code == 1
    assert sorted(p["path"] for p in summary["problem_list"]) == [
        "../config",
        ".GiT/config",
        ".git/config",
    ]
    conn = sqlite3.connect(db)
    assert sorted(r[0] for r in conn.execute("SELECT path FROM documents")) == [
        "new.txt",
        "ok.txt",
    ]
    assert conn.execute("SELECT count(*) FROM problems").fetchone() == (3,)
    for args in (["bagit", str(tmp_path / "bag")], ["ocfl", str(tmp_path / "ocfl")]):
        assert run_cli("export", *args, db=db)[0] == 0, args
    code, manifest, _ = run_cli("export", "manifest", db=db)
    assert code == 0 and ".." not in manifest


def test_one_unsafe_path_refuses_its_document_not_the_export(tmp_path):
    evil = _v(99, 9, "../x", 1, "added", "../x", b"x", T1, 1)
    good = _v(98, 8, "y", 1, "added", "y", b"y", T1, 1)
    twin = _v(97, 7, "y", 1, "added", "y", b"other y", T1, 1)
    kept, refused = exportable([evil, good, twin], unique_latest=True)
    assert [v.version_id for v in kept] == [97]
    assert [p for p, _ in refused] == ["y", "../x"]
    export_bagit(tmp_path / "bag", kept, read_bytes)
    assert (tmp_path / "bag" / "data" / "y").read_bytes() == b"other y"


def test_bag_info_values_cannot_add_fields(tmp_path):
    assert tag_value("name\nBagging-Date: 1999-01-01\r\x1b[2J") == (
        "name\\nBagging-Date: 1999-01-01\\r\\x1b[2J"
    )
    v = _v(1, 1, "a.txt", 1, "added", "a.txt", b"a", T1, 1)
    sneaky = v.__class__(**{**v.__dict__, "source": "src\nSource-Organization: evil"})
    bag = export_bagit(tmp_path / "bag", [sneaky], read_bytes)
    info = (bag / "bag-info.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in info] == [
        "Source-Organization",
        "External-Description",
        "Bagging-Date",
        "Payload-Oxum",
    ]


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("a\x1b[31mred", "a\\e[31mred"),
        ("title\x1b]0;pwned\x07", "title\\e]0;pwned\\x07"),
        ("line\nbreak\r", "line\\nbreak\\r"),
        ("rtl\u202eexe", "rtl\\u202eexe"),
        ("c1\x9bx", "c1\\x9bx"),
        ("caf\u00e9 \U0001f600", "caf\u00e9 \U0001f600"),
    ],
)
def test_terminal_text_is_escaped(raw, safe):
    assert shown(raw) == safe


def test_log_and_problems_never_print_control_characters(tmp_path, folder):
    name = "evil\x1b]0;owned\x07\x1b[2J.txt"
    (folder / name).write_text("x")
    (folder / "bad.txt.meta.yml").write_text("date: 2024-02-30\n")
    (folder / "bad.txt").write_text("described\n")
    db = tmp_path / "a.db"
    result = run_archive("ingest", str(folder), "--db", str(db))
    assert result.returncode == 1 and "\x1b" not in result.stderr + result.stdout
    assert "day is out of range" in result.stderr
    log = run_archive("log", f"docs:{name}", "--db", str(db))
    assert log.returncode == 0, log.stderr
    assert "\x1b" not in log.stdout and "\x07" not in log.stdout and "\\e]0;owned" in log.stdout


def test_verify_corpus_understands_sidecars(tmp_path, folder):
    (folder / "a.txt").write_text("a\n")
    (folder / "a.txt.meta.yml").write_text("url: https://example.org/a\n")
    (folder / "b.txt").write_text("b\n")
    (folder / "b.txt.meta.json").write_text('{"url": "https://example.org/b"}')
    db = tmp_path / "a.db"
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    assert run_cli("verify", "--corpus", str(folder), db=db)[:2] == (
        0,
        "ok: the folder matches the archive\n",
    )
    (folder / "a.txt.meta.yml").write_text("url: https://example.org/changed\n")
    os.remove(folder / "b.txt.meta.json")
    (folder / "c.txt.meta.yml").write_text("url: x\n")
    code, out, _ = run_cli("verify", "--corpus", str(folder), db=db)
    assert code == 1
    assert out.splitlines() == [
        "corpus: sidecars a.txt.meta.yml: changed",
        "corpus: sidecars b.txt: its sidecar is missing",
        "corpus: sidecars c.txt.meta.yml: untracked sidecar of c.txt",
    ]


def _big(seed: int, size: int) -> bytes:
    import random

    rng = random.Random(seed)
    words = [rng.randbytes(rng.randint(3, 12)).hex() for _ in range(500)]
    out = bytearray()
    while len(out) < size:
        out += (" ".join(rng.choice(words) for _ in range(12)) + "\n").encode()
    return bytes(out[:size])


def test_large_revisions_share_chunks_show_streams_and_verify_catches_damage(tmp_path, folder):
    data = _big(1, LARGE_CONTENT + 3_000_000)
    (folder / "big.log").write_bytes(data)
    db = tmp_path / "a.db"
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    edited = data[:5_000_000] + b"one edit in the middle\n" + data[5_000_000:]
    (folder / "big.log").write_bytes(edited)
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    conn = sqlite3.connect(db)
    per_blob = dict(conn.execute("SELECT blob, count(*) FROM blob_chunks GROUP BY blob"))
    distinct = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    assert len(per_blob) == 2 and distinct <= max(per_blob.values()) + 3  # revisions share
    flags = {r[0] for r in conn.execute("SELECT flags FROM blobs")}
    assert flags == {"large,large-text"}
    assert conn.execute("SELECT count(*) FROM diffs").fetchone() == (0,)
    for ref, want in (("big.log@1", data), ("big.log@2", edited)):
        shown_bytes = run_archive("show", ref, "--db", str(db)).stdout.encode(
            "utf-8", "surrogateescape"
        )
        assert blake3.blake3(shown_bytes).digest() == blake3.blake3(want).digest()
    assert run_cli("verify", db=db)[0] == 0
    assert run_cli("export", "bagit", str(tmp_path / "bag"), "--all-versions", db=db)[0] == 0
    exported = (tmp_path / "bag" / "data" / "big.log").read_bytes()
    assert blake3.blake3(exported).digest() == blake3.blake3(edited).digest()
    conn.execute("UPDATE chunks SET data = zeroblob(length(data)) WHERE rowid = 2")
    conn.commit()
    conn.close()
    code, out, _ = run_cli("verify", db=db)
    assert code == 1 and "chunk" in out and "blob" in out


def test_a_large_git_blob_streams_into_chunks(tmp_path):
    repo = Repo(tmp_path / "r")
    data = _big(2, LARGE_CONTENT + 1000)
    repo.write("dataset.csv", data)
    repo.commit("a large file")
    db = tmp_path / "a.db"
    assert run_cli("ingest", "--git", str(repo.root), db=db)[0] == 0
    with Store(db) as store:
        (blob,) = [r["blob"] for r in store.query("SELECT blob FROM versions")]
        assert store.blob(blob)["flags"] == "large,large-text"
        assert b"".join(store.iter_content(blob)) == data
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT content FROM blobs").fetchone() == (None,)


def test_a_file_swapped_for_a_link_after_the_scan_is_a_problem_not_outside_bytes(
    tmp_path, folder, monkeypatch
):
    """The scan sees a plain file; while the ingest waits for the write lock it becomes a
    link to a secret outside the root. The old read followed it and archived the secret."""
    import archive.record.folder as record

    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside bytes\n")
    (folder / "doc.txt").write_bytes(b"inside\n")
    (folder / "doc.txt.meta.yml").write_bytes(b"url: https://example.org\n")
    real_scan = record.scan

    def scan_then_swap(*args, **kwargs):
        found = real_scan(*args, **kwargs)
        for name in ("doc.txt", "doc.txt.meta.yml"):
            os.remove(folder / name)
            os.symlink(secret, folder / name)
        return found

    monkeypatch.setattr(record, "scan", scan_then_swap)
    db = tmp_path / "a.db"
    code, out, _ = run_cli("ingest", str(folder), "--json", db=db)
    reasons = {p["path"]: p["reason"] for p in json.loads(out)["problem_list"]}
    assert code == 1
    assert "replaced by a link since the scan" in reasons["doc.txt"]
    assert "replaced by a link since the scan" in reasons["doc.txt.meta.yml"]
    conn = sqlite3.connect(db)
    digest = blake3.blake3(b"outside bytes\n").hexdigest()
    assert conn.execute("SELECT count(*) FROM blobs WHERE blake3 = ?", (digest,)).fetchone() == (0,)


def test_chunks_deflate_only_when_it_pays():
    import random

    from archive.store.content import DEFLATE, RAW, decode_chunk, encode_chunk

    noise = random.Random(9).randbytes(300_000)
    text = b"the same words again and again\n" * 10_000
    assert encode_chunk(noise) == (RAW, noise)
    codec, stored = encode_chunk(text)
    assert codec == DEFLATE and len(stored) < len(text) // 10
    assert decode_chunk(codec, stored, len(text)) == text
    assert len(decode_chunk(codec, stored, 100)) == 101  # inflates no more than asked (+1)


@pytest.mark.parametrize("tool", ["b3sum", "sha256sum"])
def test_manifest_names_the_files_on_disk_whatever_their_bytes(tmp_path, folder, tool):
    exe = need_tool(tool)
    base = os.fsencode(folder)
    for name in (b"caf\xe9.txt", b"back\\slash.txt", b"\\xe9.txt", b"new\nline.txt"):
        with open(os.path.join(base, name), "wb") as f:
            f.write(name + b" content\n")
    db = tmp_path / "a.db"
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    algorithm = "blake3" if tool == "b3sum" else "sha256"
    from click.testing import CliRunner

    from archive.cli import cli

    args = ["export", "manifest", "--algorithm", algorithm, "--db", str(db)]
    listing = CliRunner().invoke(cli, args, catch_exceptions=False)
    if tool == "b3sum":  # b3sum reads UTF-8 only: that one name is refused, on stderr
        assert listing.exit_code == 1
        assert listing.stderr == "refused: caf\\xe9.txt: not listed: b3sum reads only UTF-8 names\n"
    else:
        assert listing.exit_code == 0
    manifest = tmp_path / "sums"
    manifest.write_bytes(listing.stdout_bytes)
    checked = subprocess.run([exe, "-c", str(manifest)], cwd=folder, capture_output=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
