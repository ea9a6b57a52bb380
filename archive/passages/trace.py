"""Provenance of text across documents: where a text first appeared, and where it recurs.

Lookup of a text: exact passages (hashed as given, then with the trailing newline forms a
paragraph carries) and every passage containing it, wherever it sits inside them: the span
index's phrase lookup (archive/passages/spantrace.py) gives the candidates, the text confirms
them. With `normalize`, both compare `spans.normalize` keys (NFKC, case folding, quote style,
spacing). `first` and `appearances` are over all of them, so a sentence quoted alone later is
traced to the longer paragraph that said it first.

A span of MIN_WORDS tokens or more is checked against every candidate (complete); a shorter
one against at most MATCH_CAP (the first by passage id), so a common word costs what a rare
one does; past the cap the result says it is `truncated` and the query needs refining.
"""

from __future__ import annotations

import re

from archive.passages.align import DEFAULT_MIN_SCORE
from archive.passages.spans import normalize
from archive.passages.spantrace import (
    find_span,
    first_and_appearances,
    fuzzy_matches,
    occurrences,
)
from archive.store import GroupReader, PassageStore, Store
from archive.store.passage_format import (
    PassageError,
    digest_key,
    hex_key,
    newline_forms,
    passage_digest,
)

_HASH = re.compile(r"[0-9a-f]{16,64}")
_WORD = re.compile(r"\w+")
MATCH_CAP = 1000  # candidate passages one text search checks; more: "refine the query"


def is_hash(query: str) -> bool:
    return bool(_HASH.fullmatch(query))


def words_query(text: str) -> str:
    """An FTS5 query for all the whole words of a user's text (FTS syntax in it is only
    words); for no words at all, a query that matches nothing rather than an error."""
    words = _WORD.findall(text)
    return " AND ".join('"' + w + '"' for w in words) if words else '""'


def find_by_hash(passages: PassageStore, hex_digest: str) -> list[int]:
    ids = list(passages.by_keys([hex_key(hex_digest.lower())]).values())
    texts = passages.texts(ids)
    return [i for i in ids if passage_digest(texts[i]).hex().startswith(hex_digest.lower())]


def find_by_text(
    passages: PassageStore, text: str, normalized: bool = False, reader: GroupReader | None = None
) -> tuple[str, list[int], bool]:
    """(how it matched: exact | substring | normalized | normalized-substring | none, ids,
    truncated: a short span held by more than MATCH_CAP passages, only MATCH_CAP checked).

    ids: the passages equal to the text and every passage containing it.
    reader: groups already inflated (or to keep inflated) for the caller's next reads."""
    within, truncated = find_span(passages, text, normalized, MATCH_CAP, reader)
    if normalized:
        key = normalize(text)
        texts = passages.texts(within, reader)
        same = any(normalize(texts[i]) == key for i in within)
        how = "normalized" if same else ("normalized-substring" if within else "none")
        return how, within, truncated
    keys = {digest_key(passage_digest(form)): form for form in newline_forms(text)}
    exact = set(passages.by_keys(keys).values())
    ids = sorted(exact.union(within))
    return ("exact" if exact else "substring" if ids else "none"), ids, truncated


def summarize(passage: dict, text: str, versions: list[dict]) -> dict:
    """First appearance and every carrying document of one passage."""
    docs: dict[int, dict] = {}
    for v in versions:
        d = docs.setdefault(
            v["document_id"],
            {
                "document_id": v["document_id"],
                "source": v["source"],
                "path": v["document_path"],
                "first_seq": v["seq"],
                "first_observed_at": v["observed_at"],
                "versions": 0,
            },
        )
        d["versions"] += 1
    first = versions[0] if versions else None
    return {
        "passage": passage["id"],
        "blake3": passage_digest(text).hex(),
        "kind": passage["kind"],
        "text": text,
        "first": None
        if first is None
        else {
            "document_id": first["document_id"],
            "source": first["source"],
            "path": first["document_path"],
            "seq": first["seq"],
            "version_id": first["id"],
            "observed_at": first["observed_at"],
            "commit": first.get("commit"),
        },
        "documents": list(docs.values()),
    }


def trace(
    store: Store,
    query: str,
    normalized: bool = False,
    as_text: bool = False,
    fuzzy: bool = False,
    min_score: float = DEFAULT_MIN_SCORE,
) -> dict:
    """Who said this first, and where it reappears: a passage hash or a text.

    `first`: the earliest version holding it; `appearances`: each document with the ranges
    of its versions that do; `passages`: the passages holding it, each with its own first.
    `truncated`: a short span held by more than `match_cap` passages, only that many checked.
    fuzzy: also `fuzzy`, near-verbatim appearances with a score >= min_score."""
    reader = store.passages.reader()
    truncated = False
    if is_hash(query) and not as_text:
        how, ids = "hash", find_by_hash(store.passages, query)
    else:
        how, ids, truncated = find_by_text(store.passages, query, normalized, reader)
    rows = store.passages.rows(ids)
    texts = store.passages.texts(ids, reader)
    found = occurrences(store.passages, ids)
    passages = [summarize(rows[i], texts[i], found[i]) for i in sorted(ids)]
    first, appearances = first_and_appearances(store, [v for i in ids for v in found[i]])
    passages.sort(
        key=lambda p: (
            p["first"] is None,
            p["first"]["observed_at"] if p["first"] else "",
            p["passage"],
        )
    )
    result = {
        "query": query,
        "match": how,
        "truncated": truncated,
        "match_cap": MATCH_CAP,
        "first": first,
        "appearances": appearances,
        "passages": passages,
    }
    if fuzzy:
        result["fuzzy"] = fuzzy_matches(store, query, min_score, reader)
    return result


def search_documents(passages: PassageStore, text: str, limit: int) -> dict:
    """Documents with a passage containing `text`, each once, at its newest such version
    (`documents`, at most limit, each with the id of a `passage` of that version holding
    the text); `truncated` as for `trace`."""
    if not text.strip():
        return {"documents": [], "truncated": False, "match_cap": MATCH_CAP}
    _, ids, truncated = find_by_text(passages, text)
    newest: dict[int, dict] = {}
    for pid, versions in occurrences(passages, ids).items():
        for v in versions:
            if v["document_id"] not in newest or v["id"] > newest[v["document_id"]]["id"]:
                newest[v["document_id"]] = {**v, "passage": pid}
    rows = sorted(newest.values(), key=lambda v: (v["document_path"], v["document_id"]))
    return {"documents": rows[:limit], "truncated": truncated, "match_cap": MATCH_CAP}


__all__ = [
    "MATCH_CAP",
    "PassageError",
    "trace",
    "find_by_text",
    "find_by_hash",
    "occurrences",
    "is_hash",
    "search_documents",
]
