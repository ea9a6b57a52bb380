"""Bullet lists at the end of a page: tags (short items) and reader comments (timestamped items).

Seed 000 ends with "• Iran / • Russia / • Syria Summit" (tags) and two "• 2019-01-06 10:27"
items each followed by the comment text (comments, with their timestamps as detail).
"""

from __future__ import annotations

import itertools
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


# A line that may be a bullet item or a timestamp bullet, over `Context.framed` (each line
# after a "\n", so found at C speed); `_bullet` and _STAMP decide on the line itself.
_MAYBE_BULLET = re.compile("\n[^\\S\n]*[" + re.escape(_BULLETS) + "][ \t\u00a0]")
_MAYBE_STAMP = re.compile(_MAYBE_BULLET.pattern + r"[^\S\n]*\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


def _framed(text: str) -> tuple[list[str], str]:
    """(lines, framed) of a text, as `Context.lines` and `Context.framed` give them."""
    lines = lines_of(text)
    return lines, "\n" + "\n".join(lines)


def _line_starts(pattern: re.Pattern, lines: list[str], framed: str) -> list[int]:
    """Indexes of the lines where `pattern` (starting with "\n") matches, in order."""
    out: list[int] = []
    line, pos = -1, 0
    for m in pattern.finditer(framed):
        line += framed.count("\n", pos, m.start() + 1)
        pos = m.start() + 1
        out.append(line)
    return out


def find_tags(text: str, framed: tuple[list[str], str] | None = None) -> list[str]:
    """Items of bullet blocks (2+ items) whose items are all short labels. `framed`:
    `Context.lines` and `Context.framed` of the text, when the caller has them already."""
    lines, whole = _framed(text) if framed is None else framed
    tags: list[str] = []
    block: list[str] = []
    last = -2

    def close() -> None:  # a block ends on a blank line (or the text's end), else it is text
        after = lines[last + 1] if last + 1 < len(lines) else ""
        if not after.strip() and len(block) >= 2 and all(_is_label(b) for b in block):
            tags.extend(block)

    for k in _line_starts(_MAYBE_BULLET, lines, whole):
        item = _bullet(lines[k])
        if item is None:
            continue
        if block and k != last + 1:
            close()
            block = []
        block.append(item)
        last = k
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


def find_comments(text: str, framed: tuple[list[str], str] | None = None) -> list[tuple[str, str]]:
    """(comment text, ISO timestamp) for each bullet that is a timestamp followed by text
    lines: up to a blank line after some text, or the next bullet."""
    lines, whole = _framed(text) if framed is None else framed
    out: list[tuple[str, str]] = []
    for k in _line_starts(_MAYBE_STAMP, lines, whole):
        item = _bullet(lines[k])
        m = _STAMP.match(item) if item is not None else None
        if m is None:
            continue
        body: list[str] = []
        for line in itertools.islice(lines, k + 1, None):
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
    return Partial(
        items=rows("tag", [(t, None) for t in find_tags(ctx.body, (ctx.lines, ctx.framed))])
    )


def extract_comments(text: str, ctx: Context) -> Partial:
    found = find_comments(ctx.body, (ctx.lines, ctx.framed))
    return Partial({"comment_count": len(found)}, rows("comment", found))
