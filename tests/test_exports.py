"""Exports checked by third-party tools: b3sum/sha256sum, bagit, ocfl-py, prov."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import bagit
import blake3
import pytest
from prov.model import ProvDocument

from archive.export import ExportVersion
from archive.export.bagit import export_bagit
from archive.export.manifest import manifest_text
from archive.export.ocfl import export_ocfl
from archive.export.prov import export_prov, prov_document
from tests.tools import need_tool
from tests.validators import BIN, bagit_cli_valid, ocfl_object_valid

BLOBS: dict[str, bytes] = {}


def _blob(data: bytes) -> tuple[str, str, int]:
    h = blake3.blake3(data).hexdigest()
    BLOBS[h] = data
    return h, hashlib.sha256(data).hexdigest(), len(data)


def _v(vid, doc, docpath, seq, kind, path, data, when, run, prov=None) -> ExportVersion:
    b3, sha, size = _blob(data) if data is not None else (None, None, None)
    return ExportVersion(
        vid, doc, docpath, seq, kind, path, b3, sha, size, when, run, "corpus", prov
    )


T1, T2, T3 = "2024-01-01T10:00:00Z", "2024-02-01T10:00:00+00:00", "2024-03-05T08:30:00Z"
VERSIONS = [
    _v(1, 1, "readme.md", 1, "added", "readme.md", b"hello\n", T1, 1, {"author": "Ann"}),
    _v(2, 1, "readme.md", 2, "modified", "readme.md", b"hello world\n", T2, 2),
    _v(3, 2, "notes/new name.txt", 1, "added", "notes/old.txt", b"note\n", T1, 1),
    _v(4, 2, "notes/new name.txt", 2, "renamed", "notes/new name.txt", b"note\n", T2, 2),
    _v(5, 2, "notes/new name.txt", 3, "modified", "notes/new name.txt", b"note 2\n", T3, 3),
    _v(6, 3, "gone.txt", 1, "added", "gone.txt", b"bye\n", T1, 1),
    _v(7, 3, "gone.txt", 2, "deleted", "gone.txt", None, T2, 2),
    _v(8, 4, "données/é.md", 1, "added", "données/é.md", "ünïcode\n".encode(), T1, 1),
    _v(9, 5, "back.txt", 1, "added", "back.txt", b"v1\n", T1, 1),
    _v(10, 5, "back.txt", 2, "deleted", "back.txt", None, T2, 2),
    _v(11, 5, "back.txt", 3, "restored", "back.txt", b"v1\n", T3, 3),
]
RUNS = [
    {"id": i, "started_at": t, "finished_at": t, "command": f"archive ingest #{i}"}
    for i, t in ((1, T1), (2, T2), (3, T3))
]


def read_bytes(h: str) -> bytes:
    return BLOBS[h]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# ---------------------------------------------------------------- manifests


def _run(cmd: list[str], cwd: Path) -> int:
    return subprocess.run(cmd, cwd=cwd, capture_output=True).returncode


@pytest.mark.parametrize("tool,hasher", [("b3sum", "blake3"), ("sha256sum", "sha256")])
def test_manifest_checks_with_real_tools(tmp_path: Path, tool: str, hasher: str) -> None:
    exe = need_tool(tool)
    names = ["plain.txt", "new\nline.txt", "back\\slash.txt", "ünïcødé ☃.md", "sub/dir.txt"]
    if tool == "sha256sum":
        names.append("car\rriage.txt")  # b3sum 1.2 has no \r escape; coreutils 9 does
    (tmp_path / "sub").mkdir()
    for i, name in enumerate(names):
        (tmp_path / name).write_bytes(f"content {i}\n".encode())

    def digest(data: bytes) -> str:
        if hasher == "blake3":
            return blake3.blake3(data).hexdigest()
        return hashlib.sha256(data).hexdigest()

    text = manifest_text((digest((tmp_path / n).read_bytes()), n) for n in names)
    manifest = tmp_path.parent / f"{tmp_path.name}.{tool}"
    manifest.write_bytes(text.encode("utf-8"))
    assert text.count("\n") == len(names)
    assert _run([exe, "-c", str(manifest)], tmp_path) == 0
    (tmp_path / "new\nline.txt").write_bytes(b"changed\n")
    assert _run([exe, "-c", str(manifest)], tmp_path) != 0


def test_manifest_escaping_exact() -> None:
    h = "ab" * 32
    assert manifest_text([(h, "a b")]) == f"{h}  a b\n"
    assert manifest_text([(h, "a\\b\nc\rd")]) == f"\\{h}  a\\\\b\\nc\\rd\n"
    with pytest.raises(ValueError):
        manifest_text([("XYZ", "a")])


# ---------------------------------------------------------------- BagIt


@pytest.mark.parametrize("all_versions", [False, True])
def test_bagit_valid_and_tamper_evident(tmp_path: Path, all_versions: bool) -> None:
    bag_dir = export_bagit(tmp_path / "bag", VERSIONS, read_bytes, all_versions=all_versions)
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # full: recomputes every payload digest
    assert bagit_cli_valid(bag_dir)
    assert set(bag.algorithms) == {"sha256", "sha512"}
    payload = {p for p in bag.payload_files()}
    latest = {"data/readme.md", "data/notes/new name.txt", "data/données/é.md", "data/back.txt"}
    assert latest <= payload
    assert "data/gone.txt" not in payload
    assert (bag_dir / "data/readme.md").read_bytes() == b"hello world\n"
    if all_versions:
        assert (bag_dir / "data/versions/doc-2/v1/notes/old.txt").read_bytes() == b"note\n"
        assert (bag_dir / "data/versions/doc-3/v1/gone.txt").exists()
        assert not (bag_dir / "data/versions/doc-3/v2").exists()
        assert len(payload) == 4 + 9
    else:
        assert payload == latest
    info = bag.info
    assert info["Bagging-Date"] == "2024-03-05"
    assert info["Source-Organization"] and info["External-Description"]
    assert _run([need_tool("b3sum"), "-c", "blake3sums.txt"], bag_dir) == 0

    target = bag_dir / "data/readme.md"
    data = bytearray(target.read_bytes())
    data[0] ^= 0x01  # same size: only a full digest check catches it
    target.write_bytes(bytes(data))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag_dir)).validate()
    assert not bagit_cli_valid(bag_dir)


def test_bagit_deterministic_and_refuses_non_empty(tmp_path: Path) -> None:
    a = export_bagit(tmp_path / "a", VERSIONS, read_bytes, all_versions=True)
    b = export_bagit(tmp_path / "b", list(reversed(VERSIONS)), read_bytes, all_versions=True)
    assert _tree(a) == _tree(b)
    with pytest.raises(ValueError, match="not an empty directory"):
        export_bagit(a, VERSIONS, read_bytes)


def test_bagit_rejects_unsafe_paths_and_bad_content(tmp_path: Path) -> None:
    evil = _v(99, 9, "../x", 1, "added", "../x", b"x", T1, 1)
    with pytest.raises(ValueError, match="unsafe"):
        export_bagit(tmp_path / "e", [evil], read_bytes)
    assert not (tmp_path / "e").exists()
    good = _v(98, 8, "y", 1, "added", "y", b"y", T1, 1)
    with pytest.raises(ValueError, match="BLAKE3"):
        export_bagit(tmp_path / "f", [good], lambda h: b"not y")


# ---------------------------------------------------------------- OCFL


def test_ocfl_objects_valid_and_shaped(tmp_path: Path) -> None:
    root = export_ocfl(tmp_path / "ocfl", VERSIONS, read_bytes)
    assert (root / "0=ocfl_1.1").read_text() == "ocfl_1.1\n"
    objects = sorted(p for p in root.iterdir() if p.is_dir())
    assert [p.name for p in objects] == [f"doc-{i}" for i in range(1, 6)]
    for obj in objects:
        assert ocfl_object_valid(obj), obj.name

    inv = json.loads((root / "doc-2/inventory.json").read_text())
    assert inv["id"] == "urn:provenance-archive:corpus:2" and inv["head"] == "v3"
    states = [inv["versions"][f"v{i}"]["state"] for i in (1, 2, 3)]
    assert [list(s.values()) for s in states] == [
        [["notes/old.txt"]],
        [["notes/new name.txt"]],
        [["notes/new name.txt"]],
    ]
    assert next(iter(states[0])) == next(iter(states[1]))  # rename keeps the content
    assert inv["versions"]["v1"]["created"] == T1
    assert sorted(p for ps in inv["manifest"].values() for p in ps) == [
        "v1/content/notes/old.txt",
        "v3/content/notes/new name.txt",
    ]
    gone = json.loads((root / "doc-3/inventory.json").read_text())
    assert gone["versions"]["v2"]["state"] == {}
    back = json.loads((root / "doc-5/inventory.json").read_text())
    assert len(back["manifest"]) == 1 and not (root / "doc-5/v3/content").exists()
    v1_inv = json.loads((root / "doc-5/v1/inventory.json").read_text())
    assert v1_inv["head"] == "v1" and list(v1_inv["versions"]) == ["v1"]


def test_ocfl_cli_and_corruption(tmp_path: Path) -> None:
    root = export_ocfl(tmp_path / "ocfl", VERSIONS, read_bytes)
    script = BIN / "ocfl-validate.py"
    if script.exists():
        out = subprocess.run(
            [sys.executable, str(script), str(root / "doc-1")], capture_output=True
        )
        assert out.returncode == 0, out.stdout + out.stderr
    content = root / "doc-1/v2/content/readme.md"
    data = bytearray(content.read_bytes())
    data[-1] ^= 0x01
    content.write_bytes(bytes(data))
    assert not ocfl_object_valid(root / "doc-1")
    assert ocfl_object_valid(root / "doc-2")
    if script.exists():
        out = subprocess.run(
            [sys.executable, str(script), str(root / "doc-1")], capture_output=True
        )
        assert out.returncode != 0


def test_ocfl_deterministic(tmp_path: Path) -> None:
    a = export_ocfl(tmp_path / "a", VERSIONS, read_bytes)
    b = export_ocfl(tmp_path / "b", list(reversed(VERSIONS)), read_bytes)
    assert _tree(a) == _tree(b)
    with pytest.raises(ValueError):
        export_ocfl(a, VERSIONS, read_bytes)


# ---------------------------------------------------------------- PROV


def test_prov_roundtrip_and_counts() -> None:
    text = export_prov(VERSIONS, RUNS, "0.1.0")
    built = prov_document(VERSIONS, RUNS, "0.1.0")
    back = ProvDocument.deserialize(content=text, format="json")
    assert back == built
    xml = back.serialize(format="xml")
    assert ProvDocument.deserialize(content=xml, format="xml") == built

    data = json.loads(text)
    assert len(data["entity"]) == len(VERSIONS) + 5  # versions + documents
    assert len(data["activity"]) == 3 and list(data["agent"]) == ["pa:provenance-archive"]
    assert len(data["wasGeneratedBy"]) == len(VERSIONS)
    assert len(data["specializationOf"]) == len(VERSIONS)
    # PROV-JSON writes wasRevisionOf as wasDerivedFrom typed prov:Revision.
    revs = [r for r in data["wasDerivedFrom"].values() if r["prov:type"]["$"] == "prov:Revision"]
    assert len(revs) == len(data["wasDerivedFrom"]) == len(VERSIONS) - 5
    assert len(data["wasAssociatedWith"]) == 3
    ids = [*data["entity"], *data["activity"], *data["agent"]]
    assert all("@" not in i and not i.split(":", 1)[1][0].isdigit() for i in ids)
    v2 = data["entity"]["pa:doc-1.v2"]
    assert v2["pa:blake3"] == VERSIONS[1].blake3 and v2["pa:kind"] == "modified"
    revisions = {(r["prov:generatedEntity"], r["prov:usedEntity"]) for r in revs}
    assert ("pa:doc-2.v3", "pa:doc-2.v2") in revisions
    assert data["activity"]["pa:run-0002"]["prov:startTime"] == "2024-02-01T10:00:00+00:00"
    tool = data["agent"]["pa:provenance-archive"]
    assert tool["prov:type"] == {"$": "prov:SoftwareAgent", "type": "xsd:QName"}


def test_prov_deterministic_and_strict() -> None:
    assert export_prov(VERSIONS, RUNS, "0.1.0") == export_prov(
        list(reversed(VERSIONS)), list(reversed(RUNS)), "0.1.0"
    )
    with pytest.raises(ValueError, match="unknown run"):
        export_prov(VERSIONS, RUNS[:1], "0.1.0")
