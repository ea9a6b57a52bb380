"""Record an observation of a source as versions: one atomic batch per run."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from archive.changes import Change, Observed, summarize
from archive.diff_queue import worker_deaths
from archive.integrity import append_versions, backfill, checkpoint_run
from archive.metadata import (
    Sidecar,
    read_sidecar,
    record_provenance,
    record_sidecar_edits,
    sidecar_target,
    store_content,
)
from archive.similarity import plan_with_renames
from archive.store import ArchiveError, Store, now_iso
from archive.stored_diffs import store_diffs
from ingest.folder import FileEntry, Problem, scan

if TYPE_CHECKING:
    from archive.diff_queue import DiffQueue


def _failpoint(name: str, count: int) -> None:
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

    def as_dict(self) -> dict:
        return asdict(self)


def _read(entry: FileEntry) -> bytes:
    with open(entry.abspath, "rb") as f:
        return f.read()


def ingest_folder(
    store: Store,
    root: str,
    command: str,
    progress: Callable[[int], None] | None = None,
    *,
    extract_metadata: bool = True,
) -> RunSummary:
    """Hash the folder (no lock held), then store new contents and versions in one batch.

    Sidecars (`<file>.meta.yml|.meta.yaml|.meta.json`) are not documents: their bytes are
    stored as blobs and linked to the versions they describe.
    """
    if not os.path.isdir(root):
        raise ArchiveError(f"{root} is not a folder")
    location = store.location_of(root)
    exclude = frozenset(
        os.path.realpath(store.path + suffix) for suffix in ("", "-wal", "-shm", "-journal")
    )
    started = now_iso()
    entries, problems = scan(root, exclude, progress)
    documents = [e for e in entries if sidecar_target(e.path) is None]
    sidecar_entries = [e for e in entries if sidecar_target(e.path) is not None]
    with worker_deaths(), store.write(), store.caching_texts():
        source = store.source("folder", location)
        run_id = store.start_run(source["id"], command, started)
        backfill(store)
        observed, unreadable, noted = _store_new_contents(
            store, documents, problems, extract_metadata=extract_metadata
        )
        present = {o.path for o in observed}
        sidecars, sidecar_problems = _read_sidecars(store, sidecar_entries, present)
        changes = plan_with_renames(
            store.document_states(source["id"]),
            observed,
            keep_paths=[p.path for p in unreadable],
            read=store.read_content,
        )
        record_versions(store, source["id"], run_id, changes, started, sidecars)
        _failpoint("versions", len(changes))
        changed = {c.path for c in changes}
        record_sidecar_edits(store, source["id"], run_id, changed, sidecars)
        store.touch_documents(
            source["id"], [o.path for o in observed if o.path not in changed], started
        )
        unreadable = unreadable + sidecar_problems + noted
        store.add_problems(run_id, [(p.path, p.reason) for p in unreadable])
        counts = dict(
            files_seen=len(observed),
            new_versions=len(changes),
            unchanged=len(observed) - sum(c.kind != "deleted" for c in changes),
            problems=len(unreadable),
        )
        checkpoint_run(store, run_id)
        store.finish_run(run_id, **counts)
    return RunSummary(
        run_id,
        source["name"],
        kinds=summarize(changes),
        problem_list=[{"path": p.path, "reason": p.reason} for p in unreadable],
        **counts,
    )


def record_versions(
    store: Store,
    source_id: int,
    run_id: int,
    changes: list[Change],
    observed_at: str,
    sidecars: Mapping[str, Sidecar] | None = None,
    commit: str | None = None,
    pending_diffs: list[tuple[str, str]] | DiffQueue | None = None,
) -> list[int]:
    """Write planned changes as versions: the one path every source's versions take.

    Folder runs and git commits both come through here, so what follows a version (its
    provenance, its diff, its ledger leaf) is added in one place. commit: the git commit
    they come from. pending_diffs: a batch's list (or DiffQueue) to collect the (from, to)
    content pairs in, for the caller to store at the end of its batch; None stores them now.
    """
    ids = store.record_changes(source_id, run_id, changes, observed_at, commit=commit)
    store.pack_passages(changes)
    record_provenance(store, ids, changes, sidecars or {})
    pairs = store.diff_bases(ids)
    if pending_diffs is None:
        store_diffs(store, pairs)
    else:
        pending_diffs.extend(pairs)
    append_versions(store, ids)
    return ids


def _read_sidecars(
    store: Store, entries: list[FileEntry], present: set[str]
) -> tuple[dict[str, Sidecar], list[Problem]]:
    """Store every sidecar's bytes; parse it for the document it sits next to.

    A sidecar with no document beside it, a second sidecar for the same document, and a
    malformed one are problems; their bytes are kept all the same.
    """
    sidecars: dict[str, Sidecar] = {}
    problems: list[Problem] = []
    for entry in sorted(entries, key=lambda e: e.path):
        try:
            data = _read(entry)
        except OSError as e:
            problems.append(Problem(entry.path, f"unreadable: {e.strerror}"))
            continue
        sidecar, reasons = read_sidecar(store, entry.path, data)
        problems += [Problem(entry.path, r) for r in reasons]
        target = sidecar_target(entry.path)
        if target not in present:
            problems.append(Problem(entry.path, f"sidecar: no document {target} beside it"))
        elif target in sidecars:
            first = sidecars[target].path
            problems.append(Problem(entry.path, f"sidecar: {first} already describes {target}"))
        else:
            sidecars[target] = sidecar
    return sidecars, problems


def _store_new_contents(
    store: Store,
    entries: list[FileEntry],
    problems: list[Problem],
    *,
    extract_metadata: bool = True,
) -> tuple[list[Observed], list[Problem], list[Problem]]:
    """Store each content not yet in the archive, hashed from exactly the bytes stored.

    Returns the observations, the files that could not be read, and problems noted about
    contents that were stored all the same (broken formats, failing extractors).
    """
    known = store.known_blobs(e.blake3 for e in entries)
    observed: list[Observed] = []
    problems = list(problems)
    noted: list[Problem] = []
    stored = 0
    for entry in entries:
        blake3 = entry.blake3
        if blake3 not in known:
            try:
                data = _read(entry)
            except OSError as e:
                problems.append(Problem(entry.path, f"unreadable: {e.strerror}"))
                continue
            result = store_content(store, entry.path, data, extract_metadata=extract_metadata)
            info = result.info
            noted += [Problem(entry.path, reason) for reason in result.problems]
            stored += 1
            _failpoint("blob", stored)
            blake3 = info.blake3  # differs from the scan if the file changed meanwhile
            known.add(blake3)
        observed.append(Observed(entry.path, blake3, entry.mtime))
    return observed, problems, noted
