"""Describe a content once: its digests, whether it is text, and how it decodes."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.decode import Decoded, decode, newline_style
from ingest.formats import sniff_media_type
from ingest.hashing import Digests, digests


@dataclass(frozen=True)
class BlobInfo:
    blake3: str
    sha256: str
    size: int
    media_type: str
    encoding: str | None
    is_text: bool
    newline: str
    flags: tuple[str, ...]


def media_type(path: str, data: bytes, decoded: Decoded) -> str:
    """Sniffed type (magic, then extension); text the sniffer calls binary stays text/plain."""
    sniffed = sniff_media_type(path, data)
    if sniffed == "application/octet-stream" and decoded.is_text:
        return "text/plain"
    return sniffed


def text_blob(text: str) -> tuple[BlobInfo, bytes]:
    """The readable text of an HTML/PDF/DOCX content as its own UTF-8 text/plain blob.

    Stored content-addressed like any blob, so a diff of two versions' texts is hash-checked.
    """
    data = text.encode("utf-8")
    d = digests(data)
    info = BlobInfo(
        blake3=d.blake3,
        sha256=d.sha256,
        size=len(data),
        media_type="text/plain",
        encoding="utf-8",
        is_text=True,
        newline=newline_style(text),
        flags=() if data else ("empty",),
    )
    return info, data


def describe(path: str, data: bytes) -> tuple[BlobInfo, Decoded]:
    d = digests(data)
    decoded = decode(data)
    info = BlobInfo(
        blake3=d.blake3,
        sha256=d.sha256,
        size=len(data),
        media_type=media_type(path, data, decoded),
        encoding=decoded.encoding,
        is_text=decoded.is_text,
        newline=decoded.newline,
        flags=decoded.flags,
    )
    return info, decoded


def describe_large(path: str, head: bytes, d: Digests, size: int) -> BlobInfo:
    """A content too large to hold (stored in chunks), from its first bytes and its digests.

    Never text for the archive (no decoding, diff or passages): flagged "large", plus
    "large-text" when its start reads as text, so a reader knows what was skipped."""
    decoded = decode(head)
    sniffed = sniff_media_type(path, head)
    looks_text = decoded.is_text and "nul" not in decoded.flags
    if sniffed == "application/octet-stream" and looks_text:
        sniffed = "text/plain"
    return BlobInfo(
        blake3=d.blake3,
        sha256=d.sha256,
        size=size,
        media_type=sniffed,
        encoding=None,
        is_text=False,
        newline="none",
        flags=("large", "large-text") if looks_text else ("large",),
    )
