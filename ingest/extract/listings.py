"""Bullet lists at the end of a page: tags (short items) and reader comments (timestamped items).

Seed 000 ends with "• Iran / • Russia / • Syria Summit" (tags) and two "• 2019-01-06 10:27"
items each followed by the comment text (comments, with their timestamps as detail).
"""

from __future__ import annotations

import re

from .base import Context, Partial, lines_of, rows

_BULLETS = "•·*-–▪◦‣"
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(?::\d{2})?$")
_MAX_TAG_WORDS = 4


def _bullet(line: str) -> str | None:
    s = line.strip()
    if len(s) >= 2 and s[0] in _BULLETS and s[1] in " \t\u00a0":
        return s[2:].strip()
    return None


def find_tags(text: str) -> list[str]:
    """Items of bullet blocks (2+ items) whose items are all short labels."""
    tags: list[str] = []
    block: list[str] = []
    for line in lines_of(text) + [""]:
        item = _bullet(line)
        if item is not None:
            block.append(item)
            continue
        if line.strip() and block:  # a bullet followed by text is not a label list
            block = []
            continue
        if len(block) >= 2 and all(_is_label(b) for b in block):
            tags.extend(block)
        block = []
    return tags


def _is_label(item: str) -> bool:
    words = item.split()
    return (
        0 < len(words) <= _MAX_TAG_WORDS
        and item[-1] not in ".:;!?"
        and not _STAMP.match(item)
        and any(c.isalpha() for c in item)
    )


def find_comments(text: str) -> list[tuple[str, str]]:
    """(comment text, ISO timestamp) for each bullet that is a timestamp followed by text lines."""
    out: list[tuple[str, str]] = []
    stamp: str | None = None
    body: list[str] = []

    def flush() -> None:
        if stamp is not None and body:
            out.append((" ".join(" ".join(body).split()), stamp))

    for line in lines_of(text):
        item = _bullet(line)
        m = _STAMP.match(item) if item is not None else None
        if m:
            flush()
            stamp, body = f"{m.group(1)}T{m.group(2)}", []
        elif item is not None:
            flush()
            stamp, body = None, []
        elif stamp is not None:
            if line.strip():
                body.append(line.strip())
            elif body:
                flush()
                stamp, body = None, []
    flush()
    return out


def extract_tags(text: str, ctx: Context) -> Partial:
    return Partial(items=rows("tag", [(t, None) for t in find_tags(ctx.body)]))


def extract_comments(text: str, ctx: Context) -> Partial:
    found = find_comments(ctx.body)
    return Partial({"comment_count": len(found)}, rows("comment", found))
