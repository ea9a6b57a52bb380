"""A content's exact bytes as a download: a large one sent chunk by chunk, never held whole.

Shared by `/-/archive/raw/<blake3>` and the Memento `/-/archive/version/<id>/raw`, so both
answer with the same safe headers (attachment, nosniff, a sandboxing CSP).
"""

from __future__ import annotations

import sqlite3

from datasette.utils.asgi import NotFound, Response

from archive.store import ArchiveError, ChunkError, chunk_order, read_chunk, read_content

SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


class ChunkStream:
    """A large content's bytes sent chunk by chunk (each read and checked on a SQL thread),
    so serving a 2 GB file never holds it whole."""

    def __init__(self, db, order: list[str], headers: dict[str, str]) -> None:
        self.db, self.order, self.headers = db, order, headers

    async def asgi_send(self, send) -> None:
        headers = [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        headers.append((b"content-type", b"application/octet-stream"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in self.order:
            data = await self.db.execute_fn(lambda conn, c=chunk: read_chunk(conn, c))
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def download(db, blake3: str, filename: str, headers: dict[str, str] | None = None):
    """The response for a blob's bytes as an attachment named `filename` (NotFound if absent)."""
    headers = {
        **(headers or {}),
        "Content-Disposition": f'attachment; filename="{filename}"',
        **SAFE_HEADERS,
    }
    try:
        order = await db.execute_fn(lambda conn: _chunk_order(conn, blake3))
        if order:
            return ChunkStream(db, order, headers)
        data = await db.execute_fn(lambda conn: read_content(conn, blake3))
    except ArchiveError:
        raise NotFound(f"No blob {blake3}") from None
    return Response(data, content_type="application/octet-stream", headers=headers)


def _chunk_order(conn, blake3: str) -> list[str]:
    """The chunks of a large content ([] otherwise, or on an archive from before chunks)."""
    try:
        return chunk_order(conn, blake3)
    except sqlite3.OperationalError:  # no blob_chunks table: nothing is chunked
        return []
    except ChunkError as e:
        raise ArchiveError(str(e)) from None
