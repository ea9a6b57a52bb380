"""Formats: media type sniffing and readable text of HTML, PDF, DOCX; broken inputs."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.extract import extract
from ingest.formats import MEDIA_DOCX, FormatError, readable_text, sniff_media_type

FIX = Path(__file__).parent / "fixtures" / "extract"


def make_pdf(lines: list[str], title: str = "Test PDF") -> bytes:
    """A minimal valid one-page PDF with a text stream and an Info dictionary."""
    ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
    for line in lines:
        ops.append("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title (" + title.encode("latin-1") + b") /Author (Jane Doe) "
        b"/CreationDate (D:20180907183000+03'30') >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


PDF = make_pdf(["Iran and Russia meet", "on September 7, 2018 in Tehran."])


# --- sniffing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        ("a.bin", b"%PDF-1.7\n...", "application/pdf"),
        ("a.txt", b"%PDF-1.4\n", "application/pdf"),  # magic beats the extension
        ("x", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        ("x.jpg", b"\xff\xd8\xff\xe0", "image/jpeg"),
        ("page", b"<!DOCTYPE html><html><body>x</body></html>", "text/html"),
        ("page.txt", b"\xef\xbb\xbf<html lang=en>", "text/html"),
        ("notes.md", b"# Title\n", "text/markdown"),
        ("data.json", b'{"a": 1}', "application/json"),
        ("story.txt", b"plain words\n", "text/plain"),
        ("noext", b"plain words\n", "text/plain"),
        ("junk.html", (FIX / "junk.html").read_bytes(), "application/octet-stream"),
        ("noext", b"\x00\x01\x02", "application/octet-stream"),
        ("broken.pdf", b"not a pdf at all", "application/pdf"),
    ],
)
def test_sniff_media_type(path: str, data: bytes, expected: str) -> None:
    assert sniff_media_type(path, data) == expected


def test_sniff_docx_by_zip_content() -> None:
    import docx  # python-docx: a dependency

    buf = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Hello")
    document.save(buf)
    assert sniff_media_type("upload.bin", buf.getvalue()) == MEDIA_DOCX
    assert sniff_media_type("a.zip", b"PK\x03\x04broken") == "application/zip"


# --- HTML -------------------------------------------------------------------------------------


def test_html_readable_text_strips_script_and_style() -> None:
    text = readable_text((FIX / "page.html").read_bytes(), "text/html")
    assert text is not None
    paragraphs = text.split("\n\n")
    assert paragraphs[0] == "Leaders meet in Tehran"
    assert "Published September 7, 2018 in Tehran." in paragraphs
    assert "First item" in paragraphs and "Second item" in paragraphs
    for hidden in ("secret", "hidden script text", "color: red", "enable javascript"):
        assert hidden not in text


def test_html_extract_metadata() -> None:
    data = (FIX / "page.html").read_bytes()
    text = readable_text(data, "text/html")
    e = extract(text, media_type="text/html", path="page.html", encoding="utf-8", data=data)
    assert e.problems == []
    f = e.fields
    assert f["title"] == "Leaders meet in Tehran"
    assert f["canonical_url"] == "https://example.org/news/leaders-meet"
    assert f["description"] == "Iran and Russia discuss cooperation."
    assert f["published"] == "2018-09-07T18:30:00+00:00"
    assert f["byline"] == "Jane Doe"
    assert f["line_endings"] == "LF"
    assert ("time", 0, "2018-09-07", "September 7, 2018") in e.items
    assert ("meta", 2, "og:title=Leaders meet", None) in e.items
    assert [(v, d) for k, _, v, d in e.items if k == "heading"] == [
        ("Leaders meet in Tehran", "h1"),
        ("Quotes", "h2"),
    ]
    assert [v for k, _, v, _ in e.items if k == "tag"] == ["Iran", "Russia"]
    quotes = [(v, d) for k, _, v, d in e.items if k == "quote"]
    assert quotes == [("We will expand our cooperation in all areas.", "“”")]


def test_html_binary_junk_is_a_format_error_and_a_problem() -> None:
    junk = (FIX / "junk.html").read_bytes()
    with pytest.raises(FormatError, match="^html: binary"):
        readable_text(junk, "text/html")
    e = extract(None, media_type="text/html", path="junk.html", encoding=None, data=junk)
    assert any(p.startswith("html: FormatError") for p in e.problems)
    assert all("\n" not in p for p in e.problems)


def test_html_hostile_nesting_is_fast() -> None:
    data = b"<html><body>" + b"<div>" * 20000 + b"deep" + b"</div>" * 20000 + b"</body></html>"
    start = time.perf_counter()
    assert readable_text(data, "text/html") == "deep"
    assert time.perf_counter() - start < 5


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_html_any_bytes_never_crash(data: bytes) -> None:
    try:
        text = readable_text(b"<html><body>" + data, "text/html")
    except FormatError:
        return
    assert text is not None and "\x00" not in text


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_text_and_info() -> None:
    assert sniff_media_type("doc.pdf", PDF) == "application/pdf"
    text = readable_text(PDF, "application/pdf")
    assert text == "Iran and Russia meet\non September 7, 2018 in Tehran."
    e = extract(text, media_type="application/pdf", path="doc.pdf", encoding=None, data=PDF)
    assert e.problems == []
    assert e.fields["doc_title"] == "Test PDF"
    assert e.fields["doc_author"] == "Jane Doe"
    assert e.fields["doc_created"] == "2018-09-07T18:30:00+03:30"
    assert e.fields["page_count"] == 1
    assert e.fields["title"] == "Iran and Russia meet"
    assert e.fields["first_date"] == "2018-09-07"


@pytest.mark.parametrize("cut", [40, 200, len(PDF) // 2])
def test_pdf_truncated_is_a_format_error(cut: int) -> None:
    broken = PDF[:cut]
    with pytest.raises(FormatError, match="^pdf: "):
        readable_text(broken, "application/pdf")
    e = extract("", media_type="application/pdf", path="b.pdf", encoding=None, data=broken)
    assert [p.split(":")[0] for p in e.problems] == ["docinfo"]


# --- DOCX, others -----------------------------------------------------------------------------


def test_docx_text() -> None:
    import docx  # python-docx: a dependency

    buf = io.BytesIO()
    document = docx.Document()
    document.core_properties.title = "Docx title"
    document.add_paragraph("First paragraph.")
    document.add_paragraph("Second   paragraph.")
    document.save(buf)
    data = buf.getvalue()
    assert readable_text(data, MEDIA_DOCX) == "First paragraph.\n\nSecond paragraph."
    e = extract("x", media_type=MEDIA_DOCX, path="a.docx", encoding=None, data=data)
    assert e.fields["doc_title"] == "Docx title"
    with pytest.raises(FormatError, match="^docx: "):
        readable_text(data[:100], MEDIA_DOCX)


@pytest.mark.parametrize("media", ["text/plain", "text/markdown", "image/png"])
def test_readable_text_none_for_text_as_is(media: str) -> None:
    assert readable_text(b"# hello", media) is None
