"""Large contents kept as content-defined chunks: written as they stream in, read as a stream.

A blob at least `ingest.chunks.LARGE_CONTENT` bytes long has `content` NULL and one
`blob_chunks` row per chunk (in order); each distinct chunk is one `chunks` row, keyed by
its BLAKE3 and deflated when that saves space, so revisions of a large file share the
chunks their edits did not touch. Every read checks each chunk against its hash and inflates
with a bound, so a tampered row can neither pass for the content nor exhaust memory.
Module functions over any connection (the Datasette plugin reads through here too).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator

import blake3 as _blake3
from zlib_ng import zlib_ng

# Deflate level for chunks: fast, and most of the gain on text and datasets.
LEVEL = 1
RAW, DEFLATE = "raw", "deflate"


class ChunkError(ValueError):
    """A stored chunk that does not rebuild to its hash (one-line message)."""


def encode_chunk(data: bytes) -> tuple[str, bytes]:
    """(codec, stored bytes) of a chunk: deflated only when that is smaller."""
    packed = zlib_ng.compress(data, LEVEL)
    return (DEFLATE, packed) if len(packed) < len(data) else (RAW, data)


def decode_chunk(codec: str, stored: bytes, size: int) -> bytes:
    """A chunk's bytes; inflates at most size + 1 bytes whatever the row says."""
    if codec == RAW:
        return bytes(stored)
    if codec != DEFLATE:
        raise ChunkError(f"unknown chunk codec {codec!r}")
    try:
        inflater = zlib_ng.decompressobj()
        data = inflater.decompress(stored, size + 1)
    except zlib_ng.error as exc:
        raise ChunkError(f"chunk does not inflate ({exc})") from None
    return data


def put_chunks(conn: sqlite3.Connection, pieces: Iterable) -> list[str]:
    """Store each piece (offset, data, blake3) not stored yet; the chunk hashes in order.

    Consumes the pieces one at a time, so a stream's chunks are never all in memory."""
    order: list[str] = []
    for piece in pieces:
        known = conn.execute("SELECT 1 FROM chunks WHERE blake3 = ?", (piece.blake3,)).fetchone()
        if known is None:
            codec, stored = encode_chunk(piece.data)
            conn.execute(
                "INSERT INTO chunks (blake3, size, codec, data) VALUES (?, ?, ?, ?)",
                (piece.blake3, len(piece.data), codec, stored),
            )
        order.append(piece.blake3)
    return order


def link_chunks(conn: sqlite3.Connection, blob: str, order: list[str]) -> None:
    """A blob's chunk list (once: a blob already chunked keeps its rows)."""
    if is_chunked(conn, blob):
        return
    conn.executemany(
        "INSERT INTO blob_chunks (blob, seq, chunk) VALUES (?, ?, ?)",
        ((blob, seq, chunk) for seq, chunk in enumerate(order)),
    )


def is_chunked(conn: sqlite3.Connection, blob: str) -> bool:
    row = conn.execute("SELECT 1 FROM blob_chunks WHERE blob = ? LIMIT 1", (blob,)).fetchone()
    return row is not None


def chunk_order(conn: sqlite3.Connection, blob: str) -> list[str]:
    """A chunked blob's chunk hashes in order ([] for a blob kept whole or as passages)."""
    rows = conn.execute(
        "SELECT seq, chunk FROM blob_chunks WHERE blob = ? ORDER BY seq", (blob,)
    ).fetchall()
    for expected, (seq, _chunk) in enumerate(rows):
        if seq != expected:
            raise ChunkError(f"blob {blob}: chunk {expected} is missing")
    return [chunk for _seq, chunk in rows]


def read_chunk(conn: sqlite3.Connection, chunk: str) -> bytes:
    """One chunk's bytes, inflated with a bound and checked against its hash."""
    row = conn.execute("SELECT size, codec, data FROM chunks WHERE blake3 = ?", (chunk,)).fetchone()
    if row is None:
        raise ChunkError(f"chunk {chunk} is missing")
    size, codec, stored = row
    try:
        data = decode_chunk(codec, stored, size)
    except ChunkError as e:
        raise ChunkError(f"chunk {chunk}: {e}") from None
    if len(data) != size or _blake3.blake3(data).hexdigest() != chunk:
        raise ChunkError(f"chunk {chunk} does not hash to its BLAKE3")
    return data


def iter_chunks(conn: sqlite3.Connection, blob: str) -> Iterator[bytes]:
    """A chunked blob's bytes, one checked chunk at a time (memory: one chunk)."""
    for chunk in chunk_order(conn, blob):
        try:
            yield read_chunk(conn, chunk)
        except ChunkError as e:
            raise ChunkError(f"blob {blob}: {e}") from None


def chunked_blobs(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT blob FROM blob_chunks ORDER BY blob")]


def unused_chunks(conn: sqlite3.Connection) -> list[str]:
    """Chunks no blob lists (left by an interrupted write: harmless, reported by verify)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT blake3 FROM chunks WHERE blake3 NOT IN (SELECT chunk FROM blob_chunks)"
            " ORDER BY blake3"
        )
    ]
