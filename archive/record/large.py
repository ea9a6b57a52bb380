"""Large contents go from their stream to the store in chunks, with memory flat.

A content of at least LARGE_CONTENT bytes (a file on disk, a git blob) is never held whole:
its first bytes are kept to sniff its type, the rest is cut into content-defined chunks that
are hashed and written one at a time, and the blob row, with the digests of exactly the bytes
written, comes last. It is archived exactly but gets no extraction, diff or passages (its
flags say "large", and "large-text" when it reads as text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from ingest.chunks import LARGE_CONTENT, Prefixed, chunk_stream, read_head
from ingest.content import BlobInfo, describe_large

if TYPE_CHECKING:
    from archive.store import Store

__all__ = ["LARGE_CONTENT", "is_large", "store_large"]


def is_large(size: int) -> bool:
    return size >= LARGE_CONTENT


def store_large(store: Store, path: str, stream: BinaryIO) -> BlobInfo:
    """Stream a content into chunks and record its blob; returns its description.

    Call inside the run's write transaction: chunks and blob row land (or roll back) with it.
    """
    head = read_head(stream)
    chunker = chunk_stream(Prefixed(head, stream))
    order = store.put_chunks(chunker)
    info = describe_large(path, head, chunker.digests, chunker.size)
    store.insert_chunked_blob(info, order)
    return info
