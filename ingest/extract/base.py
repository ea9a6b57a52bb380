"""Shared plain data for extractors: the context they read and the partial result they return."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
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
    # The body's passages (`pieces.Pieces`), when the caller split the text: extractors that
    # decompose over passages read them instead of the whole body.
    pieces: Any = None
    # What one extractor computed that another of the same module reuses (e.g. the headings
    # the title and the headings extractors both read); filled as they run.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def lines(self) -> list[str]:
        """`lines_of(body)`, split once for every extractor that reads lines (never mutated)."""
        return lines_of(self.body)

    @cached_property
    def normal(self) -> str:
        """The body with every line ending a LF: "\\n".join(lines), the body itself when it
        has no CR. `line_matches` finds line starts in it at C speed."""
        return "\n".join(self.lines) if "\r" in self.body else self.body


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


def line_pattern(source: str, flags: int = 0) -> tuple[re.Pattern, re.Pattern]:
    """A pattern matched at line starts, for `line_matches`: compiled after a "\\n" (a
    literal first character, which the regex engine searches for at C speed, unlike ^ with
    re.MULTILINE), and as is for the first line."""
    return re.compile("\n" + source, flags), re.compile(source, flags)


def line_matches(pattern: tuple[re.Pattern, re.Pattern], text: str) -> Iterator[re.Match]:
    """Matches of a `line_pattern` at every line start of a LF text, in order: the first
    line's at offset 0, each other's at the "\\n" before its line."""
    after_break, first = pattern
    m = first.match(text)
    if m is not None:
        yield m
    yield from after_break.finditer(text)


def lines_of(text: str) -> list[str]:
    """Lines with any line ending (LF, CRLF, CR) removed, without splitlines' exotic breaks."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")
