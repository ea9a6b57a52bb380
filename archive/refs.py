"""Resolve what a user types into documents, versions and blobs.

A document is named by its stored path, `source:path`, a path on disk inside a folder
source, or `#id`; a version by `<document>@<n>` (n counts from 1; `@latest` or `@-1` is
the newest, `@-2` the one before) or `<document>@<date>` (`2024-05-01` or
`2024-05-01T12:00:00Z`: the version in force then, for any source); a content by a BLAKE3
or SHA-256 prefix. A web document's URI may hold `@` itself: what follows the last `@` is
a version only when it reads as one.
"""

from __future__ import annotations

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


def resolve_document(store: Store, ref: str) -> dict:
    if ref.startswith("#") and ref[1:].isdigit():
        doc = store.document(int(ref[1:]))
        if doc:
            return doc
        raise RefError(f"no document {ref}")
    candidates = store.documents_at(ref)
    if not candidates and ":" in ref:
        source, _, path = ref.partition(":")
        candidates = [d for d in store.documents_at(path) if d["source"] == source]
    if not candidates:
        candidates = _from_disk_path(store, ref)
    if not candidates:
        raise RefError(f"no document named {ref!r} (try `archive log` with a stored path)")
    if len(candidates) > 1:
        names = ", ".join(f"{d['source']}:{d['path']} (#{d['id']})" for d in candidates)
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
