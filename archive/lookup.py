"""`archive lookup`: where did this exact content appear? (a file on disk, or a hash prefix)"""

from __future__ import annotations

import os
from dataclasses import dataclass

from archive.refs import HEX, RefError
from archive.store import ArchiveError, Store
from ingest.hashing import blake3_file


class NotInArchive(ArchiveError):
    """The content was never archived."""


@dataclass(frozen=True)
class Appearance:
    source: str
    document_id: int
    seq: int
    kind: str
    path: str
    observed_at: str
    run_id: int


@dataclass(frozen=True)
class LookupResult:
    blake3: str
    sha256: str
    size: int
    appearances: tuple[Appearance, ...]

    def as_dict(self) -> dict:
        return {
            "blake3": self.blake3,
            "sha256": self.sha256,
            "size": self.size,
            "appearances": [a.__dict__ for a in self.appearances],
        }


def find_content(store: Store, query: str) -> dict:
    """The blob named by a file path (hashed) or a BLAKE3/SHA-256 hex prefix (>= 6)."""
    if os.path.isfile(query):
        try:
            digest = blake3_file(query)
        except OSError as e:
            raise ArchiveError(f"cannot read {query}: {e.strerror}") from None
        blob = store.blob(digest)
        if blob is None:
            raise NotInArchive(f"not in the archive: {digest}")
        return blob
    if not HEX.match(query):
        raise RefError(f"{query!r} is neither a file nor a hash prefix (6 to 64 hex digits)")
    blobs = store.find_blobs(query)
    if not blobs:
        raise NotInArchive(f"not in the archive: {query.lower()}")
    if len(blobs) > 1:
        names = ", ".join(b["blake3"] for b in blobs)
        raise RefError(f"hash prefix {query} is ambiguous: {names}")
    return blobs[0]


def lookup(store: Store, query: str) -> LookupResult:
    """Every version, in every source, whose content is exactly the queried content."""
    blob = find_content(store, query)
    appearances = tuple(
        Appearance(
            v["source"],
            v["document_id"],
            v["seq"],
            v["kind"],
            v["path"],
            v["observed_at"],
            v["run_id"],
        )
        for v in store.versions_with_blob(blob["blake3"])
    )
    return LookupResult(blob["blake3"], blob["sha256"], blob["size"], appearances)
