"""Walk a folder into file observations (path, size, mtime, BLAKE3) and problems.

Walking is deterministic (names sorted by their bytes) and never leaves the root: every
folder and file is opened component by component from the root with `O_NOFOLLOW`, and a
file's `fstat` must show the device and inode the scan saw. A file swapped for a link (or a
folder swapped for a link to `../secret`) between the scan and the read becomes a problem,
never outside bytes. Anything that is not a regular file we can read becomes a problem too,
so the run goes on and nothing is silently skipped.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from ingest.hashing import blake3_stream
from ingest.paths import path_text

# Folders that hold tooling state, not documents.
SKIP_DIRS = frozenset({b".git", b".hg", b".svn", b"__pycache__"})
HASH_WORKERS = 4
# POSIX flags (the walk relies on openat with O_NOFOLLOW: Linux, the BSDs, macOS).
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
# O_NONBLOCK: a fifo swapped in after the scan must not block the open.
_FILE_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the root, '/'-separated, encoded by ingest.paths.path_text
    abspath: str  # for messages only: reads go through open_entry
    size: int
    mtime: str  # ISO 8601 UTC
    blake3: str
    root: str = ""  # the real path of the scanned root
    target: bytes = b""  # raw path below root of the file read (a link inside is resolved)
    dev: int = 0
    ino: int = 0


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
    root: str
    target: bytes
    dev: int
    ino: int


class ReadError(OSError):
    """A file that cannot be read as the scan saw it; `strerror` is the one-line reason."""


def iso_utc(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _within(path: bytes, root: bytes) -> bool:
    return path == root or path.startswith(root.rstrip(b"/") + b"/")


def _join(rel: bytes, name: bytes) -> bytes:
    return rel + b"/" + name if rel else name


def open_dir_below(root: str | bytes, rel: bytes) -> int:
    """A descriptor of folder `rel` below root, reached without following any link."""
    fd = os.open(root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        for part in rel.split(b"/") if rel else ():
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_below(root: str | bytes, rel: bytes) -> int:
    """A descriptor of file `rel` below root: no component (the file included) may be a link."""
    head, _, name = rel.rpartition(b"/")
    dirfd = open_dir_below(root, head)
    try:
        return os.open(name, _FILE_FLAGS, dir_fd=dirfd)
    finally:
        os.close(dirfd)


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return "replaced by a link since the scan: not followed"
    if exc.errno == errno.ENOENT:
        return "disappeared since the scan"
    return exc.strerror or str(exc)


@contextmanager
def open_entry(entry: FileEntry | _Candidate) -> Iterator[BinaryIO]:
    """The file the scan saw, opened for reading; ReadError when it was swapped since.

    Same device and inode as the scan, a regular file, reached from the root without links:
    otherwise the reason is a one-line ReadError, never bytes from somewhere else."""
    try:
        fd = open_below(entry.root, entry.target)
    except OSError as exc:
        raise ReadError(exc.errno or errno.EIO, _reason(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ReadError(errno.ESTALE, f"replaced by a {_kind(st.st_mode)} since the scan")
        if (st.st_dev, st.st_ino) != (entry.dev, entry.ino):
            raise ReadError(errno.ESTALE, "replaced by another file since the scan")
        os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_entry(entry: FileEntry) -> bytes:
    """All bytes of a scanned file (see open_entry); for contents small enough to hold."""
    with open_entry(entry) as f:
        return f.read()


def walk(root: str, exclude: frozenset[str] = frozenset()) -> Iterator[_Candidate | Problem]:
    """Yield regular files and problems below root, in sorted order."""
    broot = os.path.realpath(os.fsencode(root))
    sroot = os.fsdecode(broot)
    stack = [b""]
    while stack:
        folder = stack.pop()
        try:
            fd = open_dir_below(broot, folder)
        except OSError as e:
            yield Problem(path_text(folder) or ".", f"unreadable folder: {_reason(e)}")
            continue
        try:
            names = sorted(os.fsencode(n) for n in os.listdir(fd))  # fd: str names
            subdirs = []
            for name in names:
                rel = _join(folder, name)
                item = _entry(fd, name, rel, broot, sroot, exclude)
                if item is None:
                    continue
                if isinstance(item, bytes):
                    if name not in SKIP_DIRS:
                        subdirs.append(item)
                else:
                    yield item
        except OSError as e:
            yield Problem(path_text(folder) or ".", f"unreadable folder: {_reason(e)}")
            continue
        finally:
            os.close(fd)
        stack.extend(reversed(subdirs))


def _entry(
    fd: int, name: bytes, rel: bytes, broot: bytes, sroot: str, exclude: frozenset[str]
) -> _Candidate | Problem | bytes | None:
    """One name of a folder: a candidate file, a problem, a subfolder (its rel) or None."""
    text = path_text(rel)
    try:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError as e:
        return Problem(text, f"cannot stat: {e.strerror}")
    target = rel
    if stat.S_ISLNK(st.st_mode):
        followed = _follow(os.path.join(broot, rel), broot, text)
        if isinstance(followed, Problem):
            return followed
        target, st = followed
    if stat.S_ISDIR(st.st_mode):
        return rel
    if not stat.S_ISREG(st.st_mode):
        return Problem(text, f"not a regular file ({_kind(st.st_mode)})")
    full = os.path.join(broot, target)
    if os.fsdecode(full) in exclude:
        return None
    return _Candidate(
        text, os.fsdecode(os.path.join(broot, rel)), st.st_size, st.st_mtime, sroot, target,
        st.st_dev, st.st_ino,
    )  # fmt: skip


def _follow(full: bytes, broot: bytes, rel: str) -> tuple[bytes, os.stat_result] | Problem:
    """A link inside the root: the raw path below root it leads to, and what is there."""
    try:
        target = os.path.realpath(full, strict=True)
        st = os.stat(target)
    except (OSError, RuntimeError):
        return Problem(rel, "broken symlink or symlink loop")
    if not _within(target, broot):
        return Problem(rel, "symlink pointing outside the root")
    if stat.S_ISDIR(st.st_mode):
        return Problem(rel, "symlink to a folder: not followed")
    return os.path.relpath(target, broot), st


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISDIR, "folder"),
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
        with open_entry(candidate) as f:
            digest = blake3_stream(f)
    except OSError as e:
        return Problem(candidate.path, f"unreadable: {e.strerror or e}")
    return FileEntry(
        candidate.path,
        candidate.abspath,
        candidate.size,
        iso_utc(candidate.mtime),
        digest,
        candidate.root,
        candidate.target,
        candidate.dev,
        candidate.ino,
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
