"""Extracted metadata and source provenance: computing and storing them, reading them back.

Extraction runs once per distinct content, when the content is first stored, and again only
through `reextract` (after an extractor improves). Provenance (sidecars, front matter, file
names) belongs to a version: it is written as the version is recorded and never rewritten.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from archive.ledger.contents import append_contents, renew_in_run
from archive.record.plan import Change
from archive.store import Store
from archive.store.passage_format import split_passages
from archive.store.passage_store import passage_key, text_quotes
from ingest.content import BlobInfo, describe, text_blob
from ingest.extract import EXTRACTOR_VERSION, FIELDS, Extraction, extract
from ingest.formats import MEDIA_DOCX, FormatError, readable_text
from ingest.sidecar import (
    SIDECAR_SUFFIXES,
    SidecarError,
    filename_identifiers,
    front_matter,
    is_sidecar,
    parse_sidecar,
)

# Formats whose file-name extension promises a structure we read; a content that does not
# match its extension is recorded as a problem (kept as a blob all the same).
_CLAIMED = {
    ".html": ("html", "text/html"),
    ".htm": ("html", "text/html"),
    ".xhtml": ("html", "text/html"),
    ".pdf": ("pdf", "application/pdf"),
    ".docx": ("docx", MEDIA_DOCX),
}
_FRONT_MATTER_TYPES = ("text/markdown", "text/plain")


@dataclass(frozen=True)
class Stored:
    """A content just stored: its description and the one-line problems met on the way."""

    info: BlobInfo
    problems: list[str] = field(default_factory=list)


def format_problem(path: str, media_type: str) -> str | None:
    """A one-line problem when the name promises HTML/PDF/DOCX and the bytes are not that."""
    claimed = _CLAIMED.get(os.path.splitext(path)[1].lower())
    if claimed is None or claimed[1] == media_type:
        return None
    return f"{claimed[0]}: content is not {claimed[0].upper()} (detected {media_type})"


def readable(data: bytes, media_type: str) -> tuple[str | None, list[str]]:
    """Readable text of HTML/PDF/DOCX bytes (None for other types), or a problem."""
    try:
        return readable_text(data, media_type), []
    except FormatError as exc:
        return None, [str(exc)]


def row_fields(extraction: Extraction) -> tuple[dict, list[tuple[str, int, str, str | None]]]:
    """Split an extraction into blob_metadata columns and blob_items rows.

    Scalars outside FIELDS (doc_title, page_count, site_name, ...) become items keyed by
    their name with detail "field", so nothing extracted is dropped or kept as opaque JSON.
    """
    columns = {k: extraction.fields.get(k) for k in (*FIELDS, "extractor_version")}
    extra = [
        (name, 0, value if isinstance(value, str) else json.dumps(value), "field")
        for name, value in extraction.fields.items()
        if name not in columns and value is not None
    ]
    return columns, [*extraction.items, *extra]


def _unique(problems: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(problems))


@dataclass(frozen=True)
class Prepared:
    """What storing a new content computes from its bytes alone (no archive state), so any
    worker process can compute it: its description, readable-text blob, metadata, problems."""

    info: BlobInfo
    text_blob: tuple[BlobInfo, bytes] | None
    metadata: tuple[dict, list] | None
    problems: list[str]
    split: tuple[list[str], list] | None = None  # its passages and quotations, if text
    keys: tuple[list[int], list[int]] = ([], [])  # their passage keys


def prepare_content(path: str, data: bytes, extract_metadata: bool = True) -> Prepared:
    """The per-content work of every source (folder, git, web), a pure function of its
    path and bytes: it runs in the import's worker processes as well as in the main one."""
    info, decoded = describe(path, data)
    problems: list[str] = []
    mismatch = format_problem(path, info.media_type)
    if mismatch:
        problems.append(mismatch)
    text, more = readable(data, info.media_type)
    problems += more
    parts = _passages(info, decoded.text)
    text_blob_row = None
    if text is not None:
        text_blob_row = text_blob(text)
    elif decoded.is_text:
        text = decoded.text
    metadata = None
    quotes = None
    if extract_metadata:
        extraction = extract(
            text,
            media_type=info.media_type,
            path=path,
            encoding=info.encoding,
            data=data,
            passages=parts if text is decoded.text else None,  # (not of a readable text)
        )
        metadata = row_fields(extraction)
        problems += extraction.problems
        quotes = extraction.quotes
    if parts is None:
        return Prepared(info, text_blob_row, metadata, _unique(problems))
    if quotes is None:
        quote_rows = text_quotes(decoded.text)
    else:  # the extraction's own scan: the same quotations (`text_quotes` = `find_quotes`)
        quote_rows = [(q.text, q.start) for q in quotes]
    split = (parts, quote_rows)
    keys = (list(map(passage_key, parts)), [passage_key(q) for q, _ in quote_rows])
    return Prepared(info, text_blob_row, metadata, _unique(problems), split, keys)


def _passages(info: BlobInfo, text: str | None) -> list[str] | None:
    """The passages the blob will be packed into (`split_passages` of `text`, its decoded
    text, as `pack_blob` decodes it); None when it is not text, or they do not rebuild the
    text (`pack_blob` then reports it). The text re-encodes to the blob's bytes (`decode`),
    so passages that join into it rebuild them: no second encoding and hash."""
    if not info.is_text or info.encoding is None or text is None:
        return None
    parts = split_passages(text)
    return parts if "".join(parts) == text else None


def write_prepared(
    store: Store,
    prepared: Prepared,
    data: bytes,
    *,
    packed_soon: bool = False,
    leaves: list[tuple] | None = None,
) -> Stored:
    """Write a prepared content's rows: its blob, readable-text blob and metadata.

    Its passages (split where it was prepared, a worker or this process) wait in the
    store's text cache, when an ingest keeps one, for `pack_blob`: a text is split once.
    packed_soon: the caller packs it within its batch (or calls `keep_unpacked`), so a text
    held as passages is not written whole first (its bytes would only be freed again).
    leaves: where the content's ledger leaf and metadata rows wait for the caller's
    `append_contents` (one statement per table and one bulk read for a batch); without it,
    they are written now."""
    info = prepared.info
    held = False
    if prepared.split is not None and store.texts is not None:
        held = store.texts.presplit(info.blake3, info.encoding, *prepared.split, prepared.keys)
    store.insert_blob(info, None if held and packed_soon else data)
    if prepared.text_blob is not None:
        tinfo, tdata = prepared.text_blob
        store.insert_blob(tinfo, tdata)
        store.link_text_blob(info.blake3, tinfo.blake3)
    keys = None if prepared.split is None else prepared.keys[1]
    if leaves is None:
        if prepared.metadata is not None:
            store.put_metadata(info.blake3, *prepared.metadata)
        append_contents(store, [(info.blake3, keys)])
    else:  # its metadata rows wait with its leaf: a batch's go in together
        leaves.append((info.blake3, keys, prepared.metadata))
    return Stored(info, prepared.problems)


def keep_unpacked(store: Store) -> int:
    """Write whole the contents `write_prepared(packed_soon=True)` left as splits and no
    version packed (none should be left: this keeps a content whatever the plan did)."""
    if store.texts is None:
        return 0
    passages = store.passages
    return sum(passages.keep_content(key, data) for key, data in store.texts.take_unpacked())


def store_content(store: Store, path: str, data: bytes, *, extract_metadata: bool = True) -> Stored:
    """Store a new content, its readable-text blob (HTML/PDF/DOCX) and its metadata.

    Never raises for a broken file: it is kept as a blob and its problems are returned.
    """
    return write_prepared(store, prepare_content(path, data, extract_metadata), data)


def store_sidecar(store: Store, data: bytes, path: str) -> str:
    """Keep a sidecar's bytes as a blob (no extraction: it is not a document)."""
    info, _ = describe(path, data)
    store.insert_blob(info, data)
    return info.blake3


def sidecar_target(path: str) -> str | None:
    """The document path a sidecar describes (`a.txt.meta.yml` -> `a.txt`), else None."""
    if not is_sidecar(path):
        return None
    lower = path.lower()
    for suffix in SIDECAR_SUFFIXES:
        if lower.endswith(suffix):
            target = path[: -len(suffix)]
            return target if target and not target.endswith("/") else None
    return None


def _value(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def wants_text(media_type: str | None) -> bool:
    """Whether a version's provenance reads its text (front matter): by media type."""
    return media_type in _FRONT_MATTER_TYPES


def provenance_rows(
    path: str, text: str | None, media_type: str | None, sidecar: Mapping | None
) -> list[tuple[str, str, str | None]]:
    """(origin, key, value) provenance of one version, from its name, text and sidecar."""
    rows: list[tuple[str, str, str | None]] = []
    for key, value in sorted(filename_identifiers(path).items()):
        rows.append(("filename", key, value))
    if text is not None and media_type in _FRONT_MATTER_TYPES:
        try:
            meta, _ = front_matter(text)
        except SidecarError:
            meta = {}  # already reported once for the content by the front_matter extractor
        rows += [("front-matter", k, _value(v)) for k, v in sorted(meta.items())]
    if sidecar:
        rows += [("sidecar", k, _value(v)) for k, v in sorted(sidecar.items())]
    return rows


@dataclass(frozen=True)
class Sidecar:
    """A sidecar found next to a document in this run: its path, blob and parsed keys."""

    path: str
    blob: str
    fields: dict | None  # None when it could not be parsed


def read_sidecar(store: Store, path: str, data: bytes) -> tuple[Sidecar, list[str]]:
    blob = store_sidecar(store, data, path)
    try:
        return Sidecar(path, blob, parse_sidecar(path, data)), []
    except SidecarError as exc:
        return Sidecar(path, blob, None), [str(exc)]


def record_provenance(
    store: Store,
    version_ids: Sequence[int],
    changes: Sequence[Change],
    sidecars: Mapping[str, Sidecar],
) -> None:
    """Write each new version's sidecar link and provenance rows (as it is recorded)."""
    for version_id, change in zip(version_ids, changes, strict=True):
        if change.blob is None:
            continue
        sidecar = sidecars.get(change.path)
        if sidecar is not None:
            store.set_version_sidecar(version_id, sidecar.blob)
        info = store.blob(change.blob)
        media = info["media_type"] if info else None
        text = None
        if info and info["is_text"] and media in _FRONT_MATTER_TYPES:
            text = store.read_text(change.blob)
        rows = provenance_rows(
            change.path, text, media, sidecar.fields if sidecar is not None else None
        )
        store.add_provenance(version_id, rows)


def record_sidecar_edits(
    store: Store, source_id: int, run_id: int, changed: set[str], sidecars: Mapping[str, Sidecar]
) -> int:
    """Sidecar-only edits (document unchanged) go to sidecar_changes; version rows stay put."""
    count = 0
    for path, current in sorted(store.current_sidecars(source_id).items()):
        if path in changed:
            continue
        now = sidecars.get(path)
        blob = now.blob if now is not None else None
        if blob != current["sidecar_blob"]:
            store.add_sidecar_change(current["document_id"], current["version_id"], run_id, blob)
            count += 1
    return count


@dataclass
class ReextractSummary:
    extractor_version: str
    blobs: int = 0
    problems: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "extractor_version": self.extractor_version,
            "blobs": self.blobs,
            "problems": self.problems,
        }


def _text_for(store: Store, row: dict, data: bytes) -> tuple[str | None, list[str]]:
    if row["text_blob"] is not None:
        return store.read_text(row["blake3"]), []
    text, problems = readable(data, row["media_type"])
    if text is None and row["is_text"] and row["encoding"]:
        text = data.decode(row["encoding"])
    return text, problems


def extraction_for(store: Store, row: Mapping, data: bytes) -> tuple[Extraction, list[str]]:
    """What `reextract` computes for one `Store.blobs_to_extract` row and its bytes: the
    extraction and the readable-text problems (`archive verify` re-derives the same)."""
    text, problems = _text_for(store, dict(row), data)
    extraction = extract(
        text,
        media_type=row["media_type"] or "application/octet-stream",
        path=row["path"] or "",
        encoding=row["encoding"],
        data=data,
    )
    return extraction, problems


def reextract(store: Store, *, everything: bool = False) -> ReextractSummary:
    """Recompute metadata of document contents with missing or outdated metadata.

    Writes blob_metadata and blob_items only: versions, blobs and every other table stay
    byte-identical. Readable text missing for an older blob is computed, not stored.
    """
    summary = ReextractSummary(EXTRACTOR_VERSION)
    with store.write():
        rows = store.blobs_to_extract(EXTRACTOR_VERSION, everything)
        for row in rows:
            data = store.read_content(row["blake3"])
            extraction, problems = extraction_for(store, row, data)
            path = row["path"] or ""
            store.put_metadata(row["blake3"], *row_fields(extraction))
            summary.blobs += 1
            for reason in _unique([*problems, *extraction.problems]):
                summary.problems.append({"blob": row["blake3"], "path": path, "reason": reason})
        renew_in_run(store, [r["blake3"] for r in rows], "archive reextract")
    return summary


def version_metadata(store: Store, version: dict) -> dict:
    """Everything `archive meta` shows for one version: fields, items, provenance, sidecars."""
    blob = version.get("blob")
    changes = store.sidecar_changes(version["id"])
    return {
        "version_id": version["id"],
        "blob": blob,
        "text_blob": (store.text_blob_of(blob) if blob else None),
        "fields": store.metadata(blob) if blob else None,
        "items": store.metadata_items(blob) if blob else [],
        "provenance": store.provenance(version["id"]),
        "sidecar_blob": version.get("sidecar_blob"),
        "sidecar_changes": changes,
    }
