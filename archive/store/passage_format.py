"""Text as passages: a lossless split, passage keys, packed passage lists, group compression.

Pure functions only (no SQL): the store (archive/store/passage_store.py) keeps what they make.

A passage is a paragraph together with the line breaks and blank lines that follow it, so
joining a text's passages gives the text back exactly, whatever its newlines. Revisions of a
document share most paragraphs, and each distinct passage is stored once.
"""

from __future__ import annotations

import array
import re
import sys
import unicodedata
import zlib
from collections.abc import Container, Iterable, Sequence
from itertools import accumulate, chain, compress, islice
from operator import ne, or_, sub

from blake3 import blake3
from cydifflib import SequenceMatcher  # difflib's, compiled: the same blocks, 4x faster

try:  # inflates about twice as fast; deflate stays stdlib zlib so stored bytes never vary
    from zlib_ng import zlib_ng as _inflater
except ImportError:  # pragma: no cover - same output, only slower
    _inflater = zlib

# A paragraph ends after a line break followed by at least one blank (whitespace-only) line.
# Each line break atomic: a CR LF is one break, never a CR and then an LF (which made every
# line of a CR LF text a passage of its own).
_BREAK = re.compile(r"(?>\r\n|\r|\n)(?:[ \t\f\v]*(?>\r\n|\r|\n))+")
# The same for a text without CR (most are): a pattern that starts with a literal is searched
# for with memchr rather than tried at every character, 5x faster.
_LF_BREAK = re.compile(r"\n(?:[ \t\f\v]*\n)+")
# Deflate window: a base text longer than this only helps through its last 32 KiB.
WINDOW = 32768
# Longest chain of groups a group may depend on (through its bases): bounds any read.
MAX_DEPTH = 8
# Most groups a read inflates and most pieces (runs of passages) it joins: a text past either
# is read through a snapshot instead (PassageStore.bound), as git bounds its delta chains.
MAX_GROUPS = 64
MAX_PIECES = 2048

# Where a quotation always stops: a line feed followed by another line break.
_QUOTE_STOP = re.compile(r"\n(?=[\r\n])")


class PassageError(ValueError):
    """Passages that do not rebuild their text, or bytes that cannot be passage data."""


def split_passages(text: str) -> list[str]:
    """Paragraphs with their trailing line breaks/blank lines; ''.join(result) == text."""
    out: list[str] = []
    start = 0
    for m in (_BREAK if "\r" in text else _LF_BREAK).finditer(text):
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


def _pack_array(typecode: str, values: Iterable[int]) -> bytes:
    """zlib of a little-endian int32/uint32 array (the same bytes on any machine)."""
    array_ = array.array(typecode, values)
    if sys.byteorder == "big":
        array_.byteswap()
    return zlib.compress(array_.tobytes(), 9)


def _unpack_array(data: bytes, typecode: str, what: str) -> array.array:
    try:
        raw = zlib.decompress(data)
    except zlib.error as e:
        raise PassageError(f"corrupt {what}: {e}") from None
    if len(raw) % 4:
        raise PassageError(f"corrupt {what}: length is not a multiple of 4")
    values = array.array(typecode)
    values.frombytes(raw)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def pack_ids(ids: Sequence[int]) -> bytes:
    """A passage list as zlib of little-endian int32 deltas (new passages run consecutively)."""
    return _pack_array("i", map(sub, ids, chain((0,), ids)))


def unpack_ids(data: bytes) -> list[int]:
    return list(accumulate(_unpack_array(data, "i", "passage list")))


def pack_sizes(sizes: Sequence[int]) -> bytes:
    """A group's passage sizes (bytes) as zlib of little-endian uint32: its offsets, summed."""
    return _pack_array("I", sizes)


def unpack_sizes(data: bytes) -> list[int]:
    return _unpack_array(data, "I", "passage sizes").tolist()


def run_bounds(ids: Sequence[int], firsts: Container[int]) -> list[int]:
    """Where the runs of ids start, then len(ids): a run is consecutive ids that do not cross
    the start of a group in firsts, so it is one slice of that group's text.

    Iterates in C (no Python work per id): a read costs per run, not per passage.
    """
    if not ids:
        return [0]
    later = islice(ids, 1, None)
    breaks = map(or_, map(ne, later, map((1).__add__, ids)), map(firsts.__contains__, ids[1:]))
    return [0, *compress(range(1, len(ids)), breaks), len(ids)]


def pack_pieces(pieces: Iterable[Sequence[int]]) -> bytes:
    """Copy instructions ((target,) source, start, end) as zlib of little-endian uint32s."""
    return _pack_array("I", (n for piece in pieces for n in piece))


def unpack_pieces(data: bytes, width: int = 3) -> tuple[array.array, ...]:
    """The fields of packed copy instructions of width numbers each, one array per field."""
    flat = _unpack_array(data, "I", "copy instructions")
    if len(flat) % width:
        raise PassageError(f"corrupt copy instructions: not groups of {width}")
    return tuple(flat[i::width] for i in range(width))


def zdict_of(texts: Iterable[bytes]) -> bytes:
    """The deflate dictionary made of base passages: their UTF-8 joined, last 32 KiB."""
    return b"".join(texts)[-WINDOW:]


def compress_group(texts: Sequence[bytes], zdict: bytes = b"") -> bytes:
    """One raw deflate stream of a version's new passages, primed with its bases' text.

    Passages new in the same version compress together (they share words) and against the
    passages they revise, so a read inflates one stream per version, not one per passage.
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=zdict) if zdict else None
    c = c or zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return c.compress(b"".join(texts)) + c.flush()


def compress_checked(texts: Sequence[bytes], zdict: bytes = b"") -> bytes:
    """`compress_group`, proved by inflating it back (PassageError when it does not): a pure
    function, so it gives the same bytes wherever it runs (an import's workers)."""
    data = compress_group(texts, zdict)
    if decompress_group(data, zdict) != b"".join(texts):
        raise PassageError("a passage group does not inflate to its passages")
    return data


def decompress_group(data: bytes, zdict: bytes = b"") -> bytes:
    """The UTF-8 bytes of a group's passages, end to end."""
    try:
        d = _inflater.decompressobj(-15, zdict=zdict) if zdict else _inflater.decompressobj(-15)
        out = d.decompress(data) + d.flush()
    except (zlib.error, _inflater.error) as e:
        raise PassageError(f"corrupt passage group: {e}") from None
    if not d.eof or d.unused_data:
        raise PassageError("corrupt passage group: truncated or trailing data")
    return out


def revised(old: Sequence[int], new: Sequence[int]) -> list[int]:
    """Indexes of the old passages the new ones most likely revise, in order, each once.

    Replaced runs give every passage they replace, insertions their neighbours: deflate then
    finds the shared words itself. Only a dictionary, so a poor guess costs bytes, never
    correctness. Compares passage keys, so it is cheap even for long documents.
    """
    if not old:
        return []
    out: dict[int, None] = {}
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag == "replace":
            out.update(dict.fromkeys(range(i1, i2)))
        elif tag == "insert":
            out.update(dict.fromkeys(i for i in (i1 - 1, i1) if 0 <= i < len(old)))
    return list(out)


def quote_stops(text: str) -> list[int]:
    """Where quote_segments cuts: each line feed followed by another line break."""
    return [m.start() for m in _QUOTE_STOP.finditer(text)]


def quote_segments(text: str) -> list[tuple[int, str]]:
    """(offset, segment): pieces of text that quotations never cross, for finding them apiece.

    A quotation stops at a line break followed by another (ingest.extract.quotes); each
    segment ends just past such a pair and the next starts at its second break, so scanning
    the segments finds exactly the quotes a scan of the whole text finds.
    """
    out: list[tuple[int, str]] = []
    start = 0
    for m in _QUOTE_STOP.finditer(text):
        out.append((start, text[start : m.start() + 2]))
        start = m.start() + 1
    out.append((start, text[start:]))
    return out


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
