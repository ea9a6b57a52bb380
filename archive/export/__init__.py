"""Standard export formats (checksum manifests, BagIt, OCFL, PROV) from plain version data.

The store hands over ExportVersion rows plus a `read_bytes(blake3_hex) -> bytes` callable;
nothing here touches the database, so each format can be tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import blake3

ReadBytes = Callable[[str], bytes]


@dataclass(frozen=True)
class ExportVersion:
    """One archive version as the exporters need it (None digests/size for a deletion)."""

    version_id: int
    document_id: int
    document_path: str  # current path of the document
    seq: int
    kind: str  # added | modified | renamed | deleted | restored
    path: str  # path at that version
    blake3: str | None
    sha256: str | None
    size: int | None
    observed_at: str  # ISO 8601 UTC
    run_id: int
    source: str
    provenance: dict | None


def safe_relpath(path: str) -> PurePosixPath:
    """A relative POSIX path that cannot escape the export directory (ValueError if not)."""
    if not path or "\x00" in path or path.startswith("/"):
        raise ValueError(f"unsafe export path: {path!r}")
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"unsafe export path: {path!r}")
    return PurePosixPath(*parts)


def utc_timestamp(value: str) -> str:
    """ISO 8601 -> RFC 3339 UTC with 'Z'; naive times are taken as UTC (the archive's rule)."""
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from e
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def by_document(versions: Iterable[ExportVersion]) -> dict[int, list[ExportVersion]]:
    """Versions grouped per document in seq order, documents in id order (deterministic)."""
    docs: dict[int, list[ExportVersion]] = {}
    for v in versions:
        docs.setdefault(v.document_id, []).append(v)
    out = {}
    for doc_id in sorted(docs):
        vs = sorted(docs[doc_id], key=lambda v: v.seq)
        if len({v.seq for v in vs}) != len(vs):
            raise ValueError(f"document {doc_id} has duplicate seq numbers")
        out[doc_id] = vs
    return out


def checked_bytes(v: ExportVersion, read_bytes: ReadBytes) -> bytes:
    """Content of a present version, re-hashed so a damaged store cannot leak into an export."""
    if v.blake3 is None:
        raise ValueError(f"version {v.version_id} has no content")
    data = read_bytes(v.blake3)
    if blake3.blake3(data).hexdigest() != v.blake3:
        raise ValueError(f"content for version {v.version_id} does not match its BLAKE3")
    return data


def require_empty_dest(dest: Path) -> None:
    """Exports never merge into existing files: that would mix two exports silently."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError(f"export destination is not an empty directory: {dest}")
    dest.mkdir(parents=True, exist_ok=True)


__all__ = [
    "ExportVersion",
    "ReadBytes",
    "by_document",
    "checked_bytes",
    "require_empty_dest",
    "safe_relpath",
    "utc_timestamp",
]
