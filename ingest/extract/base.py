"""Shared plain data for extractors: the context they read and the partial result they return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Item = tuple[str, int, str, str | None]

# Lines whose answers an extractor caches (dates, word counts): revisions repeat most lines;
# a bound on what they hold (lines of ~100 characters: a few MB per process).
LINE_CACHE = 1 << 15


@dataclass(frozen=True)
class Context:
    """Everything an extractor may look at. `body` is the text after any front matter."""

    media_type: str
    path: str
    encoding: str | None
    data: bytes | None
    body: str
    html: Any = None  # parsed selectolax tree for HTML, else None


@dataclass
class Partial:
    """What one extractor found: scalar fields and tidy (key, ordinal, value, detail) rows."""

    fields: dict[str, str | int | None] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)


def rows(key: str, values: list[tuple[str, str | None]]) -> list[Item]:
    """Number (value, detail) pairs as tidy rows, dropping exact repeats (first one wins)."""
    seen: set[tuple[str, str | None]] = set()
    out: list[Item] = []
    for value, detail in values:
        if (value, detail) in seen:
            continue
        seen.add((value, detail))
        out.append((key, len(out), value, detail))
    return out


def lines_of(text: str) -> list[str]:
    """Lines with any line ending (LF, CRLF, CR) removed, without splitlines' exotic breaks."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
