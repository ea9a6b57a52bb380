"""Who wrote a span first, and where it went: the span index finds passages, the text confirms.

Why: a sentence inside a longer paragraph is not a passage of its own, so the exact-passage
lookup cannot see it. The span index (store: SpanIndex) answers a span as a phrase of
token keys (archive.passages.spans), from its postings, never by a scan; exact verification on
the candidates' text keeps only true matches. For a span of MIN_WORDS tokens or more every
candidate is checked, so the answer is complete; a shorter one checks at most MATCH_CAP.
`--fuzzy` aligns the span against the passages sharing most of its word 3-grams
(archive.passages.align) to find reworded reuse.

`first` is the earliest version (by observed time, then id) whose text holds the span;
`appearances` gives each document carrying it with the ranges of consecutive versions that do.
"""

from __future__ import annotations

from collections.abc import Iterable

from archive.passages.align import DEFAULT_MIN_SCORE, align
from archive.passages.spans import MIN_WORDS, contains, keys, ngram_query, phrase, query_keys
from archive.store import GroupReader, PassageStore, SpanIndex, Store

FUZZY_CANDIDATES = 200  # passages aligned per fuzzy query, those sharing the most n-grams
MATCH_CAP = 1000  # candidates a span shorter than MIN_WORDS checks; more: "refine the query"


def find_span(
    passages: PassageStore,
    text: str,
    normalized: bool,
    cap: int = MATCH_CAP,
    reader: GroupReader | None = None,
) -> tuple[list[int], bool]:
    """(passage ids whose text holds `text`, exactly or by normalised forms; truncated).

    truncated: the span is shorter than MIN_WORDS tokens and more than `cap` passages hold
    its words in order; only the first `cap` were checked. A text without words checks the
    first `cap` passages."""
    ks = query_keys(text)
    complete = len(ks) >= MIN_WORDS
    if ks:
        candidates = SpanIndex(passages.conn).holding(phrase(ks), None if complete else cap + 1)
    else:
        candidates = passages.first_ids(None, cap + 1)
    truncated = len(candidates) > cap and not complete
    if truncated:
        candidates = candidates[:cap]
    texts = passages.texts(candidates, reader)
    return [i for i in candidates if contains(texts[i], text, normalized)], truncated


def occurrences(passages: PassageStore, ids: Iterable[int]) -> dict[int, list[dict]]:
    """Every version holding each passage (as a paragraph or a quotation), oldest first.

    Only the versions of the documents that have held it are looked at (`passage_documents`),
    never every blob's passage list."""
    wanted = sorted(set(ids))
    spans = SpanIndex(passages.conn)
    docs = spans.documents_of(wanted)
    versions = spans.versions_of_documents(d for ds in docs.values() for d in ds)
    held = spans.held_by(v["blob"] for v in versions if v["blob"] is not None)
    out: dict[int, list[dict]] = {pid: [] for pid in wanted}
    for v in versions:
        inside = held.get(v["blob"], ())
        for pid in wanted:
            if v["document_id"] in docs.get(pid, ()) and pid in inside:
                out[pid].append(v)
    return out


def version_ref(v: dict) -> dict:
    return {
        "document_id": v["document_id"],
        "source": v["source"],
        "path": v["document_path"],
        "seq": v["seq"],
        "version_id": v["id"],
        "observed_at": v["observed_at"],
        "commit": v.get("commit"),
    }


def _ranges(all_versions: list[dict], carrying: set[int]) -> list[dict]:
    """Runs of consecutive versions (by seq) that carry the span."""
    out: list[dict] = []
    run: list[dict] = []
    for v in [*all_versions, None]:
        if v is not None and v["id"] in carrying:
            run.append(v)
            continue
        if run:
            out.append(
                {
                    "from_seq": run[0]["seq"],
                    "to_seq": run[-1]["seq"],
                    "from_version_id": run[0]["id"],
                    "to_version_id": run[-1]["id"],
                    "from_observed_at": run[0]["observed_at"],
                    "until_observed_at": None if v is None else v["observed_at"],
                    "versions": len(run),
                }
            )
            run = []
    return out


def first_and_appearances(store: Store, versions: list[dict]) -> tuple[dict | None, list[dict]]:
    """The earliest carrying version, and per document the ranges of versions carrying it."""
    if not versions:
        return None, []
    ordered = sorted(
        {v["id"]: v for v in versions}.values(), key=lambda v: (v["observed_at"], v["id"])
    )
    carrying = {v["id"] for v in ordered}
    docs: dict[int, dict] = {}
    for v in ordered:
        docs.setdefault(v["document_id"], v)
    appearances = []
    for doc_id, v in docs.items():
        ranges = _ranges(store.versions(doc_id), carrying)
        appearances.append(
            {
                "document_id": doc_id,
                "source": v["source"],
                "path": v["document_path"],
                "first_seq": v["seq"],
                "first_version_id": v["id"],
                "first_observed_at": v["observed_at"],
                "versions": sum(r["versions"] for r in ranges),
                "ranges": ranges,
            }
        )
    return version_ref(ordered[0]), appearances


def fuzzy_matches(
    store: Store,
    text: str,
    min_score: float = DEFAULT_MIN_SCORE,
    reader: GroupReader | None = None,
) -> list[dict]:
    """Passages holding a near-verbatim form of `text`: n-gram candidates, then alignment.

    Each match: passage id, score (0-100), aligned text and its word ops, `first` and
    `appearances` of that passage; sorted by first appearance."""
    ks = keys(text)
    if len(ks) < MIN_WORDS:
        return []
    candidates = store.spans.ranked(ngram_query(ks), FUZZY_CANDIDATES)
    texts = store.passages.texts(candidates, reader)
    found = {}
    for pid in candidates:
        a = align(text, texts[pid], min_score)
        if a is not None:
            found[pid] = a
    versions = occurrences(store.passages, found)
    out = []
    for pid, a in found.items():
        first, appearances = first_and_appearances(store, versions[pid])
        if first is None:
            continue
        out.append(
            {
                "passage": pid,
                "score": a.score,
                "aligned": a.text,
                "ops": [list(op) for op in a.ops if op[0] != "equal"],
                "first": first,
                "appearances": appearances,
            }
        )
    out.sort(key=lambda m: (m["first"]["observed_at"], m["first"]["version_id"], -m["score"]))
    return out
