"""Related documents: shared passages and quotations, and near-duplicate wording (MinHash).

The MinHash is a bottom-k sketch of word 3-shingles hashed with keyed BLAKE2b (a fixed key,
no random seeds): the same archive gives the same scores on any machine. The score is the
estimated Jaccard similarity of two documents' latest texts; shared passages and quotes are
counted exactly over all versions. Computed on demand (see the report for timings).
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Iterable, Sequence

from archive.store import Store

SHINGLE = 3
K = 256
_KEY = b"provenance-archive/related/v1"
_WORD = re.compile(r"\w+")
# Passages shorter than this (headings, separators, blank runs) say nothing about kinship.
MIN_SHARED_SIZE = 24


def shingles(text: str, size: int = SHINGLE) -> set[int]:
    """64-bit hashes of the text's case-folded word n-grams."""
    words = _WORD.findall(text.casefold())
    grams = (
        [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]
        if len(words) >= size
        else ([" ".join(words)] if words else [])
    )
    return {
        int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8, key=_KEY).digest(), "big")
        for g in grams
    }


def sketch(hashes: Iterable[int], k: int = K) -> tuple[int, ...]:
    """The k smallest hashes, sorted: a bottom-k MinHash sketch."""
    return tuple(heapq.nsmallest(k, set(hashes)))


def jaccard_estimate(a: Sequence[int], b: Sequence[int], k: int = K) -> float:
    """Share of the union's k smallest hashes found in both sketches."""
    union = heapq.nsmallest(k, set(a) | set(b))
    if not union:
        return 0.0
    both = set(a) & set(b)
    return sum(1 for h in union if h in both) / len(union)


def _profile(store: Store, document_id: int) -> dict:
    """A document's sketch (latest text) and passage/quote sets (all versions)."""
    paragraphs: set[int] = set()
    quotes: set[int] = set()
    latest = None
    for v in store.versions(document_id):
        ids = None if v["blob"] is None else store.passages.ids(v["blob"])
        if ids is None:
            continue
        paragraphs.update(ids)
        quotes.update(store.passages.quote_ids(v["blob"]))
        latest = v["blob"]
    text = store.read_text(latest) if latest else ""
    return {"sketch": sketch(shingles(text or "")), "paragraphs": paragraphs, "quotes": quotes}


def related(store: Store, document_id: int, limit: int | None = None) -> list[dict]:
    """Other documents with a score > 0 or shared passages/quotes, most related first."""
    mine = _profile(store, document_id)
    sizes: dict[int, int] = {}
    out = []
    for other in store.passages.document_ids():
        if other == document_id:
            continue
        theirs = _profile(store, other)
        shared = mine["paragraphs"] & theirs["paragraphs"]
        missing = shared - sizes.keys()
        sizes.update({i: r["size"] for i, r in store.passages.rows(missing).items()})
        shared_passages = sum(1 for i in shared if sizes[i] >= MIN_SHARED_SIZE)
        shared_quotes = len(mine["quotes"] & theirs["quotes"])
        score = round(jaccard_estimate(mine["sketch"], theirs["sketch"]), 4)
        if score or shared_passages or shared_quotes:
            doc = store.document(other)
            out.append(
                {
                    "document_id": other,
                    "source": doc["source"],
                    "path": doc["path"],
                    "score": score,
                    "shared_passages": shared_passages,
                    "shared_quotes": shared_quotes,
                }
            )
    out.sort(
        key=lambda r: (-r["score"], -r["shared_passages"], -r["shared_quotes"], r["document_id"])
    )
    return out[:limit] if limit else out
