"""Record an observation of a source as versions: one atomic batch per run."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from archive.changes import Change, Observed, plan, summarize
from archive.store import ArchiveError, Store, now_iso
from ingest.content import describe
from ingest.folder import FileEntry, Problem, scan


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
) -> RunSummary:
    """Hash the folder (no lock held), then store new contents and versions in one batch."""
    if not os.path.isdir(root):
        raise ArchiveError(f"{root} is not a folder")
    location = store.location_of(root)
    exclude = frozenset(
        os.path.realpath(store.path + suffix) for suffix in ("", "-wal", "-shm", "-journal")
    )
    started = now_iso()
    entries, problems = scan(root, exclude, progress)
    with store.write():
        source = store.source("folder", location)
        run_id = store.start_run(source["id"], command, started)
        observed, unreadable = _store_new_contents(store, entries, problems)
        changes = plan(
            store.document_states(source["id"]),
            observed,
            keep_paths=[p.path for p in unreadable],
        )
        record_versions(store, source["id"], run_id, changes, started)
        _failpoint("versions", len(changes))
        changed = {c.path for c in changes}
        store.touch_documents(
            source["id"], [o.path for o in observed if o.path not in changed], started
        )
        store.add_problems(run_id, [(p.path, p.reason) for p in unreadable])
        counts = dict(
            files_seen=len(observed),
            new_versions=len(changes),
            unchanged=len(observed) - sum(c.kind != "deleted" for c in changes),
            problems=len(unreadable),
        )
        store.finish_run(run_id, **counts)
    return RunSummary(
        run_id,
        source["name"],
        kinds=summarize(changes),
        problem_list=[{"path": p.path, "reason": p.reason} for p in unreadable],
        **counts,
    )


def record_versions(
    store: Store, source_id: int, run_id: int, changes: list[Change], observed_at: str
) -> list[int]:
    """Write planned changes as versions: the one path every source's versions take.

    Folder runs and git commits both come through here, so what follows a version (its
    diff, its ledger leaf) is added in one place.
    """
    ids = store.record_changes(source_id, run_id, changes, observed_at)
    store.pack_passages(changes)
    return ids


def _store_new_contents(
    store: Store, entries: list[FileEntry], problems: list[Problem]
) -> tuple[list[Observed], list[Problem]]:
    """Store each content not yet in the archive, hashed from exactly the bytes stored."""
    known = store.known_blobs(e.blake3 for e in entries)
    observed: list[Observed] = []
    problems = list(problems)
    stored = 0
    for entry in entries:
        blake3 = entry.blake3
        if blake3 not in known:
            try:
                data = _read(entry)
            except OSError as e:
                problems.append(Problem(entry.path, f"unreadable: {e.strerror}"))
                continue
            info, _ = describe(entry.path, data)
            store.insert_blob(info, data)
            stored += 1
            _failpoint("blob", stored)
            blake3 = info.blake3  # differs from the scan if the file changed meanwhile
            known.add(blake3)
        observed.append(Observed(entry.path, blake3, entry.mtime))
    return observed, problems
