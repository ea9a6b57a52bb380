"""Metadata extraction: small independent extractors run over one blob's text.

Computed once per distinct content and recomputable (`archive reextract`) when an extractor
improves, so every result carries EXTRACTOR_VERSION. A failing extractor becomes a one-line
problem; the others still run. Output is deterministic plain data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain

from ..formats import parse_html
from ..sidecar import filename_identifiers, front_matter
from .base import Context, Item, Partial
from .byline import extract_byline
from .counts import extract_counts
from .dates import extract_dates
from .docinfo import extract_docinfo
from .frontmatter import extract_front_matter
from .html_meta import extract_html_meta
from .language import extract_language
from .listings import extract_comments, extract_tags
from .pieces import Pieces
from .quotes import Quote, extract_quotes
from .title import extract_headings, extract_title


def extract_source(text: str, ctx: Context) -> Partial:
    """What the caller already knows (media type, encoding) and identifiers in the file name."""
    ids = filename_identifiers(ctx.path)
    return Partial(
        {
            "media_type": ctx.media_type,
            "encoding": ctx.encoding,
            "corpus_number": ids.get("corpus_number"),
            "identifier": ids.get("identifier"),
        }
    )


EXTRACTOR_VERSION = "3"  # 3: CJK word counts; „…“ ‚…‘ »…« 「…」 『…』 quotations

Extractor = Callable[[str, Context], Partial]

# Order matters only for ordinals of keys produced by several extractors (tag, heading).
EXTRACTORS: tuple[tuple[str, Extractor], ...] = (
    ("source", extract_source),
    ("counts", extract_counts),
    ("front_matter", extract_front_matter),
    ("html_meta", extract_html_meta),
    ("docinfo", extract_docinfo),
    ("title", extract_title),
    ("headings", extract_headings),
    ("byline", extract_byline),
    ("dates", extract_dates),
    ("tags", extract_tags),
    ("comments", extract_comments),
    ("quotes", extract_quotes),
    ("language", extract_language),
)


# Scalar fields every Extraction carries (None when absent), so the store has stable columns.
FIELDS = (
    "title", "dateline", "byline", "author", "language", "word_count", "char_count", "line_count",
    "line_endings", "media_type", "encoding", "canonical_url", "description", "published",
    "first_date", "corpus_number", "identifier", "comment_count",
)  # fmt: skip


@dataclass(frozen=True)
class Extraction:
    fields: dict[str, str | int | None]
    items: list[tuple[str, int, str, str | None]]
    problems: list[str]
    # The text's quotations, when found over the whole text of its passages (see `extract`).
    quotes: list[Quote] | None = field(default=None, compare=False, repr=False)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _one_line(exc: BaseException) -> str:
    message = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _context(
    text: str,
    media_type: str,
    path: str,
    encoding: str | None,
    data: bytes | None,
    passages: Sequence[str] | None = None,
) -> tuple[Context, list[str]]:
    problems: list[str] = []
    body, offset = text, 0
    if media_type in ("text/markdown", "text/plain"):
        try:
            _meta, offset = front_matter(text)
            body = text[offset:]
        except ValueError:
            pass  # reported by the front_matter extractor
    pieces = None if passages is None else Pieces(text, passages, offset)
    html = None
    if media_type == "text/html" and data is not None:
        try:
            html = parse_html(data)
        except Exception as exc:
            problems.append(f"html: {_one_line(exc)}")
    return Context(media_type, path, encoding, data, body, html, pieces), problems


def _clean(value):
    """A value SQLite can store as UTF-8: lone surrogates (a broken PDF's strings) become
    U+FFFD, never an exception at insert time."""
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _SURROGATE.sub("\ufffd", value)
    return value


def _encodable(items: list[Item]) -> bool:
    """Whether every string of the items encodes as UTF-8 (no lone surrogate)."""
    try:
        "".join(map(str, chain.from_iterable(items))).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _renumber(items: list[Item]) -> list[Item]:
    """Ordinals count per key across all extractors, so (key, ordinal) is unique."""
    next_ordinal: dict[str, int] = {}
    out: list[Item] = []
    for key, _ordinal, value, detail in items:
        n = next_ordinal.get(key, 0)
        next_ordinal[key] = n + 1
        out.append((key, n, value, detail))
    return out


def extract(
    text: str | None,
    *,
    media_type: str,
    path: str,
    encoding: str | None,
    data: bytes | None = None,
    passages: Sequence[str] | None = None,
) -> Extraction:
    """Run every extractor independently over the text; failures become problems.

    passages: the text cut into passages (archive's `split_passages`, their join the text),
    when the caller has them: the extractors that decompose over passages then do their
    work once per distinct passage (`pieces`), with the same result, and the extraction
    carries the text's quotations (`quotes.find_quotes`) when it found them (no front matter),
    for the passage split: one scan."""
    text = text or ""
    ctx, problems = _context(text, media_type, path, encoding, data, passages)
    fields: dict[str, str | int | None] = dict.fromkeys(FIELDS)
    items: list[Item] = []
    for name, extractor in EXTRACTORS:
        try:
            part = extractor(text, ctx)
        except Exception as exc:  # one broken extractor must never stop an ingest
            problems.append(f"{name}: {_one_line(exc)}")
            continue
        for key, value in part.fields.items():
            if value is not None or key not in fields:
                fields[key] = value
        items.extend(part.items)
    if fields.get("byline") is None and fields.get("author"):
        fields["byline"] = fields["author"]
    fields["extractor_version"] = EXTRACTOR_VERSION
    fields = {_clean(k): _clean(v) for k, v in fields.items()}
    if not _encodable(items):  # (the usual items need no cleaning: one C pass tells)
        items = [(_clean(k), n, _clean(v), _clean(d)) for k, n, v, d in items]
    quotes = ctx.memo.get("quotes") if passages is not None and len(ctx.body) == len(text) else None
    return Extraction(dict(sorted(fields.items())), _renumber(items), problems, quotes)
