"""The store: the archive's SQLite file, its schema and every SQL statement that writes it."""

from archive.errors import ArchiveError
from archive.store.content import (
    iter_content,
    read_content,
    read_text,
    table_counts,
    text_source,
)
from archive.store.database import BUSY_TIMEOUT_S, Store, now_iso
from archive.store.groups import Group, GroupReader, TextCache
from archive.store.passage_store import PassageStore, text_quotes

__all__ = [
    "BUSY_TIMEOUT_S",
    "ArchiveError",
    "Group",
    "GroupReader",
    "PassageStore",
    "Store",
    "TextCache",
    "iter_content",
    "now_iso",
    "read_content",
    "read_text",
    "table_counts",
    "text_quotes",
    "text_source",
]
