"""`archive ingest FOLDER`: a folder's files hashed, stored and recorded in one atomic batch."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from archive.diffs.pipeline import DiffPool, DiffQueue, worker_deaths
from archive.ledger.checkpoints import backfill, checkpoint_run
from archive.passages.indexing import catch_up as catch_up_spans
from archive.record.large import LARGE_CONTENT, is_large, store_large
from archive.record.metadata import (
    Sidecar,
    read_sidecar,
    record_sidecar_edits,
    sidecar_target,
    store_content,
)
from archive.record.plan import Observed, change_list, summarize
from archive.record.renames import plan_with_renames
from archive.record.versions import RunSummary, failpoint, record_versions
from archive.store import ArchiveError, Store, now_iso
from ingest.content import BlobInfo
from ingest.folder import FileEntry, Problem, open_entry, read_entry, scan

if TYPE_CHECKING:
    from archive.diffs.pipeline import DiffQueue


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
    with worker_deaths(), DiffPool() as pool, store.write(), store.caching_texts():
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
            read=store.similarity_content,
        )
        diffs = DiffQueue(store, pool)
        record_versions(store, source["id"], run_id, changes, started, diffs, sidecars)
        diffs.store_all()
        catch_up_spans(store)
        failpoint("versions", len(changes))
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
        store.finish_run(run_id, **counts)
        checkpoint_run(store, run_id)
    store.compact()  # the pages freed as contents moved into passages
    return RunSummary(
        run_id,
        source["name"],
        kinds=summarize(changes),
        problem_list=[{"path": p.path, "reason": p.reason} for p in unreadable],
        changed=change_list(changes),
        **counts,
    )


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
            data = read_entry(entry)
        except OSError as e:
            problems.append(Problem(entry.path, f"unreadable: {e.strerror or e}"))
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
                info, reasons = _store_file(store, entry, extract_metadata)
            except OSError as e:
                problems.append(Problem(entry.path, f"unreadable: {e.strerror or e}"))
                continue
            noted += [Problem(entry.path, reason) for reason in reasons]
            stored += 1
            failpoint("blob", stored)
            blake3 = info.blake3  # differs from the scan if the file changed meanwhile
            known.add(blake3)
        observed.append(Observed(entry.path, blake3, entry.mtime))
    return observed, problems, noted


def _store_file(store: Store, entry: FileEntry, extract_metadata: bool) -> tuple[BlobInfo, list]:
    """Store one file's content as the scan saw it (ingest.folder.open_entry: no link is
    followed, a swapped file is an OSError); a large one (then, or by now) streams into
    chunks, so memory stays bounded whatever the file became since the scan."""
    with open_entry(entry) as f:
        if not is_large(entry.size):
            data = f.read(LARGE_CONTENT)
            if not is_large(len(data)):
                result = store_content(store, entry.path, data, extract_metadata=extract_metadata)
                return result.info, result.problems
            f.seek(0)
        return store_large(store, entry.path, f), []
