"""`archive verify`: independent checks that each re-derive something and report mismatches.

Each check takes the store and returns findings; CHECKS lists them, so adding a check is
one function and one line. Nothing here repairs anything: a finding says what is wrong
and where, and the caller decides.
"""

from __future__ import annotations

import hashlib
import operator
import struct
from collections.abc import Callable, Container, Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import blake3

from archive.ledger import compact, merkle, records
from archive.ledger.checkpoints import (
    leaf_bytes,
    origin,
    roots_at,
    run_leaf,
    version_leaf_v2,
)
from archive.ledger.contents import Contents, covered
from archive.ledger.leaves import LEAF_FORMAT, parse_checkpoint_text
from archive.store import ArchiveError, Store, ledger_rows
from archive.store.ledger_rows import DiffKey
from archive.store.passage_format import PassageError, digest_key

if TYPE_CHECKING:  # evidence, X.509 and signing load only when check_evidence runs
    from cryptography import x509

    from archive.ledger.signing import Verifier
    from archive.record import rederive
    from archive.store.groups import GroupReader


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
THREADED_BYTES = 1 << 22  # a content hashed on every core from this size on
UTF8_NAMES = frozenset({"utf-8", "utf8", "UTF-8", "UTF8"})


def check_blobs(store: Store, keys: Iterable[str] | None = None) -> list[Finding]:
    """Every blob's bytes re-hashed (BLAKE3 and SHA-256) and measured against its row; a
    large content streamed chunk by chunk (each chunk checked against its own hash too).
    keys: only these blobs (a work unit), and no look for unused chunks."""
    found = []
    for key in store.iter_blob_hashes() if keys is None else keys:
        found += blob_findings(store, key)
    if keys is None:
        found += unused_chunk_findings(store)
    return found


def unused_chunk_findings(store: Store) -> list[Finding]:
    return [Finding("blobs", "chunks", c, "chunk no blob lists") for c in store.unused_chunks()]


def blob_findings(store: Store, key: str, kept: dict[str, bytes] | None = None) -> list[Finding]:
    """One blob re-hashed; a sound whole text is kept in the store's text cache (when one is
    on), and sound whole bytes in kept (when given), so the checks after it in a work unit
    do not rebuild it again."""
    row = store.blob(key)
    # threads pay off on large contents only: on a typical text they cost more than they save
    large = row is not None and isinstance(row["size"], int) and row["size"] > THREADED_BYTES
    threads = blake3.blake3.AUTO if large else 1
    b3, sha, size = blake3.blake3(max_threads=threads), hashlib.sha256(), 0
    pieces = []
    reader = store.texts.reader(store.conn) if store.texts is not None else None
    try:
        for piece in store.iter_content(key, reader):
            b3.update(piece)
            sha.update(piece)
            size += len(piece)
            if len(pieces) < 2:
                pieces.append(piece)
    except (ArchiveError, TypeError) as e:
        reason = str(e) if isinstance(e, ArchiveError) and "chunk" in str(e) else ""
        return [Finding("blobs", "blobs", key, reason or "content is missing")]
    found = []
    if b3.hexdigest() != key:
        found.append(Finding("blobs", "blobs", key, "content does not hash to its BLAKE3"))
    if row is None or sha.hexdigest() != row["sha256"]:
        found.append(Finding("blobs", "blobs", key, "content does not match its SHA-256"))
    if row is None or row["size"] != size:
        stored = None if row is None else row["size"]
        found.append(Finding("blobs", "blobs", key, f"size is {size}, row says {stored}"))
    if not found and len(pieces) == 1:
        if store.texts is not None:
            _keep_text(store, key, pieces[0])
        if kept is not None:
            kept[key] = pieces[0]
    return found


def _keep_text(store: Store, key: str, data: bytes) -> None:
    """Cache the text of bytes just found to hash to key (as `read_text` would decode it)."""
    target = store.text_target(key)
    if target is None or target[0] != key or store.texts is None:
        return
    try:
        store.texts.put(key, target[1], data.decode(target[1]))
    except (UnicodeError, LookupError):
        pass  # read_text meets the same error and reports it where it is read


def _leaf_bytes(entry: dict) -> bytes:
    """A stored leaf as bytes, whatever SQL put there (text, NULL) so it can be compared."""
    leaf = entry["leaf"]
    if isinstance(leaf, str):
        return leaf.encode("utf-8", "surrogatepass")
    return b"" if leaf is None else bytes(leaf)


def leaf_hashes(store: Store) -> list[bytes]:
    """The Merkle leaf hash of every stored leaf (or stored hash of a leaf kept as its hash,
    which check_leaves rebuilds), in log order."""
    return [compact.entry_hash(e) for e in store.iter_ledger()]


def check_leaves(store: Store, since: int = 0) -> list[Finding]:
    """Every stored leaf equals the leaf rebuilt from its version row now, and hashes
    to its stored leaf hash; leaf indexes run 0, 1, 2, ... without gaps. since: rebuild
    only the leaves from this index on (`verify --quick`); every leaf is still hashed."""
    rows: dict[int, dict] | None = None  # the v1 leaves' rows, read when one is rebuilt
    later = LaterLeaves(store)
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
        if entry["leaf"] is None:  # kept as its hash: rebuilt from the rows, hashes compared
            found += later.rebuilt(entry) if index >= since else []
            continue
        leaf = _leaf_bytes(entry)
        if merkle.leaf_hash(leaf).hex() != entry["leaf_hash"]:
            found.append(Finding("leaves", "ledger", key, "leaf bytes do not hash to leaf_hash"))
        if index < since:
            continue
        if entry.get("subject") is not None or records.leaf_format(leaf) != LEAF_FORMAT:
            found += later.check(entry, leaf)
            continue
        if rows is None:
            rows = {r["version_id"]: r for r in store.leaf_source_rows()}
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


class LaterLeaves:
    """Checks leaves of the formats after v1 (archive.ledger.records) against the rows
    now: v2 versions, commits, runs and contents. Rows are loaded once, on first need."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.facts: dict[int, dict] | None = None
        self.commits: dict[str, dict] | None = None
        self.runs: dict[int, dict] | None = None
        self.rebuilder: compact.Rebuilder | None = None
        self.contents: Contents | None = None

    def rebuilt(self, entry: dict) -> list[Finding]:
        """A leaf kept as its hash (archive.ledger.compact): rebuilt from the rows now, its
        hash compared with the stored one; a difference names the row."""
        self.rebuilder = self.rebuilder or compact.Rebuilder(self.store, bulk=True)
        return [Finding("leaves", *found) for found in self.rebuilder.problems(entry)]

    def check(self, entry: dict, leaf: bytes) -> list[Finding]:
        subject, fmt = entry.get("subject"), records.leaf_format(leaf)
        where = f"leaf {entry['leaf_index']}"
        if subject is None and fmt == records.VERSION_V2:
            found = self._version(entry, leaf)
        elif (
            isinstance(subject, str) and subject.startswith("commit:") and fmt == records.COMMIT_V1
        ):
            found = self._commit(subject[len("commit:") :], leaf)
        elif isinstance(subject, str) and subject.startswith("run:") and fmt == records.RUN_V1:
            found = self._run(subject[len("run:") :], leaf)
        elif records.content_of(subject) is not None and fmt == records.CONTENT_V1:
            found = self._content(subject, entry["leaf_index"], leaf)
        else:
            return [
                Finding("leaves", "ledger", where, f"unknown leaf format {fmt!r} for {subject}")
            ]
        return [Finding(f.check, f.table, f.key, f"{f.problem} ({where})") for f in found]

    def _version(self, entry: dict, leaf: bytes) -> list[Finding]:
        if self.facts is None:
            self.facts = {f["version"]["id"]: f for f in self.store.leaf_facts()}
        vid = entry["version_id"]
        facts = self.facts.get(vid)
        if facts is None:
            return [Finding("leaves", "versions", f"id {vid}", "version row is gone")]
        objects = {
            "version": facts["version"],
            "source": records.source_object(facts["source"] or {}),
        }
        if facts.get("capture") is not None:
            objects["capture"] = facts["capture"]
        return _compared("versions", f"id {vid}", leaf, lambda: version_leaf_v2(facts), objects)

    def _content(self, subject: str, index: int, leaf: bytes) -> list[Finding]:
        if self.contents is None:
            self.contents = Contents(self.store)
        return [Finding("leaves", t, k, p) for t, k, p in self.contents.check(subject, index, leaf)]

    def _commit(self, oid: str, leaf: bytes) -> list[Finding]:
        if self.commits is None:
            self.commits = self.store.commit_rows()
        row = self.commits.get(oid)
        if row is None:
            return [Finding("leaves", "commits", oid, "commit row is gone")]
        return _compared("commits", oid, leaf, lambda: records.commit_leaf(row), {"commit": row})

    def _run(self, run_id: str, leaf: bytes) -> list[Finding]:
        if self.runs is None:
            self.runs = self.store.run_facts()
        facts = self.runs.get(int(run_id)) if run_id.isdigit() else None
        if facts is None:
            return [Finding("leaves", "runs", f"id {run_id}", "run row is gone")]
        objects = {
            "run": records.run_object(facts["run"]),
            "source": records.source_object(facts["source"] or {}),
        }
        return _compared("runs", f"id {run_id}", leaf, lambda: run_leaf(facts), objects)


def _compared(
    table: str, key: str, leaf: bytes, rebuild: Callable[[], bytes], objects: dict
) -> list[Finding]:
    """A stored leaf against the one its rows give now (`rebuild`), compared key by key
    (`records.differs`): [] when it still states them, else why not."""
    try:
        rebuilt = rebuild()
    except (TypeError, ValueError) as e:
        return [Finding("leaves", table, key, str(e))]
    why = records.differs(leaf, rebuilt, objects)
    return [] if why is None else [Finding("leaves", table, key, why)]


def check_unledgered(store: Store) -> list[Finding]:
    """Every version has a leaf: a version added behind the ledger's back has none. Once
    the archive writes commit and run leaves, every commit and run has one too (but the
    newest run while it has no checkpoint: it may be running)."""
    found = [
        Finding("unledgered", "versions", f"id {vid}", "version has no ledger leaf")
        for vid in store.unledgered_version_ids()
    ]
    if not store.has_subject_leaves():
        return found
    found += [
        Finding("unledgered", "commits", c["oid"], "commit has no ledger leaf")
        for c in store.unledgered_commits()
    ]
    newest = max((r["id"] for r in store.runs()), default=None)
    found += [
        Finding("unledgered", "runs", f"id {r['id']}", "run has no ledger leaf")
        for r in store.unledgered_runs()
        if r["id"] != newest or r["tree_size"] is not None
    ]
    return found


def check_documents(store: Store) -> list[Finding]:
    """Each document's path, status and current version re-derived from its versions (the
    versions are in the leaves; the document row is only their summary)."""
    return [
        Finding("documents", "documents", f"id {doc_id}", problem)
        for doc_id, problem in store.document_drift()
    ]


def check_checkpoints(store: Store, leaves: list[bytes] | None = None) -> list[Finding]:
    """Each run's stored checkpoint equals the root recomputed from the stored leaf bytes;
    sizes never shrink; no run after the first checkpoint lacks one. leaves: the leaf
    hashes (`leaf_hashes`), when read already."""
    runs = store.runs()
    leaves = leaf_hashes(store) if leaves is None else leaves
    sizes = [r["tree_size"] for r in runs if isinstance(r["tree_size"], int)]
    roots = roots_at(leaves, [s for s in sizes if 0 <= s <= len(leaves)])
    found = []
    seen_checkpoint, last_size, latest_size = False, 0, None
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
        latest_size = size
        if roots[size].hex() != root:
            found.append(Finding("checkpoints", "runs", key, f"root at size {size} does not match"))
    covered = latest_size if latest_size is not None else 0
    if covered < len(leaves):
        where = f"leaves {covered}-{len(leaves) - 1}"
        found.append(Finding("checkpoints", "ledger", where, "under no checkpoint"))
    return found


def check_diffs(
    store: Store, keys: Iterable[DiffKey] | None = None, checked: Container[str] = ()
) -> list[Finding]:
    """Every stored diff's delta decompresses and rebuilds its new content from its old text
    (by hash), and its change class and stats are those of the ops the delta encodes: a
    tampered row (delta bytes, class or stats) cannot pass unseen. keys: only these diffs;
    checked: blobs `blob_findings` found sound (their cached texts are compared, not hashed)."""
    from archive.diffs.stored import row_problems  # the diff engine: where diffs are checked

    found = []
    rows = store.iter_diffs() if keys is None else ledger_rows.diff_rows(store.conn, keys)
    for row in rows:
        key = f"{row['from_blob']}..{row['to_blob']} ({row['algorithm']})"
        try:
            old = store.read_text(row["from_blob"]) if row["from_blob"] else None
        except (ArchiveError, PassageError, UnicodeError):
            old = None
        if old is None:
            found.append(Finding("diffs", "diffs", key, "the old content has no text"))
            continue
        target = store.text_target(row["to_blob"]) if row["to_blob"] else None
        known = _checked_text(store, target, checked)
        for problem in row_problems(row, old, target, known):
            found.append(Finding("diffs", "diffs", key, problem))
    return found


def _checked_text(
    store: Store, target: tuple[str, str] | None, checked: Container[str]
) -> str | None:
    """The cached text of a UTF-8 target whose bytes were found to hash to its key (any
    read of them gives those bytes), so a diff's rebuilt text is compared, not hashed."""
    if store.texts is None or target is None or target[0] not in checked:
        return None
    return store.texts.get(*target) if target[1] in UTF8_NAMES else None


def check_passages(store: Store) -> list[Finding]:
    """Every passage's text hashes to its key, and the passage list of every blob read through
    a snapshot joins to that blob's text. Blame, trace and search read passages, while a read
    bounded by a snapshot does not: check_blobs alone would miss a damaged group or list."""
    keys = passage_key_findings(store, store.passages.key_chunks())
    return keys + snapshot_findings(store, store.passages.snapshot_blobs())


def passage_key_findings(
    store: Store, chunks: Iterable[list[tuple[int, int]]], reader: GroupReader | None = None
) -> list[Finding]:
    """Each passage's text (chunks of (id, key)) hashes to its key. reader: groups inflated
    already (a verify unit's, whose blobs hold most of these passages)."""
    found = []
    passages = store.passages
    for chunk in chunks:
        try:
            texts = passages.raw([pid for pid, _ in chunk], reader)
        except (PassageError, ArchiveError) as e:
            first, last = chunk[0][0], chunk[-1][0]
            found.append(Finding("passages", "passages", f"ids {first}-{last}", str(e)))
            continue
        ids = [pid for pid, _ in chunk]
        # every passage hashed and cut to its key's 8 bytes in C (no Python frame per
        # passage), the keys packed alike: one comparison when all match, the usual case
        got = b"".join(map(_KEY_BYTES, map(_DIGEST, map(blake3.blake3, map(texts.get, ids)))))
        try:
            if got == struct.pack(f">{len(chunk)}q", *(key for _, key in chunk)):
                continue
        except struct.error:  # a key SQL holds as no 64-bit integer: found below
            pass
        for pid, key in chunk:
            if digest_key(blake3.blake3(texts[pid]).digest()) != key:
                found.append(
                    Finding("passages", "passages", f"id {pid}", "text does not hash to its key")
                )
    return found


_DIGEST = operator.methodcaller("digest")
_KEY_BYTES = operator.itemgetter(slice(0, 8))  # digest_key's bytes: the first 8, big-endian


def snapshot_findings(store: Store, blobs: Iterable[str]) -> list[Finding]:
    """The passage list of each blob (read through a snapshot) joins to its text."""
    found = []
    passages = store.passages
    for blob in blobs:
        try:
            text = store.read_text(blob)
            joined = passages.reader().join(passages.ids(blob) or [])
            same = text is not None and joined == text.encode("utf-8")
        except (PassageError, ArchiveError, UnicodeError):
            same = False
        if not same:
            problem = "passage list does not join to the blob's text"
            found.append(Finding("passages", "blob_passages", blob, problem))
    return found


def check_derived(store: Store, everything: bool = False) -> list[Finding]:
    """What was derived, derived again: readable-text links, metadata made by the running
    extractor, quotation ids (of the contents no content leaf states, unless everything:
    `verify --rederive`), copy sources (`archive.record.rederive`)."""
    from archive.record import rederive

    if everything:
        return derived_findings(store) + copy_findings(store)
    skip = covered(store)
    links = [r for r in store.text_links() if r["blake3"] not in skip]
    extracts = [r for r in rederive.extraction_rows(store) if r["blake3"] not in skip]
    blobs = [b for b, _, _ in store.passages.lists() if b not in skip]
    return derived_findings(store, links, extracts, blobs) + copy_findings(store)


def derived_findings(
    store: Store,
    links: Iterable[dict] | None = None,
    extracts: Iterable[dict] | None = None,
    blobs: Iterable[str] | None = None,
    read: rederive.Reader | None = None,
) -> list[Finding]:
    """The per-blob re-derivations: of the rows and blobs given (a work unit), all when None;
    read gives a blob's bytes when the caller holds them."""
    from archive.record import rederive  # the extractors: where something is re-derived

    found = [
        *rederive.text_links(store, links, read),
        *rederive.metadata(store, extracts, read),
        *rederive.quotes(store, blobs),
    ]
    return [Finding("derived", table, key, problem) for table, key, problem in found]


def copy_findings(store: Store) -> list[Finding]:
    from archive.record import rederive

    found = rederive.copies(store)
    return [Finding("derived", table, key, problem) for table, key, problem in found]


@dataclass(frozen=True)
class Anchors:
    """What the checker trusts, given from outside the archive: the log's keys, witnesses'
    keys, the TSA's CA certificates and checkpoints kept elsewhere (note texts)."""

    keys: tuple[Verifier, ...] = ()
    witnesses: tuple[Verifier, ...] = ()
    tsa_roots: tuple[x509.Certificate, ...] = ()
    checkpoints: tuple[str, ...] = ()


def check_evidence(
    store: Store, anchors: Anchors = Anchors(), leaves: list[bytes] | None = None
) -> list[Finding]:
    """Every kept signature, cosignature and time-stamp token verifies over a tree of this
    ledger; with anchors, the latest checkpoint is signed (and cosigned) by the keys given,
    every token chains to the CA given and every outside checkpoint is in this ledger."""
    from archive.ledger import evidence

    leaves = leaf_hashes(store) if leaves is None else leaves
    found = evidence.check_signatures(store, leaves, anchors.keys, anchors.witnesses)
    found += evidence.check_timestamps(store, leaves, anchors.tsa_roots)
    findings = [Finding("evidence", table, key, problem) for table, key, problem in found]
    for text in anchors.checkpoints:
        outside = evidence.check_external(leaves, text, anchors.keys, origin(store))
        findings += [Finding("external-checkpoint", t, k, p) for t, k, p in outside]
    return findings


# Adding a check: write it above and list it here.
CHECKS: tuple[Check, ...] = (
    check_blobs,
    check_leaves,
    check_unledgered,
    check_checkpoints,
    check_documents,
    check_diffs,
    check_passages,
    check_derived,
    check_evidence,
)


def verify(
    store: Store, checks: tuple[Check, ...] = CHECKS, anchors: Anchors = Anchors()
) -> list[Finding]:
    """Run every check; findings in a stable order."""
    found: list[Finding] = []
    for check in checks:
        found += check_evidence(store, anchors) if check is check_evidence else check(store)
    return found


def verify_external_checkpoint(store: Store, text: str) -> list[Finding]:
    """Is the archive consistent with a checkpoint published earlier? Its first `size`
    stored leaves must hash to the published root (the origin line is not compared, so a
    renamed copy of the archive still checks)."""
    try:
        _, cp = parse_checkpoint_text(text)
    except ValueError as e:
        raise ArchiveError(f"not a checkpoint: {e}") from None
    leaves = leaf_hashes(store)
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
