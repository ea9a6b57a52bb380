"""Standard export formats (checksum manifests, BagIt, OCFL, PROV) from plain version data.

The store hands over ExportVersion rows plus a `read_bytes(blake3_hex)` callable giving the
bytes, or an iterable of pieces (the store's `iter_content`, so a large content is copied
chunk by chunk); nothing here touches the database, so each format can be tested on its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import blake3

ReadBytes = Callable[[str], bytes | Iterable[bytes]]


@dataclass(frozen=True)
class ExportVersion:
    """One archive version as the exporters need it (None digests/size for a deletion)."""

    version_id: int
    document_id: int
    document_path: str  # current path of the document
    seq: int
    kind: str  # added | modified | renamed | deleted | restored | reverted
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


# A web document's path is its URI (WARC-Target-URI, a capture's URL): scheme "://" ...
_URI = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)", re.DOTALL)
# File systems take names of up to 255 bytes; longer ones keep a prefix and a hash of the whole.
_NAME_MAX = 240


def export_path(path: str) -> PurePosixPath:
    """Where a document goes in an export: its own relative path (`safe_relpath`), or, for a
    web document, whose path is its URI, web/<scheme>/<host>/<the rest as one name>.

    Each URI part is escaped whole (`/`, `?`, `:` too), so the mapping is one-to-one, no
    URI's file is another's folder, and a hostile URI cannot name `..`, a device or an
    over-long file: one over _NAME_MAX keeps a prefix and its BLAKE3."""
    uri = _URI.fullmatch(path)
    if uri is None:
        return safe_relpath(path)
    return PurePosixPath("web", *(_web_name(part) for part in uri.groups()))


def _web_name(part: str) -> str:
    """One URI part as one safe file name: percent-encoding with "~" for "%" (BagIt tools
    disagree on "%" in manifest paths, RFC 8493 2.1.3: none is left) and "~7E" for "~";
    "~" alone for an empty part and dots encoded in a name of dots only, neither of which
    the escaping yields otherwise; a long name ends in "~~" and a hash."""
    name = quote(part, safe="", errors="surrogateescape").replace("~", "%7E").replace("%", "~")
    if not name:
        return "~"
    if not name.strip("."):
        name = name.replace(".", "~2E")
    if len(name) > _NAME_MAX:
        digest = blake3.blake3(name.encode()).hexdigest()[:32]
        name = f"{name[: _NAME_MAX - 34]}~~{digest}"
    return name


def exportable(
    versions: Iterable[ExportVersion], unique_latest: bool = False
) -> tuple[list[ExportVersion], list[tuple[str, str]]]:
    """The versions of documents every path of which an export can hold, and (path, reason)
    for each document left out: one bad name refuses its document, never the archive.

    unique_latest: also leave out a document whose latest present path another document
    already takes (as a file, or as a folder of it): a bag or manifest holds one file there."""
    kept: list[ExportVersion] = []
    refused: list[tuple[str, str]] = []
    taken: dict[str, int] = {}  # exported file path -> document
    folders: set[str] = set()  # folders those files need
    for doc_id, vs in by_document(versions).items():
        bad = None
        for v in vs:
            if v.blake3 is None:
                continue
            try:
                export_path(v.path)
            except ValueError as e:
                bad = (v.path, f"not exported: {e}")
                break
        last = vs[-1]
        if bad is None and unique_latest and last.blake3 is not None and last.kind != "deleted":
            at = str(export_path(last.path))
            bad = _collision(at, taken, folders)
            if bad is None:
                taken[at] = doc_id
                folders.update(_folders(at))
            else:
                bad = (last.path, bad[1])
        if bad is None:
            kept += vs
        else:
            refused.append(bad)
    return kept, refused


def _folders(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _collision(path: str, taken: dict[str, int], folders: set[str]) -> tuple[str, str] | None:
    for other in (path, *_folders(path)):
        if other in taken:
            return path, f"not exported: document {taken[other]} is exported at {other!r}"
    if path in folders:
        return path, "not exported: other documents are exported inside it as a folder"
    return None


def tag_value(value: str) -> str:
    """A value on one tag-file line: line breaks and other control characters escaped, so a
    source name cannot add fields (`bag-info.txt`)."""
    return "".join(
        c if c.isprintable() or c == " " else _CONTROL_NAMES.get(c, _escaped(ord(c))) for c in value
    )


def _escaped(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_CONTROL_NAMES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


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
    return b"".join(_pieces(v, read_bytes, ()))


def write_checked(
    v: ExportVersion, read_bytes: ReadBytes, target: Path, algorithms: Iterable[str]
) -> tuple[dict[str, str], int]:
    """Copy a present version's content to target piece by piece (memory: one piece) and
    return its digests in `algorithms` and its size; ValueError (target removed) when the
    bytes do not hash to the version's BLAKE3, so a damaged store cannot leak into an export."""
    hashers = {alg: hashlib.new(alg) for alg in algorithms}
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(target, "wb") as f:
            for piece in _pieces(v, read_bytes, hashers.values()):
                f.write(piece)
                size += len(piece)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return {alg: h.hexdigest() for alg, h in hashers.items()}, size


def _pieces(v: ExportVersion, read_bytes: ReadBytes, hashers: Iterable) -> Iterator[bytes]:
    """The content's pieces, fed to hashers too; the BLAKE3 is checked after the last one."""
    if v.blake3 is None:
        raise ValueError(f"version {v.version_id} has no content")
    got = read_bytes(v.blake3)
    pieces = [got] if isinstance(got, bytes | bytearray) else got
    b3 = blake3.blake3()
    hashers = list(hashers)
    for piece in pieces:
        b3.update(piece)
        for h in hashers:
            h.update(piece)
        yield piece
    if b3.hexdigest() != v.blake3:
        raise ValueError(f"content for version {v.version_id} does not match its BLAKE3")


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
    "write_checked",
    "exportable",
    "export_path",
    "tag_value",
    "require_empty_dest",
    "safe_relpath",
    "utc_timestamp",
]
