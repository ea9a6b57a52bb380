"""Byline: a "By Jane Doe" line near the top (HTML: <meta name=author> wins, see html_meta)."""

from __future__ import annotations

from collections.abc import Iterable

from .base import Context, Partial, lines_of

_TOP_LINES = 15
_CONNECTORS = {"and", "&", "de", "van", "von", "der", "al", "bin", "la", "le", "del", "di"}


def find_byline(text: str, lines: Iterable[str] | None = None) -> str | None:
    """The name(s) after a leading "By " on one of the first lines, if they look like names.
    `lines`: `lines_of(text)`, when the caller has them already."""
    seen = 0
    for raw in lines_of(text) if lines is None else lines:
        if not raw or raw.isspace():
            continue
        seen += 1
        if seen > _TOP_LINES:
            break
        if raw.lstrip()[:2].lower() != "by":  # cheap: the line, spaces collapsed, starts so
            continue
        line = " ".join(raw.split())
        if line[:3].lower() != "by " or len(line.split()) > 12:
            continue
        names = line[3:].strip().rstrip(".,;")
        for sep in (" | ", " - ", " — ", " – "):
            names = names.split(sep)[0].strip()
        words = names.split()
        if words and all(w[0].isupper() or w.lower() in _CONNECTORS for w in words):
            return names
    return None


def extract_byline(text: str, ctx: Context) -> Partial:
    lines = ctx.lines if ctx.pieces is None else ctx.pieces.lines()
    return Partial({"byline": find_byline(ctx.body, lines)})
