"""Paths as stored text: POSIX separators, UTF-8, undecodable bytes kept visible."""

from __future__ import annotations

import os


def path_text(raw: bytes) -> str:
    """Text form of a raw path; invalid UTF-8 bytes become `\\xNN` escapes so nothing is dropped."""
    return raw.decode("utf-8", "backslashreplace")


def relative_path_text(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """The stored path of a file below root: relative, '/'-separated, from its raw bytes."""
    rel = os.path.relpath(os.fsencode(path), os.fsencode(root))
    return path_text(rel.replace(os.sep.encode(), b"/"))
