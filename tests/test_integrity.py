"""The ledger as ingest writes it: leaves, checkpoints, proofs, migration of older archives."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.export.versions import export_versions
from archive.ledger import checkpoints as integrity
from archive.ledger import compact, merkle, records
from archive.ledger.checkpoints import (
    append_versions,
    check_proof,
    consistency_proof,
    inclusion_proof,
    latest_checkpoint,
    leaf_bytes,
    leaf_record,
    resolve_size,
    roots_at,
    version_leaf_v2,
)
from archive.ledger.leaves import VERSION_KEYS, parse_checkpoint_text, version_leaf
from archive.record.folder import ingest_folder
from archive.store import ArchiveError, Store
from archive.store.schema import MIGRATIONS, SCHEMA_VERSION
from archive.verify import verify


def ingest(db: Path, folder: Path) -> None:
    with Store(db) as store:
        ingest_folder(store, str(folder), "test")


def write_state(folder: Path, state: dict[str, str]) -> None:
    for p in folder.iterdir():
        if p.name not in state:
            p.unlink()
    for name, text in state.items():
        (folder / name).write_text(text)


def test_every_version_gets_its_leaf_in_order(db: Path, folder: Path) -> None:
    write_state(folder, {"a.txt": "one\n", "b.txt": "two\n"})
    ingest(db, folder)
    write_state(folder, {"a.txt": "one!\n", "c.txt": "two\n"})
    ingest(db, folder)
    with Store(db) as store:
        rows = store.leaf_source_rows()
        facts = store.leaf_facts()
        ledger = list(compact.iter_leaves(store))
        # Each new content's leaf as it is stored, the run's versions, then the run's own
        # leaf (archive.ledger.records); "c.txt" has the content of "b.txt": no new leaf.
        kinds = [e["version_id"] or e["subject"].split(":")[0] for e in ledger]
        assert kinds == ["content", "content", 1, 2, "run", "content", 3, 4, "run"]
        assert [e["leaf_index"] for e in ledger] == list(range(len(ledger)))
        versions = [e for e in ledger if e["version_id"] is not None]
        for entry, fact in zip(versions, facts, strict=True):
            assert bytes(entry["leaf"]) == version_leaf_v2(fact)
            assert json.loads(bytes(entry["leaf"]))["format"] == records.VERSION_V2
            derived = records.VERSION_DERIVED  # found after the leaf: re-derived by verify
            stated = {k: v for k, v in fact["version"].items() if k not in derived}
            assert json.loads(bytes(entry["leaf"]))["version"] == stated
        for entry in ledger:
            assert entry["leaf_hash"] == merkle.leaf_hash(bytes(entry["leaf"])).hex()
        assert [r["kind"] for r in rows] == ["added", "added", "modified", "renamed"]
        record = leaf_record(rows[-1])  # the v1 record still reads from the rows
        assert tuple(sorted(record)) == tuple(sorted(VERSION_KEYS))
        assert version_leaf(record) == leaf_bytes(rows[-1])
        assert record["provenance"] is None and record["source"] == "docs"
        assert rows[1]["blob_sha256"] == store.blob(rows[1]["blob_blake3"])["sha256"]


def test_each_run_ends_with_a_checkpoint(db: Path, folder: Path) -> None:
    write_state(folder, {"a.txt": "1"})
    ingest(db, folder)
    ingest(db, folder)  # nothing new: same tree, a checkpoint all the same
    write_state(folder, {"a.txt": "2", "b.txt": "3"})
    ingest(db, folder)
    with Store(db) as store:
        runs = store.runs()
        hashes = store.leaf_hashes()
        # contents, versions and run leaves
        assert [r["tree_size"] for r in runs] == [3, 4, 9]
        assert [r["tree_root"] for r in runs] == [
            merkle.root(hashes[: r["tree_size"]]).hex() for r in runs
        ]
        latest = latest_checkpoint(store)
        assert latest.run_id == 3 and latest.time == runs[-1]["finished_at"]
        origin, cp = parse_checkpoint_text(latest.text)
        assert origin == "provenance-archive/" + hashes[0].hex()[:16]  # the log, not the file
        assert (cp.size, cp.root_hex) == (9, runs[-1]["tree_root"])


def test_no_checkpoint_yet(db: Path) -> None:
    with Store(db) as store, pytest.raises(ArchiveError, match="no checkpoint"):
        latest_checkpoint(store)


def test_proofs_for_every_version_and_checkpoint_pair(db: Path, folder: Path) -> None:
    states = [
        {"a": "1", "b": "2", "c": "3"},
        {"a": "1!", "b": "2", "d": "3"},
        {"a": "1!", "e": "5"},
        {"a": "1", "b": "2", "e": "5", "f": "6", "g": "7"},
    ]
    for state in states:
        write_state(folder, state)
        ingest(db, folder)
    with Store(db) as store:
        sizes = [0] + [r["tree_size"] for r in store.runs()]
        ledger = [e for e in compact.iter_leaves(store) if e["version_id"] is not None]
        for entry in ledger:
            for size in sizes:
                if entry["leaf_index"] < size:
                    doc = inclusion_proof(store, entry["version_id"], size)
                    assert check_proof(doc)
                    assert doc["leaf"].encode() == bytes(entry["leaf"])
        for old in sizes:
            for new in sizes:
                if old <= new:
                    assert check_proof(consistency_proof(store, old, new)), (old, new)
        assert resolve_size(store, "run:2") == sizes[2]
        assert resolve_size(store, str(sizes[1])) == sizes[1]
        for bad, message in [("run:9", "no run 9"), ("x", "not a tree size"), ("999", "beyond")]:
            with pytest.raises(ArchiveError, match=message):
                resolve_size(store, bad)
        size = store.ledger_size()
        with pytest.raises(ArchiveError, match="beyond the ledger"):
            inclusion_proof(store, ledger[0]["version_id"], size + 1)
        with pytest.raises(ArchiveError, match="beyond the ledger"):
            consistency_proof(store, 1, size + 1)
        with pytest.raises(ArchiveError, match="not in a tree of size"):
            inclusion_proof(store, ledger[-1]["version_id"], 1)


def test_memoized_proofs_are_the_computed_ones_and_skip_the_leaves(
    db: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An immutable database's proofs come from the process's memo of its tree: the same
    JSON, byte for byte, for every version and tree size; a repeat reads no leaf hashes."""
    for state in ({"a": "1", "b": "2", "c": "3"}, {"a": "1!", "d": "4"}, {"e": "5"}):
        write_state(folder, state)
        ingest(db, folder)
    monkeypatch.setattr(integrity, "IMMUTABLE_TREES", integrity.TreeMemo(max_trees=2))
    with Store(db) as store:
        sizes = [r["tree_size"] for r in store.runs()]
        ledger = [e for e in store.iter_ledger() if e["version_id"] is not None]
        expected = {}
        for entry in ledger:
            for size in [None, *sizes]:
                if size is not None and entry["leaf_index"] >= size:
                    continue
                doc = inclusion_proof(store, entry["version_id"], size)
                memo = inclusion_proof(store, entry["version_id"], size, immutable="db-1")
                assert json.dumps(memo) == json.dumps(doc) and check_proof(memo)
                expected[entry["version_id"], size] = doc
        assert len(integrity.IMMUTABLE_TREES.trees) == 2  # bounded: the latest two trees
        reads = []
        real = Store.leaf_hashes
        monkeypatch.setattr(Store, "leaf_hashes", lambda *a: reads.append(a) or real(*a))
        for entry in ledger:  # the latest tree is held: no leaf is read again
            doc = inclusion_proof(store, entry["version_id"], immutable="db-1")
            assert doc == expected[entry["version_id"], None]
        assert reads == []
        inclusion_proof(store, ledger[0]["version_id"], immutable="db-2")  # another file
        assert len(reads) == 1
        inclusion_proof(store, ledger[0]["version_id"])  # not memoized: reads the leaves
        assert len(reads) == 2


def test_tampered_proofs_are_rejected(db: Path, folder: Path) -> None:
    write_state(folder, {"a": "1", "b": "2", "c": "3"})
    ingest(db, folder)
    with Store(db) as store:
        good = inclusion_proof(store, 2)
        cons = consistency_proof(store, 1, 3)
        empty = consistency_proof(store, 0, 3)
    assert check_proof(good) and check_proof(cons) and check_proof(empty)
    assert empty["proof"] == [] and empty["old_root"] == merkle.EMPTY_ROOT.hex()
    forged_leaf = good["leaf"].replace('"path":"b"', '"path":"z"')
    for bad in [
        {**good, "leaf": forged_leaf},
        {**good, "leaf_index": 0},
        {**good, "root": "00" * 32},
        {**good, "proof": good["proof"][:-1]},
        {**cons, "old_root": "11" * 32},
        {**empty, "proof": cons["proof"]},
        {**empty, "old_root": "22" * 32},
        {**good, "hash": "sha512"},
        {"type": "nonsense"},
        [],
        "text",
    ]:
        assert not check_proof(bad), bad


def test_a_refused_proof_when_the_ledger_disagrees_with_a_checkpoint(
    db: Path, folder: Path
) -> None:
    write_state(folder, {"a": "1", "b": "2"})
    ingest(db, folder)
    conn = sqlite3.connect(db)
    conn.execute(f"UPDATE runs SET tree_root = '{'00' * 32}'")
    conn.commit()
    conn.close()
    with Store(db) as store, pytest.raises(ArchiveError, match="does not match run 1"):
        inclusion_proof(store, 1)


def test_older_archive_is_migrated_and_backfilled(db: Path, folder: Path) -> None:
    """An archive made before the ledger: its versions get leaves at the next run."""
    write_state(folder, {"a": "1", "b": "2"})
    ingest(db, folder)
    conn = sqlite3.connect(db)
    # Undo the ledger migration by hand: an archive from the release before (the migrations
    # after it run again, and leave what they already did as it is).
    before = [m.__name__ for m in MIGRATIONS].index("_ledger")
    assert before < SCHEMA_VERSION
    conn.executescript(
        "DROP TABLE ledger; ALTER TABLE runs DROP COLUMN tree_size;"
        f" ALTER TABLE runs DROP COLUMN tree_root; PRAGMA user_version = {before};"
    )
    conn.close()
    write_state(folder, {"a": "1", "b": "2!"})
    ingest(db, folder)
    with Store(db) as store:
        assert [r["tree_size"] for r in store.runs()] == [None, 6]
        # Old versions are backfilled when the run starts, so the log keeps version order;
        # the run before gets its leaf too (no checkpoint: it predates the ledger). Old
        # contents get no content leaf (verify re-derives them); the new one does.
        ledger = [e["version_id"] or e["subject"].split(":")[0] for e in store.iter_ledger()]
        assert ledger == [1, 2, "run", "content", 3, "run"]
        assert verify(store) == []


def test_append_refuses_unknown_versions(db: Path, folder: Path) -> None:
    write_state(folder, {"a": "1"})
    ingest(db, folder)
    with Store(db) as store, pytest.raises(ArchiveError, match="missing"):
        append_versions(store, [42])
    with Store(db) as store:
        assert append_versions(store, []) == 3  # the content's, the version's, the run's


def test_export_versions_mirror_the_rows(db: Path, folder: Path) -> None:
    write_state(folder, {"a": "1"})
    ingest(db, folder)
    write_state(folder, {})
    ingest(db, folder)
    with Store(db) as store:
        [added, deleted] = export_versions(store)
        assert (added.kind, added.seq, added.size, added.source) == ("added", 1, 1, "docs")
        assert (deleted.kind, deleted.blake3, deleted.sha256, deleted.size) == (
            "deleted",
            None,
            None,
            None,
        )
        assert export_versions(store, "nope") == []


def test_roots_at_matches_root() -> None:
    hashes = [merkle.leaf_hash(bytes([i])) for i in range(11)]
    roots = roots_at(hashes, [0, 1, 5, 5, 11])
    assert roots == {n: merkle.root(hashes[:n]) for n in (0, 1, 5, 11)}
    assert roots_at(hashes, [12]) == {}


NAMES = st.sampled_from(["a.txt", "b.txt", "c.txt", "d.txt"])
STATES = st.lists(
    st.dictionaries(NAMES, st.sampled_from(["x", "y", "z"]), max_size=4), min_size=1, max_size=4
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(states=STATES)
def test_ledger_invariants_over_any_history(tmp_path_factory, states) -> None:
    """Whatever happens to a folder: one leaf per version, every checkpoint is the root of
    a prefix, every later checkpoint is consistent with every earlier one, verify is clean."""
    base = tmp_path_factory.mktemp("prop")
    folder, db = base / "docs", base / "archive.db"
    folder.mkdir()
    for state in states:
        write_state(folder, state)
        ingest(db, folder)
    with Store(db) as store:
        assert store.unledgered_version_ids() == []
        runs = store.runs()
        sizes = [r["tree_size"] for r in runs]
        assert sizes == sorted(sizes) and sizes[-1] == store.ledger_size()
        for i, old in enumerate(sizes):
            assert check_proof(consistency_proof(store, old, sizes[-1]))
            assert runs[i]["tree_root"] == merkle.root(store.leaf_hashes(old)).hex()
        assert verify(store) == []
