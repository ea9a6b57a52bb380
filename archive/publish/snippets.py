"""Results that read like answers: the matched words highlighted, a snippet around the match.

Pure functions over plain text: `match_spans` finds where a query matches (the whole query,
ignoring case and spacing, else each of its words), `snippet` cuts a window around the first
match on word boundaries, and `highlight` returns escaped HTML with each match in <mark>.
Every piece of text goes through markupsafe.escape: document text is hostile.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

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
