"""Page data for the archive's Datasette pages: plain functions, rows in, plain dicts out.

Nothing here touches Datasette or SQL, so every page's content is testable on its own; all
HTML escaping happens in the (autoescaping) templates, never here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

HEX64 = re.compile(r"^[0-9a-f]{64}$")
BAR_MAX_PX = 120
# Characters XML 1.0 cannot carry at all (C0 controls except tab/LF/CR, surrogates, FFFE/FFFF).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
ATOM_NS = "http://www.w3.org/2005/Atom"
EPOCH = "1970-01-01T00:00:00Z"


class BadRequest(ValueError):
    """A query-string value that cannot name anything (answered with 400)."""


def parse_id(value: str | None, name: str) -> int:
    """A positive integer id from a URL, or BadRequest with a one-line reason."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 18:
        raise BadRequest(f"{name} must be a positive integer id")
    return int(value)


def parse_hash(value: str | None, name: str) -> str:
    """A full 64-digit hex hash (any case) normalised to lower case, or BadRequest."""
    normal = (value or "").strip().lower()
    if not HEX64.match(normal):
        raise BadRequest(f"{name} must be 64 hexadecimal digits")
    return normal


def version_url(version_id: int) -> str:
    return f"/-/archive/version/{int(version_id)}"


def document_url(document_id: int) -> str:
    return f"/-/archive/document/{int(document_id)}"


def diff_url(from_id: int, to_id: int) -> str:
    return f"/-/archive/diff?from={int(from_id)}&to={int(to_id)}"


def raw_url(blake3: str) -> str:
    return f"/-/archive/raw/{blake3}"


def verify_url(kind: str, value: str) -> str:
    return f"/-/archive/verify?{kind}={value}"


def size_delta(size: int | None, previous: int | None) -> int:
    """Bytes added (+) or removed (-) by a version; a deletion counts as size 0."""
    return (size or 0) - (previous or 0)


def bar_width(delta: int, largest: int) -> int:
    """Bar length in px, proportional to |delta|; any change gets at least 2 px."""
    if delta == 0 or largest <= 0:
        return 0
    return max(2, round(abs(delta) * BAR_MAX_PX / largest))


def history_view(document: dict, versions: list[dict]) -> dict:
    """The timeline of a document: each version with its size change and links."""
    sizes = {v["id"]: v["size"] for v in versions}
    deltas = [size_delta(v["size"], sizes.get(v["previous_version_id"])) for v in versions]
    largest = max((abs(d) for d in deltas), default=0)
    rows = []
    for v, delta in zip(versions, deltas, strict=True):
        prev = v["previous_version_id"]
        rows.append(
            {
                **v,
                "delta": delta,
                "delta_label": f"{delta:+,}" if delta else "±0",
                "bar_px": bar_width(delta, largest),
                "bar_class": "grow" if delta > 0 else "shrink",
                "url": version_url(v["id"]),
                "diff_url": diff_url(prev, v["id"]) if prev is not None else None,
            }
        )
    return {"document": document, "versions": rows, "atom_url": document_url(document["id"])}


def version_view(version: dict, text: str | None) -> dict:
    """One version: text (or a download link), blob metadata, hashes and provenance."""
    blob = version["blob"]
    return {
        "version": version,
        "text": text,
        "is_binary": blob is not None and text is None,
        "raw_url": raw_url(blob) if blob else None,
        "flags": [f for f in (version.get("flags") or "").split(",") if f],
        "history_url": document_url(version["document_id"]),
        "diff_url": (
            diff_url(version["previous_version_id"], version["id"])
            if version["previous_version_id"] is not None
            else None
        ),
        "blake3_url": verify_url("blake3", blob) if blob else None,
    }


def diff_view(
    old: dict, new: dict, old_text: str | None, new_text: str | None, next_id: int | None
) -> dict:
    """Both sides of a change, with links to the neighbouring changes of the same document."""
    same_doc = old["document_id"] == new["document_id"]
    prev_change = (
        diff_url(old["previous_version_id"], old["id"])
        if same_doc and old["previous_version_id"] is not None
        else None
    )
    next_change = diff_url(new["id"], next_id) if same_doc and next_id is not None else None
    return {
        "old": version_view(old, old_text),
        "new": version_view(new, new_text),
        "same_document": same_doc,
        "prev_change": prev_change,
        "next_change": next_change,
        "history_url": document_url(new["document_id"]),
    }


def lookup_view(kind: str, value: str, rows: list[dict]) -> dict:
    """Where a content appeared: every version, each with its document, linked."""
    return {
        "query": {kind: value},
        "found": bool(rows),
        "matches": [
            {
                "version_id": r["version_id"],
                "seq": r["seq"],
                "document_id": r["document_id"],
                "path": r["path"],
                "document_path": r["document_path"],
                "source": r["source"],
                "kind": r["kind"],
                "observed_at": r["observed_at"],
                "blake3": r["blake3"],
                "sha256": r["sha256"],
                "size": r["size"],
                "version_url": version_url(r["version_id"]),
                "document_url": document_url(r["document_id"]),
            }
            for r in rows
        ],
    }


def xml_text(value: object) -> str:
    """Text XML 1.0 can carry: characters it forbids become U+FFFD (never silently dropped)."""
    return _XML_INVALID.sub("\ufffd", "" if value is None else str(value))


@dataclass(frozen=True)
class FeedEntry:
    id: str
    title: str
    updated: str
    link: str
    summary: str


def change_entry(change: dict, base_url: str) -> FeedEntry:
    """One Atom entry for a version row (from queries.RECENT_CHANGES / DOCUMENT_CHANGES)."""
    link = base_url + version_url(change["id"])
    what = f"{change['kind']}: {change['path']} (version {change['seq']})"
    summary = f"{change['source']}:{change['path']} {change['kind']} at {change['observed_at']}"
    if change.get("old_path"):
        summary += f" (was {change['old_path']})"
    if change.get("blob"):
        summary += f"; {change['size']} bytes, BLAKE3 {change['blob']}"
    return FeedEntry(link, what, change["observed_at"], link, summary)


def atom_feed(
    feed_id: str, title: str, self_url: str, alt_url: str, entries: list[FeedEntry]
) -> str:
    """Valid Atom 1.0: ElementTree escapes all text; xml_text replaces what XML cannot hold."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(
            parent, f"{{{ATOM_NS}}}{tag}", {k: xml_text(v) for k, v in attrs.items()}
        )
        if text is not None:
            el.text = xml_text(text)
        return el

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", feed_id)
    sub(feed, "title", title)
    sub(feed, "updated", max((e.updated for e in entries), default=EPOCH))
    sub(sub(feed, "author"), "name", "provenance-archive")
    sub(feed, "link", rel="self", href=self_url)
    sub(feed, "link", rel="alternate", href=alt_url)
    for e in entries:
        entry = sub(feed, "entry")
        sub(entry, "id", e.id)
        sub(entry, "title", e.title)
        sub(entry, "updated", e.updated)
        sub(entry, "link", rel="alternate", href=e.link)
        sub(entry, "summary", e.summary)
    # ElementTree leaves CR raw, which XML parsers turn into LF: keep it as a reference.
    body = ET.tostring(feed, encoding="unicode").replace("\r", "&#13;")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n"
