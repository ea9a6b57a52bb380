"""Text as passages: a lossless split, passage keys, packed passage lists, delta compression.

Pure functions only (no SQL): the store (archive/store.py, "Passages") keeps what they make.

A passage is a paragraph together with the line breaks and blank lines that follow it, so
joining a text's passages gives the text back exactly, whatever its newlines. Revisions of a
document share most paragraphs, and each distinct passage is stored once.
"""

from __future__ import annotations

import array
import difflib
import re
import sys
import unicodedata
import zlib
from collections.abc import Sequence
from itertools import accumulate

from blake3 import blake3

# A paragraph ends after a line break followed by at least one blank (whitespace-only) line.
_BREAK = re.compile(r"(?:\r\n|\r|\n)(?:[ \t\f\v]*(?:\r\n|\r|\n))+")
# Deflate window: a base text longer than this only helps through its last 32 KiB.
_WINDOW = 32768
# Longest chain of bases a passage may sit on: bounds the work of reading any passage.
MAX_DEPTH = 8
# Similarity comparisons per replaced run before falling back to pairing by position.
_MAX_COMPARISONS = 256

CODEC_TEXT = 0  # data is the passage's UTF-8 text as is
CODEC_DEFLATE = 1  # data is raw deflate of the UTF-8 text, with the base's text as dictionary


class PassageError(ValueError):
    """Passages that do not rebuild their text, or bytes that cannot be passage data."""


def split_passages(text: str) -> list[str]:
    """Paragraphs with their trailing line breaks/blank lines; ''.join(result) == text."""
    out: list[str] = []
    start = 0
    for m in _BREAK.finditer(text):
        out.append(text[start : m.end()])
        start = m.end()
    if start < len(text):
        out.append(text[start:])
    return out


def passage_digest(text: str) -> bytes:
    """BLAKE3 of the passage's UTF-8 text: the passage's identity."""
    return blake3(text.encode("utf-8")).digest()


def digest_key(digest: bytes) -> int:
    """The 64-bit SQL key of a digest: its first 8 bytes as a signed big-endian integer."""
    return int.from_bytes(digest[:8], "big", signed=True)


def hex_key(hex_digest: str) -> int:
    """The SQL key of a hex digest or of a hex prefix of at least 16 digits."""
    if len(hex_digest) < 16:
        raise PassageError(f"a passage hash needs at least 16 hex digits: {hex_digest!r}")
    return digest_key(bytes.fromhex(hex_digest[:16]))


def pack_ids(ids: Sequence[int]) -> bytes:
    """A passage list as zlib of little-endian int32 deltas (new passages run consecutively)."""
    deltas = array.array("i", (b - a for a, b in zip([0, *ids], ids, strict=False)))
    if sys.byteorder == "big":
        deltas.byteswap()
    return zlib.compress(deltas.tobytes(), 9)


def unpack_ids(data: bytes) -> list[int]:
    try:
        raw = zlib.decompress(data)
    except zlib.error as e:
        raise PassageError(f"corrupt passage list: {e}") from None
    if len(raw) % 4:
        raise PassageError("corrupt passage list: length is not a multiple of 4")
    deltas = array.array("i")
    deltas.frombytes(raw)
    if sys.byteorder == "big":
        deltas.byteswap()
    return list(accumulate(deltas))


def compress(text: str, base: str | None) -> tuple[int, bytes | str]:
    """(codec, data) for a passage: deflate against its base's text when that is smaller."""
    raw = text.encode("utf-8")
    if base:
        c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=base.encode("utf-8")[-_WINDOW:])
    else:
        c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    packed = c.compress(raw) + c.flush()
    return (CODEC_DEFLATE, packed) if len(packed) < len(raw) else (CODEC_TEXT, text)


def decompress(codec: int, data: bytes | str, base: str | None) -> str:
    if codec == CODEC_TEXT:
        return data if isinstance(data, str) else bytes(data).decode("utf-8")
    if codec != CODEC_DEFLATE:
        raise PassageError(f"unknown passage codec {codec}")
    try:
        if base:
            d = zlib.decompressobj(-15, zdict=base.encode("utf-8")[-_WINDOW:])
        else:
            d = zlib.decompressobj(-15)
        return (d.decompress(data) + d.flush()).decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as e:
        raise PassageError(f"corrupt passage data: {e}") from None


def align_bases(old: Sequence[str], new: Sequence[str]) -> list[int | None]:
    """For each new passage, the index of the old passage it most likely revises, else None.

    Passages in a replaced run take the most similar passage of the run they replace; inserted
    ones take a neighbour. The base is only a compression dictionary, so a poor guess costs
    bytes, never correctness.
    """
    bases: list[int | None] = [None] * len(new)
    if not old:
        return bases
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or tag == "delete":
            continue
        candidates = list(range(i1, i2)) if tag == "replace" else [min(i1, len(old) - 1)]
        for j in range(j1, j2):
            if len(candidates) == 1 or len(candidates) * (j2 - j1) > _MAX_COMPARISONS:
                bases[j] = candidates[min(j - j1, len(candidates) - 1)]  # by position
                continue
            best = max(
                candidates,
                key=lambda i: (difflib.SequenceMatcher(None, old[i], new[j]).quick_ratio(), -i),
            )
            bases[j] = best
    return bases


_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'"})
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """A matching key: NFKC, case-folded, typographic quotes made straight, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return _SPACE.sub(" ", text).strip()


def newline_forms(text: str) -> list[str]:
    """The text as given and with the trailing line breaks a passage usually carries."""
    forms = [text]
    bare = text.rstrip("\r\n")
    for end in ("", "\n", "\n\n", "\r\n", "\r\n\r\n", "\r", "\r\r"):
        if bare + end not in forms:
            forms.append(bare + end)
    return forms
