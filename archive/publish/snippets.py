"""Results that read like answers: the matched words highlighted, a snippet around the match,
a page at a time (the trace and search pages).

Pure functions over plain text: `match_spans` finds where a query matches (the whole query,
ignoring case and spacing, else each of its words), `snippet` cuts a window around the first
match on word boundaries, and `highlight` returns escaped HTML with each match in <mark>.
Every piece of text goes through markupsafe.escape: document text is hostile. `trace_view`
and `search_view` shape a page of results with them (`pager`: the links around a page).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from markupsafe import Markup, escape

from archive.publish.pages import BadRequest, document_url, trace_url, version_url

SNIPPET_CHARS = 240  # about three lines of a results page
_WORD = re.compile(r"\w+")
# Quotes a normalized trace treats as one (see archive.passages.normalize).
_QUOTES = {
    "'": "['\u2018\u2019\u201a\u201b\u2032]",
    '"': '["\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb]',
}


def _phrase_pattern(query: str) -> re.Pattern[str] | None:
    """The whole query as a pattern: any run of spaces matches any run, quotes match quotes."""
    parts = query.split()
    if not parts:
        return None
    pieces = []
    for part in parts:
        pieces.append("".join(_QUOTES.get(ch) or re.escape(ch) for ch in part))
    return re.compile(r"\s+".join(pieces), re.IGNORECASE)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def match_spans(text: str, query: str, max_spans: int = 200) -> list[tuple[int, int]]:
    """Where `query` matches in `text`, as sorted, disjoint (start, end) spans: every
    occurrence of the whole query (case and spacing aside), else of each of its words."""
    phrase = _phrase_pattern(query)
    if phrase is None:
        return []
    spans = [m.span() for m, _ in zip(phrase.finditer(text), range(max_spans), strict=False)]
    if spans:
        return spans
    words = sorted(set(w.lower() for w in _WORD.findall(query)), key=len, reverse=True)
    if not words:
        return []
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE
    )
    found = [m.span() for m, _ in zip(pattern.finditer(text), range(max_spans), strict=False)]
    return _merge(found)


def snippet(text: str, spans: list[tuple[int, int]], chars: int = SNIPPET_CHARS) -> tuple[int, int]:
    """(start, end) of a window of about `chars` characters around the first match (the
    text's start without one), widened to word boundaries; the whole text when it is short."""
    if len(text) <= chars:
        return 0, len(text)
    first = spans[0][0] if spans else 0
    start = max(0, first - chars // 3)
    end = min(len(text), start + chars)
    start = max(0, min(start, end - chars))
    if start > 0:  # begin at a word: after the nearest space before the cut, if close
        space = text.rfind(" ", max(0, start - 20), start)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.find(" ", end, end + 20)
        end = space if space != -1 else end
    return start, end


def highlight(text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None):
    """text[start:end] as escaped HTML, each span (clipped to the window) in <mark>; an
    ellipsis marks text cut off at either side."""
    end = len(text) if end is None else end
    out: list[str] = ["\u2026" if start > 0 else ""]
    at = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        out.append(str(escape(text[at:s])))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        at = e
    out.append(str(escape(text[at:end])))
    out.append("\u2026" if end < len(text) else "")
    return Markup("".join(out))


def excerpt(text: str, query: str, chars: int = SNIPPET_CHARS) -> dict:
    """A result's text for a page: `snippet` (escaped, highlighted HTML around the first
    match), `whole` (all of it, highlighted) when the snippet is cut, and the match count."""
    spans = match_spans(text, query)
    start, end = snippet(text, spans, chars)
    cut = start > 0 or end < len(text)
    return {
        "snippet": highlight(text, spans, start, end),
        "whole": highlight(text, spans) if cut else None,
        "matches": len(spans),
    }


def parse_page(value: str | None) -> int:
    """?page=N (from 1; absent: 1), or BadRequest."""
    if value in (None, ""):
        return 1
    if not value.isascii() or not value.isdigit() or len(value) > 6 or int(value) < 1:
        raise BadRequest("page must be a positive number")
    return int(value)


def pager(base_url: str, page: int, total: int, per_page: int) -> dict:
    """Where page `page` of `total` items starts and ends, and the links to its neighbours
    (`base_url` already has a query string: `&page=N` is appended)."""
    count = max(1, -(-total // per_page))
    page = min(page, count)
    return {
        "page": page,
        "page_count": count,
        "start": (page - 1) * per_page,
        "stop": min(total, page * per_page),
        "prev_url": f"{base_url}&page={page - 1}" if page > 1 else None,
        "next_url": f"{base_url}&page={page + 1}" if page < count else None,
    }


def trace_view(
    query: str, normalized: bool, result: dict | None, limit: int, page: int = 1
) -> dict:
    """A traced text or passage hash: a page of the matching passages (by first appearance),
    each as a snippet around the match (the words highlighted, the whole passage on demand),
    where it was first said and every document carrying it, linked to versions and
    histories; `truncated` when more passages hold its words than one request checks."""
    found_passages = (result or {}).get("passages", [])
    paging = pager(trace_url(query, normalized), page, len(found_passages), limit)
    marked = "" if (result or {}).get("match") == "hash" else query
    passages = []
    for p in found_passages[paging["start"] : paging["stop"]]:
        first = p["first"]
        passages.append(
            {
                **p,
                "excerpt": excerpt(p["text"].rstrip(), marked),
                "first_url": version_url(first["version_id"]) if first else None,
                "documents": [{**d, "url": document_url(d["document_id"])} for d in p["documents"]],
            }
        )
    first = (result or {}).get("first")
    appearances = [
        {
            **a,
            "url": document_url(a["document_id"]),
            "ranges": [
                {
                    **r,
                    "from_url": version_url(r["from_version_id"]),
                    "to_url": version_url(r["to_version_id"]),
                }
                for r in a["ranges"]
            ],
        }
        for a in (result or {}).get("appearances", [])
    ]
    return {
        "first": {**first, "url": version_url(first["version_id"])} if first else None,
        "appearances": appearances,
        "q": query,
        "normalized": normalized,
        "match": (result or {}).get("match"),
        "passages": passages,
        "found": len(found_passages),
        "limit": limit,
        "truncated": bool((result or {}).get("truncated")),
        "match_cap": (result or {}).get("match_cap"),
        **paging,
    }


def search_view(
    q: str, page: int, path_rows: list[dict], found: dict, texts: dict[int, str], limit: int
) -> dict:
    """The search page's context: a page of documents whose path matches (`path_rows` has
    one more row when there is a next page) and of those whose text holds q, each with a
    highlighted snippet of the passage that does."""
    text_docs = found["documents"]
    base = "/-/archive/search?" + urlencode({"q": q})
    paging = pager(base, page, max(len(text_docs), (page - 1) * limit + len(path_rows)), limit)
    rows = [{**r, "url": document_url(r["document_id"])} for r in path_rows[:limit]]
    text_rows = []
    for r in text_docs[paging["start"] : paging["stop"]]:
        text = texts.get(r.get("passage"))
        text_rows.append(
            {
                **r,
                "url": version_url(r["id"]),
                "excerpt": excerpt(text.rstrip(), q) if text is not None else None,
            }
        )
    return {
        "q": q,
        "rows": rows,
        "text_rows": text_rows,
        "text_total": len(text_docs),
        "limit": limit,
        "truncated": found["truncated"],
        "match_cap": found["match_cap"],
        "pager": paging,
    }
