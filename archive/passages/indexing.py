"""Search indexes built where they are read: tokens and keys here, rows and SQL in the store.

Why: the search indexes (`passages_fts`, `span_fts`, the reuse tables) are derived from the
passages, larger than the text they index, and needed only where someone searches, so an
import leaves them behind (it keeps only `passage_documents`, for copy detection:
`catch_up_documents`). `catch_up` brings them up to date, incrementally, from where they
stand (`span_state`): `archive index` on the live file, a CLI search or trace before it reads
(`ensure_current`), and every served or packaged snapshot in its own copy (`indexed_snapshot`),
so the live file need not be writable. Built in one go or a run at a time, the rows are the same.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable

from archive.passages.reuse import passage_keys, reuse_keys, sentence_of
from archive.passages.spans import fold
from archive.store import Store

# git's copy detection (-C): a new document at least this much the same as another's content.
COPY_SHARE = 0.5

Terms = tuple[str, list]  # a passage's token keys joined by spaces, its sentences' (key, words)


def index_terms(text: str) -> Terms:
    """What the span index stores of a passage: one tokenisation for both tables."""
    every, keyed = passage_keys(fold(text))
    return " ".join(every), keyed


def catch_up_documents(store: Store) -> dict[str, int]:
    """What an import keeps after each batch (inside its write transaction): the documents
    holding each new passage, and the new documents that are copies of another
    (`copied_from`). Counts of versions placed and copies found."""
    spans = store.spans
    versions = spans.index_documents()
    copies = spans.mark_copies(COPY_SHARE)  # after: it looks sources up in passage_documents
    return {"versions": versions, "copies": copies}


def catch_up(store: Store) -> dict[str, int]:
    """Bring the search indexes up to date (inside the caller's write transaction): every
    passage not indexed yet (its text, token keys and sentences' reuse keys), then every
    version not indexed yet (the reuse keys it brought into its document). What an import
    keeps is caught up first when it is behind (an archive from before it: the documents
    of its passages, its copies). Counts of passages and versions indexed."""
    spans = store.spans
    catch_up_documents(store)
    passages = 0
    for ids in spans.new_passages():
        texts = store.passages.texts(ids)
        words, sentences = [], []
        for pid in ids:
            every, keyed = index_terms(texts[pid])
            words.append((pid, every))
            sentences.extend((key, pid, n) for key, n in keyed)
        spans.add_passages(words, sentences, [(pid, texts[pid]) for pid in ids])
        passages += len(ids)
    versions, shared = spans.index_reuse()
    if shared:
        texts = store.passages.texts(sorted(set(shared.values())))
        rows = []
        for key, pid in sorted(shared.items()):
            text = texts[pid]
            rows.append((key, sentence_of(text, key) or text.strip(), dict(reuse_keys(text))[key]))
        spans.add_reuse_texts(rows)
    return {"passages": passages, "versions": versions}


# A backlog past which a reader says it is indexing (it takes a noticeable moment).
NOTICE_PASSAGES = 2000


def ensure_current(store: Store, notice: Callable[[int], None] | None = None) -> bool:
    """Bring the search indexes up to date on a live archive before a read (under the store's
    write lock); False when they are behind and the file cannot be written. notice: called
    with the number of passages first when there are NOTICE_PASSAGES or more."""
    if not store.spans.behind():
        return True
    try:
        with store.write():
            passages, _ = store.spans.backlog()
            if notice is not None and passages >= NOTICE_PASSAGES:
                notice(passages)
            catch_up(store)
    except sqlite3.OperationalError as e:
        if read_only(e):
            return False
        raise
    return True


def read_only(e: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused a write because the archive (or its folder) is read-only."""
    return "readonly" in str(e) or "read-only" in str(e)


def indexed_snapshot(
    store: Store,
    dest: str | os.PathLike[str],
    *,
    public: bool = True,
    notice: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """`Store.snapshot` with the search indexes brought up to date in the copy, never in the
    live file (which may be read-only): what `archive serve` and `archive package` serve.
    The copy is compacted last (building the indexes leaves free pages: about 4% of the
    sample's), so what is served or shipped holds no unused page; rows and rowids unchanged.
    Counts of what was indexed; notice as for `ensure_current`."""
    store.snapshot(dest, public=public)
    conn = sqlite3.connect(os.fspath(dest), isolation_level=None)
    try:
        copy = Store.over(conn)
        with copy.write():
            passages, _ = copy.spans.backlog()
            if notice is not None and passages >= NOTICE_PASSAGES:
                notice(passages)
            counts = catch_up(copy)
        copy.compact(min_free=0.0)  # any free page: nobody else has the copy open
        return counts
    finally:
        conn.close()
