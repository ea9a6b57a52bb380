"""The passage store: lossless split and storage, hostile texts, packing, migration."""

from __future__ import annotations

import sqlite3
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.store import ArchiveError, Store, text_quotes
from archive.store.passage_format import (
    PassageError,
    pack_ids,
    pack_pieces,
    pack_sizes,
    run_bounds,
    split_passages,
    unpack_ids,
    unpack_pieces,
    unpack_sizes,
)
from ingest.content import describe
from ingest.hashing import blake3_hex
from tests.conftest import CORPUS, run_cli

HOSTILE = {
    "no-final-newline": b"first para\n\nsecond, no newline",
    "crlf": b"one\r\ntwo\r\n\r\nthree\r\n\r\n\r\n",
    "only-blank-lines": b"\n\n\n \n\t\n",
    "one-megabyte-paragraph": b"word " * 200_000,
    "utf16-bom": "caf\u00e9\n\npara two\n".encode("utf-16"),
    "cp1252": b"caf\xe9 \x93quoted words here\x94\n\nnext\n",
    "nul": b"a\x00b\n\nc\n",
    "empty": b"",
    "cr-only": b"mac\r\rold\rstyle",
}


def store_bytes(store: Store, data: bytes, previous: str | None = None) -> str:
    info, _ = describe("x.txt", data)
    with store.write():
        store.insert_blob(info, data)
        store.passages.pack_blob(info.blake3, previous)
    return info.blake3


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_texts_round_trip(tmp_path, name):
    data = HOSTILE[name]
    with Store(tmp_path / "a.db") as store:
        key = store_bytes(store, data)
        assert store.blob(key)["is_text"] == 1
        content = store.conn.execute("SELECT content FROM blobs WHERE blake3 = ?", (key,))
        assert content.fetchone()[0] is None  # kept only as passages
        assert store.read_content(key) == data


def test_split_is_by_paragraph_with_its_blank_lines():
    assert split_passages("a\nb\n\nc\r\n\r\nd") == ["a\nb\n\n", "c\r\n\r\n", "d"]
    assert split_passages("") == []


def test_a_cr_lf_is_one_line_break() -> None:
    """A CR LF text was cut after every line (CR, then LF, read as a blank line)."""
    assert split_passages("a\r\nb\r\nc") == ["a\r\nb\r\nc"]
    assert split_passages("a\r\nb\r\n\r\nc\r\r") == ["a\r\nb\r\n\r\n", "c\r\r"]


@given(st.text(alphabet=st.sampled_from("ab \t\n\u00e9"), max_size=200))
def test_cr_lf_and_cr_texts_split_where_their_lf_twins_do(text: str) -> None:
    for newline in ("\r\n", "\r"):
        twin = [p.replace(newline, "\n") for p in split_passages(text.replace("\n", newline))]
        assert twin == split_passages(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \t\r\n\u00e9\u201c\u201d\x00"), max_size=200))
def test_split_then_join_is_identity(text):
    parts = split_passages(text)
    assert "".join(parts) == text
    assert all(parts)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=120), min_size=1, max_size=4))
def test_store_then_read_content_gives_the_bytes(tmp_path_factory, revisions):
    with Store(tmp_path_factory.mktemp("h") / "a.db") as store:
        previous = None
        keys = []
        for data in revisions:
            key = store_bytes(store, data, previous)
            previous = key if store.blob(key)["is_text"] else None
            keys.append(key)
        for data, key in zip(revisions, keys, strict=True):
            assert store.read_content(key) == data


def test_each_passage_is_stored_once_and_revisions_share(tmp_path):
    base = "".join(f"Paragraph {i} says something long enough.\n\n" for i in range(50))
    edited = base.replace("Paragraph 7 says", "Paragraph 7 now says")
    with Store(tmp_path / "a.db") as store:
        first = store_bytes(store, base.encode())
        second = store_bytes(store, edited.encode(), first)
        assert store.conn.execute("SELECT count(*) FROM passages").fetchone()[0] == 51
        groups = store.conn.execute("SELECT id, depth, bases FROM passage_groups ORDER BY id")
        (g1, d1, b1), (g2, d2, b2) = groups.fetchall()
        assert (g1, d1, unpack_ids(b1)) == (1, 0, [])
        # the revision's one new passage is primed with the paragraph it revises
        assert (g2, d2) == (51, 1) and store.passages.texts(unpack_ids(b2)) == {
            8: "Paragraph 7 says something long enough.\n\n"
        }
        assert store.read_content(second) == edited.encode()


def test_a_version_s_new_passages_are_one_group_read_once(tmp_path, monkeypatch):
    text = "".join(f"Para {i} of the first version.\n\n" for i in range(30))
    revision = text + "A new closing paragraph.\n\nAnd another one.\n"
    with Store(tmp_path / "a.db") as store:
        first = store_bytes(store, text.encode())
        second = store_bytes(store, revision.encode(), first)
        # a group's id is its first passage's; its sizes are its passages', end to end
        groups = store.query("SELECT id, sizes FROM passage_groups ORDER BY id")
        assert [g["id"] for g in groups] == [1, 31]
        sizes = [s for g in groups for s in unpack_sizes(g["sizes"])]
        assert sizes == [r["size"] for r in store.query("SELECT size FROM passages ORDER BY id")]
        inflated = count_inflations(monkeypatch)
        assert store.read_content(second) == revision.encode()
        assert len(inflated) == 2  # each group once for 32 passages


def test_group_chains_stop_at_max_depth(tmp_path):
    from archive.store.passage_format import MAX_DEPTH

    head = "".join(f"Stable paragraph number {i}.\n\n" for i in range(5))
    texts = [head + f"The changing paragraph, revision {n}.\n" for n in range(MAX_DEPTH + 3)]
    with Store(tmp_path / "a.db") as store:
        previous = None
        for t in texts:
            previous = store_bytes(store, t.encode(), previous)
        depths = [d for (d,) in store.conn.execute("SELECT depth FROM passage_groups ORDER BY id")]
        assert max(depths) == MAX_DEPTH and depths[MAX_DEPTH + 1] == 0
        assert store.read_content(previous) == texts[-1].encode()


def test_a_corrupt_group_raises_instead_of_reading_wrong_text(tmp_path):
    with Store(tmp_path / "a.db") as store:
        key = store_bytes(store, b"one paragraph\n\ntwo paragraphs\n")
        store.conn.execute("UPDATE passage_groups SET data = X'00112233'")
        with pytest.raises((ArchiveError, PassageError)):
            store.read_content(key)


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=st.sampled_from('ab "\u201c\u201d\u00ab\u00bb\u201e\r\n \t.'), max_size=300)
)
def test_quotes_found_by_segment_are_the_quotes_of_the_whole_text(text):
    from ingest.extract.quotes import find_quotes

    assert text_quotes(text) == [(q.text, q.start) for q in find_quotes(text)]


def test_mismatch_on_write_raises_and_stores_nothing(tmp_path, monkeypatch):
    import archive.store.passage_store as store_mod

    monkeypatch.setattr(store_mod, "split_passages", lambda text: [text[:-1]])
    with Store(tmp_path / "a.db") as store:
        info, _ = describe("x.txt", b"some text\n")
        with pytest.raises(store_mod.PassageError, match="do not rebuild"):
            with store.write():
                store.insert_blob(info, b"some text\n")
                store.passages.pack_blob(info.blake3)
        assert store.blob(info.blake3) is None
        assert store.conn.execute("SELECT count(*) FROM passages").fetchone()[0] == 0


def test_pack_ids_round_trip():
    ids = [5, 6, 7, 1, 900_000, 3, 3]
    assert unpack_ids(pack_ids(ids)) == ids
    assert unpack_ids(pack_ids([])) == []
    assert unpack_sizes(pack_sizes([0, 7, 2**32 - 1])) == [0, 7, 2**32 - 1]
    with pytest.raises(PassageError):
        unpack_sizes(b"not zlib")


def test_ingest_keeps_text_as_passages_and_show_is_exact(tmp_path):
    db = tmp_path / "a.db"
    code, _, _ = run_cli("ingest", str(CORPUS), db=db)
    assert code == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM blobs WHERE content IS NOT NULL").fetchone() == (0,)
    conn.close()
    for path in sorted(CORPUS.iterdir()):
        code, out, _ = run_cli("show", path.name, db=db)
        assert code == 0 and out.encode() == path.read_bytes()


def test_seed_quotes_are_extracted_as_quote_passages(tmp_path):
    db = tmp_path / "a.db"
    run_cli("ingest", str(CORPUS), db=db)
    with Store(db) as store:
        quotes = store.conn.execute("SELECT count(*) FROM passages WHERE kind = 'quote'")
        assert quotes.fetchone()[0] >= 4
        for path in sorted(CORPUS.iterdir()):
            blob = blake3_hex(path.read_bytes())
            texts = store.passages.texts(store.passages.quote_ids(blob))
            assert texts, path.name
            assert all(t in path.read_text() for t in texts.values())


def test_reads_need_only_group_rows_and_survive_a_stale_group_list(tmp_path):
    base = "".join(f"Paragraph {i} of a long enough text.\n\n" for i in range(40))
    edited = base.replace("Paragraph 3 of", "Paragraph three of") + "A closing line.\n"
    with Store(tmp_path / "a.db") as store:
        first = store_bytes(store, base.encode())
        second = store_bytes(store, edited.encode(), first)
        groups = store.conn.execute("SELECT groups FROM blob_passages WHERE blob = ?", (second,))
        assert unpack_ids(groups.fetchone()[0]) == [1, 41]  # with its bases' groups
        store.conn.execute("DELETE FROM passages")  # positions come from the groups alone
        assert store.read_content(second) == edited.encode()
        # a group missing from the blob's list is looked up passage by passage instead
        store.conn.execute("UPDATE blob_passages SET groups = ?", (pack_ids([41]),))
        assert store.read_content(second) == edited.encode()
        assert store.read_content(first) == base.encode()


def test_a_group_whose_sizes_disagree_with_its_text_raises(tmp_path):
    with Store(tmp_path / "a.db") as store:
        key = store_bytes(store, b"one paragraph\n\ntwo paragraphs\n")
        store.conn.execute("UPDATE passage_groups SET sizes = ?", (pack_sizes([15, 99]),))
        with pytest.raises(PassageError, match="wrong length"):
            store.read_content(key)


def test_run_bounds_cut_runs_of_consecutive_ids_at_group_starts():
    ids = [1, 2, 3, 41, 5, 6, 7, 42, 43, 44, 44]
    bounds = run_bounds(ids, {1, 41, 43})
    assert [ids[i:j] for i, j in zip(bounds, bounds[1:], strict=False)] == [
        [1, 2, 3], [41], [5, 6, 7], [42], [43, 44], [44],
    ]  # fmt: skip
    assert run_bounds([], {1}) == [0]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=40), st.sets(st.integers(0, 30)))
def test_runs_are_consecutive_ids_inside_one_group_and_cover_the_list(ids, firsts):
    bounds = run_bounds(ids, firsts)
    assert bounds[0] == 0 and bounds[-1] == len(ids) and bounds == sorted(set(bounds))
    for i, j in zip(bounds, bounds[1:], strict=False):
        run = ids[i:j]
        assert run == list(range(run[0], run[0] + len(run)))
        assert not firsts.intersection(run[1:])  # a run never crosses a group's start


def test_copy_instructions_round_trip_and_corrupt_ones_raise():
    kinds, starts, ends = unpack_pieces(pack_pieces([(0, 5, 9), (41, 0, 2**32 - 1)]))
    assert (list(kinds), list(starts), list(ends)) == ([0, 41], [5, 0], [9, 2**32 - 1])
    quads = unpack_pieces(pack_pieces([(12, 0, 1, 2)]), 4)
    assert [list(field) for field in quads] == [[12], [0], [1], [2]]
    with pytest.raises(PassageError, match="not groups of 3"):
        unpack_pieces(pack_ids([1, 2]))


def snapshot_kinds(store: Store, blobs: list[str]) -> list[str]:
    """Per blob: 'own' (holds a snapshot), 'copy:<n>' (copies from blob n's), or '-'."""
    rows = {
        r["blob"]: r
        for r in store.query("SELECT blob, data IS NOT NULL AS own, base FROM blob_snapshots")
    }
    out = []
    for blob in blobs:
        row = rows.get(blob)
        out.append(
            "-" if row is None else "own" if row["own"] else f"copy:{blobs.index(row['base'])}"
        )
    return out


def count_inflations(monkeypatch) -> list[bytes]:
    """Every group or snapshot inflated from now on (by the reader and the passage store)."""
    from archive.store import groups, passage_format, passage_store

    inflated: list[bytes] = []
    real = passage_format.decompress_group
    for module in (groups, passage_store):
        monkeypatch.setattr(
            module, "decompress_group", lambda d, z=b"": inflated.append(d) or real(d, z)
        )
    return inflated


def store_long_history(store: Store) -> tuple[list[str], list[str]]:
    """Ten versions of one text, each revision adding a paragraph (one more group to read);
    returns the texts and their blobs."""
    texts = ["".join(f"Opening paragraph {i} of the terms.\n\n" for i in range(5))]
    for n in range(1, 10):
        texts.append(texts[-1] + f"Clause added by revision {n}, with its own words.\n\n")
    blobs, previous = [], None
    for text in texts:
        previous = store_bytes(store, text.encode(), previous)
        blobs.append(previous)
    return texts, blobs


def test_a_long_history_is_read_through_snapshots_within_the_bounds(tmp_path, monkeypatch):
    import archive.store.passage_store as store_mod

    monkeypatch.setattr(store_mod, "MAX_GROUPS", 4)
    with Store(tmp_path / "a.db") as store:
        texts, blobs = store_long_history(store)
        # past 4 groups a revision copies from the last snapshot while that stays in bounds
        assert snapshot_kinds(store, blobs) == [
            "-", "-", "-", "-", "own", "copy:4", "copy:4", "copy:4", "own", "copy:8",
        ]  # fmt: skip
        inflated = count_inflations(monkeypatch)
        for text, blob in zip(texts, blobs, strict=True):
            inflated.clear()
            assert store.read_content(blob) == text.encode()
            assert 1 <= len(inflated) <= 4  # groups, or a snapshot and groups
        assert store.passages.ids(blobs[-1]) == store.passages.ids(blobs[-2]) + [14]
        row = store.query_one("SELECT * FROM blob_snapshots WHERE blob = ?", (blobs[7],))
        assert unpack_ids(row["groups"]) == [10, 11, 12]  # the groups new since revision 4
        assert list(unpack_pieces(row["pieces"])[0]) == [0, 10, 11, 12]  # its snapshot first
        # each group's dictionary is copied from the snapshot or a listed group, not inflated
        # from the chain of groups behind it (group 10 is primed with revision 4's last clause)
        assert [list(f) for f in unpack_pieces(row["primers"], 4)][:2] == [
            [10, 11, 12],
            [0, 10, 11],
        ]


def test_a_text_of_too_many_runs_gets_a_snapshot_and_reads_exactly(tmp_path, monkeypatch):
    import archive.store.passage_store as store_mod

    monkeypatch.setattr(store_mod, "MAX_PIECES", 3)
    a = [f"Paragraph a{i} of the first document.\n\n" for i in range(10)]
    b = [f"Paragraph b{i} of the second document.\n\n" for i in range(10)]
    mixed = "".join(x + y for x, y in zip(a, b, strict=True))  # known passages, 20 runs
    with Store(tmp_path / "a.db") as store:
        first = store_bytes(store, "".join(a).encode())
        second = store_bytes(store, "".join(b).encode())
        third = store_bytes(store, mixed.encode())
        assert snapshot_kinds(store, [first, second, third]) == ["-", "-", "own"]
        assert store.conn.execute("SELECT count(*) FROM passages").fetchone()[0] == 20
        inflated = count_inflations(monkeypatch)
        assert store.read_content(third) == mixed.encode() and len(inflated) == 1


def test_a_corrupt_snapshot_or_copy_raises_instead_of_reading_wrong_text(tmp_path, monkeypatch):
    import archive.store.passage_store as store_mod
    from archive.store.passage_format import compress_group

    monkeypatch.setattr(store_mod, "MAX_GROUPS", 2)
    texts = [b"one paragraph\n\n", b"two paragraphs\n\n", b"three\n\n", b"four\n"]
    with Store(tmp_path / "a.db") as store:
        blobs, previous = [], None
        for n in range(1, 5):
            previous = store_bytes(store, b"".join(texts[:n]), previous)
            blobs.append(previous)
        assert snapshot_kinds(store, blobs) == ["-", "-", "own", "copy:2"]
        store.conn.execute(
            "UPDATE blob_snapshots SET data = ? WHERE blob = ?",
            (compress_group([b"one paragraph\n\ntwo paragraphz\n\nthree\n\n"]), blobs[2]),
        )
        for blob in blobs[2:]:  # the copy reads the same snapshot
            with pytest.raises(ArchiveError, match="does not rebuild"):
                store.read_content(blob)
        store.conn.execute(
            "UPDATE blob_snapshots SET pieces = ? WHERE blob = ?",
            (pack_pieces([(9, 0, 3)]), blobs[3]),
        )
        with pytest.raises(PassageError, match="not listed"):
            store.read_content(blobs[3])
        assert store.read_content(blobs[1]) == b"".join(texts[:2])  # passages are intact


def test_verify_checks_passages_that_snapshot_reads_skip(tmp_path, monkeypatch):
    """A revision read through its own snapshot never inflates the group of passages it
    introduced, and its passage list is not what its read joins: `archive verify` still checks
    both (blame, trace and search read them), where re-hashing the blobs alone cannot."""
    import archive.store.passage_store as store_mod
    from archive.verify import check_blobs, check_passages

    monkeypatch.setattr(store_mod, "MAX_GROUPS", 4)
    with Store(tmp_path / "a.db") as store:
        _, blobs = store_long_history(store)
        assert snapshot_kinds(store, blobs)[4] == "own"
        assert check_passages(store) == []
        # the group revision 4 introduced: only its own snapshot-read blob holds it
        new = set(store.passages.ids(blobs[4])) - set(store.passages.ids(blobs[3]))
        group = min(new)  # a group's id is the first passage id it holds
        store.conn.execute(
            "UPDATE passage_groups SET data = CAST(? AS BLOB) WHERE id = ?",
            (zlib.compress(b"Clause forged into revision 4 of the terms.\n\n")[2:-4], group),
        )
        ids = store.passages.ids(blobs[9])
        store.conn.execute(
            "UPDATE blob_passages SET ids = ? WHERE blob = ?",
            (pack_ids(ids[::-1]), blobs[9]),
        )
        store.conn.commit()
        assert check_blobs(store) == []  # every read still hashes right
        found = check_passages(store)
        assert {(f.table, f.key) for f in found} >= {("blob_passages", blobs[9])}
        assert any(f.table == "passages" for f in found), found
