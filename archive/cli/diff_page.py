"""A diff as a standalone HTML page: one file to send to someone, styled, with its header."""

from __future__ import annotations

import importlib.resources

from markupsafe import Markup

from archive.diffs import DiffResult
from archive.diffs.render import render_html, render_stat

# Page rules on top of the archive's stylesheet (inlined: the page needs nothing else).
_PAGE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  margin: 0 auto; padding: 1rem; max-width: 72rem; color: #111; background: #fff; }
h1 { font-size: 1.4rem; overflow-wrap: anywhere; }
.diff-header { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
@media (max-width: 700px) { .diff-header { grid-template-columns: 1fr; } }
.diff-header section { border: 1px solid #e4e4e4; padding: 0.5rem 0.8rem; min-width: 0; }
.diff-header h2 { font-size: 1rem; margin: 0 0 0.4rem; }
footer { color: #666; font-size: 0.85rem; margin-top: 1rem; }
.archive-diff { max-height: none; }
"""

SIDE_FIELDS = (  # (key, label) shown for each side when known
    ("document", "Document"),
    ("version", "Version"),
    ("observed_at", "Archived at"),
    ("source", "Source"),
    ("run", "Run"),
    ("commit", "Commit"),
    ("blake3", "BLAKE3"),
    ("sha256", "SHA-256"),
    ("size", "Size"),
)


def _stylesheet() -> str:
    return (importlib.resources.files("archive.publish") / "static" / "archive.css").read_text(
        encoding="utf-8"
    )


def _side(label: str, info: dict) -> Markup:
    rows = []
    for key, name in SIDE_FIELDS:
        value = info.get(key)
        if value in (None, ""):
            continue
        cls = ' class="hash"' if key in ("blake3", "sha256", "commit") else ""
        rows.append(Markup("<dt>{}</dt><dd{}>{}</dd>").format(name, Markup(cls), value))
    return Markup(
        '<section><h2>{}: <bdi class="path">{}</bdi></h2><dl class="archive-meta">{}</dl></section>'
    ).format(label, info.get("label", ""), Markup("").join(rows))


def render_html_page(
    result: DiffResult,
    old: dict,
    new: dict,
    side_by_side: bool = False,
    context: int | None = 3,
    generator: str = "provenance-archive",
    note: str | None = None,
) -> str:
    """A complete HTML document: a header with both sides (document, version, dates,
    hashes, provenance: whatever `old` and `new` hold), the change's stats, and the word
    diff styled as on the archive's pages (`note` instead of it when the texts are the
    same). Every value is escaped."""
    title = Markup("{} → {}").format(old.get("label", ""), new.get("label", ""))
    body = render_html(result.ops, side_by_side=side_by_side, context=context)
    if note:
        body = Markup('<p class="muted">{}</p>').format(note)
    cls = " side-by-side" if side_by_side else ""
    return str(
        Markup(
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="generator" content="{generator}">'
            "<title>{title}</title><style>{css}{page_css}</style></head>\n"
            '<body class="archive-page"><h1 class="archive-title">{title}</h1>\n'
            '<div class="diff-header">{old}{new}</div>\n'
            '<p class="diff-summary"><span class="change-class class-{cls_name}">{cls_name}</span>'
            " {stat}</p>\n"
            '<div class="archive-diff{cls}">{body}</div>\n'
            "<footer>Made by {generator}. Deleted text is <del>struck through in red</del>,"
            " inserted text <ins>green</ins>.</footer>\n</body></html>\n"
        ).format(
            generator=generator,
            title=title,
            css=Markup(_stylesheet()),
            page_css=Markup(_PAGE_CSS),
            old=_side("Before", old),
            new=_side("After", new),
            cls_name=result.change_class,
            stat=render_stat(result),
            cls=cls,
            body=body,
        )
    )
