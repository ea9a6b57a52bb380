"""Diffs stored at ingest: which versions get one, reversibility by hash, dedup, determinism,
a corrupt engine failing the batch, verify catching tampered rows."""

from __future__ import annotations

import json
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
from archive.record import ingest_folder
from archive.store import Store
from archive.stored_diffs import (
    DiffIntegrityError,
    compute,
    ops_problem,
    rebuild_problem,
    workers_for,
)
from archive.verify import check_diffs, verify

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
            new = diffs.rebuild(old, row["delta"])
            key, encoding = store.text_target(row["to_blob"])
            assert blake3.blake3(new.encode(encoding)).hexdigest() == key
            assert new == store.read_text(row["to_blob"])
        assert check_diffs(store) == []
        assert verify(store) == []


def test_html_is_diffed_on_its_readable_text(edited):
    db, _ = edited
    (ops,) = rows(
        db,
        "SELECT d.ops FROM diffs d JOIN versions v ON v.blob = d.to_blob WHERE v.path = ?",
        "page.html",
    )[0:1]
    changed = [v for op, v in json.loads(ops[0]) if op != 0]
    assert changed == ["here", "there"]  # words of the text, no markup


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
        "from archive.record import ingest_folder\n"
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


def test_verify_reports_tampered_rows(edited, tmp_path: Path):
    db, _ = edited
    for sql, problem in [
        ("UPDATE diffs SET delta = replace(delta, 'twelve', 'thirty')", "does not hash to"),
        ("UPDATE diffs SET ops = replace(ops, 'twelve', 'thirty')", "ops"),
        ("UPDATE diffs SET ops = 'not json'", "ops do not fit"),
        ("UPDATE diffs SET change_class = 'none'", "change class"),
        ("UPDATE diffs SET delta = '=99999'", "delta does not fit"),
    ]:
        copy = tmp_path / "copy.db"
        shutil.copyfile(db, copy)
        conn = sqlite3.connect(copy)
        conn.execute(
            sql + " WHERE to_blob = (SELECT blob FROM versions WHERE path = 'words.txt'"
            " AND seq = 2)"
        )
        conn.commit()
        conn.close()
        with Store(copy) as store:
            found = check_diffs(store)
        assert len(found) >= 1 and all(f.check == "diffs" for f in found), sql
        assert any(problem in f.problem for f in found), (sql, found)


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
    from archive.gitimport import import_git

    with Store(tmp_path / "g.db") as store:
        import_git(store, str(repo), "t", batch_size=2)
        classes = [r["change_class"] for r in store.query("SELECT * FROM version_diffs")]
        assert classes == ["substantive", "trivial-case"]
        assert verify(store) == []


def test_compute_keeps_input_order_in_a_pool():
    texts = [("a " * (i * 50), "b " * (i * 50)) for i in range(1, 6)]
    assert compute(texts, workers=2) == [diffs.diff_texts(*t) for t in texts]
    assert workers_for(texts, cpus=8) == 1  # too few to pay for a pool
    big = [("x " * 70_000, "y " * 70_000)] * 8
    assert workers_for(big, cpus=4) == 4 and workers_for(big, cpus=2) == 1


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_stored_form_checks_for_any_texts(old: str, new: str):
    """Every computed diff passes the checks verify runs (for texts that encode)."""
    r = diffs.diff_texts(old, new)
    try:
        data = new.encode("utf-8")
    except UnicodeEncodeError:
        return
    target = (blake3.blake3(data).hexdigest(), "utf-8")
    assert rebuild_problem(old, r.delta, target, "x") is None
    ops = json.dumps(diffs.compact_ops(r.ops), ensure_ascii=False)
    assert ops_problem(old, ops, r.delta, r.change_class) is None
