"""Recording planned changes as versions: the one path every source's versions take."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

from archive.diffs.pipeline import DiffQueue
from archive.ledger.checkpoints import append_versions
from archive.record.metadata import Sidecar, record_provenance
from archive.record.plan import Change
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
