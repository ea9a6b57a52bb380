"""Describe a content once: its digests, whether it is text, and how it decodes."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.decode import Decoded, decode
from ingest.hashing import digests


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
    return "text/plain" if decoded.is_text else "application/octet-stream"


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
