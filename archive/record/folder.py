"""`archive ingest FOLDER`: a folder's files hashed, stored and recorded in one atomic batch."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from archive.diffs.pipeline import DiffQueue, WorkerPool, worker_deaths
from archive.ledger.checkpoints import backfill, checkpoint_run
from archive.ledger.contents import append_contents
from archive.passages.indexing import catch_up_documents
from archive.record.large import LARGE_CONTENT, is_large, store_large
from archive.record.metadata import (
    Prepared,
    Sidecar,
    prepare_content,
    read_sidecar,
    record_sidecar_edits,
    sidecar_target,
    write_prepared,
)
from archive.record.plan import Observed, change_list, summarize
from archive.record.renames import plan_with_renames
from archive.record.versions import RunSummary, failpoint, record_versions
from archive.store import ArchiveError, Store, now_iso
from ingest.content import BlobInfo
from ingest.folder import FileEntry, Problem, open_entry, read_entry, scan

HELD_BYTES = 64 << 20  # most bytes of small files read and prepared as one group

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
    with worker_deaths(), WorkerPool() as pool, store.write(), store.caching_texts():
        source = store.source("folder", location)
        run_id = store.start_run(source["id"], command, started)
        backfill(store)
        observed, unreadable, noted = _store_new_contents(
            store, documents, problems, extract_metadata=extract_metadata, pool=pool
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
        catch_up_documents(store)
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
    pool: WorkerPool | None = None,
) -> tuple[list[Observed], list[Problem], list[Problem]]:
    """Store each content not yet in the archive, hashed from exactly the bytes stored.

    Files are read in order and their contents prepared (`prepare_content`) in groups of at
    most HELD_BYTES, on the pool's workers when there are some: the same rows in the same
    order whatever their number. Returns the observations, the files that could not be read,
    and problems noted about contents that were stored all the same (broken formats,
    failing extractors).
    """
    pool = pool or WorkerPool(workers=1)
    known = store.known_blobs(e.blake3 for e in entries)
    order: list[list] = []  # [entry, content key]: the key of a held file once it is stored
    problems = list(problems)
    noted: list[Problem] = []
    held: list[tuple[list, bytes]] = []
    queued: set[str] = set()  # scan hashes of the held files
    stored = 0

    def flush() -> None:
        nonlocal held, stored
        items = [(slot[0].path, data, extract_metadata) for slot, data in held]
        prepared = pool.map(_prepare, items, sum(len(d) for _, d in held))
        leaves: list = []
        for (slot, data), done in zip(held, prepared, strict=True):
            result = write_prepared(store, done, data, leaves=leaves)
            noted.extend(Problem(slot[0].path, reason) for reason in result.problems)
            stored += 1
            failpoint("blob", stored)
            slot[1] = result.info.blake3  # differs from the scan if the file changed meanwhile
            known.add(slot[1])
        append_contents(store, leaves)
        held = []
        queued.clear()

    for entry in entries:
        if entry.blake3 in queued:
            flush()  # a second file with a held content: decide on the stored one
        if entry.blake3 in known:
            order.append([entry, entry.blake3])
            continue
        slot = [entry, None]
        try:
            data = _read_small(entry)
            if data is None:
                flush()  # large: streamed into chunks in its turn
                slot[1] = store_large_file(store, entry).blake3
                stored += 1
                failpoint("blob", stored)
                known.add(slot[1])
                order.append(slot)
                continue
        except OSError as e:
            problems.append(Problem(entry.path, f"unreadable: {e.strerror or e}"))
            continue
        order.append(slot)
        held.append((slot, data))
        queued.add(entry.blake3)
        if sum(len(d) for _, d in held) >= HELD_BYTES:
            flush()
    flush()
    observed = [Observed(entry.path, blake3, entry.mtime) for entry, blake3 in order]
    return observed, problems, noted


def _prepare(item: tuple[str, bytes, bool]) -> Prepared:
    """Top-level so the pool can pickle it; item: (path, bytes, extract metadata)."""
    return prepare_content(*item)


def _read_small(entry: FileEntry) -> bytes | None:
    """A file's bytes as the scan saw it (ingest.folder.open_entry: no link is followed, a
    swapped file is an OSError), or None when it is (or has become) large."""
    if is_large(entry.size):
        return None
    with open_entry(entry) as f:
        data = f.read(LARGE_CONTENT)
    return None if is_large(len(data)) else data


def store_large_file(store: Store, entry: FileEntry) -> BlobInfo:
    """Stream a large file into chunks: memory stays bounded whatever it became since the scan."""
    with open_entry(entry) as f:
        return store_large(store, entry.path, f)
