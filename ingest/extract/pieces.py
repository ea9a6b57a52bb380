"""Per-passage extraction: what decomposes over a text's passages, computed once per passage.

Revisions of a document repeat nearly all of its passages (paragraphs with the blank lines
after them), so the line-based extractors (counts, dates, Markdown headings, tags, and the
tests for comments and quotation marks) run over each distinct passage once, in a bounded
per-process cache, and their answers are combined. It is the same answer as over the whole
text because every cut between two pieces follows a blank line ending in a line break (it
is checked: a piece that does not end so is joined with the next):

- line-based patterns never match across a line break, and a cut after a break is a line
  start for the piece as for the text, so lines, words, dates and headings add up;
- a run of bullet lines (tags) cannot cross a blank line, and the line before a piece's
  first line is a blank line in the text as the start of the piece is in the piece;
- a CR LF is never split (a piece after a cut does not start with a LF);
- quotations stop at a LF followed by another line break (a stop): they are found segment
  by segment (`quotes.segment_quotes`), and a passage between two stops is one segment.

The pieces come from the caller (archive's passage split, `split_passages`): ingest imports
nothing of archive.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import accumulate, compress
from operator import itemgetter
from typing import NamedTuple

from .base import lines_of
from .counts import word_count
from .dates import scan_piece
from .listings import BULLETS, find_tags, has_stamp_line
from .quotes import OPENERS, Quote, find_quotes, segment_quotes
from .title import heading_lines

# Pieces longer than this are computed but not kept (a whole text given as one piece).
PIECE_CACHE_CHARS = 1 << 16
# Most pieces kept per process (passages of ~400 characters: a few tens of MB at most).
PIECE_CACHE = 1 << 15


class Facts(NamedTuple):
    """What the decomposed extractors find in one piece."""

    words: int  # `counts.word_count` of its lines
    breaks: int  # line breaks (a CR LF is one)
    dates: tuple | None  # `dates.scan_dates` of its lines (dates, years, weekdays), or None
    headings: tuple  # `title.heading_lines`: (level, text), None for a fence line
    tags: tuple  # `listings.find_tags` of the piece
    stamp: bool  # whether a line is a timestamp bullet (a comment may start there)
    opener: int  # offset of its first quotation mark, -1 when none
    quotes: tuple  # `quotes.find_quotes` of the piece, when it has a mark
    ends_blank: bool  # ends with a blank line: another piece may follow
    starts_lf: bool  # starts with a LF (the end of a CR LF before it)


def ends_blank(piece: str) -> bool:
    """Whether the piece ends with a blank line ([ \\t\\f\\v]* only, as the passage split
    has it) and its line break, so that another piece may follow it."""
    if piece.endswith("\n\n"):  # (the usual passage end)
        return True
    if not piece.endswith(("\n", "\r")):
        return False
    body = piece[:-2] if piece.endswith("\r\n") else piece[:-1]
    last = max(body.rfind("\n"), body.rfind("\r")) + 1  # where its last line starts
    return not body[last:].strip(" \t\f\v")


# Each field of a list of Facts, read at C speed.
_WORDS, _BREAKS, _DATES, _HEADINGS, _TAGS, _STAMP, _OPENS, _ENDS_BLANK, _STARTS_LF = (
    itemgetter(Facts._fields.index(name))
    for name in (
        "words", "breaks", "dates", "headings", "tags", "stamp", "opener", "ends_blank",
        "starts_lf",
    )
)  # fmt: skip


def _facts(piece: str) -> Facts:
    if "\r" in piece:
        lines = lines_of(piece)
        normal, breaks = "\n".join(lines), len(lines) - 1
    else:  # the usual text: its own `Context.normal`, its lines split only if needed
        lines, normal, breaks = None, piece, piece.count("\n")
    dates = scan_piece(piece, lines)
    # (one C scan per mark: faster than a search for any of them; most marks are absent)
    opener = min(filter((0).__le__, map(piece.find, OPENERS)), default=-1)
    # Headings need a "#" or a fence, tags and comments a bullet: C scans first.
    heads = "#" in piece or "```" in piece or "~~~" in piece
    bullets = any(map(piece.__contains__, BULLETS))
    return Facts(
        words=word_count(piece),  # (its lines' summed: a test holds it)
        breaks=breaks,
        dates=dates if any(dates) else None,
        headings=heading_lines(normal) if heads else (),
        tags=tuple(find_tags(piece, normal)) if bullets else (),
        stamp=bullets and has_stamp_line(normal),
        opener=opener,
        quotes=tuple(find_quotes(piece)) if opener >= 0 else (),
        ends_blank=ends_blank(piece),
        starts_lf=piece.startswith("\n"),
    )


_cache: dict[str, Facts] = {}


def facts(piece: str) -> Facts:
    """`_facts` of a piece, kept: revisions repeat most passages. The oldest go first when
    the cache is full (a dict keeps insertion order)."""
    found = _cache.get(piece)
    if found is None:
        found = _facts(piece)
        if len(piece) <= PIECE_CACHE_CHARS:
            if len(_cache) >= PIECE_CACHE:
                del _cache[next(iter(_cache))]
            _cache[piece] = found
    return found


def checked(pieces: list[str]) -> tuple[list[str], list[Facts]]:
    """The pieces and their facts, a piece joined with the next where the cut between them
    does not follow a blank line or splits a CR LF (the decomposition would not be exact
    there: the CR LF passage split cuts after any CR LF)."""
    found = list(map(_cache.get, pieces))  # (no Python call for a kept piece: most are)
    if not all(found):  # (Facts are non-empty tuples: only None is false)
        found = [f if f is not None else facts(p) for p, f in zip(pieces, found, strict=True)]
    if len(found) < 2 or (
        all(map(_ENDS_BLANK, found[:-1])) and not any(map(_STARTS_LF, found[1:]))
    ):
        return pieces, found
    out: list[str] = []
    run: list[str] = []
    for i, piece in enumerate(pieces):
        run.append(piece)
        if i + 1 < len(pieces):
            if pieces[i + 1].startswith("\n"):
                continue
            if not (found[i].ends_blank if len(run) == 1 else ends_blank("".join(run))):
                continue
        out.append(run[0] if len(run) == 1 else "".join(run))
        run = []
    return out, list(map(facts, out))


def body_pieces(passages: Sequence[str], offset: int) -> list[str]:
    """The pieces of text[offset:] (the body after front matter), text being the join of
    the passages: those after the offset, the one it falls in cut there."""
    if offset == 0:
        return list(passages)
    start = 0
    for k, passage in enumerate(passages):
        end = start + len(passage)
        if end > offset:
            return [passage[offset - start :], *passages[k + 1 :]]
        start = end
    return [""]


class Pieces:
    """A text's passages and what the decomposed extractors want of them, each computed on
    first use: `Context.pieces` (extractors read the whole text when it is None)."""

    def __init__(self, text: str, passages: Sequence[str], offset: int = 0):
        if "".join(passages) != text:
            raise ValueError("passages do not rebuild the text")
        self.text_pieces, self.text_facts = checked(list(passages) or [""])
        if offset:
            self.pieces, self.facts = checked(body_pieces(passages, offset))
        else:
            self.pieces, self.facts = self.text_pieces, self.text_facts
        self._head: list[str] = []  # the body's first lines, split so far (`lines`)
        self._next = 0  # the first piece not split yet

    def words_and_lines(self) -> tuple[int, int]:
        """(word_count, line_count) of the whole text (front matter included)."""
        found = self.text_facts
        last = self.text_pieces[-1]
        unended = last != "" and last[-1] not in "\r\n"
        return sum(map(_WORDS, found)), sum(map(_BREAKS, found)) + unended

    def dates(self) -> tuple[list, list, list]:
        """`dates.scan_dates` of the body."""
        out: tuple[list, list, list] = ([], [], [])
        for part in filter(None, map(_DATES, self.facts)):
            for whole, piece in zip(out, part, strict=True):
                whole += piece
        return out

    def headings(self) -> list[tuple[int, str, bool]]:
        """Markdown headings of the body: (level, text, inside a fence), as the title
        module's scan of the whole body finds them."""
        out: list[tuple[int, str, bool]] = []
        in_fence = False
        for part in filter(None, map(_HEADINGS, self.facts)):  # (most pieces have none)
            for heading in part:
                if heading is None:
                    in_fence = not in_fence
                else:
                    out.append((heading[0], heading[1], in_fence))
        return out

    def tags(self) -> list[str]:
        """`listings.find_tags` of the body."""
        return [tag for part in filter(None, map(_TAGS, self.facts)) for tag in part]

    def may_have_comments(self) -> bool:
        """False when no line of the body is a timestamp bullet: it has no comment."""
        return any(map(_STAMP, self.facts))

    def quotes(self, body: str) -> list[Quote]:
        """`quotes.find_quotes` of the body, scanning only segments with a quotation mark."""
        starts = [0, *accumulate(map(len, self.pieces))]
        has = map((0).__le__, map(_OPENS, self.facts))
        lf = "\r" not in body
        marks = (
            (
                starts[k] + self.facts[k].opener,
                starts[k + 1],
                self._known(k, starts) if lf else None,
            )
            for k in compress(range(len(self.facts)), has)
        )
        return segment_quotes(body, marks)

    def _known(self, k: int, starts: list[int]) -> tuple[Quote, ...] | None:
        """The quotations of piece k when it is a segment of its own (in a LF text: the piece
        before it ends with a stop, "\\n\\n", and so does it, or it is the last): its own,
        at its offset. Its segment starts at the stop's second LF, which changes nothing:
        a mark after a LF opens as at the start of a text."""
        pieces = self.pieces
        if k and not pieces[k - 1].endswith("\n\n"):
            return None
        if k + 1 < len(pieces) and not pieces[k].endswith("\n\n"):
            return None
        start = starts[k]
        quotes = self.facts[k].quotes
        if not start:
            return quotes
        return tuple(Quote(q.text, q.start + start, q.end + start, q.marks) for q in quotes)

    def lines(self) -> Iterator[str]:
        """`lines_of` the body, piece by piece as they are read (for the extractors that read
        only its first lines: title, byline, dateline); split once for all of them."""
        yield from self._head
        while self._next < len(self.pieces):
            lines = lines_of(self.pieces[self._next])
            self._next += 1
            if self._next < len(self.pieces):
                lines.pop()  # the "" after its final line break: the next piece's first line
            self._head += lines
            yield from lines
