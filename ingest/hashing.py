"""Content hashing: BLAKE3 is the archive's key, SHA-256 is for interoperability.

Files are hashed as a stream of reads into one reused buffer: memory stays flat whatever the
size, and no memory map is used (a file truncated while mapped kills the process with SIGBUS).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import blake3

# Reads of this size are hashed with all cores (BLAKE3 releases the GIL and splits the input).
CHUNK = 4 * 1024 * 1024
FIRST = 64 * 1024
THREADED = blake3.blake3.AUTO


@dataclass(frozen=True)
class Digests:
    blake3: str
    sha256: str


def blake3_hex(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digests(data: bytes) -> Digests:
    """Both digests of bytes already in memory (used once per new distinct content)."""
    return Digests(blake3_hex(data), sha256_hex(data))


def _reads(stream: BinaryIO) -> Iterator[memoryview]:
    """The stream's bytes in reused buffers: 64 KiB first (most files end there, and a
    zeroed 4 MiB buffer per small file costs more than hashing it), CHUNK once it is large."""
    buf = bytearray(FIRST)
    view = memoryview(buf)
    while n := stream.readinto(view):
        yield view[:n]
        if n == len(buf) and len(buf) < CHUNK:
            buf = bytearray(CHUNK)
            view = memoryview(buf)


def blake3_stream(stream: BinaryIO) -> str:
    """BLAKE3 of everything left in a binary stream, read in flat-memory chunks."""
    hasher = blake3.blake3(max_threads=THREADED)
    for piece in _reads(stream):
        hasher.update(piece)
    return hasher.hexdigest()


def digests_stream(stream: BinaryIO) -> tuple[Digests, int]:
    """Both digests and the size of everything left in a stream (memory flat)."""
    b3 = blake3.blake3(max_threads=THREADED)
    sha = hashlib.sha256()
    size = 0
    for piece in _reads(stream):
        b3.update(piece)
        sha.update(piece)
        size += len(piece)
    return Digests(b3.hexdigest(), sha.hexdigest()), size


def blake3_file(path: str | os.PathLike[str]) -> str:
    """BLAKE3 of a file, streamed so memory stays flat; multithreaded for large reads."""
    with open(path, "rb", buffering=0) as f:
        return blake3_stream(f)
