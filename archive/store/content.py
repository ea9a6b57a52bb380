"""The content path: exact bytes and readable text of a blob, on any connection.

Content is read through `read_content` / `iter_content` / `read_text` only (the Datasette
plugin too), because how blobs are kept (whole, as passages, in chunks) is the store's
business. A blob of at least `ingest.chunks.LARGE_CONTENT` bytes has `content` NULL and one
`blob_chunks` row per chunk (in order); each distinct chunk is one `chunks` row, keyed by its
BLAKE3 and deflated when that saves space, so revisions of a large file share the chunks
their edits did not touch. Every read checks each chunk against its hash and inflates with
a bound, so a tampered row can neither pass for the content nor exhaust memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator

import blake3 as _blake3
from zlib_ng import zlib_ng

from archive.errors import ArchiveError
from archive.store.groups import GroupReader, TextCache
from archive.store.passage_store import PassageStore


def read_content(conn: sqlite3.Connection, blake3: str) -> bytes:
    """The exact bytes of a blob, on any connection (the Datasette plugin reads through here).

    Text blobs are kept as passages (their `content` is NULL) and rebuilt, hash-checked.
    """
    return b"".join(iter_content(conn, blake3))


def iter_content(
    conn: sqlite3.Connection, blake3: str, reader: GroupReader | None = None
) -> Iterator[bytes]:
    """The exact bytes of a blob in pieces: a large content chunk by chunk (each checked
    against its hash), so `archive show`, `verify` and exports never hold it whole.
    reader: inflated passage groups kept across reads (`PassageStore.rebuild`)."""
    row = conn.execute(
        "SELECT content, encoding, is_text FROM blobs WHERE blake3 = ?", (blake3,)
    ).fetchone()
    if row is None:
        raise ArchiveError(f"no blob {blake3}")
    if row[0] is not None:
        yield bytes(row[0])
    elif not row[2] and is_chunked(conn, blake3):
        try:
            yield from iter_chunks(conn, blake3)
        except ChunkError as e:
            raise ArchiveError(str(e)) from None
    else:
        yield PassageStore(conn).rebuild(blake3, row[1], reader)


def text_source(conn: sqlite3.Connection, blake3: str) -> tuple[str, str] | None:
    """(blob, encoding) holding a blob's readable text: its text blob and UTF-8 for
    HTML/PDF/DOCX, else itself and its own encoding; None for binary or unknown."""
    row = conn.execute(
        "SELECT text_blob, is_text, encoding FROM blobs WHERE blake3 = ?", (blake3,)
    ).fetchone()
    if row is None:
        return None
    text_blob, is_text, encoding = row
    if text_blob is not None and text_blob != blake3:
        return text_blob, "utf-8"
    return (blake3, encoding) if is_text else None


def read_text(conn: sqlite3.Connection, blake3: str, cache: TextCache | None = None) -> str | None:
    """The text diffs and passages use: a blob's readable-text blob (HTML/PDF/DOCX) when it
    has one, else a text blob's text (decoded losslessly with its encoding), else None.

    cache: texts already decoded (by key and encoding), consulted and filled."""
    source = text_source(conn, blake3)
    if source is None:
        return None
    key, encoding = source
    text = cache.get(key, encoding) if cache is not None else None
    if text is None:
        text = read_content(conn, key).decode(encoding)
        if cache is not None:
            cache.put(key, encoding, text)
    return text


def table_counts(conn: sqlite3.Connection) -> dict[str, int | None]:
    """Rows per table (Datasette's inspect data, counted once for a served snapshot); None
    for a table SQLite cannot scan (the contentless passages_fts index has no row list)."""
    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    counts: dict[str, int | None] = {}
    for (name,) in names.fetchall():
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            counts[name] = conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0]
        except sqlite3.DatabaseError:
            counts[name] = None
    return counts


# Large contents in chunks ----------------------------------------------------------

# Deflate level for chunks: fast, and most of the gain on text and datasets.
LEVEL = 1
RAW, DEFLATE = "raw", "deflate"
SAMPLE = 64 * 1024


class ChunkError(ValueError):
    """A stored chunk that does not rebuild to its hash (one-line message)."""


def encode_chunk(data: bytes) -> tuple[str, bytes]:
    """(codec, stored bytes) of a chunk: deflated only when that is smaller. A chunk whose
    first 64 KiB do not deflate (media, archives, encrypted data) is kept raw untried:
    deflating incompressible bytes costs more than reading them."""
    sample = data[:SAMPLE]
    if len(sample) == SAMPLE and len(zlib_ng.compress(sample, LEVEL)) > SAMPLE * 0.97:
        return RAW, data
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
