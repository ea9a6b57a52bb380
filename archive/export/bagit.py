"""BagIt (RFC 8493) export: the latest content of every present document, optionally
every version, with sha256 + sha512 manifests that any BagIt validator can check."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from archive.export import (
    ExportVersion,
    ReadBytes,
    by_document,
    export_path,
    require_empty_dest,
    tag_value,
    utc_timestamp,
    write_checked,
)
from archive.export.manifest import manifest_text

ALGORITHMS = ("sha256", "sha512")
BLAKE3_TAG_FILE = "blake3sums.txt"  # `b3sum -c blake3sums.txt` from the bag root


def _encode(path: str) -> str:
    """RFC 8493 2.1.3: only CR, LF and % are percent-encoded in manifest paths."""
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def _manifest(digests: dict[str, dict[str, str]], alg: str) -> str:
    return "".join(f"{digests[p][alg]}  {_encode(p)}\n" for p in sorted(digests))


def _digests(data: bytes) -> dict[str, str]:
    return {alg: hashlib.new(alg, data).hexdigest() for alg in ALGORITHMS}


def bag_layout(
    versions: Sequence[ExportVersion], all_versions: bool = False
) -> dict[str, ExportVersion]:
    """Bag-relative path -> version. Latest present version at data/<path>; with all_versions
    each present version also at data/versions/doc-<id>/v<seq>/<path at that version>, a
    layout where two versions can never collide."""
    layout: dict[str, ExportVersion] = {}

    def put(path: str, v: ExportVersion) -> None:
        if path in layout:
            raise ValueError(f"two documents export to the same bag path: {path!r}")
        layout[path] = v

    for doc_id, vs in by_document(versions).items():
        last = vs[-1]
        if last.blake3 is not None and last.kind != "deleted":
            put(f"data/{export_path(last.path)}", last)
        if all_versions:
            for v in vs:
                if v.blake3 is not None and v.kind != "deleted":
                    put(f"data/versions/doc-{doc_id}/v{v.seq}/{export_path(v.path)}", v)
    names = sorted(layout)
    for a, b in zip(names, names[1:], strict=False):
        if b.startswith(a + "/"):
            raise ValueError(f"bag paths collide: {a!r} is both a file and a directory")
    return layout


def export_bagit(
    dest: Path,
    versions: Sequence[ExportVersion],
    read_bytes: ReadBytes,
    all_versions: bool = False,
    *,
    source_organization: str = "provenance-archive",
    evidence: Callable[[list[ExportVersion]], Mapping[str, bytes]] | None = None,
) -> Path:
    """Write a complete BagIt 1.0 bag into the empty directory `dest` and return it.

    Everything (including Bagging-Date, taken from the newest observed_at) is derived
    from the inputs, so the same archive always yields byte-identical tag files.
    evidence: given the exported versions, tag files to add (bag-relative path -> bytes,
    e.g. `archive.export.evidence.evidence_files`); they go in the tag manifests.
    """
    dest = Path(dest)
    layout = bag_layout(versions, all_versions)
    require_empty_dest(dest)
    # Content is read once per distinct blob, streamed to its first file (a large content is
    # never held whole); later files of the same blob are copies of that file.
    by_blob: dict[str, tuple[dict[str, str], int, Path]] = {}
    payload: dict[str, dict[str, str]] = {}
    octets = 0
    for rel in sorted(layout):
        v = layout[rel]
        target = dest / rel
        if v.blake3 in by_blob:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(by_blob[v.blake3][2], target)
        else:
            digests, size = write_checked(v, read_bytes, target, ALGORITHMS)
            by_blob[v.blake3] = (digests, size, target)
        payload[rel], size, _ = by_blob[v.blake3]
        octets += size

    newest = max((utc_timestamp(v.observed_at) for v in versions), default=None)
    sources = sorted({v.source for v in versions})
    docs = by_document(versions)
    description = (
        f"provenance-archive export of {len(docs)} documents ({len(versions)} versions)"
        f" from {', '.join(sources) or 'no source'}"
        + ("; every version under data/versions/doc-<id>/v<seq>/" if all_versions else "")
        + ("; evidence (signed checkpoint, proofs, PROV) under evidence/" if evidence else "")
    )
    info = [
        ("Source-Organization", source_organization),
        ("External-Description", description),
        ("Bagging-Date", newest[:10] if newest else "1970-01-01"),
        ("Payload-Oxum", f"{octets}.{len(payload)}"),
    ]
    tags: dict[str, bytes] = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": "".join(f"{k}: {tag_value(v)}\n" for k, v in info).encode("utf-8"),
    }
    if evidence is not None:
        extra = evidence(list({v.version_id: v for v in layout.values()}.values()))
        for name in extra:
            if name in tags or name.startswith("data/") or name.startswith("/") or ".." in name:
                raise ValueError(f"evidence file {name!r} is not a tag file of its own")
        tags.update(extra)
    for alg in ALGORITHMS:
        tags[f"manifest-{alg}.txt"] = _manifest(payload, alg).encode("utf-8")
    b3 = [(layout[p].blake3 or "", p) for p in sorted(layout)]
    tags[BLAKE3_TAG_FILE] = manifest_text(b3).encode("utf-8")
    tag_digests = {name: _digests(data) for name, data in tags.items()}
    for alg in ALGORITHMS:
        tags[f"tagmanifest-{alg}.txt"] = _manifest(tag_digests, alg).encode("utf-8")
    for name, data in tags.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(data)
    return dest
