"""Diffs stored at ingest: which versions get one, reversibility by hash, dedup, determinism,
a corrupt engine failing the batch, verify catching tampered rows."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive import diffs
from archive.diffs import DiffResult
from archive.diffs.core import load_core
from archive.diffs.pipeline import DiffPool, pool_cpus
from archive.diffs.stored import (
    DiffIntegrityError,
    diff_row,
    ops_of,
    rebuild_problem,
    result_of,
    row_problems,
)
from archive.record.folder import ingest_folder
from archive.store import Store
from archive.store.delta_codec import CODECS, DELTA_CODEC, pack_delta, unpack_delta
from archive.verify import check_diffs, verify

# Every test here runs on both diff engines (compiled core and pure-Python reference).
pytestmark = pytest.mark.usefixtures("diff_engine")


ROOT = Path(__file__).resolve().parents[1]
HTML_1 = b"<html><head><title>T</title></head><body><p>First paragraph here.</p></body></html>"
HTML_2 = b"<html><head><title>T</title></head><body><p>First paragraph there.</p></body></html>"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))

# name: (first bytes, second bytes, expected change class); None = absent in that run.
FILES: dict[str, tuple[bytes | None, bytes | None, str | None]] = {
    "words.txt": (b"The fee is ten euros.\n", b"The fee is twelve euros.\n", "substantive"),
    "space.txt": (b"one two three\n", b"one  two\tthree\n", "trivial-whitespace"),
    "punct.txt": (b"Hello world\n", b"Hello, world!\n", "trivial-punctuation"),
    "case.txt": (b"terms of service\n", b"Terms Of Service\n", "trivial-case"),
    "crlf.txt": (b"line one\r\nline two\r\n", b"line one\r\nline 2\r\n", "substantive"),
    "emoji.txt": (
        "سلام 👋🏽 world\n".encode(),
        "سلام 👋🏿 دنیا world\n".encode(),
        "substantive",
    ),
    "utf16.txt": (
        "\ufeffUTF-16 text, old\n".encode("utf-16-le"),
        "\ufeffUTF-16 text, new\n".encode("utf-16-le"),
        "substantive",
    ),
    "page.html": (HTML_1, HTML_2, "substantive"),
    "image.png": (PNG, PNG + b"more", None),
    "same.txt": (b"unchanged\n", b"unchanged\n", None),
}


def write(folder: Path, files: dict[str, bytes | None]) -> None:
    for name, data in files.items():
        path = folder / name
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)


def ingest(db: Path, folder: Path):
    with Store(db) as store:
        return ingest_folder(store, str(folder), "test")


def rows(db: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def edited(tmp_path: Path) -> tuple[Path, Path]:
    """An archive of FILES ingested twice, with the edits in between."""
    folder, db = tmp_path / "src", tmp_path / "a.db"
    folder.mkdir()
    write(folder, {n: v[0] for n, v in FILES.items()})
    ingest(db, folder)
    write(folder, {n: v[1] for n, v in FILES.items()})
    ingest(db, folder)
    return db, folder


def test_every_changed_text_version_gets_a_verified_diff(edited):
    db, _ = edited
    got = dict(
        rows(
            db,
            "SELECT d.path, vd.change_class FROM version_diffs vd"
            " JOIN documents d ON d.id = vd.document_id",
        )
    )
    want = {n: c for n, (_, _, c) in FILES.items() if c is not None}
    assert got == want  # binary and unchanged files have none
    with Store(db) as store:
        for row in store.iter_diffs():
            old = store.read_text(row["from_blob"])
            assert row["delta_codec"] in CODECS and isinstance(row["delta"], bytes)
            new = diffs.rebuild(old, unpack_delta(row["delta"], row["delta_codec"], old))
            key, encoding = store.text_target(row["to_blob"])
            assert blake3.blake3(new.encode(encoding)).hexdigest() == key
            assert new == store.read_text(row["to_blob"])
        assert check_diffs(store) == []
        assert verify(store) == []


def test_html_is_diffed_on_its_readable_text(edited):
    db, _ = edited
    with Store(db) as store:
        (row,) = store.query(
            "SELECT d.* FROM diffs d JOIN versions v ON v.blob = d.to_blob WHERE v.path = ?",
            ("page.html",),
        )
        result = result_of(row, store.read_text(row["from_blob"]))
    changed = [v for op, v in result.ops if op != 0]
    assert changed == ["here", "there"]  # words of the text, no markup


def test_no_ops_column_only_the_compressed_delta(edited):
    db, _ = edited
    columns = [r[1] for r in rows(db, "PRAGMA table_info(diffs)")]
    assert "ops" not in columns and {"delta", "delta_codec"} <= set(columns)
    found = rows(db, "SELECT DISTINCT typeof(delta), delta_codec FROM diffs")
    assert {t for t, _ in found} == {"blob"} and {c for _, c in found} <= set(CODECS)


def test_rename_with_edits_and_restore_after_deletion(tmp_path: Path):
    folder, db = tmp_path / "src", tmp_path / "a.db"
    folder.mkdir()
    body = "".join(f"Clause {i}: the provider may change these terms.\n" for i in range(20))
    write(folder, {"old.txt": body.encode(), "gone.txt": b"first text\n"})
    ingest(db, folder)
    edited_body = body.replace("Clause 3:", "Clause three:")
    write(folder, {"old.txt": None, "new.txt": edited_body.encode(), "gone.txt": None})
    ingest(db, folder)
    write(folder, {"gone.txt": b"second text\n"})
    summary = ingest(db, folder)
    assert summary.kinds == {"restored": 1}
    got = rows(
        db,
        "SELECT v.kind, v.path, vd.from_version_id, p.seq, vd.words_inserted, vd.words_deleted"
        " FROM version_diffs vd JOIN versions v ON v.id = vd.version_id"
        " JOIN versions p ON p.id = vd.from_version_id ORDER BY v.id",
    )
    assert [(k, path, seq) for k, path, _, seq, _, _ in got] == [
        ("renamed", "new.txt", 1),
        ("restored", "gone.txt", 1),  # against version 1, not the deletion (2)
    ]
    assert got[0][4:] == (1, 1)


def test_identical_pairs_are_stored_once(tmp_path: Path):
    folder, db = tmp_path / "src", tmp_path / "a.db"
    folder.mkdir()
    write(folder, {"a.txt": b"alpha beta\n", "b.txt": b"alpha beta\n"})
    ingest(db, folder)
    write(folder, {"a.txt": b"alpha gamma\n", "b.txt": b"alpha gamma\n"})
    ingest(db, folder)
    assert rows(db, "SELECT count(*) FROM diffs") == [(1,)]
    assert rows(db, "SELECT count(*) FROM version_diffs") == [(2,)]


def test_same_pair_in_two_processes_gives_identical_rows(tmp_path: Path):
    script = (
        "import sys; from pathlib import Path; from archive.store import Store;"
        "from archive.record.folder import ingest_folder\n"
        "folder = Path(sys.argv[1]); db = sys.argv[2]\n"
        "folder.mkdir()\n"
        "(folder / 'x.txt').write_text('Un texte, en français.\\nLine two.\\n')\n"
        "with Store(db) as s: ingest_folder(s, str(folder), 't')\n"
        "(folder / 'x.txt').write_text('Un autre texte, en français!\\nLine 2.\\n')\n"
        "with Store(db) as s: ingest_folder(s, str(folder), 't')\n"
    )
    dumps = []
    for n in (1, 2):
        db = tmp_path / f"{n}.db"
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / f"src{n}"), str(db)],
            check=True,
            cwd=ROOT,
            env={"PYTHONHASHSEED": str(n), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        )
        dumps.append(rows(db, "SELECT * FROM diffs"))
    assert len(dumps[0]) == 1 and dumps[0] == dumps[1]


def test_a_wrong_delta_fails_the_ingest_and_changes_nothing(tmp_path: Path, monkeypatch):
    folder, db = tmp_path / "src", tmp_path / "a.db"
    folder.mkdir()
    write(folder, {"a.txt": b"one two three\n"})
    ingest(db, folder)
    snapshot = tmp_path / "before.db"
    shutil.copyfile(db, snapshot)
    real = diffs.diff_texts

    def corrupt(old: str, new: str) -> DiffResult:
        r = real(old, new)
        return DiffResult(r.ops, r.delta.replace("four", "fuor"), r.stats, r.change_class, False)

    monkeypatch.setattr(diffs, "diff_texts", corrupt)
    write(folder, {"a.txt": b"one two four\n"})
    with pytest.raises(DiffIntegrityError, match="does not hash to"):
        ingest(db, folder)
    for sql in ("SELECT * FROM versions", "SELECT * FROM diffs", "SELECT * FROM runs"):
        assert rows(db, sql) == rows(snapshot, sql)
    assert rows(db, "SELECT count(*) FROM runs") == [(1,)]


def _words_row(db: Path) -> dict:
    with Store(db) as store:
        (row,) = store.query(
            "SELECT * FROM diffs WHERE to_blob = (SELECT blob FROM versions"
            " WHERE path = 'words.txt' AND seq = 2)"
        )
    return row


def _retyped_delta(row: dict, old: str) -> tuple[bytes, str]:
    delta = unpack_delta(row["delta"], row["delta_codec"], old)
    return pack_delta(delta.replace("twelve", "thirty"), old)


def _primed_elsewhere(old: str) -> tuple[bytes, str]:
    """The row's delta primed with another old text: its dictionary checksum is wrong."""
    delta = "=" + str(len(old))
    other = "another old text, " * 50
    data, codec = pack_delta(delta + "\t+" + other * 3, other)
    assert codec == DELTA_CODEC
    return data, codec


def test_verify_reports_tampered_rows(edited, tmp_path: Path):
    db, _ = edited
    row = _words_row(db)
    with Store(db) as store:
        old = store.read_text(row["from_blob"])
    flipped = bytearray(row["delta"])
    flipped[len(flipped) // 2] ^= 0xFF
    for sql, args, problem in [
        ("delta = ?, delta_codec = ?", _retyped_delta(row, old), "does not hash to"),
        ("delta = ?", (bytes(flipped),), "delta does not decompress"),
        ("delta = ?", (row["delta"][:-1],), "delta does not decompress"),
        ("delta = ?, delta_codec = ?", pack_delta("=99999", old), "delta does not fit"),
        ("delta = ?, delta_codec = ?", _primed_elsewhere(old), "delta does not decompress"),
        ("delta = ?", ("=22",), "not a blob"),
        ("delta_codec = 'lzma'", (), "unknown delta codec"),
        ("change_class = 'none'", (), "change class"),
        ("words_inserted = words_inserted + 1", (), "stats words_inserted"),
        ("similarity = 0.5, hunks = 7", (), "stats similarity, hunks"),
    ]:
        copy = tmp_path / "copy.db"
        shutil.copyfile(db, copy)
        conn = sqlite3.connect(copy)
        conn.execute(
            f"UPDATE diffs SET {sql} WHERE from_blob = ? AND to_blob = ?",
            (*args, row["from_blob"], row["to_blob"]),
        )
        conn.commit()
        conn.close()
        with Store(copy) as store:
            found = check_diffs(store)
        assert len(found) >= 1 and all(f.check == "diffs" for f in found), sql
        assert any(problem in f.problem for f in found), (sql, found)


def test_every_changed_byte_of_a_delta_is_caught_or_changes_nothing(edited):
    """Each byte of the blob, replaced by every other value: a finding (never a crash), except
    the zero padding bits after the last deflate block, which leave the delta the same."""
    db, _ = edited
    row = _words_row(db)
    with Store(db) as store:
        old = store.read_text(row["from_blob"])
        target = store.text_target(row["to_blob"])
    codec = row["delta_codec"]
    data, delta = row["delta"], unpack_delta(row["delta"], codec, old)
    assert row_problems(row, old, target) == []
    for i in range(len(data)):
        assert row_problems({**row, "delta": data[:i] + data[i + 1 :]}, old, target), i
        for value in range(256):
            if value == data[i]:
                continue
            changed = data[:i] + bytes([value]) + data[i + 1 :]
            if not row_problems({**row, "delta": changed}, old, target):
                assert unpack_delta(changed, codec, old) == delta, (i, value)
                assert (value ^ data[i]) & 0xFF != 0xFF, (i, value)  # a whole flip is caught


def test_git_import_stores_diffs_per_batch(tmp_path: Path):
    repo = tmp_path / "repo"
    env = {"PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    for n, text in enumerate(["a b c\n", "a b d\n", "a B d\n"]):
        (repo / "t.txt").write_text(text)
        subprocess.run([*git, "add", "."], check=True, env=env)
        date = {"GIT_COMMITTER_DATE": f"2024-01-0{n + 1}T00:00:00Z"}
        subprocess.run([*git, "commit", "-qm", f"c{n}"], check=True, env={**env, **date})
    from archive.record.git import import_git

    with Store(tmp_path / "g.db") as store:
        import_git(store, str(repo), "t", batch_size=2)
        classes = [r["change_class"] for r in store.query("SELECT * FROM version_diffs")]
        assert classes == ["substantive", "trivial-case"]
        assert verify(store) == []


def test_pool_results_are_the_serial_ones_and_only_worth_it_for_enough_work():
    texts = [("a " * (i * 50), "b " * (i * 50)) for i in range(1, 6)]
    with DiffPool(2) as pool:
        futures = [pool.submit(t) for t in texts]
        assert [f.result() for f in futures] == [diffs.diff_texts(*t) for t in texts]
    chars = sum(len(a) + len(b) for a, b in texts)
    assert not DiffPool(8).worth_it(len(texts), chars)  # too few to pay for a pool
    big = [("x " * 70_000, "y " * 70_000)] * 8
    big_chars = sum(len(a) + len(b) for a, b in big)
    assert DiffPool(4).worth_it(len(big), big_chars) and DiffPool(2).worth_it(8, big_chars)
    assert not DiffPool(1).worth_it(len(big), big_chars)  # one core: never a pool


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_stored_form_checks_for_any_texts(old: str, new: str):
    """Every computed diff passes the checks verify runs (for texts that encode), and its
    stored row gives the same DiffResult back: the ops derived from the delta are the ops."""
    r = diffs.diff_texts(old, new)
    try:
        data = new.encode("utf-8")
    except UnicodeEncodeError:
        return
    target = (blake3.blake3(data).hexdigest(), "utf-8")
    assert rebuild_problem(old, r.delta, target, "x") is None
    assert ops_of(old, r.delta) == r.ops
    row = diff_row(("a", "x"), r, diffs.ALGORITHM, old)
    assert row_problems(row, old, target) == []
    assert result_of(row, old) == r


def test_result_of_a_damaged_row_is_a_value_error():
    r = diffs.diff_texts("one two\n", "one three\n")
    row = diff_row(("a", "b"), r, diffs.ALGORITHM, "one two\n")
    for damaged in (
        {**row, "delta": row["delta"][:-2]},
        {**row, "delta_codec": "gzip"},
        {**row, "delta": pack_delta("=3", "one two\n")[0]},
    ):
        with pytest.raises(ValueError):
            result_of(damaged, "one two\n")


def test_diffs_follow_the_import_workers_for_either_engine(monkeypatch):
    """Diffs go where the import's workers are (a worker makes the whole checked row, so the
    main process only inserts it), for the compiled core as for the pure-Python engine;
    ARCHIVE_DIFF_WORKERS, when set, decides."""
    monkeypatch.delenv("ARCHIVE_DIFF_WORKERS", raising=False)
    monkeypatch.delenv("ARCHIVE_WORKERS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    for core in (load_core(), None):
        with diffs.engine(core):
            assert pool_cpus() == 4 and DiffPool().worth_it(8, 1 << 20)
    monkeypatch.setenv("ARCHIVE_WORKERS", "1")
    assert pool_cpus() == 1 and not DiffPool().worth_it(8, 1 << 20)
    monkeypatch.setenv("ARCHIVE_DIFF_WORKERS", "2")
    assert pool_cpus() == 2 and DiffPool().worth_it(8, 1 << 20)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300), st.integers(0, 20_000), st.text(min_size=1, max_size=40))
def test_a_large_delta_is_compressed_once_and_primed(old: str, pad: int, word: str):
    """A delta past PRIMED_ONLY bytes is primed with the old text without trying plain zlib
    (it never won there); a smaller one keeps the smaller codec; each reads back exactly."""
    import zlib

    from archive.store.delta_codec import PLAIN_CODEC, PRIMED_ONLY, base_dict

    delta = "+" + (word * (pad // len(word) + 1))[:pad]
    data, codec = pack_delta(delta, old)
    assert unpack_delta(data, codec, old) == delta
    raw = delta.encode("utf-8")
    plain = zlib.compress(raw, 9)
    if not old:
        assert (data, codec) == (plain, PLAIN_CODEC)
    elif len(raw) > PRIMED_ONLY:
        assert codec == DELTA_CODEC
    else:
        c = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zdict=base_dict(old))
        primed = c.compress(raw) + c.flush()
        smaller = (primed, DELTA_CODEC) if len(primed) <= len(plain) else (plain, PLAIN_CODEC)
        assert (data, codec) == smaller
