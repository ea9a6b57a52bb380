"""Filling the span and reuse index: tokens and keys here, rows and SQL in the store.

Why a module of its own: the store may not tokenise (tokens are this stage's code) and the
ingest must not wait on queries, so after each ingest batch `catch_up` indexes what the batch
added: new passages (their token keys for phrase search, their sentences' reuse keys), new
versions (the passages and reuse keys they brought into their document) and new documents that
are copies of another (`copied_from`). Old archives are caught up
the same way by their next ingest or trace.
"""

from __future__ import annotations

import sqlite3

from archive.passages.reuse import passage_keys, reuse_keys, sentence_of
from archive.passages.spans import fold
from archive.store import Store

# git's copy detection (-C): a new document at least this much the same as another's content.
COPY_SHARE = 0.5


def catch_up(store: Store) -> dict[str, int]:
    """Index everything stored since the last call (inside the caller's write transaction);
    counts of passages and versions indexed, and of copies found."""
    spans = store.spans
    passages = 0
    for ids in spans.new_passages():
        texts = store.passages.texts(ids)
        words, sentences = [], []
        for pid in ids:
            every, keyed = passage_keys(fold(texts[pid]))  # one tokenisation for both
            words.append((pid, " ".join(every)))
            sentences.extend((key, pid, n) for key, n in keyed)
        spans.add_passages(words, sentences)
        passages += len(ids)
    versions, shared = spans.index_versions()
    copies = spans.mark_copies(COPY_SHARE)  # after: it looks sources up in passage_documents
    if shared:
        texts = store.passages.texts(sorted(set(shared.values())))
        rows = []
        for key, pid in sorted(shared.items()):
            text = texts[pid]
            rows.append((key, sentence_of(text, key) or text.strip(), dict(reuse_keys(text))[key]))
        spans.add_reuse_texts(rows)
    return {"passages": passages, "versions": versions, "copies": copies}


def ensure_current(store: Store) -> bool:
    """Catch the index up before a read when it is behind (an archive made before it existed,
    or an interrupted ingest); False when it is behind and the file cannot be written."""
    if not store.spans.behind():
        return True
    try:
        with store.write():
            catch_up(store)
    except sqlite3.OperationalError as e:
        if "readonly" in str(e) or "read-only" in str(e):
            return False
        raise
    return True
