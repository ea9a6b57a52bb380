"""Re-derive what the archive derived from raw bytes, for `archive verify` to compare.

Some recorded facts are in no leaf because they are functions of content the leaves do
cover: a blob's readable-text link (`blobs.text_blob`), its extracted metadata
(`blob_metadata`, `blob_items`, when made by the extractor version running now) and the
passage ids of its quotations (`blob_passages.quotes`). Re-deriving them from the bytes
and comparing catches an edit to any of them. Each check returns (table, key, problem).
"""

from __future__ import annotations

from collections.abc import Iterator

from archive.record.metadata import extraction_for, readable, row_fields
from archive.store import ArchiveError, Store
from archive.store.passage_format import PassageError, digest_key, passage_digest
from archive.store.passage_store import text_quotes
from ingest.content import text_blob
from ingest.extract import EXTRACTOR_VERSION

Problem = tuple[str, str, str]


def text_links(store: Store) -> Iterator[Problem]:
    """Each readable-text link points at the text extracted from the raw bytes now."""
    for row in store.text_links():
        try:
            data = store.read_content(row["blake3"])
        except (ArchiveError, TypeError):
            continue  # a missing content is check_blobs' finding
        text, _ = readable(data, row["media_type"] or "")
        if text is None or text_blob(text)[0].blake3 != row["text_blob"]:
            yield ("blobs", row["blake3"], "text_blob is not the readable text of its bytes")


def metadata(store: Store) -> Iterator[Problem]:
    """Metadata made by the running extractor version equals a fresh extraction."""
    columns = store.metadata_columns()
    for row in store.blobs_to_extract(EXTRACTOR_VERSION, everything=True):
        stored = store.metadata(row["blake3"])
        if stored is None or stored["extractor_version"] != EXTRACTOR_VERSION:
            continue  # made by another version: `archive reextract` redoes it
        try:
            data = store.read_content(row["blake3"])
        except (ArchiveError, TypeError):
            continue
        fields, items = row_fields(extraction_for(store, row, data)[0])
        fresh = {c: fields.get(c) for c in columns}
        if {c: stored[c] for c in columns} != fresh:
            yield ("blob_metadata", row["blake3"], "differs from a fresh extraction")
        kept = [
            (i["key"], i["ordinal"], i["value"], i["detail"])
            for i in store.metadata_items(row["blake3"])
        ]
        if kept != sorted(tuple(i) for i in items):
            yield ("blob_items", row["blake3"], "differ from a fresh extraction")


def quotes(store: Store) -> Iterator[Problem]:
    """Each text's quotation ids are those of the quotations found in its text now."""
    passages = store.passages
    for blob, _, quote_ids in passages.lists():
        try:
            text = store.read_text(blob)
        except (ArchiveError, PassageError, UnicodeError):
            continue  # an unreadable text is check_blobs' finding
        if text is None:
            continue
        keys = [digest_key(passage_digest(q)) for q, _ in text_quotes(text)]
        known = passages.by_keys(keys)
        if [known.get(k) for k in keys] != quote_ids:
            yield ("blob_passages", blob, "quotes are not the quotations of its text")
