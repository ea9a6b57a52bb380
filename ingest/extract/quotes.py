"""Quotations in running text: “…”, "…", «…», »…«, „…“, ‚…‘, 「…」, 『…』 (one implementation).

Shared with passages (archive/store: quotation passages). A quote's length is counted in words
the way `counts.word_count` counts them, so a Japanese quotation (no spaces) counts each
character.

A linear scan: each opening mark looks ahead (bounded, within its paragraph) for its closing
mark, with flat one-character searches (no backtracking). An opener with no closer is
skipped, so unbalanced marks never swallow the rest of the document. Apostrophes (don’t,
Russia’s) are never quote marks here.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from .base import Context, Partial, rows
from .counts import word_count

# opener -> closers that end it. »…« is the German/Danish order; the single low ‚ opens a German
# inner quote closed by ‘ (never by ’, which is also the apostrophe).
_PAIRS: dict[str, str] = {
    "“": "”",
    "«": "»",
    "»": "«",
    "„": "“”",
    "‚": "‘",
    "「": "」",
    "『": "』",
    '"': '"',
}
OPENERS = "".join(_PAIRS)  # a text without any of these has no quotation
_MAX_SPAN = 5000  # a quote longer than this is an unbalanced mark, not a quote
_OPEN_AFTER = " \t\n\r([{—–-/:\u00a0"


@dataclass(frozen=True)
class Quote:
    text: str  # the quoted words, without the marks, stripped of surrounding whitespace
    start: int  # offset of the opening mark
    end: int  # offset just past the closing mark
    marks: str  # opening + closing mark, e.g. "“”"; the opener alone when left unclosed


def _straight_opens(text: str, i: int) -> bool:
    before_ok = i == 0 or text[i - 1] in _OPEN_AFTER
    after = text[i + 1] if i + 1 < len(text) else " "
    return before_ok and not after.isspace()


def _straight_closes(text: str, i: int) -> bool:
    after = text[i + 1] if i + 1 < len(text) else " "
    return not text[i - 1].isspace() and not after.isalnum()


# What ends an opener's search for its closer: a closing mark, the opener again, or a line
# break followed by another (a blank line); searched for at C speed.
_STOPS = {o: re.compile("[" + re.escape(c + o) + "]|\n(?=[\r\n])") for o, c in _PAIRS.items()}


def _find_close(text: str, i: int, opener: str) -> tuple[int, bool]:
    """(offset of the closing mark, True), or (paragraph end, False), or (-1, False)."""
    limit = min(len(text), i + 1 + _MAX_SPAN)
    stops = _STOPS[opener]
    j = i + 1
    while (m := stops.search(text, j, limit + 1)) is not None and m.start() < limit:
        j = m.start()  # (the search ends past `limit` only for the lookahead after a "\n")
        c = text[j]
        if c == "\n":
            return j, False  # quotes do not run across a blank line
        if opener != '"':
            return (j, True) if c in _PAIRS[opener] else (-1, False)  # else a second opener
        if _straight_closes(text, j):
            return j, True
        if _straight_opens(text, j):
            return -1, False
        j += 1
    return (len(text), False) if limit == len(text) else (-1, False)


# One single-character search per mark: a C scan each, several times faster than a search
# for any of them (a set), and most texts hold one or two kinds of mark.
_MARK = {c: re.compile(re.escape(c)) for c in OPENERS}


def _opener_offsets(text: str) -> list[int]:
    """Offsets of every opening mark in the text, in order."""
    found = [m.start() for c, mark in _MARK.items() if c in text for m in mark.finditer(text)]
    found.sort()
    return found


def find_quotes(text: str, min_words: int = 3) -> list[Quote]:
    """Quoted passages of at least `min_words` words, in document order, non-overlapping."""
    out: list[Quote] = []
    offsets = _opener_offsets(text)
    i = k = 0
    while (k := bisect_left(offsets, i, k)) < len(offsets):
        i = offsets[k]  # the next opening mark at or after i
        c = text[i]
        if c == '"' and not _straight_opens(text, i):
            i += 1
            continue
        j, closed = _find_close(text, i, c)
        if j < 0 or (not closed and c == '"'):
            i += 1
            continue
        inner = text[i + 1 : j].strip()
        if word_count(inner) >= min_words:
            # An unclosed curly quote runs to its paragraph end; its marks are the opener alone.
            marks = c + text[j] if closed else c
            out.append(Quote(inner, i, j + 1 if closed else j, marks))
        i = j + 1 if closed else j
    return out


# Where a quotation always stops (`_STOPS`): a line feed followed by another line break.
_QUOTE_STOP = re.compile(r"\n(?=[\r\n])")
_ANY_OPENER = re.compile("[" + re.escape(OPENERS) + "]")


@lru_cache(maxsize=1 << 14)
def _segment_quotes(segment: str) -> tuple[Quote, ...]:
    """`find_quotes` of one segment; revisions repeat most segments, so cached."""
    return tuple(find_quotes(segment))


Mark = tuple[int, int, tuple[Quote, ...] | None]


def segment_quotes(text: str, marks: Iterable[Mark] | None = None) -> list[Quote]:
    """`find_quotes(text)`, found segment by segment: a quotation never runs past a line
    feed followed by another line break (a stop), so the text is cut into segments that
    each end just past a stop, the next starting at its second break, and only segments
    holding an opening mark are scanned (cached: revisions repeat them).

    marks: (offset of an opening mark, end of the region it opens, its quotations) for
    regions that together hold every opening mark of the text, in order (e.g. each
    passage's first mark and the passage's end), when the caller knows them; else found
    here. Its quotations, when not None, are those of the region from the stop just before
    it (its segment: its own, found by the caller), offsets in the text."""
    if marks is None:  # each mark is a region of its own
        marks = ((i, i + 1, None) for i in _opener_offsets(text))
    crlf = "\r" in text
    stops = [m.start() for m in _QUOTE_STOP.finditer(text)] if crlf else []
    out: list[Quote] = []
    resume = 0  # where the next segment starts (0, or the second break of a stop)
    for pos, limit, known in marks:
        if known is not None:  # a region that is one segment, already scanned
            out += known
            resume = limit - 1 if limit < len(text) else limit
            continue
        while True:
            if pos < resume:
                found = _ANY_OPENER.search(text, resume, limit)
                if found is None:
                    break
                pos = found.start()
            if crlf:
                k = bisect_left(stops, pos)  # (a mark is never the line feed of a stop)
                start = stops[k - 1] + 1 if k else 0
                end = stops[k] + 2 if k < len(stops) else len(text)
            else:
                start = text.rfind("\n\n", max(resume - 1, 0), pos) + 1
                stop = text.find("\n\n", pos)
                end = len(text) if stop < 0 else stop + 2
            quotes = _segment_quotes(text[start:end])
            if start:
                quotes = tuple(
                    Quote(q.text, q.start + start, q.end + start, q.marks) for q in quotes
                )
            out += quotes
            resume = end - 1 if end < len(text) else end
            if resume >= limit:
                break
    return out


def extract_quotes(text: str, ctx: Context) -> Partial:
    """Quote rows: value = quoted text, detail = the marks."""
    found = find_quotes(ctx.body) if ctx.pieces is None else ctx.pieces.quotes(ctx.body)
    ctx.memo["quotes"] = found  # (the text's own, for the passage split, when no front matter)
    return Partial(items=rows("quote", [(q.text, q.marks) for q in found]))
