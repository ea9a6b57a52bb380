"""`archive verify --corpus`: a folder compared with the latest versions it was ingested as.

What a checksum list alone cannot see: changed, missing and untracked files, and sidecars
compared with the sidecar in force for their document. Kept apart from the archive's own
checks (`archive.verify`): it reads a folder, they read the archive.
"""

from __future__ import annotations

import os

from archive.export import by_document
from archive.export.versions import export_versions
from archive.record.metadata import sidecar_target
from archive.store import ArchiveError, Store
from archive.verify import Finding
from ingest.folder import scan


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
