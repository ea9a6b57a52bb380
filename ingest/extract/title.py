"""Title: the document's own heading (HTML <title>/h1, Markdown `#`), else its first real line.

A leading line that is only a few capitalised names (a photo caption such as "Ayatollah Khamenei
Mr. Putin") is skipped when a headline-like line follows it.
"""

from __future__ import annotations

import re

from .base import Context, Partial, lines_of

_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
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


def first_meaningful_line(text: str) -> str | None:
    """First line with letters, skipping a name-only caption that precedes a headline."""
    candidates: list[str] = []
    for raw in lines_of(text):
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


def extract_title(text: str, ctx: Context) -> Partial:
    if ctx.html is not None:
        for selector in ("title", "h1"):
            node = ctx.html.css_first(selector)
            if node is not None and _clean(node.text()):
                return Partial({"title": _clean(node.text())[:500]})
    if ctx.media_type == "text/markdown":
        for line in lines_of(ctx.body):
            m = _MD_HEADING.match(line)
            if m and len(m.group(1)) == 1:
                return Partial({"title": _clean(m.group(2))[:500]})
    return Partial({"title": first_meaningful_line(ctx.body)})


def extract_headings(text: str, ctx: Context) -> Partial:
    """Markdown `#` headings (HTML headings come from html_meta); detail = level as "h2"."""
    if ctx.media_type != "text/markdown":
        return Partial()
    found: list[tuple[str, str | None]] = []
    in_fence = False
    for line in lines_of(ctx.body):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        m = None if in_fence else _MD_HEADING.match(line)
        if m:
            found.append((_clean(m.group(2)), f"h{len(m.group(1))}"))
    return Partial(items=[("heading", i, v, d) for i, (v, d) in enumerate(found)])
