"""Folder ingest end to end: real files in tmp dirs, a real SQLite archive."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.record.folder import ingest_folder
from archive.store import Store
from ingest.hashing import blake3_hex, sha256_hex
from tests.conftest import CORPUS, archive_state, table_rows
from tests.tools import need_tool


def ingest(db: Path, folder: Path):
    with Store(db) as store:
        return ingest_folder(store, str(folder), "test")


def stored_blobs(db: Path) -> dict[str, dict]:
    """Every blob row with its bytes as the store gives them back (its one read path)."""
    with Store(db) as store:
        return {
            b["blake3"]: {**b, "content": store.read_content(b["blake3"])}
            for b in table_rows(db, "blobs")
        }


def versions(db: Path) -> list[tuple]:
    return [(v["document_id"], v["seq"], v["kind"], v["path"]) for v in table_rows(db, "versions")]


def test_seed_corpus_hashes_match_the_record(db):
    summary = ingest(db, CORPUS)
    assert summary.new_versions == 2 and summary.problems == 0
    blobs = stored_blobs(db)
    assert set(blobs) == {
        "e9efdd4a0acd5b6339f9993bc89e0ab45b88819a7854ddf7f035a37d39f80f3f",
        "4c36c292f41800fb4a864509b79be5c006570d8120e8daf09902ad0c8ad7f9f8",
    }
    for key, blob in blobs.items():
        assert blake3_hex(blob["content"]) == key
        assert sha256_hex(blob["content"]) == blob["sha256"]
        assert blob["size"] == len(blob["content"])


def test_every_version_kind(db, folder):
    (folder / "a.txt").write_text("alpha one\n")
    (folder / "b.txt").write_text("beta\n")
    (folder / "c.txt").write_text("gamma\n")
    ingest(db, folder)
    (folder / "a.txt").write_text("alpha two\n")  # modified
    (folder / "b.txt").rename(folder / "b2.txt")  # renamed
    (folder / "c.txt").unlink()  # deleted
    ingest(db, folder)
    (folder / "c.txt").write_text("gamma\n")  # back after deletion: restored
    (folder / "a.txt").write_text("alpha one\n")  # back to an earlier content: reverted
    ingest(db, folder)
    assert versions(db) == [
        (1, 1, "added", "a.txt"),
        (2, 1, "added", "b.txt"),
        (3, 1, "added", "c.txt"),
        (1, 2, "modified", "a.txt"),
        (2, 2, "renamed", "b2.txt"),
        (3, 2, "deleted", "c.txt"),
        (1, 3, "reverted", "a.txt"),
        (3, 3, "restored", "c.txt"),
    ]
    docs = table_rows(db, "documents")
    assert [(d["path"], d["status"]) for d in docs] == [
        ("a.txt", "present"),
        ("b2.txt", "present"),
        ("c.txt", "present"),
    ]
    deleted = [v for v in table_rows(db, "versions") if v["kind"] == "deleted"]
    assert deleted[0]["blob"] is None
    renamed = [v for v in table_rows(db, "versions") if v["kind"] == "renamed"]
    assert renamed[0]["old_path"] == "b.txt"
    # Each version links to the one before it.
    by_id = {v["id"]: v for v in table_rows(db, "versions")}
    for v in by_id.values():
        if v["seq"] > 1:
            prev = by_id[v["previous_version_id"]]
            assert (prev["document_id"], prev["seq"]) == (v["document_id"], v["seq"] - 1)


def test_reingest_records_nothing_new(db, folder):
    (folder / "x.txt").write_text("x")
    (folder / "sub").mkdir()
    (folder / "sub" / "y.txt").write_text("y")
    ingest(db, folder)
    before = archive_state(db)
    again = ingest(db, folder)
    assert (again.new_versions, again.unchanged, again.files_seen) == (0, 2, 2)
    assert archive_state(db) == before
    assert len(table_rows(db, "runs")) == 2


def test_identical_contents_are_stored_once(db, folder):
    for name in ("one.txt", "two.txt", "three.txt"):
        (folder / name).write_bytes(b"same bytes\n")
    ingest(db, folder)
    assert len(table_rows(db, "blobs")) == 1
    assert len(table_rows(db, "documents")) == 3


HOSTILE = {
    "binary.png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), 0, None),
    "invalid-utf8.txt": (b"caf\xe9 cr\xe8me \x80", 1, "cp1252"),
    "latin1.txt": (b"\x81\x8d na\xefve", 1, "latin-1"),
    "utf16.txt": (b"\xff\xfe" + "h\u00e9llo \U0001f600".encode("utf-16-le"), 1, "utf-16-le"),
    "crlf.txt": (b"one\r\ntwo\r\n", 1, "utf-8"),
    "nul.txt": (b"before\x00after\n", 1, "utf-8"),
    "empty.txt": (b"", 1, "utf-8"),
}


def test_hostile_contents_are_kept_byte_for_byte(db, folder):
    for name, (data, _, _) in HOSTILE.items():
        (folder / name).write_bytes(data)
    summary = ingest(db, folder)
    assert summary.problems == 0 and summary.new_versions == len(HOSTILE)
    with Store(db) as store:
        for name, (data, is_text, encoding) in HOSTILE.items():
            blob = store.blob(blake3_hex(data))
            assert (blob["is_text"], blob["encoding"]) == (is_text, encoding), name
            assert store.read_content(blob["blake3"]) == data
            if is_text:
                assert store.read_text(blob["blake3"]).encode(encoding) == data
    flags = {b["blake3"]: b["flags"] for b in table_rows(db, "blobs")}
    assert flags[blake3_hex(HOSTILE["nul.txt"][0])] == "nul"
    assert flags[blake3_hex(b"")] == "empty"


def test_special_files_and_bad_links_become_problems(db, folder, tmp_path):
    (folder / "ok.txt").write_text("fine")
    os.mkfifo(folder / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock"))
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (folder / "escape").symlink_to(outside)
    (folder / "loop1").symlink_to(folder / "loop2")
    (folder / "loop2").symlink_to(folder / "loop1")
    (folder / "dangling").symlink_to(folder / "nowhere")
    (folder / "inside").symlink_to(folder / "ok.txt")
    try:
        summary = ingest(db, folder)
    finally:
        sock.close()
    reasons = {p["path"]: p["reason"] for p in table_rows(db, "problems")}
    assert reasons == {
        "dangling": "broken symlink or symlink loop",
        "escape": "symlink pointing outside the root",
        "loop1": "broken symlink or symlink loop",
        "loop2": "broken symlink or symlink loop",
        "pipe": "not a regular file (fifo)",
        "sock": "not a regular file (socket)",
    }
    assert summary.problems == 6
    # The run went on: the regular file and the link inside the root were taken.
    assert sorted(d["path"] for d in table_rows(db, "documents")) == ["inside", "ok.txt"]
    assert b"secret" not in b"".join(b["content"] for b in stored_blobs(db).values())


def test_a_file_that_becomes_unreadable_is_a_problem_not_a_deletion():
    if os.geteuid() == 0:
        need_tool("setpriv")  # root reads any file: the ingest runs as another user
    base = Path(tempfile.mkdtemp())  # pytest's tmp dirs are private to root
    base.chmod(0o777)
    folder, db = base / "docs", base / "archive.db"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    ingest(db, folder)
    (folder / "b.txt").chmod(0)
    os.chmod(folder, 0o777)
    os.chmod(db.parent, 0o777)
    for f in db.parent.glob("archive.db*"):
        f.chmod(0o666)
    cmd = [sys.executable, "-m", "archive", "ingest", str(folder), "--db", str(db), "--json"]
    if os.geteuid() == 0:  # root reads everything: run as nobody
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    env = {**os.environ, "PYTHONPATH": str(CORPUS.parent)}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert result.returncode == 1, result.stderr
    assert [(p["path"], p["reason"]) for p in table_rows(db, "problems")] == [
        ("b.txt", "unreadable: Permission denied")
    ]
    assert [v["kind"] for v in table_rows(db, "versions")] == ["added", "added"]
    assert len(table_rows(db, "sources")) == 1
    shutil.rmtree(base)


def test_file_changed_between_scan_and_store_is_stored_as_read(db, folder, monkeypatch):
    """The blob's key is the hash of exactly the bytes stored, even if the file moved on."""
    import archive.record.folder as record

    target = folder / "live.txt"
    target.write_bytes(b"first state")
    real_open = record.open_entry

    def open_after_change(entry):
        target.write_bytes(b"second state, longer")  # same file (inode), new bytes
        return real_open(entry)

    monkeypatch.setattr(record, "open_entry", open_after_change)
    ingest(db, folder)
    [blob] = stored_blobs(db).values()
    assert blob["content"] == b"second state, longer"
    assert blob["blake3"] == blake3_hex(blob["content"])
    [version] = table_rows(db, "versions")
    assert version["blob"] == blob["blake3"]


def test_archive_file_inside_the_folder_is_not_ingested(folder):
    (folder / "doc.txt").write_text("doc")
    db = folder / "archive.db"
    ingest(db, folder)
    ingest(db, folder)
    assert [d["path"] for d in table_rows(db, "documents")] == ["doc.txt"]


names = st.sampled_from(["a.txt", "b.txt", "c.md", "d/e.txt", "d/f.txt"])
contents = st.sampled_from([b"", b"one", b"two\r\n", b"\xff\xfe\x00x", b"three\n"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.dictionaries(names, contents, max_size=5), min_size=1, max_size=4))
def test_reingest_is_idempotent_for_any_history(tmp_path_factory, history):
    base = tmp_path_factory.mktemp("h")
    folder, db = base / "docs", base / "archive.db"
    for snapshot in history:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        for name, data in snapshot.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        ingest(db, folder)
        state = archive_state(db)
        assert ingest(db, folder).new_versions == 0
        assert archive_state(db) == state
        with Store(db) as store:
            present = {
                d["path"]: store.read_content(store.versions(d["id"])[-1]["blob"])
                for d in store.query("SELECT * FROM documents WHERE status = 'present'")
            }
        assert present == snapshot
