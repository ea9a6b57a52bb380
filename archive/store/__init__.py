"""The store: the archive's SQLite file, its schema and every SQL statement that writes it."""

from archive.errors import ArchiveError
from archive.store.content import (
    ChunkError,
    chunk_order,
    iter_content,
    read_chunk,
    read_content,
    read_text,
    table_counts,
    text_source,
)
from archive.store.database import BUSY_TIMEOUT_S, Store, now_iso
from archive.store.derived_rows import SpanIndex
from archive.store.groups import Group, GroupReader, TextCache, kept_reader
from archive.store.passage_store import PassageStore, text_quotes

__all__ = [
    "BUSY_TIMEOUT_S",
    "ArchiveError",
    "ChunkError",
    "Group",
    "GroupReader",
    "PassageStore",
    "SpanIndex",
    "Store",
    "TextCache",
    "chunk_order",
    "iter_content",
    "kept_reader",
    "read_chunk",
    "now_iso",
    "read_content",
    "read_text",
    "table_counts",
    "text_quotes",
    "text_source",
]
