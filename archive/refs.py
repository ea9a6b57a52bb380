"""Resolve what a user types into documents, versions and blobs.

A document is named by its stored path, `source:path`, a path on disk inside a folder
source, or `#id`; a version by `<document>@<n>` (n counts from 1; `@latest` or `@-1` is
the newest, `@-2` the one before); a content by a BLAKE3 or SHA-256 prefix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from archive.store import ArchiveError, Store

HEX = re.compile(r"^[0-9a-fA-F]{6,64}$")


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


def resolve_version(store: Store, ref: str) -> VersionRef:
    name, sep, number = ref.rpartition("@")
    if not sep:
        name, number = ref, "latest"
    doc = resolve_document(store, name)
    versions = store.versions(doc["id"])
    if number == "latest":
        return VersionRef(doc, versions[-1])
    try:
        n = int(number)
    except ValueError:
        raise RefError(f"bad version number {number!r} in {ref!r}") from None
    index = n - 1 if n > 0 else len(versions) + n
    if n == 0 or not 0 <= index < len(versions):
        raise RefError(f"{doc['path']} has versions 1 to {len(versions)}, not {number}")
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
