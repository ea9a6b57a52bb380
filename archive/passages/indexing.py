"""Filling the span and reuse index: tokens and keys here, rows and SQL in the store.

Why a module of its own: the store may not tokenise (tokens are this stage's code) and the
ingest must not wait on queries, so after each ingest batch `catch_up` indexes what the batch
added: new passages (their token keys for phrase search, their sentences' reuse keys), new
versions (the passages and reuse keys they brought into their document) and new documents that
are copies of another (`copied_from`). Old archives are caught up
the same way by their next ingest or trace.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable

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


# Passage keys whose terms this process gave already (`fresh_terms`), at most OFFERED_MAX,
# and the process they belong to (a worker forked from a process that kept some starts afresh).
_OFFERED: dict[int, None] = {}
_OFFERED_BY = [os.getpid()]
OFFERED_MAX = 1 << 18


def fresh_terms(passages: Iterable[tuple[int, str]]) -> dict[int, Terms]:
    """Terms of (key, text) passages this process has not given before: a worker computes
    them beside a content's split, so the main process does not tokenise. Each is given
    once per worker (revisions repeat most passages); one the main process misses anyway
    (given with a content it did not pack) it tokenises itself: the same terms."""
    if _OFFERED_BY[0] != os.getpid():
        _OFFERED.clear()
        _OFFERED_BY[0] = os.getpid()
    out: dict[int, Terms] = {}
    for key, text in passages:
        if key in _OFFERED or key in out:
            continue
        out[key] = index_terms(text)
    if len(_OFFERED) + len(out) > OFFERED_MAX:
        _OFFERED.clear()
    _OFFERED.update(dict.fromkeys(out))
    return out


def catch_up(store: Store) -> dict[str, int]:
    """Index everything stored since the last call (inside the caller's write transaction);
    counts of passages and versions indexed, and of copies found. New passages' terms come
    from the ingest's cache when it holds them (`TextCache.hold_terms`), else from their text."""
    spans = store.spans
    cache = store.texts
    passages = 0
    for ids in spans.new_passages():
        held = {pid: cache.take_indexed(pid) for pid in ids} if cache is not None else {}
        missing = [pid for pid in ids if held.get(pid) is None]
        texts = store.passages.texts(missing) if missing else {}
        words, sentences = [], []
        for pid in ids:
            got = held.get(pid)
            if not isinstance(got, tuple):  # not computed ahead: its text, held or read
                got = index_terms(texts[pid] if got is None else got)
            every, keyed = got
            words.append((pid, every))
            sentences.extend((key, pid, n) for key, n in keyed)
        spans.add_passages(words, sentences)
        passages += len(ids)
    if cache is not None:
        cache.clear_terms()
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
