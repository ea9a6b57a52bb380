"""Content-defined chunks of a large content, hashed while streaming (FastCDC, pyfastcdc).

Chunk boundaries depend on the bytes around them, not on offsets, so two revisions of a large
binary (a PDF, a dataset) share every chunk the edit did not touch, as in restic and borg.
One pass over the stream gives the chunks (each with its BLAKE3) and the digests of the whole
content; memory holds one read buffer and one chunk at a time, whatever the size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import blake3
from pyfastcdc import FastCDC

from ingest.hashing import Digests

# Contents at least this large are streamed into chunks, never held whole: no extraction,
# no diff, no passages (flagged "large"), whatever their type.
LARGE_CONTENT = 16 * 1024 * 1024
# How much of a large content's start is kept to sniff its type.
HEAD = 64 * 1024
# Average chunk ~ AVG + MIN (FastCDC skips MIN bytes before looking for a cut).
AVG_SIZE = 512 * 1024
MIN_SIZE = 256 * 1024
MAX_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class Piece:
    """One chunk: where it sits in the content, its bytes and their BLAKE3."""

    offset: int
    data: bytes
    blake3: str


class Chunker:
    """Iterate a stream's chunks; once exhausted, `digests` and `size` describe it whole.

    Both digests are of the exact bytes the chunks hold, so what is stored is what is hashed.
    """

    def __init__(
        self, stream: BinaryIO, avg: int = AVG_SIZE, low: int = MIN_SIZE, high: int = MAX_SIZE
    ) -> None:
        self._stream = stream
        self._cdc = FastCDC(avg, min_size=low, max_size=high)
        self._b3 = blake3.blake3(max_threads=blake3.blake3.AUTO)
        self._sha = hashlib.sha256()
        self.size = 0
        self._done = False

    def __iter__(self) -> Iterator[Piece]:
        for chunk in self._cdc.cut_stream(self._stream):
            data = bytes(chunk.data)  # the view is reused for the next chunk
            self._b3.update(data)
            self._sha.update(data)
            self.size += len(data)
            yield Piece(chunk.offset, data, blake3.blake3(data).hexdigest())
        self._done = True

    @property
    def digests(self) -> Digests:
        if not self._done:
            raise RuntimeError("digests asked before the stream was read to its end")
        return Digests(self._b3.hexdigest(), self._sha.hexdigest())


class Prefixed:
    """A stream's first bytes, already read (to sniff its type), put back in front of it."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            memoryview(buffer)[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._rest.readinto(buffer) or 0


def read_head(stream: BinaryIO, size: int = HEAD) -> bytes:
    """Up to `size` first bytes of a stream (short reads of pipes included)."""
    pieces, got = [], 0
    while got < size:
        piece = stream.read(size - got)
        if not piece:
            break
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)


def chunk_stream(stream: BinaryIO, **sizes: int) -> Chunker:
    """A Chunker over a binary stream (see Chunker); sizes: avg, low, high for tests."""
    return Chunker(stream, **sizes)
