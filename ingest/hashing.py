"""Content hashing: BLAKE3 is the archive's key, SHA-256 is for interoperability."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import blake3

# Files at least this large are hashed from a memory map with all cores.
LARGE_FILE = 4 * 1024 * 1024
CHUNK = 1024 * 1024


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


def blake3_file(path: str | os.PathLike[str]) -> str:
    """BLAKE3 of a file, streamed so memory stays flat; multithreaded for large files."""
    size = os.stat(path).st_size
    if size >= LARGE_FILE:
        return blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(path).hexdigest()
    hasher = blake3.blake3()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
