"""Media type sniffing and readable text of HTML, PDF and DOCX.

Diffs and passages work on the readable text; integrity always uses the raw bytes, so nothing
here ever changes what is hashed. Every function is pure and deterministic: no mimetypes
database, no clock, no network.
"""

from __future__ import annotations

import io
import os
import re
import zipfile

MEDIA_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x1f\x8b", "application/gzip"),
    (b"%!PS", "application/postscript"),
    (b"{\\rtf", "application/rtf"),
)

_EXTENSIONS: dict[str, str] = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "text/html",
    ".pdf": "application/pdf",
    ".docx": MEDIA_DOCX,
    ".json": "application/json",
    ".csv": "text/csv",
    ".xml": "application/xml",
    ".yml": "application/yaml",
    ".yaml": "application/yaml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".zip": "application/zip",
}

_TEXT_TYPES = {"text/plain", "text/markdown", "text/html", "text/csv", "application/json"}
_TEXT_TYPES |= {"application/xml", "application/yaml"}

_HTML_START = re.compile(
    rb"^\s*(?:<!--.{0,2000}?-->\s*)?<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)

# Elements whose content is never readable text.
_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
# Elements that start a new paragraph in the readable text.
_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details", "div",
    "dl", "dt", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "td",
    "th", "tr", "ul",
}  # fmt: skip
_WS = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_BREAK = "\x00"
# A DOCX whose parts inflate beyond this is a zip bomb as far as text extraction goes.
MAX_UNZIPPED = 256 * 1024 * 1024


class FormatError(ValueError):
    """A file of a known type that cannot be read (one-line message)."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return False
    return b"\x00" in head


def _zip_type(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return "application/zip"
    if "word/document.xml" in names:
        return MEDIA_DOCX
    return "application/zip"


def sniff_media_type(path: str, data: bytes) -> str:
    """Media type from magic bytes first, then the extension, then a text/binary guess."""
    for magic, media in _MAGIC:
        if data.startswith(magic):
            return media
    if data.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if _HTML_START.match(body[:4096]):
        return "text/html"
    ext = os.path.splitext(path)[1].lower()
    media = _EXTENSIONS.get(ext)
    if media is not None:
        # A label is not proof: binary junk named .html/.txt is not text.
        if media in _TEXT_TYPES and _looks_binary(data):
            return "application/octet-stream"
        return media
    if not data or _looks_binary(data):
        return "application/octet-stream" if data else "text/plain"
    return "text/plain"


def _paragraphs(text: str) -> str:
    """Collapse whitespace inside paragraphs; one blank line between paragraphs."""
    paras = (_WS.sub(" ", p).strip() for p in text.split(_BREAK))
    return "\n\n".join(p for p in paras if p)


def _decode_html(data: bytes) -> str:
    if _looks_binary(data):
        raise FormatError("html: binary data (NUL bytes), not an HTML document")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    m = re.search(rb"<meta[^>]{0,200}?charset=[\"']?([A-Za-z0-9_.:-]{1,40})", data[:4096], re.I)
    if m:
        try:
            return data.decode(m.group(1).decode("ascii"), errors="replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_html(data: bytes):
    """Parse HTML bytes with selectolax (lexbor); shared by the HTML metadata extractors."""
    from selectolax.lexbor import LexborHTMLParser

    return LexborHTMLParser(_decode_html(data))


def html_text(tree) -> str:
    """Readable text of a parsed HTML tree: visible text, paragraphs split at block elements."""
    root = tree.body if tree.body is not None else tree.root
    if root is None:
        return ""
    out: list[str] = []
    stack = [(root, False)]
    while stack:  # iterative walk: hostile nesting must not hit the recursion limit
        node, leaving = stack.pop()
        tag = node.tag
        if leaving:
            out.append(_BREAK)
            continue
        if tag == "-text":
            out.append((node.text_content or "").replace(_BREAK, " "))
            continue
        if tag in _SKIP_TAGS or not node.is_element_node:
            continue
        block = tag in _BLOCK_TAGS
        if block:
            out.append(_BREAK)
            stack.append((node, True))
        children = []
        child = node.child
        while child is not None:
            children.append(child)
            child = child.next
        stack.extend((c, False) for c in reversed(children))
    return _paragraphs("".join(out))


def pdf_reader(data: bytes):
    """Open a PDF with pypdf; any failure becomes a one-line FormatError."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=True)
        _ = len(reader.pages)
    except Exception as exc:  # pypdf raises many types for broken files
        raise FormatError(f"pdf: cannot read ({type(exc).__name__}: {_one_line(exc)})") from None
    return reader


def _pdf_text(data: bytes) -> str:
    reader = pdf_reader(data)
    pages: list[str] = []
    try:
        for page in reader.pages:
            text = page.extract_text() or ""
            lines = (_WS.sub(" ", line).strip() for line in text.splitlines())
            pages.append("\n".join(line for line in lines if line))
    except Exception as exc:
        reason = f"{type(exc).__name__}: {_one_line(exc)}"
        raise FormatError(f"pdf: cannot extract text ({reason})") from None
    return "\n\n".join(p for p in pages if p)


def docx_document(data: bytes):
    """Open a DOCX with python-docx (which inflates every part) once its parts are known to
    inflate to at most MAX_UNZIPPED bytes; any failure is a one-line FormatError."""
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            unzipped = sum(i.file_size for i in zf.infolist())
    except Exception as exc:
        raise FormatError(f"docx: cannot read ({type(exc).__name__}: {_one_line(exc)})") from None
    if unzipped > MAX_UNZIPPED:
        raise FormatError(f"docx: inflates to {unzipped} bytes (over {MAX_UNZIPPED}): not read")
    try:
        return docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise FormatError(f"docx: cannot read ({type(exc).__name__}: {_one_line(exc)})") from None


def _docx_text(data: bytes) -> str:
    document = docx_document(data)
    try:
        paras = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                paras.append(" | ".join(cell.text for cell in row.cells))
    except Exception as exc:
        raise FormatError(f"docx: cannot read ({type(exc).__name__}: {_one_line(exc)})") from None
    return "\n\n".join(_WS.sub(" ", p).strip() for p in paras if p.strip())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def _unicode(text: str) -> str:
    """Text that encodes to UTF-8: a parser's lone surrogates become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def readable_text(data: bytes, media_type: str) -> str | None:
    """Readable text for HTML/PDF/DOCX; None where the decoded text is used as-is or absent.

    Whatever a hostile file makes a parser raise is a one-line FormatError (the file's
    problem), never an exception that stops the run."""
    try:
        if media_type in ("text/html", "application/xhtml+xml"):
            return _unicode(html_text(parse_html(data)))
        if media_type == "application/pdf":
            return _unicode(_pdf_text(data))
        if media_type == MEDIA_DOCX:
            return _unicode(_docx_text(data))
    except FormatError:
        raise
    except Exception as exc:
        kind = media_type.rsplit("/", 1)[-1].split(".")[-1]
        raise FormatError(f"{kind}: cannot read ({type(exc).__name__}: {_one_line(exc)})") from None
    return None
