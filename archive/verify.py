"""`archive verify`: independent checks that each re-derive something and report mismatches.

Each check takes the store and returns findings; CHECKS lists them, so adding a check is
one function and one line. Nothing here repairs anything: a finding says what is wrong
and where, and the caller decides.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass

import blake3

from archive.diffs.stored import row_problems
from archive.export import by_document
from archive.export.versions import export_versions
from archive.ledger import merkle
from archive.ledger.checkpoints import leaf_bytes, roots_at
from archive.ledger.leaves import parse_checkpoint_text
from archive.record.metadata import sidecar_target
from archive.store import ArchiveError, Store
from archive.store.passage_format import PassageError, digest_key
from ingest.folder import scan


@dataclass(frozen=True, order=True)
class Finding:
    """One failure: which check, in which table, at which key, and what is wrong."""

    check: str
    table: str
    key: str
    problem: str

    def line(self) -> str:
        return f"{self.check}: {self.table} {self.key}: {self.problem}"

    def as_dict(self) -> dict:
        return asdict(self)


Check = Callable[[Store], list[Finding]]


def check_blobs(store: Store) -> list[Finding]:
    """Every blob's bytes re-hashed (BLAKE3 and SHA-256) and measured against its row; a
    large content streamed chunk by chunk (each chunk checked against its own hash too)."""
    found = []
    for key in store.iter_blob_hashes():
        row = store.blob(key)
        b3, sha, size = blake3.blake3(max_threads=blake3.blake3.AUTO), hashlib.sha256(), 0
        try:
            for piece in store.iter_content(key):
                b3.update(piece)
                sha.update(piece)
                size += len(piece)
        except (ArchiveError, TypeError) as e:
            reason = str(e) if isinstance(e, ArchiveError) and "chunk" in str(e) else ""
            found.append(Finding("blobs", "blobs", key, reason or "content is missing"))
            continue
        if b3.hexdigest() != key:
            found.append(Finding("blobs", "blobs", key, "content does not hash to its BLAKE3"))
        if row is None or sha.hexdigest() != row["sha256"]:
            found.append(Finding("blobs", "blobs", key, "content does not match its SHA-256"))
        if row is None or row["size"] != size:
            stored = None if row is None else row["size"]
            found.append(Finding("blobs", "blobs", key, f"size is {size}, row says {stored}"))
    for chunk in store.unused_chunks():
        found.append(Finding("blobs", "chunks", chunk, "chunk no blob lists"))
    return found


def _leaf_bytes(entry: dict) -> bytes:
    """A stored leaf as bytes, whatever SQL put there (text, NULL) so it can be compared."""
    leaf = entry["leaf"]
    if isinstance(leaf, str):
        return leaf.encode("utf-8", "surrogatepass")
    return b"" if leaf is None else bytes(leaf)


def check_leaves(store: Store) -> list[Finding]:
    """Every stored leaf equals the leaf rebuilt from its version row now, and hashes
    to its stored leaf hash; leaf indexes run 0, 1, 2, ... without gaps."""
    rows = {r["version_id"]: r for r in store.leaf_source_rows()}
    found = []
    expected_index = 0
    for entry in store.iter_ledger():
        index, key = entry["leaf_index"], f"leaf {entry['leaf_index']}"
        if index != expected_index:
            found.append(
                Finding("leaves", "ledger", key, f"leaf index {expected_index} is missing")
            )
            expected_index = index
        expected_index += 1
        leaf = _leaf_bytes(entry)
        if merkle.leaf_hash(leaf).hex() != entry["leaf_hash"]:
            found.append(Finding("leaves", "ledger", key, "leaf bytes do not hash to leaf_hash"))
        row = rows.get(entry["version_id"])
        if row is None:
            found.append(
                Finding("leaves", "versions", f"id {entry['version_id']}", "version row is gone")
            )
            continue
        try:
            rebuilt = leaf_bytes(row)
        except (TypeError, ValueError) as e:
            found.append(Finding("leaves", "versions", f"id {row['version_id']}", str(e)))
            continue
        if rebuilt != leaf:
            found.append(
                Finding(
                    "leaves",
                    "versions",
                    f"id {row['version_id']}",
                    f"version row differs from its ledger leaf {index}",
                )
            )
    return found


def check_unledgered(store: Store) -> list[Finding]:
    """Every version has a leaf: a version added behind the ledger's back has none."""
    return [
        Finding("unledgered", "versions", f"id {vid}", "version has no ledger leaf")
        for vid in store.unledgered_version_ids()
    ]


def check_checkpoints(store: Store) -> list[Finding]:
    """Each run's stored checkpoint equals the root recomputed from the stored leaf bytes;
    sizes never shrink; no run after the first checkpoint lacks one."""
    runs = store.runs()
    leaves = [merkle.leaf_hash(_leaf_bytes(e)) for e in store.iter_ledger()]
    sizes = [r["tree_size"] for r in runs if isinstance(r["tree_size"], int)]
    roots = roots_at(leaves, [s for s in sizes if 0 <= s <= len(leaves)])
    found = []
    seen_checkpoint, last_size = False, 0
    for run in runs:
        key = f"id {run['id']}"
        size, root = run["tree_size"], run["tree_root"]
        if size is None and root is None:
            if seen_checkpoint:
                found.append(Finding("checkpoints", "runs", key, "run has no checkpoint"))
            continue
        seen_checkpoint = True
        if not isinstance(size, int) or size < 0 or size > len(leaves):
            found.append(
                Finding("checkpoints", "runs", key, f"tree size {size!r} but {len(leaves)} leaves")
            )
            continue
        if size < last_size:
            found.append(
                Finding("checkpoints", "runs", key, f"tree size {size} shrinks from {last_size}")
            )
        last_size = max(last_size, size)
        if roots[size].hex() != root:
            found.append(Finding("checkpoints", "runs", key, f"root at size {size} does not match"))
    return found


def check_diffs(store: Store) -> list[Finding]:
    """Every stored diff's delta decompresses and rebuilds its new content from its old text
    (by hash), and its change class and stats are those of the ops the delta encodes: a
    tampered row (delta bytes, class or stats) cannot pass unseen."""
    found = []
    for row in store.iter_diffs():
        key = f"{row['from_blob']}..{row['to_blob']} ({row['algorithm']})"
        old = store.read_text(row["from_blob"]) if row["from_blob"] else None
        if old is None:
            found.append(Finding("diffs", "diffs", key, "the old content has no text"))
            continue
        target = store.text_target(row["to_blob"]) if row["to_blob"] else None
        for problem in row_problems(row, old, target):
            found.append(Finding("diffs", "diffs", key, problem))
    return found


def check_passages(store: Store) -> list[Finding]:
    """Every passage's text hashes to its key, and the passage list of every blob read through
    a snapshot joins to that blob's text. Blame, trace and search read passages, while a read
    bounded by a snapshot does not: check_blobs alone would miss a damaged group or list."""
    found = []
    passages = store.passages
    for chunk in passages.key_chunks():
        try:
            texts = passages.raw([pid for pid, _ in chunk])
        except (PassageError, ArchiveError) as e:
            first, last = chunk[0][0], chunk[-1][0]
            found.append(Finding("passages", "passages", f"ids {first}-{last}", str(e)))
            continue
        for pid, key in chunk:
            if digest_key(blake3.blake3(texts[pid]).digest()) != key:
                found.append(
                    Finding("passages", "passages", f"id {pid}", "text does not hash to its key")
                )
    for blob in passages.snapshot_blobs():
        try:
            joined = passages.reader().join(passages.ids(blob) or [])
            same = joined == store.read_text(blob).encode("utf-8")
        except (PassageError, ArchiveError, UnicodeError):
            same = False
        if not same:
            problem = "passage list does not join to the blob's text"
            found.append(Finding("passages", "blob_passages", blob, problem))
    return found


# Adding a check: write it above and list it here.
CHECKS: tuple[Check, ...] = (
    check_blobs,
    check_leaves,
    check_unledgered,
    check_checkpoints,
    check_diffs,
    check_passages,
)


def verify(store: Store, checks: tuple[Check, ...] = CHECKS) -> list[Finding]:
    """Run every check; findings in a stable order."""
    found: list[Finding] = []
    for check in checks:
        found += check(store)
    return found


def verify_external_checkpoint(store: Store, text: str) -> list[Finding]:
    """Is the archive consistent with a checkpoint published earlier? Its first `size`
    stored leaves must hash to the published root (the origin line is not compared, so a
    renamed copy of the archive still checks)."""
    try:
        _, cp = parse_checkpoint_text(text)
    except ValueError as e:
        raise ArchiveError(f"not a checkpoint: {e}") from None
    leaves = [merkle.leaf_hash(_leaf_bytes(e)) for e in store.iter_ledger()]
    key = f"size {cp.size}"
    if cp.size > len(leaves):
        return [
            Finding(
                "external-checkpoint",
                "ledger",
                key,
                f"the ledger has only {len(leaves)} leaves: truncated or behind",
            )
        ]
    if merkle.root(leaves[: cp.size]) != cp.root:
        return [
            Finding("external-checkpoint", "ledger", key, "root differs: history was rewritten")
        ]
    return []


def verify_corpus(store: Store, folder: str) -> list[Finding]:
    """Compare a folder with the latest versions of the folder source it was ingested as:
    changed, missing and untracked files (what a checksum list alone cannot see)."""
    if not os.path.isdir(folder):
        raise ArchiveError(f"{folder} is not a folder")
    location = store.location_of(folder)
    source = next(
        (s for s in store.sources() if s["kind"] == "folder" and s["location"] == location),
        None,
    )
    if source is None:
        raise ArchiveError(f"{folder} is not an ingested folder source")
    latest = {
        vs[-1].path: vs[-1].blake3
        for vs in by_document(export_versions(store, source["name"])).values()
        if vs[-1].kind != "deleted" and vs[-1].blake3 is not None
    }
    exclude = frozenset(
        os.path.realpath(store.path + suffix) for suffix in ("", "-wal", "-shm", "-journal")
    )
    entries, problems = scan(folder, exclude)
    on_disk = {e.path: e.blake3 for e in entries if sidecar_target(e.path) is None}
    sidecars = {e.path: e.blake3 for e in entries if sidecar_target(e.path) is not None}
    found = [Finding("corpus", "files", p.path, f"unreadable: {p.reason}") for p in problems]
    for path in sorted(set(latest) | set(on_disk)):
        if path not in on_disk:
            if path not in {p.path for p in problems}:
                found.append(Finding("corpus", "files", path, "missing"))
        elif path not in latest:
            found.append(Finding("corpus", "files", path, "untracked"))
        elif on_disk[path] != latest[path]:
            found.append(Finding("corpus", "files", path, "changed"))
    found += sidecar_findings(store.current_sidecars(source["id"]), sidecars)
    return sorted(found)


def sidecar_findings(recorded: dict[str, dict], on_disk: dict[str, str]) -> list[Finding]:
    """Sidecars on disk against the sidecar content in force for each document: a sidecar is
    compared with its document's, never reported as an untracked file."""
    found = []
    described: set[str] = set()
    for path, blake3_hex in sorted(on_disk.items()):
        target = sidecar_target(path)
        described.add(target)
        want = (recorded.get(target) or {}).get("sidecar_blob")
        if want is None:
            found.append(Finding("corpus", "sidecars", path, f"untracked sidecar of {target}"))
        elif want != blake3_hex:
            found.append(Finding("corpus", "sidecars", path, "changed"))
    for target, row in sorted(recorded.items()):
        if row.get("sidecar_blob") is not None and target not in described:
            found.append(Finding("corpus", "sidecars", target, "its sidecar is missing"))
    return found
