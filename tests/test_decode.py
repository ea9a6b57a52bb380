"""Decoding is lossless: a text result re-encodes to exactly the input bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.decode import decode, newline_style

CASES = [
    # bytes, is_text, encoding, flags
    (b"", True, "utf-8", ("empty",)),
    (b"plain\n", True, "utf-8", ()),
    ("caf\u00e9 \U0001f600\n".encode(), True, "utf-8", ()),
    (b"\xef\xbb\xbfwith bom", True, "utf-8", ("bom",)),
    ("h\u00e9llo".encode("utf-16-le").join([b"\xff\xfe", b""]), True, "utf-16-le", ("bom",)),
    (b"\xfe\xff" + "h\u00e9llo \U0001f600".encode("utf-16-be"), True, "utf-16-be", ("bom",)),
    ("d\u00e9j\u00e0 vu \u20ac".encode("cp1252"), True, "cp1252", ("invalid-utf8",)),
    (b"\x81\x8d caf\xe9", True, "latin-1", ("invalid-utf8",)),
    (b"hello\x00world\n", True, "utf-8", ("nul",)),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", False, None, ()),
    (b"%PDF-1.7\n", False, None, ()),
    (bytes(range(256)) * 4, False, None, ()),
]


@pytest.mark.parametrize("data,is_text,encoding,flags", CASES)
def test_classification(data, is_text, encoding, flags):
    d = decode(data)
    assert (d.is_text, d.encoding, d.flags) == (is_text, encoding, flags)
    if d.is_text:
        assert d.text.encode(d.encoding) == data


@pytest.mark.parametrize(
    "text,style",
    [
        ("a\nb\n", "LF"),
        ("a\r\nb\r\n", "CRLF"),
        ("a\rb", "CR"),
        ("a\r\nb\n", "mixed"),
        ("ab", "none"),
    ],
)
def test_newline_style(text, style):
    assert newline_style(text) == style
    assert decode(text.encode()).newline == style


@given(st.binary(max_size=300))
def test_any_bytes_decode_losslessly_or_are_binary(data):
    d = decode(data)
    assert d.is_text == (d.text is not None)
    if d.is_text:
        assert d.text.encode(d.encoding) == data


@given(st.text(max_size=200))
def test_utf8_text_is_text(text):
    data = text.encode("utf-8")
    d = decode(data)
    if sum(1 for b in data[:8192] if b < 32 and b not in b"\t\n\r\f\v\x1b") <= 0.3 * len(data):
        assert d.is_text and d.text == text
