"""Checksum manifests readable by `b3sum -c` and `sha256sum -c` (GNU coreutils format)."""

from __future__ import annotations

from collections.abc import Iterable


def manifest_line(digest: str, path: str) -> str:
    """`<hex>  <path>`; names with backslash, LF or CR are escaped and the line gets a
    leading backslash, which is how both tools mark an escaped name."""
    if not digest or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"digest for {path!r} is not lowercase hex")
    if any(c in path for c in "\\\n\r"):
        escaped = path.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {escaped}\n"
    return f"{digest}  {path}\n"


def manifest_text(entries: Iterable[tuple[str, str]]) -> str:
    """One line per (hex digest, path), in the order given."""
    return "".join(manifest_line(digest, path) for digest, path in entries)
