"""Recording planned changes as versions: the one path every source's versions take."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from archive.diffs.pipeline import DiffQueue
from archive.ledger.checkpoints import append_recorded, append_versions
from archive.record.metadata import Sidecar, provenance_rows, record_provenance, wants_text
from archive.record.plan import Change, DocState
from archive.store import Store


def failpoint(name: str, count: int) -> None:
    """Die like a killed process at a named point: lets tests SIGKILL mid-batch exactly."""
    if os.environ.get("ARCHIVE_KILL_AT") == f"{name}:{count}":
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class RunSummary:
    run_id: int
    source: str
    files_seen: int
    new_versions: int
    unchanged: int
    problems: int
    kinds: dict[str, int] = field(default_factory=dict)
    problem_list: list[dict] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)  # each change by name (plan.change_list)

    def as_dict(self) -> dict:
        return asdict(self)


def record_versions(
    store: Store,
    source_id: int,
    run_id: int,
    changes: list[Change],
    observed_at: str,
    diffs: DiffQueue,
    sidecars: Mapping[str, Sidecar] | None = None,
    commit: str | None = None,
    before_ledger: Callable[[list[int]], None] | None = None,
) -> list[int]:
    """Write planned changes as versions: the one path every source's versions take.

    Folder runs and git commits both come through here, so what follows a version (its
    provenance, its diff, its ledger leaf) is added in one place. commit: the git commit
    they come from. diffs: the batch's queue (the one diff pipeline); the caller stores it at
    the end of its batch. before_ledger(ids): a source's own provenance for the new versions,
    written before their leaves are made (web captures).
    """
    ids = store.record_changes(source_id, run_id, changes, observed_at, commit=commit)
    store.pack_passages(changes)
    record_provenance(store, ids, changes, sidecars or {})
    diffs.extend(store.diff_bases(ids))
    if before_ledger is not None:
        before_ledger(ids)
    append_versions(store, ids)
    return ids


@dataclass
class _Doc:
    """A document's state while a batch records it: what the next version of it needs."""

    id: int
    path: str
    present: bool
    current: int | None  # current_version_id
    blob: str | None  # the current version's content
    seq: int  # the last version's number
    last_content: str | None  # the last content it had (a deletion has none): its diff base
    last_seen: str | None = None


class _Had(Container[str]):
    """The contents a document had, from the batch's memory (`blob in had`)."""

    def __init__(self, batch: VersionBatch, document_id: int) -> None:
        self.batch, self.document_id = batch, document_id

    def __contains__(self, blob: object) -> bool:
        return isinstance(blob, str) and self.batch.latest_with(self.document_id, blob) is not None


class VersionBatch:
    """A batch of commits' versions recorded in memory and written at once (`flush`).

    The batch's documents are read once (`load`), kept up to date as each commit is
    planned and recorded, and the rows it makes (documents, commits, versions, provenance,
    ledger leaves) go in with one statement per table: the same rows, ids and leaves, in
    the same order, as recording commit by commit, at a fraction of the statements. Its
    caller holds the transaction: a kill loses the whole batch, never part of it.
    """

    def __init__(self, store: Store, source_id: int, run_id: int) -> None:
        self.store, self.source_id, self.run_id = store, source_id, run_id
        self.docs: dict[int, _Doc] = {}
        self.at: dict[str, set[int]] = {}  # path -> documents there
        self.latest: dict[tuple[int, str], int] = {}  # (document, blob) -> latest version
        self.asked: set[str] = set()  # contents whose (document, blob) versions are loaded
        self.next_doc, self.next_version = store.next_row_ids()
        self.new_docs: list[tuple] = []
        self.versions: list[dict] = []
        self.provenance: dict[int, dict[tuple[str, str], str | None]] = {}
        self.commits: list[dict] = []
        self.entries: list[tuple[str, dict]] = []  # ledger order: ('commit'|'version', row)
        self.facts: dict[str, dict] = {}
        self.loaded: set[str] = set()  # paths whose documents are read
        self._source: dict | None = None

    def load(self, paths: Iterable[str], blobs: Iterable[str]) -> None:
        """Read the documents at these paths and which of these contents each had: what
        planning the batch's commits asks (their touched paths, their new contents)."""
        paths = [p for p in dict.fromkeys(paths) if p not in self.loaded]
        blobs = set(blobs) - self.asked
        if not paths and not blobs:
            return
        self.loaded.update(paths)
        read: list[int] = []
        for row in self.store.document_rows_at(self.source_id, paths):
            doc_id, path, status, current, blob, seq, last_content = row
            if doc_id in self.docs:
                continue
            self.docs[doc_id] = _Doc(
                doc_id, path, status == "present", current, blob, seq or 0, last_content
            )
            self.at.setdefault(path, set()).add(doc_id)
            read.append(doc_id)
        found = self.store.latest_versions_with(self.docs, blobs) if blobs else {}
        if read and self.asked:  # documents read now, contents asked about before
            found.update(self.store.latest_versions_with(read, self.asked))
        for key, vid in found.items():
            self.latest.setdefault(key, vid)  # one recorded in this batch is later
        self.asked |= blobs
        self.facts.update(self.store.blob_facts(blobs - self.facts.keys()))

    def latest_with(self, document_id: int, blob: str) -> int | None:
        """The document's latest version with this content, None when it never had it."""
        if blob not in self.asked:
            self.load((), (blob,))
        return self.latest.get((document_id, blob))

    def states(self, paths: Sequence[str]) -> list[DocState]:
        """The documents at these paths now, by id (as `Store.document_states`)."""
        self.load(paths, ())  # none when the batch's paths were loaded first
        ids = sorted({i for p in paths for i in self.at.get(p, ())})
        return [
            DocState(i, d.path, d.present, d.blob, _Had(self, i))
            for i in ids
            for d in (self.docs[i],)
        ]

    def add_commit(self, row: dict) -> None:
        """A commit's row, its leaf before those of its versions."""
        self.commits.append(row)
        self.entries.append(("commit", row))

    def record(
        self, changes: Sequence[Change], observed_at: str, commit: str | None = None
    ) -> tuple[list[int], list[tuple[str, str]]]:
        """Number planned changes as versions (in order) and move their documents on: the
        version ids, and the (base, new) content pairs to diff (`Store.diff_bases`)."""
        ids: list[int] = []
        pairs: list[tuple[str, str]] = []
        for change in changes:
            doc = self.docs.get(change.document_id) if change.document_id is not None else None
            if doc is None:
                doc = self._new_document(change, observed_at)
            vid, self.next_version = self.next_version, self.next_version + 1
            blob = change.blob
            version = {
                "id": vid,
                "document_id": doc.id,
                "seq": doc.seq + 1,
                "blob": blob,
                "path": change.path,
                "kind": change.kind,
                "run_id": self.run_id,
                "observed_at": observed_at,
                "mtime": change.mtime,
                "previous_version_id": doc.current,
                "old_path": change.old_path,
                "commit": commit,
                "sidecar_blob": None,
                "same_as_version_id": None if blob is None else self.latest_with(doc.id, blob),
            }
            if blob is not None and doc.last_content not in (None, blob):
                pairs.append((doc.last_content, blob))
            self.at[doc.path].discard(doc.id)
            self.at.setdefault(change.path, set()).add(doc.id)
            doc.path, doc.present, doc.current = change.path, change.kind != "deleted", vid
            doc.blob, doc.seq, doc.last_seen = blob, doc.seq + 1, observed_at
            if blob is not None:
                doc.last_content = blob
                self.latest[(doc.id, blob)] = vid
            self.versions.append(version)
            self.entries.append(("version", version))
            ids.append(vid)
        return ids, pairs

    def _new_document(self, change: Change, observed_at: str) -> _Doc:
        if change.document_id is not None:  # planned from states not read by this batch
            raise ValueError(f"document {change.document_id} is not in this batch")
        doc = _Doc(self.next_doc, change.path, True, None, None, 0, None)
        self.next_doc += 1
        self.new_docs.append(
            (doc.id, self.source_id, change.path, "present", observed_at, observed_at)
        )
        self.docs[doc.id] = doc
        self.at.setdefault(change.path, set()).add(doc.id)
        return doc

    def add_provenance(self, version_ids: Sequence[int], changes: Sequence[Change]) -> None:
        """Each new version's provenance rows (`record_provenance`, no sidecars: git)."""
        for vid, change in zip(version_ids, changes, strict=True):
            if change.blob is None:
                continue
            facts = self.facts.get(change.blob)
            if facts is None:
                self.load((), (change.blob,))
                facts = self.facts.get(change.blob)
            media = facts["media_type"] if facts else None
            text = None
            if facts and facts["is_text"] and wants_text(media):
                text = self.store.read_text(change.blob)
            kept = self.provenance.setdefault(vid, {})
            for origin, key, value in provenance_rows(change.path, text, media, None):
                kept[(origin, key)] = value  # INSERT OR REPLACE: the last one stays

    def flush(self) -> None:
        """Write the batch's rows and ledger leaves (commits first: versions name them)."""
        self.store.insert_commits(self.commits)
        touched = sorted({v["document_id"] for v in self.versions})
        self.store.write_versions(
            self.new_docs,
            self.versions,
            [
                (d.path, "present" if d.present else "deleted", d.current, d.last_seen, d.id)
                for d in (self.docs[i] for i in touched)
            ],
            [
                (vid, origin, key, value)
                for vid, rows in self.provenance.items()
                for (origin, key), value in rows.items()
            ],
        )
        if self._source is None:
            self._source = self.store.source_row(self.source_id)
        append_recorded(self.store, self.entries, self._leaf_facts)
        self.new_docs, self.versions, self.commits, self.entries = [], [], [], []
        self.provenance = {}

    def _leaf_facts(self, version: dict) -> dict:
        """A version's `Store.leaf_facts` entry, from memory."""
        blob = version["blob"]
        return {
            "version": version,
            "blob": None if blob is None else self.facts[blob],
            "source": self._source,
            "provenance": [
                {"version_id": version["id"], "origin": o, "key": k, "value": v}
                for (o, k), v in self.provenance.get(version["id"], {}).items()
            ],
            "capture": None,
        }
