"""Walk a folder into file observations (path, size, mtime, BLAKE3) and problems.

Walking is deterministic (names sorted by their bytes) and never follows a link out of
the root. Anything that is not a regular file we can read becomes a problem, so the run
goes on and nothing is silently skipped.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.hashing import blake3_file
from ingest.paths import relative_path_text

# Folders that hold tooling state, not documents.
SKIP_DIRS = frozenset({b".git", b".hg", b".svn", b"__pycache__"})
HASH_WORKERS = 4


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the root, '/'-separated
    abspath: str
    size: int
    mtime: str  # ISO 8601 UTC
    blake3: str


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str


@dataclass(frozen=True)
class _Candidate:
    path: str
    abspath: str
    size: int
    mtime: float


def iso_utc(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _within(path: bytes, root: bytes) -> bool:
    return path == root or path.startswith(root.rstrip(b"/") + b"/")


def walk(root: str, exclude: frozenset[str] = frozenset()) -> Iterator[_Candidate | Problem]:
    """Yield regular files and problems below root, in sorted order."""
    broot = os.path.realpath(os.fsencode(root))
    stack = [os.fsencode(root)]
    while stack:
        folder = stack.pop()
        try:
            names = sorted(os.listdir(folder))
        except OSError as e:
            yield Problem(relative_path_text(folder, root), f"unreadable folder: {e.strerror}")
            continue
        subdirs = []
        for name in names:
            full = os.path.join(folder, name)
            rel = relative_path_text(full, root)
            try:
                st = os.lstat(full)
            except OSError as e:
                yield Problem(rel, f"cannot stat: {e.strerror}")
                continue
            if stat.S_ISLNK(st.st_mode):
                problem_or_st = _follow(full, broot, rel)
                if isinstance(problem_or_st, Problem):
                    yield problem_or_st
                    continue
                st = problem_or_st
            if stat.S_ISDIR(st.st_mode):
                if name not in SKIP_DIRS:
                    subdirs.append(full)
            elif stat.S_ISREG(st.st_mode):
                if os.fsdecode(os.path.realpath(full)) not in exclude:
                    yield _Candidate(rel, os.fsdecode(full), st.st_size, st.st_mtime)
            else:
                yield Problem(rel, f"not a regular file ({_kind(st.st_mode)})")
        stack.extend(reversed(subdirs))


def _follow(full: bytes, broot: bytes, rel: str) -> os.stat_result | Problem:
    try:
        target = os.path.realpath(full, strict=True)
    except (OSError, RuntimeError):
        return Problem(rel, "broken symlink or symlink loop")
    if not _within(target, broot):
        return Problem(rel, "symlink pointing outside the root")
    st = os.stat(target)
    if stat.S_ISDIR(st.st_mode):
        return Problem(rel, "symlink to a folder: not followed")
    return st


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


def _hash(candidate: _Candidate) -> FileEntry | Problem:
    try:
        digest = blake3_file(candidate.abspath)
    except OSError as e:
        return Problem(candidate.path, f"unreadable: {e.strerror}")
    return FileEntry(
        candidate.path, candidate.abspath, candidate.size, iso_utc(candidate.mtime), digest
    )


def scan(
    root: str,
    exclude: frozenset[str] = frozenset(),
    progress: Callable[[int], None] | None = None,
) -> tuple[list[FileEntry], list[Problem]]:
    """Hash every regular file below root (threads: BLAKE3 releases the GIL)."""
    candidates: list[_Candidate] = []
    problems: list[Problem] = []
    for item in walk(root, exclude):
        (problems if isinstance(item, Problem) else candidates).append(item)
    entries: list[FileEntry] = []
    with ThreadPoolExecutor(HASH_WORKERS) as pool:
        for result in pool.map(_hash, candidates):
            (problems if isinstance(result, Problem) else entries).append(result)
            if progress:
                progress(1)
    return entries, problems
