"""Paths as stored text: a reversible, collision-free encoding of a name's raw bytes.

The encoding (`path_text`, reversed by `path_bytes`):
- valid UTF-8 is kept as is, except the escape character, a backslash, which becomes `\\\\`;
- each byte that is not part of valid UTF-8 becomes `\\xNN` (two lowercase hex digits).
So `caf\\xe9.txt` is the Latin-1 name `caf<0xE9>.txt`, and a file literally named
`\\xff.txt` is stored as `\\\\xff.txt`: two different names never share a stored path.
Names holding a NUL byte, an empty component, `.` or `..` cannot be represented (POSIX
folders never produce them; git trees and archives can): `check_relative` refuses them.
"""

from __future__ import annotations

import os
import re

ESCAPE = "\\"
_ESCAPED = re.compile(r"\\(?:\\|x([0-9a-f]{2}))")


class PathError(ValueError):
    """A name that cannot be represented as a stored path (one-line message)."""


def path_text(raw: bytes) -> str:
    """Stored text of raw name bytes: `\\\\` for a backslash, `\\xNN` for undecodable bytes."""
    return raw.replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")


def path_bytes(text: str) -> bytes:
    """The raw bytes a stored path stands for (inverse of `path_text`).

    Raises PathError for text `path_text` never produces (a stray backslash, a surrogate)."""
    out = bytearray()
    pos = 0
    try:
        while (cut := text.find(ESCAPE, pos)) >= 0:
            out += text[pos:cut].encode("utf-8")
            m = _ESCAPED.match(text, cut)
            if m is None:
                raise PathError(f"not a stored path (stray backslash): {text[:80]!r}")
            out += bytes([int(m.group(1), 16)]) if m.group(1) else b"\\"
            pos = m.end()
        out += text[pos:].encode("utf-8")
    except UnicodeEncodeError:
        raise PathError(f"not a stored path (lone surrogate): {text[:80]!r}") from None
    return bytes(out)


def check_relative(raw: bytes) -> str | None:
    """Why a '/'-separated relative name cannot be a stored path, or None when it can."""
    if not raw:
        return "empty path"
    if b"\0" in raw:
        return "path contains a NUL byte"
    if raw.startswith(b"/"):
        return "absolute path"
    parts = raw.split(b"/")
    if any(p == b"" for p in parts):
        return "path has an empty component"
    if any(p in (b".", b"..") for p in parts):
        return "path has a '.' or '..' component"
    return None


def relative_path_text(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """The stored path of a file below root: relative, '/'-separated, from its raw bytes."""
    rel = os.path.relpath(os.fsencode(path), os.fsencode(root))
    return path_text(rel.replace(os.sep.encode(), b"/"))
