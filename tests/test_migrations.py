"""An archive made by the first release opens, migrates and verifies with today's code."""

from __future__ import annotations

import json
import shutil
import sqlite3
import zlib

import pytest

from archive.store import Store
from archive.store.delta_codec import CODECS, DELTA_CODEC, PLAIN_CODEC, unpack_delta
from archive.store.schema import MIGRATIONS, SCHEMA_VERSION, _delta_base, _snapshots
from archive.verify import verify
from ingest.hashing import blake3_hex
from tests.conftest import ROOT, run_cli

V1 = ROOT / "tests" / "data" / "archive-v1.db"


@pytest.fixture
def old_archive(tmp_path):
    db = tmp_path / "archive.db"
    shutil.copy(V1, db)
    return db


def test_fixture_is_a_first_release_archive():
    conn = sqlite3.connect(V1)
    assert conn.execute("PRAGMA user_version").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM versions").fetchone() == (7,)
    conn.close()


def test_v1_archive_migrates_without_losing_a_byte(old_archive):
    conn = sqlite3.connect(old_archive)
    before = dict(conn.execute("SELECT blake3, content FROM blobs"))
    versions = conn.execute("SELECT * FROM versions ORDER BY id").fetchall()
    conn.close()
    with Store(old_archive) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        rows = store.query("SELECT blake3, is_text, content FROM blobs")
        assert {r["blake3"] for r in rows} == set(before)
        for row in rows:
            # Text moved into passages; every blob still reads back exactly.
            assert (row["content"] is None) == bool(row["is_text"])
            data = store.read_content(row["blake3"])
            assert data == before[row["blake3"]] and blake3_hex(data) == row["blake3"]
        after = store.conn.execute(
            "SELECT id, document_id, seq, blob, path, kind, run_id, observed_at, mtime,"
            " previous_version_id, old_path FROM versions ORDER BY id"
        ).fetchall()
        assert after == versions


def test_v1_archive_keeps_working(old_archive, folder):
    (folder / "new.txt").write_text("after the upgrade\n")
    assert run_cli("ingest", str(folder), db=old_archive)[0] == 0
    # The ledger backfills the old versions at the first checkpoint; all of it verifies.
    with Store(old_archive) as store:
        assert verify(store) == []
        ledger = store.conn.execute("SELECT version_id FROM ledger ORDER BY leaf_index")
        assert [v for (v,) in ledger] == list(range(1, 9))  # old versions first, in order
    code, out, _ = run_cli("reextract", db=old_archive)
    assert code == 0
    with Store(old_archive) as store:
        titles = dict(store.conn.execute("SELECT blake3, title FROM blob_metadata"))
    seed = "e9efdd4a0acd5b6339f9993bc89e0ab45b88819a7854ddf7f035a37d39f80f3f"
    assert (
        titles[seed] == "Iran and Russia can cooperate to contain the US's threat to the humanity"
    )
    code, out, _ = run_cli("log", "v1docs:f0.txt", db=old_archive)
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["added", "modified"]


def _plain(row: dict, old: str) -> bytes:
    """A delta as the first codec stored it (plain zlib level 9)."""
    return zlib.compress(unpack_delta(row["delta"], row["delta_codec"], old).encode(), 9)


def _set_version(store: Store, version: int) -> None:
    store.conn.execute(f"PRAGMA user_version = {version}")


def _before_delta_base(store: Store) -> None:
    """Rewind to just before `_delta_base` (the migrations after it rerun, as they may)."""
    _set_version(store, MIGRATIONS.index(_delta_base))


def test_plain_zlib_deltas_are_re_encoded_and_still_verify(tmp_path, folder):
    """An archive whose deltas are in the first codec: they read and verify as they are, and
    the migration re-encodes them primed with their old text: the same deltas, smaller."""
    db = tmp_path / "archive.db"
    base = "".join(
        f"Clause {i}: the provider may change these terms at any time.\n\n" for i in range(40)
    )
    (folder / "terms.txt").write_text(base)
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    # an inserted passage that repeats words of the old text: the dictionary finds them
    (folder / "terms.txt").write_text(base.replace("Clause 7", "Clause 7 (new): " + base[-900:]))
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    with Store(db) as store:
        rows = store.query("SELECT rowid, * FROM diffs")
        assert rows and {r["delta_codec"] for r in rows} == {DELTA_CODEC}
        texts = {r["rowid"]: store.read_text(r["from_blob"]) for r in rows}
        deltas = {
            r["rowid"]: unpack_delta(r["delta"], DELTA_CODEC, texts[r["rowid"]]) for r in rows
        }
        plain = {r["rowid"]: _plain(r, texts[r["rowid"]]) for r in rows}
        for rowid, data in plain.items():  # back to the first codec and schema version
            store.conn.execute(
                "UPDATE diffs SET delta = ?, delta_codec = ? WHERE rowid = ?",
                (data, PLAIN_CODEC, rowid),
            )
        assert verify(store) == []  # the first codec still reads and verifies
        _before_delta_base(store)
    with Store(db) as store:
        after = store.query("SELECT rowid, * FROM diffs")
        assert {r["delta_codec"] for r in after} == {DELTA_CODEC}
        for r in after:
            assert unpack_delta(r["delta"], DELTA_CODEC, texts[r["rowid"]]) == deltas[r["rowid"]]
        assert sum(len(r["delta"]) for r in after) < sum(map(len, plain.values()))
        assert verify(store) == []
        # a damaged first-codec row is left for verify to report, not dropped or re-encoded
        rowid = after[0]["rowid"]
        store.conn.execute(
            "UPDATE diffs SET delta = X'00', delta_codec = ? WHERE rowid = ?", (PLAIN_CODEC, rowid)
        )
        _before_delta_base(store)
    with Store(db) as store:
        row = store.query_one("SELECT delta, delta_codec FROM diffs WHERE rowid = ?", (rowid,))
        assert row == {"delta": b"\x00", "delta_codec": PLAIN_CODEC}
        assert [f.check for f in verify(store)] == ["diffs"]


def test_a_migrated_v1_archive_stores_and_verifies_new_deltas(old_archive, folder):
    text = "".join(f"Paragraph {i} of a text edited after the upgrade.\n\n" for i in range(30))
    (folder / "f0.txt").write_text(text)
    assert run_cli("ingest", str(folder), db=old_archive)[0] == 0
    (folder / "f0.txt").write_text(text.replace("Paragraph 3 of", "Paragraph 3, longer, of"))
    assert run_cli("ingest", str(folder), db=old_archive)[0] == 0
    with Store(old_archive) as store:
        codecs = [r["delta_codec"] for r in store.query("SELECT delta_codec FROM diffs")]
        assert len(codecs) == 1 and set(codecs) <= set(CODECS)
        assert verify(store) == []


def test_an_archive_from_before_snapshots_gets_the_same_bounded_reads(
    tmp_path, folder, monkeypatch
):
    """`_snapshots` gives an existing archive the rows an ingest would have made: a long
    history past the bounds reads through snapshots; every version still reads and verifies."""
    import archive.store.passage_store as store_mod

    monkeypatch.setattr(store_mod, "MAX_GROUPS", 4)
    db = tmp_path / "archive.db"
    text = "".join(f"Opening paragraph {i} of the terms.\n\n" for i in range(5))
    texts = []
    for n in range(9):  # each revision adds a clause: one more group to read
        text += f"Clause added by revision {n}, with its own words.\n\n"
        texts.append(text.encode())
        (folder / "terms.txt").write_bytes(texts[-1])
        assert run_cli("ingest", str(folder), db=db)[0] == 0
    with Store(db) as store:
        made = store.query("SELECT * FROM blob_snapshots ORDER BY blob")
        assert {r["data"] is None for r in made} == {True, False}  # snapshots and copies
        store.conn.execute("DROP TABLE blob_snapshots")
        _set_version(store, MIGRATIONS.index(_snapshots))
    with Store(db) as store:
        assert store.query("SELECT * FROM blob_snapshots ORDER BY blob") == made
        blobs = [v["blob"] for v in store.query("SELECT blob FROM versions ORDER BY id")]
        assert [store.read_content(b) for b in blobs] == texts
        assert verify(store) == []
        _set_version(store, MIGRATIONS.index(_snapshots))  # run again: its rows stay as they are
    with Store(db) as store:
        assert store.query("SELECT * FROM blob_snapshots ORDER BY blob") == made


def test_an_archive_from_before_spans_is_indexed_at_its_first_trace(tmp_path):
    """The first release's archive: migrated, then its passages, blobs and versions go into
    the span index when it is first traced (tokens are not a migration's business)."""
    db = tmp_path / "archive.db"
    shutil.copy(V1, db)
    with Store(db) as store:
        assert store.spans.behind()
        texts = store.passages.texts(store.passages.all_ids())
    span = next(t.strip() for t in texts.values() if len(t.split()) >= 8)
    code, out, err = run_cli("trace", span, "--json", db=db)
    assert code == 0, err
    assert json.loads(out)["first"] is not None
    with Store(db) as store:
        assert not store.spans.behind()
