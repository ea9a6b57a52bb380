"""Bullet lists at the end of a page: tags (short items) and reader comments (timestamped items).

Seed 000 ends with "• Iran / • Russia / • Syria Summit" (tags) and two "• 2019-01-06 10:27"
items each followed by the comment text (comments, with their timestamps as detail).
"""

from __future__ import annotations

import re

from .base import Context, Partial, line_matches, line_pattern, lines_of, rows

BULLETS = "•·*-–▪◦‣"
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(?::\d{2})?$")
_MAX_TAG_WORDS = 4


def _bullet(line: str) -> str | None:
    s = line.strip()
    if len(s) >= 2 and s[0] in BULLETS and s[1] in " \t\u00a0":
        return s[2:].strip()
    return None


# A bullet line (`line_pattern`), its item captured as `_bullet` gives it: the line stripped
# starts with a bullet and a space, and the item is the rest, stripped; here an item of one
# to four words (as str.split counts them) up to the line's end. Possessive (*+, ++): a
# longer item fails at once instead of backtracking through its words (no other way to
# match exists: spaces and non-spaces alternate).
_ITEM = r"[^\S\n]*+[" + re.escape(BULLETS) + r"][ \t\u00a0][^\S\n]*+"
_SHORT_BULLET_LINE = line_pattern(_ITEM + r"(\S++(?:[^\S\n]++\S++){0,3}+)[^\S\n]*+$", re.MULTILINE)
# ... whose item is a timestamp (as _STAMP), up to the line's end.
_STAMP_LINE = line_pattern(
    _ITEM + r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(?::\d{2})?[^\S\n]*$", re.MULTILINE
)


def _normal(text: str) -> str:
    """`Context.normal` of a text."""
    return "\n".join(lines_of(text))


def _line_after(text: str, end: int) -> tuple[str, int]:
    """The line after the line break at `end` ("" past the text) and where it ends."""
    if end >= len(text):
        return "", len(text)
    stop = text.find("\n", end + 1)
    stop = len(text) if stop < 0 else stop
    return text[end + 1 : stop], stop


def find_tags(text: str, normal: str | None = None) -> list[str]:
    """Items of bullet blocks (2+ items, then a blank line or the end) whose items are all
    short labels. `normal`: `Context.normal` of the text, when the caller has it already.

    Only runs of bullet lines of 1-4 words can be such blocks: a run counts when the line
    before it is no bullet (a longer item would spoil the block) and the line after is blank."""
    whole = _normal(text) if normal is None else normal
    tags: list[str] = []
    block: list[str] = []
    start = end = -1  # where the run's first match starts (its line's break) and last ends

    def close() -> None:
        before = whole[whole.rfind("\n", 0, start) + 1 : start] if start > 0 else ""
        after, _ = _line_after(whole, end)
        if _bullet(before) is None and not after.strip():
            if len(block) >= 2 and all(_is_label(b) for b in block):
                tags.extend(block)

    for m in line_matches(_SHORT_BULLET_LINE, whole):
        if block and m.start() != end:
            close()
            block = []
        if not block:
            start = m.start()
        block.append(m.group(1))
        end = m.end()
    if block:
        close()
    return tags


def _is_label(item: str) -> bool:
    words = item.split()
    return (
        0 < len(words) <= _MAX_TAG_WORDS
        and item[-1] not in ".:;!?"
        and not _STAMP.match(item)
        and any(c.isalpha() for c in item)
    )


def has_stamp_line(normal: str) -> bool:
    """Whether a line of a LF text is a timestamp bullet (where `find_comments` starts)."""
    return next(line_matches(_STAMP_LINE, normal), None) is not None


def find_comments(text: str, normal: str | None = None) -> list[tuple[str, str]]:
    """(comment text, ISO timestamp) for each bullet that is a timestamp followed by text
    lines: up to a blank line after some text, or the next bullet."""
    whole = _normal(text) if normal is None else normal
    out: list[tuple[str, str]] = []
    for m in line_matches(_STAMP_LINE, whole):
        body: list[str] = []
        end = m.end()
        while end < len(whole):
            line, end = _line_after(whole, end)
            if _bullet(line) is not None:
                break
            if line.strip():
                body.append(line.strip())
            elif body:
                break
        if body:
            out.append((" ".join(" ".join(body).split()), f"{m.group(1)}T{m.group(2)}"))
    return out


def extract_tags(text: str, ctx: Context) -> Partial:
    found = find_tags(ctx.body, ctx.normal) if ctx.pieces is None else ctx.pieces.tags()
    return Partial(items=rows("tag", [(t, None) for t in found]))


def extract_comments(text: str, ctx: Context) -> Partial:
    if ctx.pieces is not None and not ctx.pieces.may_have_comments():
        return Partial({"comment_count": 0})
    found = find_comments(ctx.body, ctx.normal)
    return Partial({"comment_count": len(found)}, rows("comment", found))
