"""OCFL 1.1 export: one object per document, one OCFL version per archive version.

Written directly (inventory.json + sidecars) rather than through ocfl-py's builder so the
output is a pure function of the inputs: versions' `created` come from observed_at and
JSON is serialised with sorted keys. ocfl-py's validator checks the result in the tests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from archive.export import (
    ExportVersion,
    ReadBytes,
    by_document,
    export_path,
    require_empty_dest,
    safe_relpath,
    utc_timestamp,
    write_checked,
)

SPEC = "1.1"
FIXITY = ("sha512", "sha256")
INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"


def object_id(v: ExportVersion) -> str:
    """Stable URI for a document's object (source is percent-encoded to keep it a URN)."""
    return f"urn:provenance-archive:{quote(v.source, safe='')}:{v.document_id}"


def object_dir(v: ExportVersion) -> str:
    """Directory of the object under the storage root (flat, by document id)."""
    return f"doc-{v.document_id}"


def _json_bytes(obj: dict) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _write_inventory(directory: Path, inventory: dict) -> None:
    data = _json_bytes(inventory)
    (directory / "inventory.json").write_bytes(data)
    sidecar = f"{hashlib.sha512(data).hexdigest()} inventory.json\n"
    (directory / "inventory.json.sha512").write_text(sidecar, encoding="utf-8")


def _version_meta(v: ExportVersion) -> dict:
    """Message/user for an OCFL version; the BLAKE3 lives here because OCFL fixity
    only admits registered algorithms."""
    meta: dict = {
        "created": utc_timestamp(v.observed_at),
        "message": f"{v.kind} {v.path} (archive version {v.version_id}, run {v.run_id}"
        + (f", blake3 {v.blake3})" if v.blake3 else ")"),
    }
    author = (v.provenance or {}).get("author")
    meta["user"] = {"name": str(author) if author else f"provenance-archive:{v.source}"}
    return meta


def write_object(obj_root: Path, vs: Sequence[ExportVersion], read_bytes: ReadBytes) -> dict:
    """Write one document's object; returns its head inventory."""
    obj_root.mkdir(parents=True)
    (obj_root / "0=ocfl_object_1.1").write_text("ocfl_object_1.1\n", encoding="utf-8")
    manifest: dict[str, list[str]] = {}
    fixity: dict[str, list[str]] = {}
    sha512_of: dict[str, str] = {}  # blake3 -> sha512, so each blob is read once per object
    versions: dict[str, dict] = {}
    inventory: dict = {}
    for n, v in enumerate(vs, start=1):
        vname = f"v{n}"
        state: dict[str, list[str]] = {}
        if v.blake3 is not None and v.kind != "deleted":
            logical = str(export_path(v.path))
            digest = sha512_of.get(v.blake3)
            if digest is None:
                # Each distinct content is read once per object, streamed to its file.
                content = f"{vname}/content/{logical}"
                digests, _size = write_checked(v, read_bytes, obj_root / content, FIXITY)
                digest = digests["sha512"]
                sha512_of[v.blake3] = digest
                manifest[digest] = [content]
                fixity[digests["sha256"]] = [content]
            state[digest] = [logical]
        versions[vname] = {**_version_meta(v), "state": state}
        inventory = {
            "id": object_id(v),
            "type": INVENTORY_TYPE,
            "digestAlgorithm": "sha512",
            "head": vname,
            "manifest": {d: list(p) for d, p in manifest.items()},
            "fixity": {"sha256": {d: list(p) for d, p in fixity.items()}},
            "versions": {k: dict(val) for k, val in versions.items()},
        }
        vdir = obj_root / vname
        vdir.mkdir(exist_ok=True)
        _write_inventory(vdir, inventory)
    _write_inventory(obj_root, inventory)
    return inventory


EVIDENCE_EXTENSION = "extensions/provenance-archive-evidence"


def export_ocfl(
    dest: Path,
    versions: Sequence[ExportVersion],
    read_bytes: ReadBytes,
    evidence: Callable[[list[ExportVersion]], Mapping[str, bytes]] | None = None,
) -> Path:
    """Write an OCFL 1.1 storage root with one object per document into empty `dest`.

    evidence: given the versions, files (path -> bytes, e.g. `evidence/...`) written under
    the storage root's `extensions/provenance-archive-evidence/` (the place OCFL leaves for
    what is not an object), so the objects stay exactly what the archive holds.
    """
    dest = Path(dest)
    docs = by_document(versions)
    for vs in docs.values():
        if len({(v.source, v.document_id) for v in vs}) != 1:
            raise ValueError(f"document {vs[0].document_id} appears under several sources")
        for v in vs:
            utc_timestamp(v.observed_at)
            if v.blake3 is not None:
                export_path(v.path)
    require_empty_dest(dest)
    (dest / "0=ocfl_1.1").write_text("ocfl_1.1\n", encoding="utf-8")
    for vs in docs.values():
        write_object(dest / object_dir(vs[0]), vs, read_bytes)
    if evidence is not None:
        for name, data in evidence(list(versions)).items():
            rel = safe_relpath(name.removeprefix("evidence/"))
            target = dest / EVIDENCE_EXTENSION / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return dest
