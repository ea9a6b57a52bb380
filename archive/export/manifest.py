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


def manifest_bytes(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """One line per (hex digest, raw name bytes): names exactly as on disk (a name that is
    not UTF-8 included), so the tools check the very files the archive read."""
    out = []
    for digest, path in entries:
        if not digest or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"digest for {path!r} is not lowercase hex")
        if any(c in path for c in b"\\\n\r"):
            escaped = path.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
            out.append(b"\\" + digest.encode() + b"  " + escaped + b"\n")
        else:
            out.append(digest.encode() + b"  " + path + b"\n")
    return b"".join(out)
