"""The stored form of a diff's delta: zlib level 9, primed with the old text's tail.

What is stored: only the dmp delta (equal/delete lengths and the inserted text), zlib level 9
primed with the old text's last 32 KiB as its dictionary (inserted text often repeats the text
it replaces: about a sixth smaller than plain zlib on the sample history), with its codec named
in `delta_codec` (plain zlib, the first codec, where that is smaller). A storage format, so it
lives with the store: migrations and readers decode it without the diff engine.
"""

from __future__ import annotations

import zlib

# zlib level 9 of the delta's UTF-8 text with the old text's last 32 KiB (UTF-8) as preset
# dictionary; a new codec gets a new name. Zstandard with the whole old text as dictionary was
# measured too (level 9: 8% smaller again, level 19: 12%, at 4x-17x the CPU, a new dependency
# and output that varies with its version): not worth it yet.
DELTA_CODEC = "zlib-base"


PLAIN_CODEC = "zlib"  # the first codec, still written when smaller: zlib level 9, no dictionary


CODECS = (DELTA_CODEC, PLAIN_CODEC)


_ZLIB_LEVEL9_HEADER = b"\x78\xda"  # deflate, 32 KiB window, "maximum compression", no dict


_ZLIB_LEVEL9_DICT_HEADER = b"\x78\xf9"  # the same with a preset dictionary (its Adler-32 next)


WINDOW = 32768


# A delta of more UTF-8 bytes than this is primed without trying plain zlib as well: plain won
# only on small deltas (where the dictionary's 4-byte checksum and its shifted codes weigh;
# the largest of 346 such on the sample history was 3,058 bytes), and compressing every large
# delta twice cost ~0.3 s of the import's CPU.
PRIMED_ONLY = 8192


def base_dict(old: str) -> bytes:
    """The dictionary a delta is primed with: the old text's last 32 KiB of UTF-8 (deflate's
    window; only the tail is encoded, so a long old text costs no more)."""
    return old[-WINDOW:].encode("utf-8")[-WINDOW:]


def pack_delta(delta: str, old: str) -> tuple[bytes, str]:
    """The stored form of a delta against its old text and its codec: primed with the old
    text (DELTA_CODEC), compressed once when the delta is over PRIMED_ONLY bytes; a smaller
    one is compressed both ways and plain zlib kept when smaller, as for a tiny delta (the
    dictionary's checksum costs 4 bytes). Either codec reads back the same way."""
    data = delta.encode("utf-8")
    zdict = base_dict(old)
    if not zdict:
        return zlib.compress(data, 9), PLAIN_CODEC
    c = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zdict=zdict)
    primed = c.compress(data) + c.flush()
    if len(data) > PRIMED_ONLY:
        return primed, DELTA_CODEC
    plain = zlib.compress(data, 9)
    return (primed, DELTA_CODEC) if len(primed) <= len(plain) else (plain, PLAIN_CODEC)


def _header(codec: object, zdict: bytes) -> bytes:
    """The exact zlib header a row of this codec starts with (so a changed byte is caught)."""
    if codec == DELTA_CODEC and zdict:
        return _ZLIB_LEVEL9_DICT_HEADER + zlib.adler32(zdict).to_bytes(4, "big")
    return _ZLIB_LEVEL9_HEADER


def unpack_delta(data: object, codec: object, old: str = "") -> str:
    """A stored delta back as text (old: the text it applies to, whose tail primed it);
    ValueError (one line) for an unknown codec or damaged data.

    The header must be the one level 9 writes (with the old text's dictionary named by its
    Adler-32) and the stream must end exactly at the blob's end, so a changed header or
    trailing byte is caught too; zlib's Adler-32 catches a changed byte inside, and whatever
    still slips through fails the hash check.
    """
    if codec not in CODECS:
        raise ValueError(f"unknown delta codec {codec!r}")
    if not isinstance(data, bytes):
        raise ValueError(f"delta is not a blob but {type(data).__name__}")
    zdict = base_dict(old) if codec == DELTA_CODEC else b""
    header = _header(codec, zdict)
    if data[: len(header)] != header:
        raise ValueError("delta does not decompress: not the zlib stream its codec writes")
    inflater = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
    try:
        text = inflater.decompress(data) + inflater.flush()
        if not inflater.eof or inflater.unused_data:
            raise ValueError("delta does not decompress: truncated or trailing bytes")
        return text.decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as e:
        raise ValueError(f"delta does not decompress: {type(e).__name__}") from None


def repacked(row: dict, old: str) -> tuple[bytes, str] | None:
    """A first-codec row's delta (data, codec) as it would be stored today (for a migration),
    or None when that changes nothing or it does not decompress (left for `archive verify`)."""
    if row["delta_codec"] != PLAIN_CODEC:
        return None
    try:
        packed = pack_delta(unpack_delta(row["delta"], PLAIN_CODEC), old)
    except ValueError:
        return None
    return None if packed[1] == PLAIN_CODEC else packed
