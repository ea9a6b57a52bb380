"""Resolve what a user types into documents, versions and blobs.

A document is named by its stored path, `source:path`, a path on disk inside a folder
source, a path it had before a rename, or its id (`#id`, or the bare number: `#` starts a
comment in a shell); a version by `<document>@<n>` (n counts from 1; `@latest` or `@-1` is
the newest, `@-2` the one before), `<document>@<date>` (`2024-05-01` or
`2024-05-01T12:00:00Z`: the version in force then, for any source) or a BLAKE3/SHA-256
prefix of its content; a content by a BLAKE3 or SHA-256 prefix. A web document's URI may
hold `@` itself: what follows the last `@` is a version only when it reads as one. Every
name the CLI prints is one of these; a name that names nothing gets the closest names the
archive has.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from archive.store import ArchiveError, Store

HEX = re.compile(r"^[0-9a-fA-F]{6,64}$")
NUMBER = re.compile(r"^(?:latest|-?[0-9]+)$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9:.]+(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?$")


class RefError(ArchiveError):
    """A reference that names nothing, or more than one thing."""


@dataclass(frozen=True)
class VersionRef:
    document: dict
    version: dict


def _by_id(store: Store, ref: str) -> dict | None:
    digits = ref[1:] if ref.startswith("#") else ref
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return store.document(int(digits))


def close_matches(store: Store, ref: str, n: int = 3) -> list[str]:
    """The archive's document names nearest to `ref` (as `source:path` when the name is
    in several sources), for a "did you mean" line."""
    names = store.document_names()
    by_path: dict[str, list[str]] = {}
    for source, path in names:
        by_path.setdefault(path, []).append(source)
    wanted = ref.partition(":")[2] if ":" in ref and ref not in by_path else ref
    out = []
    for path in difflib.get_close_matches(wanted, list(by_path), n=n, cutoff=0.5):
        sources = by_path[path]
        out += [path] if len(sources) == 1 else [f"{s}:{path}" for s in sources]
    return out[:n]


def _not_found(store: Store, ref: str) -> RefError:
    near = close_matches(store, ref)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    return RefError(f"no document named {ref!r}{hint} (`archive ls` lists the documents)")


def resolve_document(store: Store, ref: str) -> dict:
    if ref.startswith("#"):
        doc = _by_id(store, ref)
        if doc:
            return doc
        raise RefError(f"no document {ref} (`archive ls` lists the documents)")
    candidates = store.documents_at(ref)
    if not candidates and ":" in ref:
        source, _, path = ref.partition(":")
        candidates = [d for d in store.documents_at(path) if d["source"] == source]
    if not candidates:
        candidates = _from_disk_path(store, ref)
    if not candidates:  # a name it had before a rename
        candidates = store.documents_once_at(ref)
        if not candidates and ":" in ref:
            source, _, path = ref.partition(":")
            candidates = [d for d in store.documents_once_at(path) if d["source"] == source]
    if not candidates:
        doc = _by_id(store, ref)
        if doc:
            return doc
        raise _not_found(store, ref)
    if len(candidates) > 1:
        names = ", ".join(f"{d['source']}:{d['path']}" for d in candidates)
        raise RefError(f"{ref!r} is ambiguous: {names}")
    return candidates[0]


def _from_disk_path(store: Store, ref: str) -> list[dict]:
    target = os.path.abspath(ref)
    found = []
    for source in store.sources():
        if source["kind"] != "folder":
            continue
        root = store.root_of(source)
        if target.startswith(root.rstrip(os.sep) + os.sep):
            rel = os.path.relpath(target, root).replace(os.sep, "/")
            found += [d for d in store.documents_at(rel) if d["source_id"] == source["id"]]
    return found


def _version_by_hash(store: Store, prefix: str) -> VersionRef:
    """The one version whose content has this hash prefix (else why not: none, several)."""
    blob = resolve_blob(store, prefix)
    versions = store.versions_with_blob(blob["blake3"])
    if not versions:
        raise RefError(f"no version has the content {blob['blake3'][:12]}")
    if len(versions) > 1:
        names = ", ".join(f"{v['source']}:{v['path']}@{v['seq']}" for v in versions[:5]) + (
            ", ..." if len(versions) > 5 else ""
        )
        raise RefError(f"content {prefix} is in {len(versions)} versions: {names}")
    v = versions[0]
    return VersionRef(store.document(v["document_id"]), store.version(v["document_id"], v["seq"]))


def parse_moment(spec: str) -> str | None:
    """The moment a version spec names (ISO 8601 UTC seconds), None for a number or `latest`.

    A date alone is its first instant (00:00 UTC); a time without offset is UTC.
    """
    if not DATE.match(spec):
        return None
    try:
        moment = datetime.fromisoformat(spec)
    except ValueError:
        raise RefError(f"bad date {spec!r} (give YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def version_at(versions: Sequence[dict], moment: str) -> dict | None:
    """The version in force at moment: the last observed at or before it (None: none yet).

    Versions come in seq order; observed_at is compared as a moment, so a version recorded
    out of time order still counts at its own time.
    """
    at = _instant(moment)
    best = None
    for v in versions:
        when = _instant(v["observed_at"])
        if when <= at and (best is None or when >= _instant(best["observed_at"])):
            best = v
    return best


def _instant(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resolve_version(store: Store, ref: str) -> VersionRef:
    name, sep, spec = ref.rpartition("@")
    if not sep:
        name, spec = ref, "latest"
        if HEX.match(ref) and not store.documents_at(ref) and not os.path.exists(ref):
            return _version_by_hash(store, ref)
    elif not (NUMBER.match(spec) or DATE.match(spec)):
        try:  # "https://example.org/@desk": the whole reference names a document
            return _pick(store, resolve_document(store, ref), "latest", ref)
        except RefError:
            raise RefError(f"bad version number {spec!r} in {ref!r}") from None
    try:
        doc = resolve_document(store, name)
    except RefError as first:
        try:  # "https://example.org/@2024" may be a document's whole name
            doc, spec = resolve_document(store, ref), "latest"
        except RefError:
            raise first from None
    return _pick(store, doc, spec, ref)


def _pick(store: Store, doc: dict, spec: str, ref: str) -> VersionRef:
    versions = store.versions(doc["id"])
    if spec == "latest":
        return VersionRef(doc, versions[-1])
    moment = parse_moment(spec)
    if moment is not None:
        found = version_at(versions, moment)
        if found is None:
            raise RefError(
                f"no version of {doc['path']} at or before {moment}"
                f" (the first is of {versions[0]['observed_at']})"
            )
        return VersionRef(doc, found)
    try:
        n = int(spec)
    except ValueError:
        raise RefError(f"bad version number {spec!r} in {ref!r}") from None
    index = n - 1 if n > 0 else len(versions) + n
    if n == 0 or not 0 <= index < len(versions):
        raise RefError(f"{doc['path']} has versions 1 to {len(versions)}, not {spec}")
    return VersionRef(doc, versions[index])


def resolve_blob(store: Store, prefix: str) -> dict:
    if not HEX.match(prefix):
        raise RefError(f"{prefix!r} is not a hash prefix (6 to 64 hex digits)")
    blobs = store.find_blobs(prefix)
    if not blobs:
        raise RefError(f"no content with a hash starting {prefix}")
    if len(blobs) > 1:
        raise RefError(f"hash prefix {prefix} is ambiguous: {len(blobs)} contents match")
    return blobs[0]


# Most documents `history` follows back through copies: a cycle or a long chain stops here.
MAX_FOLLOW = 64


def history(store: Store, document: dict, follow: bool = False) -> list[dict]:
    """The document's versions, oldest first, each with its `document` (id, source, path).

    follow: as `git log --follow` does through copies, first the versions of the document
    it was copied from (`copied_from_version_id` on its first version) up to the one copied,
    and so on back."""
    chain: list[list[dict]] = []
    seen: set[int] = set()
    doc, upto = document, None
    while doc is not None and doc["id"] not in seen and len(chain) < MAX_FOLLOW:
        seen.add(doc["id"])
        info = {k: doc[k] for k in ("id", "source", "path")}
        versions = [
            {**v, "document": info}
            for v in store.versions(doc["id"])
            if upto is None or v["seq"] <= upto
        ]
        chain.append(versions)
        source = versions[0].get("copied_from_version_id") if versions and follow else None
        if source is None:
            break
        row = store.query_one("SELECT document_id, seq FROM versions WHERE id = ?", (source,))
        doc, upto = (store.document(row["document_id"]), row["seq"]) if row else (None, None)
    return [v for versions in reversed(chain) for v in versions]


def version_label(store: Store, version_id: int) -> str | None:
    """`path@n` of a version by id (None when there is none)."""
    row = store.query_one(
        "SELECT d.path, v.seq FROM versions v JOIN documents d ON d.id = v.document_id"
        " WHERE v.id = ?",
        (version_id,),
    )
    return None if row is None else f"{row['path']}@{row['seq']}"
