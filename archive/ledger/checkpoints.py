"""The ledger in the archive: leaves from version rows, appending them, checkpoints, proofs.

Every version becomes one leaf of an RFC 9162 Merkle log (`archive.ledger.merkle`), its bytes the
canonical JSON of `archive.ledger.leaves.version_leaf`. A run ends with a checkpoint (tree size
and root) kept in `runs`; publishing checkpoints elsewhere is what makes rewriting the
archive's history detectable.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from archive.ledger import compact, records
from archive.ledger.leaves import (
    Checkpoint,
    checkpoint_text,
    consistency_proof_json,
    inclusion_proof_json,
    merkle,
    verify_proof_json,
    version_leaf,
)
from archive.store import ArchiveError, Store
from archive.store.version_rows import VERSION_COLUMNS

ORIGIN_PREFIX = "provenance-archive/"
# The `versions` columns whose values a batch recorded in memory knows (record/versions.py).
VERSION_KNOWN = (*VERSION_COLUMNS, *records.VERSION_DERIVED)


GIT_PROVENANCE = ("commit", "author_name", "author_email", "author_date", "committer_date")


def provenance(row: Mapping) -> dict | None:
    """Where a version came from beyond its run: git commit, sidecar, web capture; else None.

    The one place a source's extra provenance enters the leaf. Only facts fixed when the
    version is recorded go in (re-extraction must never change a leaf).
    """
    found: dict = {}
    if row.get("commit"):
        found.update({key: row[key] for key in GIT_PROVENANCE})
    if row.get("sidecar_blob"):
        found["sidecar_blake3"] = row["sidecar_blob"]
    if row.get("capture_record_id"):
        found["capture"] = capture_provenance(row)
    return found or None


def capture_provenance(row: Mapping) -> dict:
    """A web version's capture as its leaf holds it: the WARC record's own evidence."""
    http = json.loads(row["capture_http"]) if row.get("capture_http") else None
    return {
        "record_id": row["capture_record_id"],
        "target_uri": row["capture_target_uri"],
        "warc_date": row["capture_warc_date"],
        "status": row["capture_status"],
        "content_type": row["capture_mime"],
        "http_headers": [[str(k), str(v)] for k, v in http["headers"]] if http else None,
        "payload_digest": row["capture_payload_digest"],
        "location": row["capture_location"],
        "warc_blake3": row["capture_warc_blake3"],
        "warc_member": row["capture_warc_member"],
        "warc_offset": row["capture_warc_offset"],
    }


def leaf_record(row: Mapping) -> dict:
    """The ledger record of one version, from a `Store.leaf_source_rows` row."""
    return {
        "version_id": row["version_id"],
        "document_id": row["document_id"],
        "seq": row["seq"],
        "kind": row["kind"],
        "path": row["path"],
        "blob_blake3": row["blob_blake3"],
        "blob_sha256": row["blob_sha256"],
        "observed_at": row["observed_at"],
        "run_id": row["run_id"],
        "source": row["source"],
        "provenance": provenance(row),
    }


def leaf_bytes(row: Mapping) -> bytes:
    """Canonical leaf bytes for a version row (ValueError/TypeError if the row is unfit)."""
    return version_leaf(leaf_record(row))


def version_leaf_v2(facts: Mapping) -> bytes:
    """Leaf bytes (format v2) of a version from its `Store.leaf_facts` entry."""
    return records.version_leaf(
        facts["version"],
        facts["blob"],
        facts["source"] or {},
        facts["provenance"],
        facts.get("capture"),
    )


def append_versions(store: Store, version_ids: Sequence[int]) -> int:
    """Append the leaves of just-recorded versions, in the order given; returns the new size.

    New leaves are format v2 (`archive.ledger.records`): the whole version row and what it
    links to. Costs a few queries and one insert batch: no tree hashing happens here.
    """
    if not version_ids:
        return store.ledger_size()
    start = store.ledger_size()
    facts = store.leaf_facts(version_ids)
    if len(facts) != len(version_ids):
        raise ArchiveError("cannot add to the ledger: a recorded version is missing")
    shape = store.leaf_shape_id(records.SHAPE_TABLES)
    leaves = []
    for i, entry in enumerate(facts):
        leaf = version_leaf_v2(entry)  # kept as its hash: rebuilt from the rows on read
        leaves.append(
            (start + i, entry["version"]["id"], None, merkle.leaf_hash(leaf).hex(), shape)
        )
    store.append_leaves(leaves)
    return start + len(leaves)


def append_recorded(
    store: Store, entries: Sequence[tuple[str, dict]], facts_of: Callable[[dict], dict]
) -> int:
    """Append the leaves of a batch recorded in memory, in the order given: ('commit', its
    row) and ('version', its row), facts_of(version row) giving its `Store.leaf_facts` entry
    without reading the rows back. Each leaf's JSON is built once, for its hash; the leaves
    are those `records.commit_leaf` and `append_versions` make. Returns the new size."""
    start = store.ledger_size()
    if not entries:
        return start
    shape = store.leaf_shape_id(records.SHAPE_TABLES)
    columns = store.version_columns()
    unknown = set(columns) - set(VERSION_KNOWN)
    stored = {}
    if unknown:  # a column added since: its value is the table's, read back
        ids = [row["id"] for kind, row in entries if kind == "version"]
        stored = {f["version"]["id"]: f for f in store.leaf_facts(ids)}
    subjects, versions = [], []
    for i, (kind, row) in enumerate(entries):
        if kind == "commit":
            leaf = records.commit_leaf(row)
            subjects.append((start + i, f"commit:{row['oid']}", None, leaf_hex(leaf), shape))
            continue
        if unknown:
            facts = stored[row["id"]]
        else:
            facts = facts_of(row)
            facts["version"] = {c: row.get(c) for c in columns}
        versions.append((start + i, row["id"], None, leaf_hex(version_leaf_v2(facts)), shape))
    store.append_subject_leaves(subjects)
    store.append_leaves(versions)
    return start + len(entries)


def leaf_hex(leaf: bytes) -> str:
    return merkle.leaf_hash(leaf).hex()


def _append_subjects(store: Store, items: Sequence[tuple[str, bytes]]) -> int:
    start, shape = store.ledger_size(), store.leaf_shape_id(records.SHAPE_TABLES)
    store.append_subject_leaves(  # kept as their hashes: rebuilt from the rows on read
        (start + i, subject, None, merkle.leaf_hash(leaf).hex(), shape)
        for i, (subject, leaf) in enumerate(items)
    )
    return start + len(items)


def run_leaf(facts: Mapping) -> bytes:
    """Leaf bytes of a run from its `Store.run_facts` entry."""
    return records.run_leaf(
        facts["run"],
        facts["source"] or {},
        facts["problems"],
        facts["sidecar_changes"],
        facts.get("captures", ()),
    )


def append_runs(store: Store, run_ids: Sequence[int]) -> int:
    """The leaves of these runs (their rows, problems, sidecar edits), in id order."""
    facts = store.run_facts(run_ids)
    return _append_subjects(store, [(f"run:{i}", run_leaf(facts[i])) for i in sorted(facts)])


def backfill(store: Store, current: int | None = None) -> int:
    """Give leaves to what has none yet, oldest first: versions recorded before the ledger
    existed, then commits and runs recorded before they got leaves of their own. A run
    interrupted before its checkpoint (a killed git import) gets its leaf and the
    checkpoint it never wrote, so no leaf stays outside every checkpoint. The newest run
    (the one starting, or ending, now) is left to `checkpoint_run`.

    Called when a run starts, so the log keeps record order; returns the new size.
    """
    size = append_versions(store, store.unledgered_version_ids())
    commits = store.unledgered_commits()
    if commits:
        size = _append_subjects(
            store, [(f"commit:{c['oid']}", records.commit_leaf(c)) for c in commits]
        )
    runs = store.unledgered_runs()
    if current is None:
        current = max((r["id"] for r in store.runs()), default=None)
    checkpointed = [r["id"] for r in store.runs() if r["tree_size"] is not None]
    for run in runs:
        if run["id"] == current:
            continue
        size = append_runs(store, [run["id"]])
        interrupted = run["finished_at"] is None  # a finished run without one predates them
        if run["tree_size"] is None and (
            interrupted or (checkpointed and run["id"] > checkpointed[0])
        ):
            cp = Checkpoint.of(merkle.MerkleLog(store.leaf_hashes()))
            store.set_checkpoint(run["id"], cp.size, cp.root_hex)
    return size


def checkpoint_run(store: Store, run_id: int) -> Checkpoint:
    """End a run: ledger anything still without a leaf and the run itself (call it after
    `finish_run`, so its counts are in its leaf), then store the tree head.

    Leaf hashes are loaded and folded with `MerkleLog` (100k leaves take well under a
    second), so the stored root always comes from the stored leaves.
    """
    backfill(store, run_id)
    if any(r["id"] == run_id for r in store.unledgered_runs()):
        append_runs(store, [run_id])
    cp = Checkpoint.of(merkle.MerkleLog(store.leaf_hashes()))
    store.set_checkpoint(run_id, cp.size, cp.root_hex)
    return cp


def origin(store: Store) -> str:
    """The checkpoint origin line: names this log for good, by its first leaf (which can
    never change), not by the file name of the moment."""
    first = store.first_leaf_hash()
    return ORIGIN_PREFIX + (first[:16] if isinstance(first, str) else "empty")


@dataclass(frozen=True)
class RunCheckpoint:
    run_id: int
    time: str | None
    checkpoint: Checkpoint
    text: str

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "time": self.time,
            "tree_size": self.checkpoint.size,
            "tree_root": self.checkpoint.root_hex,
            "checkpoint": self.text,
        }


def latest_checkpoint(store: Store) -> RunCheckpoint:
    """The newest run's checkpoint, as printable text (ArchiveError when there is none)."""
    run = store.latest_checkpoint()
    if run is None:
        raise ArchiveError("the archive has no checkpoint yet: run `archive ingest DIR`")
    cp = Checkpoint(run["tree_size"], run["tree_root"])
    return RunCheckpoint(
        run["id"], run["finished_at"] or run["started_at"], cp, checkpoint_text(origin(store), cp)
    )


# Proofs --------------------------------------------------------------------------------

_RUN = re.compile(r"^run:([0-9]+)$")


def resolve_size(store: Store, ref: str) -> int:
    """A tree size given as a number or as `run:<id>` (that run's checkpoint)."""
    match = _RUN.match(ref)
    if match:
        run = next((r for r in store.runs() if r["id"] == int(match.group(1))), None)
        if run is None:
            raise ArchiveError(f"no run {match.group(1)}")
        if run["tree_size"] is None:
            raise ArchiveError(f"run {run['id']} has no checkpoint")
        return run["tree_size"]
    if not ref.isdigit():
        raise ArchiveError(f"{ref!r} is not a tree size or run:<id>")
    size = int(ref)
    if size > store.ledger_size():
        raise ArchiveError(f"tree size {size} is beyond the ledger ({store.ledger_size()} leaves)")
    return size


def _prefix(store: Store, size: int) -> list[bytes]:
    """The first `size` leaf hashes; refused when the ledger is shorter."""
    hashes = store.leaf_hashes(size)
    if len(hashes) != size:
        raise ArchiveError(f"tree size {size} is beyond the ledger ({len(hashes)} leaves)")
    return hashes


def _checked_root(store: Store, hashes: Sequence[bytes]) -> bytes:
    """Root of the first len(hashes) leaves, refused when a stored checkpoint disagrees."""
    return _check_checkpoints(store, len(hashes), merkle.root(hashes))


def _check_checkpoints(store: Store, size: int, root: bytes) -> bytes:
    """root, refusing when a stored checkpoint of that size disagrees: a proof against a
    tampered log would prove nothing."""
    for run in store.runs():
        if run["tree_size"] == size and run["tree_root"] != root.hex():
            raise ArchiveError(
                f"the ledger does not match run {run['id']}'s checkpoint: run `archive verify`"
            )
    return root


class TreeMemo:
    """Subtree roots of ledger trees kept for the process, for databases that cannot change.

    Why: building a proof reads every leaf hash and hashes the tree, O(n) per request; a
    published snapshot never changes, so its tree is hashed once and every later proof
    costs O(log n). Keyed by the caller's database identity and the tree size; the few
    most recent trees are kept (each about 2n * 32 bytes). Threads may share it.
    """

    def __init__(self, max_trees: int = 4) -> None:
        self.max_trees = max_trees
        self.trees: OrderedDict[tuple[Hashable, int], merkle.SubtreeRoots] = OrderedDict()
        self.lock = threading.Lock()

    def tree(self, store: Store, size: int, identity: Hashable) -> merkle.SubtreeRoots:
        key = (identity, size)
        with self.lock:
            tree = self.trees.get(key)
            if tree is not None:
                self.trees.move_to_end(key)
                return tree
        tree = merkle.SubtreeRoots(_prefix(store, size))  # outside the lock: O(n)
        with self.lock:
            self.trees[key] = tree
            while len(self.trees) > self.max_trees:
                self.trees.popitem(last=False)
        return tree


IMMUTABLE_TREES = TreeMemo()


def inclusion_proof(
    store: Store, version_id: int, size: int | None = None, immutable: Hashable | None = None
) -> dict:
    """Proof JSON that a version's leaf is in the tree of `size` (default: latest checkpoint).

    Carries the leaf bytes too, so a verifier sees which version record the proof is for.
    immutable: only for a database that cannot change (a published snapshot), a key naming
    that file and its state (e.g. path, inode, size, mtime): its tree's subtree roots are
    then kept in IMMUTABLE_TREES, and repeated proofs skip reading and hashing the leaves.
    The proof is the same either way; a writable archive must pass None, or get stale ones.
    """
    entry = store.ledger_entry(version_id)
    if entry is None:
        raise ArchiveError(f"version {version_id} is not in the ledger yet")
    if size is None:
        size = latest_checkpoint(store).checkpoint.size
    if not entry["leaf_index"] < size:
        raise ArchiveError(
            f"version {version_id} is leaf {entry['leaf_index']}, not in a tree of size {size}"
        )
    index = entry["leaf_index"]
    if immutable is None:
        hashes = _prefix(store, size)
        proof, leaf_hash = merkle.inclusion_proof(index, hashes), hashes[index]
    else:
        tree = IMMUTABLE_TREES.tree(store, size, immutable)
        proof, leaf_hash = tree.inclusion_proof(index), tree.leaf(index)
    # The path already holds every subtree root the tree's root needs: no second pass.
    root = merkle.root_from_inclusion(index, size, leaf_hash, proof)
    if root is None:  # cannot happen for a path computed from these hashes
        raise ArchiveError(f"no inclusion path for leaf {index} in a tree of size {size}")
    root = _check_checkpoints(store, size, root)
    doc = inclusion_proof_json(index, size, leaf_hash, proof, root)
    doc["leaf"] = compact.Rebuilder(store).leaf(entry).decode("utf-8")
    return doc


def consistency_proof(store: Store, old_size: int, new_size: int) -> dict:
    """Proof JSON that the tree of old_size is a prefix of the tree of new_size."""
    if old_size > new_size:
        raise ArchiveError(f"old size {old_size} is larger than new size {new_size}")
    hashes = _prefix(store, new_size)
    new = Checkpoint(new_size, _checked_root(store, hashes).hex())
    old = Checkpoint(old_size, _checked_root(store, hashes[:old_size]).hex())
    proof = merkle.consistency_proof(old_size, hashes) if 0 < old_size else []
    return consistency_proof_json(old, new, proof)


def check_proof(doc: object) -> bool:
    """Offline check of a proof JSON from this module (needs nothing but the JSON).

    Beyond `ledger.verify_proof_json`: an included `leaf` must hash to `leaf_hash`, and a
    consistency proof from the empty tree is trivially true when its old root is the
    empty root (the reference vectors reject such proofs as meaningless).
    """
    if not isinstance(doc, Mapping):
        return False
    if doc.get("type") == "consistency" and doc.get("old_size") == 0:
        try:
            return (
                doc.get("hash") == "sha256"
                and doc.get("proof") == []
                and bytes.fromhex(doc["old_root"]) == merkle.EMPTY_ROOT
                and isinstance(doc["new_size"], int)
                and doc["new_size"] >= 0
                and len(bytes.fromhex(doc["new_root"])) == merkle.HASH_SIZE
            )
        except (KeyError, TypeError, ValueError):
            return False
    if doc.get("type") == "inclusion" and "leaf" in doc:
        leaf = doc["leaf"]
        if not isinstance(leaf, str):
            return False
        try:
            if merkle.leaf_hash(leaf.encode("utf-8")).hex() != doc.get("leaf_hash"):
                return False
        except UnicodeEncodeError:
            return False
    return verify_proof_json(doc)


def roots_at(leaf_hashes: Iterable[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """Roots of the log at each of `sizes`, in one pass over the leaf hashes."""
    wanted = sorted(set(sizes))
    roots: dict[int, bytes] = {}
    log = merkle.MerkleLog()
    pending = iter(wanted)
    target = next(pending, None)
    while target == 0:
        roots[0] = log.root
        target = next(pending, None)
    for h in leaf_hashes:
        if target is None:
            break
        log.append(h)
        while target == log.size:
            roots[target] = log.root
            target = next(pending, None)
    return roots
