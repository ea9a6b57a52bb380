"""Related documents: shared names, wording, sentences and quotations, each given as a reason.

Two reports of one event rarely share wording but always share names, so the score
(`combined`) weighs: the Jaccard similarity of the named entities of the latest texts (runs of
capitalised words, archive/passages/reuse.py) 0.4; near-duplicate wording 0.3 (`wording`: a
bottom-k MinHash of word 3-shingles hashed with keyed BLAKE2b, a fixed key, so the same
archive gives the same scores on any machine); sentences both documents have held (reuse
keys) 0.2, full at SENTENCES_FOR_FULL; quotations shared exactly or reworded (aligned at
FUZZY_QUOTE_SCORE or better) 0.1, full at QUOTES_FOR_FULL. Each row lists the shared names,
sentences and reworded quotations behind its score. Computed on demand.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Iterable, Sequence

from archive.passages.align import align
from archive.passages.reuse import entities
from archive.store import Store

SHINGLE = 3
K = 256
_KEY = b"provenance-archive/related/v1"
_WORD = re.compile(r"\w+")
FUZZY_QUOTE_SCORE = 70.0  # a quotation aligned at least this well counts as reused
MAX_QUOTES = 50  # quotations of each side aligned (the first by id): work stays bounded
SENTENCES_FOR_FULL = 5  # shared sentences that give the sentence part its full weight
QUOTES_FOR_FULL = 3  # shared (or reworded) quotations that give the quote part its full weight
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
    text = (store.read_text(latest) if latest else "") or ""
    return {
        "sketch": sketch(shingles(text)),
        "paragraphs": paragraphs,
        "quotes": quotes,
        "entities": entities(text),
        "sentences": store.spans.document_keys(document_id),
    }


def _fuzzy_quotes(store: Store, mine: set[int], theirs: set[int]) -> list[dict]:
    """Quotations of one document found reworded among the other's (align score >= 70),
    best first; exact ones are counted apart."""
    if not mine or not theirs:
        return []
    ours, others = sorted(mine - theirs)[:MAX_QUOTES], sorted(theirs - mine)[:MAX_QUOTES]
    texts = store.passages.texts(ours + others)
    out = []
    for q in ours:
        best = None
        for t in others:
            a = align(texts[q], texts[t], FUZZY_QUOTE_SCORE)
            if a is not None and (best is None or a.score > best["score"]):
                best = {"quote": texts[q], "matched": a.text, "score": a.score}
        if best is not None:
            out.append(best)
    return sorted(out, key=lambda m: -m["score"])


def combined(wording: float, entities: float, sentences: int, quotes: int) -> float:
    """One score in [0, 1]: shared names weigh most (two reports of one event share them
    whatever their wording), then wording (MinHash), shared sentences and quotations."""
    return round(
        0.4 * entities
        + 0.3 * wording
        + 0.2 * min(1.0, sentences / SENTENCES_FOR_FULL)
        + 0.1 * min(1.0, quotes / QUOTES_FOR_FULL),
        4,
    )


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
        wording = round(jaccard_estimate(mine["sketch"], theirs["sketch"]), 4)
        names = mine["entities"] & theirs["entities"]
        union = mine["entities"] | theirs["entities"]
        entity_score = len(names) / len(union) if union else 0.0
        sentences = mine["sentences"] & theirs["sentences"]
        fuzzy = _fuzzy_quotes(store, mine["quotes"], theirs["quotes"])
        score = combined(wording, entity_score, len(sentences), shared_quotes + len(fuzzy))
        if score or shared_passages or shared_quotes:
            doc = store.document(other)
            out.append(
                {
                    "document_id": other,
                    "source": doc["source"],
                    "path": doc["path"],
                    "score": score,
                    "wording": wording,
                    "entity_score": round(entity_score, 4),
                    "shared_passages": shared_passages,
                    "shared_quotes": shared_quotes,
                    "shared_sentences": store.spans.sentence_texts(sorted(sentences))[:5],
                    "shared_entities": sorted(names)[:30],
                    "fuzzy_quotes": fuzzy[:5],
                }
            )
    out.sort(
        key=lambda r: (-r["score"], -r["shared_passages"], -r["shared_quotes"], r["document_id"])
    )
    return out[:limit] if limit else out
