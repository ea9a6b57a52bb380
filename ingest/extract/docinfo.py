"""Document information of PDF (pypdf metadata) and DOCX (core properties)."""

from __future__ import annotations

from ..formats import MEDIA_DOCX, docx_document, pdf_reader
from .base import Context, Partial


def _pdf_date(raw: str) -> str | None:
    """PDF date "D:YYYYMMDDHHmmSS+hh'mm'" to ISO 8601 (date and time, offset when given)."""
    s = raw[2:] if raw.startswith("D:") else raw
    digits = s[:14]
    if len(digits) < 8 or not digits.isdigit():
        return None
    out = f"{digits[0:4]}-{digits[4:6]}-{digits[6:8]}"
    if len(digits) >= 12:
        out += f"T{digits[8:10]}:{digits[10:12]}"
        out += f":{digits[12:14]}" if len(digits) == 14 else ""
        rest = s[len(digits) :].replace("'", "")
        if rest[:1] == "Z":
            out += "+00:00"
        elif rest[:1] in "+-" and len(rest) >= 5 and rest[1:5].isdigit():
            out += f"{rest[0]}{rest[1:3]}:{rest[3:5]}"
    return out


def extract_docinfo(text: str, ctx: Context) -> Partial:
    if ctx.data is None:
        return Partial()
    if ctx.media_type == "application/pdf":
        reader = pdf_reader(ctx.data)
        info = reader.metadata or {}
        raw = {str(k).lstrip("/"): str(v) for k, v in info.items()}
        created = raw.get("CreationDate")
        return Partial(
            {
                "doc_title": raw.get("Title"),
                "doc_author": raw.get("Author"),
                "doc_created": _pdf_date(created) if created else None,
                "page_count": len(reader.pages),
            },
            [("docinfo", i, f"{k}={raw[k]}", None) for i, k in enumerate(sorted(raw))],
        )
    if ctx.media_type == MEDIA_DOCX:
        props = docx_document(ctx.data).core_properties
        return Partial(
            {
                "doc_title": props.title or None,
                "doc_author": props.author or None,
                "doc_created": props.created.isoformat() if props.created else None,
            }
        )
    return Partial()
