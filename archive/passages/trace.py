"""Provenance of text across documents: where a passage first appeared, and where it recurs.

Lookup of a text: exact passage first (hashed as given, then with the trailing newline forms a
paragraph carries), else passages containing it as a substring (FTS5 candidates, then checked).
With `normalize`, both compare `passage_format.normalize` keys (case, whitespace, quotes).

The substring search checks at most MATCH_CAP candidates (the first by passage id, fetched
with a LIMIT), so a common word costs what a rare one does; past the cap the result says it
is `truncated` and the query needs refining.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from archive.store import GroupReader, PassageStore, Store
from archive.store.passage_format import (
    PassageError,
    digest_key,
    hex_key,
    newline_forms,
    normalize,
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


def fts_query(text: str) -> str | None:
    """An FTS5 query for passages holding text: all its whole words (the edge words may be cut)."""
    words = _WORD.findall(text)
    if len(words) > 2:
        words = words[1:-1]
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words) if words else None


def find_by_hash(passages: PassageStore, hex_digest: str) -> list[int]:
    ids = list(passages.by_keys([hex_key(hex_digest.lower())]).values())
    texts = passages.texts(ids)
    return [i for i in ids if passage_digest(texts[i]).hex().startswith(hex_digest.lower())]


def find_by_text(
    passages: PassageStore, text: str, normalized: bool = False, reader: GroupReader | None = None
) -> tuple[str, list[int], bool]:
    """(how it matched: exact | substring | normalized | normalized-substring | none, ids,
    truncated: more than MATCH_CAP candidates, only the first MATCH_CAP checked).

    reader: groups already inflated (or to keep inflated) for the caller's next reads."""
    if not normalized:
        keys = {digest_key(passage_digest(form)): form for form in newline_forms(text)}
        found = passages.by_keys(keys)
        if found:
            return "exact", sorted(found.values()), False
    candidates = passages.first_ids(fts_query(text), MATCH_CAP + 1)
    truncated = len(candidates) > MATCH_CAP
    candidates = candidates[:MATCH_CAP]
    texts = passages.texts(candidates, reader)
    if normalized:
        key = normalize(text)
        exact = [i for i in candidates if normalize(texts[i]) == key]
        if exact:
            return "normalized", exact, truncated
        within = [i for i in candidates if key and key in normalize(texts[i])]
        return ("normalized-substring" if within else "none"), within, truncated
    within = [i for i in candidates if text and text in texts[i]]
    return ("substring" if within else "none"), within, truncated


def occurrences(passages: PassageStore, ids: Iterable[int]) -> dict[int, list[dict]]:
    """Every version holding each passage (as a paragraph or a quotation), oldest first."""
    wanted = set(ids)
    blobs: dict[int, set[str]] = {i: set() for i in wanted}
    for blob, paragraphs, quotes in passages.lists():
        for pid in wanted.intersection(paragraphs).union(wanted.intersection(quotes)):
            blobs[pid].add(blob)
    versions = passages.versions_of_blobs(b for bs in blobs.values() for b in bs)
    by_blob: dict[str, list[int]] = {}  # blob -> positions in versions (oldest first)
    for n, v in enumerate(versions):
        by_blob.setdefault(v["blob"], []).append(n)
    return {
        pid: [versions[n] for n in sorted(n for b in blobs[pid] for n in by_blob.get(b, ()))]
        for pid in sorted(wanted)
    }


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


def trace(store: Store, query: str, normalized: bool = False, as_text: bool = False) -> dict:
    """Who said this first, and where it reappears: a passage hash or a text.

    `truncated`: more than `match_cap` passages hold the query's words and only the first
    `match_cap` were checked (see MATCH_CAP)."""
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
    passages.sort(
        key=lambda p: (
            p["first"] is None,
            p["first"]["observed_at"] if p["first"] else "",
            p["passage"],
        )
    )
    return {
        "query": query,
        "match": how,
        "truncated": truncated,
        "match_cap": MATCH_CAP,
        "passages": passages,
    }


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
