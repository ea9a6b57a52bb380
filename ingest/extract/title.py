"""Title: the document's own heading (HTML <title>/h1, Markdown `#`), else its first real line.

A leading line that is only a few capitalised names (a photo caption such as "Ayatollah Khamenei
Mr. Putin") is skipped when a headline-like line follows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .base import Context, Partial, line_matches, line_pattern, lines_of

# A Markdown heading line, or a fence line (``` or ~~~ after any whitespace), which turns
# headings off and on.
_HEADING_OR_FENCE = line_pattern(
    r"(?:[^\S\n]*(?:```|~~~)|( {0,3})(#{1,6})[ \t]+(.+?)[ \t#]*$)", re.MULTILINE
)
_MAX_TITLE_WORDS = 30


def _clean(s: str) -> str:
    return " ".join(s.split())


def _is_caption(line: str) -> bool:
    words = [w for w in line.split() if any(c.isalpha() for c in w)]
    return 2 <= len(words) <= 6 and all(w[0].isupper() for w in words) and line[-1] not in ".:!?"


def _headline_like(line: str) -> bool:
    words = line.split()
    has_lower = any(w[0].islower() for w in words)
    return has_lower and len(words) <= _MAX_TITLE_WORDS and not line.endswith(".")


def first_meaningful_line(text: str, lines: Iterable[str] | None = None) -> str | None:
    """First line with letters, skipping a name-only caption that precedes a headline.
    `lines`: `lines_of(text)`, when the caller has them already."""
    candidates: list[str] = []
    for raw in lines_of(text) if lines is None else lines:
        line = _clean(raw)
        if any(c.isalpha() for c in line):
            candidates.append(line)
            if len(candidates) == 2:
                break
    if not candidates:
        return None
    if len(candidates) == 2 and _is_caption(candidates[0]) and _headline_like(candidates[1]):
        if len(candidates[1].split()) > len(candidates[0].split()):
            return candidates[1][:500]
    return candidates[0][:500]


def heading_lines(normal: str) -> tuple[tuple[int, str] | None, ...]:
    """Markdown heading lines (level, text) and fence lines (None) of a LF text, in order."""
    return tuple(
        None if m.group(1) is None else (len(m.group(2)), m.group(3))
        for m in line_matches(_HEADING_OR_FENCE, normal)
    )


def _headings(ctx: Context) -> list[tuple[int, str, bool]]:
    """Every Markdown heading line of the body, in order: (level, text, inside a fence).
    One scan, kept in the context for both the title and the headings."""
    found = ctx.memo.get("headings")
    if found is None:
        if ctx.pieces is not None:
            found = ctx.pieces.headings()
        else:
            found, in_fence = [], False
            for heading in heading_lines(ctx.normal):
                if heading is None:  # a fence
                    in_fence = not in_fence
                else:
                    found.append((*heading, in_fence))
        ctx.memo["headings"] = found
    return found


def extract_title(text: str, ctx: Context) -> Partial:
    if ctx.html is not None:
        for selector in ("title", "h1"):
            node = ctx.html.css_first(selector)
            if node is not None and _clean(node.text()):
                return Partial({"title": _clean(node.text())[:500]})
    if ctx.media_type == "text/markdown":
        for level, heading, _in_fence in _headings(ctx):  # the first `#` line, fenced or not
            if level == 1:
                return Partial({"title": _clean(heading)[:500]})
    lines = ctx.lines if ctx.pieces is None else ctx.pieces.lines()
    return Partial({"title": first_meaningful_line(ctx.body, lines)})


def extract_headings(text: str, ctx: Context) -> Partial:
    """Markdown `#` headings (HTML headings come from html_meta); detail = level as "h2"."""
    if ctx.media_type != "text/markdown":
        return Partial()
    found = [(_clean(h), f"h{level}") for level, h, in_fence in _headings(ctx) if not in_fence]
    return Partial(items=[("heading", i, v, d) for i, (v, d) in enumerate(found)])
