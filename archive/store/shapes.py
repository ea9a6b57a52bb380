"""The plain data the store takes and gives when versions are recorded.

Planning (archive/record/plan.py) turns observations and document states into changes; the
store reads the states and writes the changes, so their shapes live here, below both.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DocState:
    document_id: int
    path: str
    present: bool
    blob: str | None  # current content (None when deleted)
    seen_blobs: Container[str] = field(default_factory=frozenset)  # every content it had


@dataclass(frozen=True)
class Observed:
    path: str
    blob: str
    mtime: str | None = None


@dataclass(frozen=True)
class Change:
    kind: str  # added, modified, renamed, deleted, restored (after deletion), reverted
    document_id: int | None  # None: a new document
    path: str
    blob: str | None
    previous_blob: str | None  # the document's content before this change
    mtime: str | None = None
    old_path: str | None = None
