"""Decide whether bytes are text and decode them losslessly.

The invariant every caller relies on: for a text result, `text.encode(encoding) == data`.
Diffs and passages work on that text and are checked by re-encoding and re-hashing, so a
decoding that drops or alters a byte would make them unverifiable.
"""

from __future__ import annotations

from dataclasses import dataclass

# Magic numbers of formats that are never text, whatever their bytes decode to.
BINARY_MAGIC = (
    b"%PDF-",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ",
    b"7z\xbc\xaf",
    b"\x7fELF",
    b"SQLite format 3\x00",
    b"RIFF",
    b"OggS",
    b"ID3",
    b"\x00\x00\x01\x00",
    b"wOFF",
)
SNIFF = 8192
# Shares of control bytes above which bytes are taken as binary: valid UTF-8 may carry a few
# NULs and stay text (flagged); undecodable bytes must look much cleaner to count as legacy text.
UTF8_CONTROL_RATIO = 0.30
LEGACY_CONTROL_RATIO = 0.10
TEXT_CONTROLS = frozenset(b"\t\n\r\f\v\x1b")


@dataclass(frozen=True)
class Decoded:
    is_text: bool
    text: str | None
    encoding: str | None  # a Python codec such that text.encode(encoding) == data
    newline: str  # LF, CRLF, CR, mixed, none
    flags: tuple[str, ...]  # bom, nul, invalid-utf8, empty


def newline_style(text: str) -> str:
    if "\r" not in text:  # the usual text: one C scan finds no CR, the next a LF at once
        return "LF" if "\n" in text else "none"
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    kinds = [name for name, n in (("CRLF", crlf), ("LF", lf), ("CR", cr)) if n]
    if not kinds:
        return "none"
    return kinds[0] if len(kinds) == 1 else "mixed"


def _text(data: bytes, encoding: str, flags: list[str]) -> Decoded | None:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    # Strict UTF-8 is one-to-one (no surrogates, no overlong forms): its text re-encodes to
    # the same bytes, so only the other codecs are checked.
    if encoding != "utf-8" and text.encode(encoding) != data:
        return None
    if "\x00" in text:
        flags.append("nul")
    return Decoded(True, text, encoding, newline_style(text), tuple(flags))


def _binary(flags: tuple[str, ...] = ()) -> Decoded:
    return Decoded(False, None, None, "none", flags)


CONTROLS = bytes(b for b in range(32) if b not in TEXT_CONTROLS)


def _control_share(head: bytes) -> float:
    """Share of control bytes (counted in C via translate: this runs on every new content)."""
    return (len(head) - len(head.translate(None, CONTROLS))) / len(head)


def decode(data: bytes) -> Decoded:
    """Classify and decode; UTF-16 keeps its BOM as U+FEFF so re-encoding is exact."""
    if not data:
        return Decoded(True, "", "utf-8", "none", ("empty",))
    head = data[:SNIFF]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) and len(data) % 2 == 0:
        enc = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
        decoded = _text(data, enc, ["bom"])
        if decoded:
            return decoded
    if data.startswith(BINARY_MAGIC):
        return _binary()
    flags = ["bom"] if data.startswith(b"\xef\xbb\xbf") else []
    decoded = _text(data, "utf-8", flags)
    if decoded and _control_share(head) <= UTF8_CONTROL_RATIO:
        return decoded
    if decoded is None and _control_share(head) <= LEGACY_CONTROL_RATIO:
        # Legacy 8-bit text: cp1252 where it fits, else Latin-1 (which maps every byte).
        for enc in ("cp1252", "latin-1"):
            legacy = _text(data, enc, ["invalid-utf8"])
            if legacy:
                return legacy
    return _binary()
