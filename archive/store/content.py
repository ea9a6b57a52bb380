"""The content read path: exact bytes and readable text of a blob, on any connection.

Content is read through `read_content` / `read_text` only (the Datasette plugin too),
because how blobs are kept (whole, compressed, as passages) is the store's business.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from archive.errors import ArchiveError
from archive.store.chunks import ChunkError, is_chunked, iter_chunks
from archive.store.groups import TextCache
from archive.store.passage_store import PassageStore


def read_content(conn: sqlite3.Connection, blake3: str) -> bytes:
    """The exact bytes of a blob, on any connection (the Datasette plugin reads through here).

    Text blobs are kept as passages (their `content` is NULL) and rebuilt, hash-checked.
    """
    return b"".join(iter_content(conn, blake3))


def iter_content(conn: sqlite3.Connection, blake3: str) -> Iterator[bytes]:
    """The exact bytes of a blob in pieces: a large content chunk by chunk (each checked
    against its hash), so `archive show`, `verify` and exports never hold it whole."""
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
        yield PassageStore(conn).rebuild(blake3, row[1])


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
