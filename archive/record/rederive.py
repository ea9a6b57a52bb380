"""Re-derive what the archive derived from raw bytes, for `archive verify` to compare.

Some recorded facts are in no leaf because they are functions of content the leaves do
cover: a blob's readable-text link (`blobs.text_blob`), its extracted metadata
(`blob_metadata`, `blob_items`, when made by the extractor version running now) and the
passage ids of its quotations (`blob_passages.quotes`), and the version a new document was
copied from (`versions.copied_from_version_id`, found after its leaf was written).
Re-deriving them and comparing catches an edit to any of them. Each check returns (table,
key, problem).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from archive.passages.indexing import COPY_SHARE
from archive.record.metadata import extraction_for, readable, row_fields
from archive.store import ArchiveError, Store
from archive.store.passage_format import PassageError, digest_key, passage_digest
from archive.store.passage_store import text_quotes
from ingest.content import text_blob
from ingest.extract import EXTRACTOR_VERSION

Problem = tuple[str, str, str]
Reader = Callable[[str], bytes]


def text_links(
    store: Store, rows: Iterable[dict] | None = None, read: Reader | None = None
) -> Iterator[Problem]:
    """Each readable-text link points at the text extracted from the raw bytes now (rows:
    those of `store.text_links()` to check, all when None; read: the bytes of a blob, when
    the caller holds them already)."""
    for row in store.text_links() if rows is None else rows:
        try:
            data = (read or store.read_content)(row["blake3"])
        except (ArchiveError, TypeError):
            continue  # a missing content is check_blobs' finding
        text, _ = readable(data, row["media_type"] or "")
        if text is None or text_blob(text)[0].blake3 != row["text_blob"]:
            yield ("blobs", row["blake3"], "text_blob is not the readable text of its bytes")


def metadata(
    store: Store, rows: Iterable[dict] | None = None, read: Reader | None = None
) -> Iterator[Problem]:
    """Metadata made by the running extractor version equals a fresh extraction (rows: those
    of `extraction_rows` to check, all when None; read as for `text_links`)."""
    for row in extraction_rows(store) if rows is None else rows:
        stored = store.metadata(row["blake3"])
        if stored is None or stored["extractor_version"] != EXTRACTOR_VERSION:
            continue  # made by another version: `archive reextract` redoes it
        columns = [c for c in stored if c != "blake3"]  # the row is the whole table's
        try:
            data = (read or store.read_content)(row["blake3"])
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


def extraction_rows(store: Store) -> list[dict]:
    """The blobs whose metadata `metadata` re-derives."""
    return store.blobs_to_extract(EXTRACTOR_VERSION, everything=True)


def quotes(store: Store, blobs: Iterable[str] | None = None) -> Iterator[Problem]:
    """Each text's quotation ids are those of the quotations found in its text now (of the
    blobs given, all when None)."""
    passages = store.passages
    if blobs is None:
        lists = ((blob, quote_ids) for blob, _, quote_ids in passages.lists())
    else:
        lists = ((b, passages.quote_ids(b)) for b in blobs if passages.ids(b) is not None)
    for blob, quote_ids in lists:
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


def copies(store: Store) -> Iterator[Problem]:
    """Each new document's `copied_from_version_id` is the copy source found again (for the
    versions copy detection has looked at), and no other version names one."""
    spans = store.spans
    upto = spans.copies_marked_upto()
    stored = dict(
        store.conn.execute(
            "SELECT id, copied_from_version_id FROM versions"
            " WHERE copied_from_version_id IS NOT NULL"
        ).fetchall()
    )
    for candidate in spans.copy_candidates(0, upto):
        found = spans.copy_source(candidate, COPY_SHARE)
        if stored.pop(candidate[0], None) != found:
            yield (
                "versions",
                f"id {candidate[0]}",
                "copied_from_version_id is not its copy source",
            )
    for vid in sorted(stored):
        yield ("versions", f"id {vid}", "copied_from_version_id set on a version that is no copy")
