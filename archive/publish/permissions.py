"""Which tables each archive page reads, and the check that the actor may view every one.

Datasette's `ensure_permissions` stops at the first definite answer, and a table-level
`allow` answers for that table alone: checking (documents, versions) in one call lets a page
through on `documents` while `versions` is denied. So every table a page reads (its SQL, and
what the store's read path reads for a text or a content) is checked on its own.

Those checks cost more than the page they guard (Datasette deep-copies the metadata for every
table check), so on a served snapshot (every database immutable) the anonymous actor's
grants are remembered for the life of the process: they depend on nothing but the metadata
and the plugins, fixed while the process lives, as the response cache's pages do. A denial
is never remembered (it is decided again, and says why, every time), nor any actor's.
"""

from __future__ import annotations

from collections.abc import Iterable

from archive.publish.server.cache import all_immutable

_GRANTED_ATTR = "_provenance_archive_anonymous_grants"

# What the store reads to give a blob's exact bytes or its text (archive.store read path).
CONTENT = ("blobs", "blob_passages", "passages", "passage_groups", "blob_snapshots")
CHUNKS = ("blob_chunks", "chunks")
# A document or version row with its source (queries.DOCUMENT / VERSION / _CHANGES).
DOCUMENT = ("documents", "sources")
VERSION = ("versions", "documents", "sources", "runs", "blobs")
CHANGES = ("versions", "documents", "sources", "blobs")
PASSAGES = ("passages", "passages_fts", "passage_groups", "blob_passages", "blob_snapshots")
PROOF = ("ledger", "runs")
# Who vouches for a checkpoint: signatures, cosignatures, time-stamp tokens (publish/checkpoint).
EVIDENCE = ("checkpoint_signatures", "checkpoint_timestamps")
# The span index a text trace looks candidates up in (archive/passages/spantrace.py).
SPANS = ("span_fts", "span_state", "passage_documents")
# What a version page shows of its document (archive/publish/doc_metadata.py).
# blob_items is a view of blob_item_sets and set_items: each is checked as its own table.
ABOUT = ("blob_metadata", "blob_items", "blob_item_sets", "set_items", "version_provenance")

PAGE_TABLES: dict[str, tuple[str, ...]] = {
    "history": (*DOCUMENT, "versions", "blobs", "diffs", "captures"),
    "document_feed": (*DOCUMENT, *CHANGES),
    "version": (*VERSION, *CONTENT, *PROOF, "captures", *ABOUT, *EVIDENCE),
    "proof": (*VERSION, *PROOF),
    "blame": (*VERSION, *CONTENT, *PASSAGES, "diffs"),
    "trace": (*PASSAGES, *SPANS, *CHANGES),
    "diff": (*VERSION, *CONTENT, "diffs"),
    "raw": (*CONTENT, *CHUNKS),
    "lookup": CHANGES,
    "verify": (),
    "search": (*DOCUMENT, *PASSAGES, *SPANS, *CHANGES),
    "checkpoint": (*PROOF, *EVIDENCE),
    "changes_feed": CHANGES,
    # The front door (archive/publish/front.py): the home page and the Changes page.
    "home": (*CHANGES, "runs", "diffs", *EVIDENCE),
    "changes": (*CHANGES, "diffs"),
    # Memento (archive/publish/memento.py): TimeMaps and the TimeGate, a version's raw bytes.
    "timemap": (*DOCUMENT, "versions"),
    "version_raw": (*CHANGES, *CONTENT, *CHUNKS),
}


def tables_of(page: str) -> tuple[str, ...]:
    """The tables a page reads, each once, in a stable order."""
    return tuple(dict.fromkeys(PAGE_TABLES[page]))


def checks(db_name: str, table: str | None) -> list:
    """The permission chain for one table (or the database alone): table, database, instance."""
    chain: list = [("view-database", db_name), "view-instance"]
    return [("view-table", (db_name, table)), *chain] if table else chain


async def ensure_tables(datasette, actor, db_name: str, tables: Iterable[str]) -> None:
    """Raise Forbidden unless the actor may view every one of the tables, each decided as
    Datasette decides its own table page (table, then database, then instance); with no
    tables, the database."""
    granted = anonymous_grants(datasette) if actor is None else None
    for table in list(tables) or [None]:
        if granted is not None and (db_name, table) in granted:
            continue
        await datasette.ensure_permissions(actor, checks(db_name, table))
        if granted is not None:
            granted.add((db_name, table))


def anonymous_grants(datasette) -> set[tuple[str, str | None]] | None:
    """The (database, table) pairs the anonymous actor was found allowed to view, while
    everything served is immutable; None (nothing remembered) otherwise."""
    if not all_immutable(datasette.databases):
        return None
    granted = getattr(datasette, _GRANTED_ATTR, None)
    if granted is None:
        granted = set()
        setattr(datasette, _GRANTED_ATTR, granted)
    return granted
