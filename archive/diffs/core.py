"""Which engine runs the word diff (compiled core or pure-Python reference), and its bounds.

The compiled core (archive/diffs/_diffcore.c) runs the same algorithm with identical results;
the Python modules stay the reference. CORE is decided once, at import: the core unless
ARCHIVE_PURE_DIFF is set (to anything but 0) or it is not built (or built from another version
of the C source). The work bounds live here so both engines read them from one home.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

import diff_match_patch as _dmp_module

from archive.diffs.marks import MARKS

DELETE, EQUAL, INSERT = -1, 0, 1

# Work bounds (in tokens / lines). Changing any of them can change output: bump ALGORITHM.
SMALL_GAP_WORK = 3_000  # (n+m)*min(n,m) at or below this: exact Myers, no overlap check


MIN_SHARED_WORDS = 0.6  # bigger gaps sharing fewer words than this are unrelated text


MYERS_STEPS = 20_000  # Myers diagonal steps allowed per diff ...


MYERS_STEPS_PER_CHAR = 0.1  # ... plus this many per changed character of the two texts


LINE_WORK_LIMIT = 400_000


ANCHOR_BUDGET_FACTOR = 8  # anchoring may scan at most this many times the input size


ALGORITHM = f"words-v2+dmp{_dmp_module.__version__}-utf16+ucd{unicodedata.unidata_version}"


Op = tuple[int, str]


# Placeholder characters: code points from 0x100, skipping the surrogate block so that every
# mapped string is valid Unicode for any dmp port.
CHAR_BASE = 0x100


SURROGATES = 0xE000 - 0xD800


MAX_SYMBOLS = 0x110000 - CHAR_BASE - SURROGATES


@dataclass(frozen=True)
class DiffResult:
    """A stored diff: ops (dmp convention), their delta, stats and a change class."""

    ops: list[tuple[int, str]]
    delta: str
    stats: dict
    change_class: str
    coarse: bool


# The compiled core (archive/diffs/_diffcore.c) runs the same algorithm with identical results; this
# module stays the reference. CORE is decided once, here, at import: the core unless
# ARCHIVE_PURE_DIFF is set (to anything but 0) or it is not built (or built from another
# version of the C source).
_CORE_VERSION = 1


def load_core() -> ModuleType:
    """The compiled core, given the mark table; ImportError when it is missing or stale."""
    from archive.diffs import _diffcore

    if getattr(_diffcore, "VERSION", None) != _CORE_VERSION:
        raise ImportError(
            f"archive.diffs._diffcore is version {_diffcore.VERSION}, not {_CORE_VERSION}"
        )
    bitmap = bytearray(0x110000 // 8)
    for c in MARKS:
        bitmap[c >> 3] |= 1 << (c & 7)
    _diffcore.configure(bytes(bitmap))
    return _diffcore


def _select_core() -> ModuleType | None:
    if os.environ.get("ARCHIVE_PURE_DIFF", "") not in ("", "0"):
        return None
    try:
        return load_core()
    except ImportError:
        return None


CORE = _select_core()


def compiled() -> bool:
    """Whether diffs run on the compiled core (not the pure-Python reference)."""
    return CORE is not None


@contextmanager
def engine(core: ModuleType | None) -> Iterator[None]:
    """Run diffs with the given core (None: the pure-Python reference), for tests and benches."""
    global CORE
    saved, CORE = CORE, core
    try:
        yield
    finally:
        CORE = saved


def engine_name() -> str:
    """The engine in use, as `archive --version` and `archive diff --format json` say it."""
    return "compiled" if CORE is not None else "pure-python"


def params() -> tuple:
    """The work bounds, read at call time so the core and the reference share one home."""
    return (
        MYERS_STEPS,
        MYERS_STEPS_PER_CHAR,
        SMALL_GAP_WORK,
        MIN_SHARED_WORDS,
        LINE_WORK_LIMIT,
        ANCHOR_BUDGET_FACTOR,
        MAX_SYMBOLS,
    )
