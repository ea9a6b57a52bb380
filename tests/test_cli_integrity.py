"""The integrity commands through the real CLI, exports checked by third-party tools."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import blake3
import pytest
from click.testing import CliRunner
from prov.model import ProvActivity, ProvDocument, ProvEntity

from archive.cli import cli
from archive.ledger.leaves import parse_checkpoint_text
from archive.record.folder import ingest_folder
from archive.store import Store
from tests.conftest import run_cli
from tests.tools import need_tool
from tests.validators import bagit_cli_valid, ocfl_object_valid


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    """(archive, folder): three runs with adds, a modify, a rename, a delete; left untouched."""
    base = tmp_path_factory.mktemp("cli")
    docs, db = base / "docs", base / "archive.db"
    (docs / "sub dir").mkdir(parents=True)
    (docs / "a.txt").write_text("alpha\n")
    (docs / "sub dir" / "b c.txt").write_text("bravo charlie\n")
    (docs / "gone.txt").write_text("soon gone\n")
    (docs / "bin.dat").write_bytes(bytes(range(200)))
    with Store(db) as store:
        ingest_folder(store, str(docs), "test")
        (docs / "a.txt").write_text("alpha, revised\n")
        (docs / "gone.txt").unlink()
        ingest_folder(store, str(docs), "test")
        (docs / "bin.dat").rename(docs / "moved.dat")
        ingest_folder(store, str(docs), "test")
    return db, docs


def test_checkpoint_text_and_json(corpus) -> None:
    db, _ = corpus
    code, out, err = run_cli("checkpoint", db=db)
    assert code == 0
    origin, cp = parse_checkpoint_text(out)
    assert origin.startswith("provenance-archive/") and not origin.endswith(".db")
    assert cp.size == 15  # 5 contents, 7 versions and 3 run leaves
    assert err.startswith("run 3 at ")
    code, out2, _ = run_cli("checkpoint", "--json", db=db)
    data = json.loads(out2)
    assert (data["run_id"], data["tree_size"], data["checkpoint"]) == (3, 15, out)
    assert data["tree_root"] == cp.root_hex


def test_inclusion_proof_round_trip(corpus, tmp_path: Path) -> None:
    db, _ = corpus
    code, out, _ = run_cli("proof", "a.txt@1", db=db)
    assert code == 0
    doc = json.loads(out)
    assert doc["tree_size"] == 15 and json.loads(doc["leaf"])["version"]["path"] == "a.txt"
    index = doc["leaf_index"]
    proof = tmp_path / "p.json"
    proof.write_text(out)
    for args in (["verify-proof", str(proof)], ["proof", "--check", str(proof)]):
        code, out_lines, _ = run_cli(*args)
        assert code == 0
        assert f"valid inclusion proof: leaf {index} in tree of size 15, root {doc['root']}" in (
            out_lines.splitlines()
        )
        assert "  version.path: a.txt" in out_lines.splitlines()
    stdin = CliRunner().invoke(cli, ["verify-proof", "-"], input=out)
    assert stdin.exit_code == 0
    doc["leaf"] = doc["leaf"].replace("a.txt", "z.txt")
    proof.write_text(json.dumps(doc))
    code, out_lines, _ = run_cli("verify-proof", str(proof))
    assert code == 1 and f"invalid proof: {proof}: the leaf does not hash" in out_lines
    proof.write_text("{not json")
    code, _, err = run_cli("verify-proof", str(proof))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "cannot read a proof" in err
    code, out, _ = run_cli("proof", "a.txt@1", "--size", str(index + 1), db=db)
    assert code == 0 and json.loads(out)["tree_size"] == index + 1


def test_consistency_proofs(corpus, tmp_path: Path) -> None:
    db, _ = corpus
    for old, new in [("run:1", "run:3"), ("0", "15"), ("4", "run:2"), ("15", "15")]:
        code, out, _ = run_cli("proof", "--consistency", old, new, db=db)
        assert code == 0, (old, new)
        (tmp_path / "c.json").write_text(out)
        assert run_cli("verify-proof", str(tmp_path / "c.json"))[0] == 0
    assert (
        json.loads(run_cli("proof", "--consistency", "run:1", "run:2", db=db)[1])["old_size"] == 9
    )


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["proof"], 2, "give one of"),
        (["proof", "a.txt", "--consistency", "1", "2"], 2, "give one of"),
        (["proof", "nosuch.txt"], 2, "no document named"),
        (["proof", "a.txt", "--size", "0"], 2, "--size must be"),
        (["proof", "a.txt@2", "--size", "2"], 1, "not in a tree of size 2"),
        (["proof", "--consistency", "5", "2"], 1, "larger than new size"),
        (["proof", "--consistency", "1", "99"], 1, "beyond the ledger"),
        (["proof", "--consistency", "run:77", "2"], 1, "no run 77"),
        (["lookup", "zzz"], 2, "neither a file nor a hash prefix"),
        (["export", "manifest", "--source", "nope"], 2, "no source named"),
    ],
)
def test_usage_and_failures_are_one_line(corpus, args, code, message) -> None:
    db, _ = corpus
    got, out, err = run_cli(*args, db=db)
    assert got == code and out == ""
    assert message in err and "Traceback" not in err


def test_no_archive(tmp_path: Path) -> None:
    for args in (["checkpoint"], ["verify"], ["lookup", "abcdef"], ["export", "manifest"]):
        code, _, err = run_cli(*args, db=tmp_path / "none.db")
        assert code == 1 and "no archive at" in err
    assert not (tmp_path / "none.db").exists()


def test_lookup_file_and_hashes(corpus) -> None:
    db, docs = corpus
    data = (docs / "moved.dat").read_bytes()
    b3, sha = blake3.blake3(data).hexdigest(), hashlib.sha256(data).hexdigest()
    code, out, _ = run_cli("lookup", str(docs / "moved.dat"), db=db)
    assert code == 0
    assert out.splitlines() == [
        f"blake3 {b3}  sha256 {sha}  200 bytes",
        out.splitlines()[1],
        out.splitlines()[2],
    ]
    assert out.splitlines()[1].startswith("docs:bin.dat@1 (#") and " added " in out
    assert out.splitlines()[2].startswith("docs:moved.dat@2 (#") and " renamed " in out
    for query in (b3[:8], sha, sha[:10].upper()):
        assert run_cli("lookup", query, db=db)[1] == out
    code, out, _ = run_cli("lookup", sha[:12], "--json", db=db)
    data = json.loads(out)
    assert data["found"] and data["blake3"] == b3
    assert [(a["path"], a["seq"], a["kind"]) for a in data["appearances"]] == [
        ("bin.dat", 1, "added"),
        ("moved.dat", 2, "renamed"),
    ]


def test_lookup_not_found_and_ambiguous(corpus, tmp_path: Path) -> None:
    db, _ = corpus
    stranger = tmp_path / "stranger.txt"
    stranger.write_text("never archived\n")
    digest = blake3.blake3(stranger.read_bytes()).hexdigest()
    assert run_cli("lookup", str(stranger), db=db)[:2] == (1, f"not in the archive: {digest}\n")
    missing = "0123456789" if not digest.startswith("0123456789") else "fedcba9876"
    assert run_cli("lookup", missing, db=db)[:2] == (1, f"not in the archive: {missing}\n")
    code, out, _ = run_cli("lookup", missing, "--json", db=db)
    assert code == 1 and json.loads(out)["found"] is False
    # Two contents sharing a prefix: planted directly (finding a real 6-hex collision is slow).
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    real = sqlite3.connect(copy).execute("SELECT blake3 FROM blobs LIMIT 1").fetchone()[0]
    conn = sqlite3.connect(copy)
    twin = real[:6] + ("0" if real[6] != "0" else "1") * 58
    conn.execute(
        "INSERT INTO blobs (blake3, sha256, size, is_text, content) VALUES (?, ?, 0, 0, x'')",
        (twin, "f" * 64),
    )
    conn.commit()
    conn.close()
    code, _, err = run_cli("lookup", real[:6], db=copy)
    assert code == 2 and "ambiguous" in err and real in err and twin in err


def test_manifests_pass_b3sum_and_sha256sum_in_the_folder(corpus) -> None:
    db, docs = corpus
    code, b3, _ = run_cli("export", "manifest", db=db)
    assert code == 0
    code, sha, _ = run_cli("export", "manifest", "--algorithm", "sha256", db=db)
    assert code == 0
    names = sorted(line.split("  ", 1)[1] for line in b3.splitlines())
    assert names == ["a.txt", "moved.dat", "sub dir/b c.txt"]  # gone.txt was deleted
    for tool, text in (("b3sum", b3), ("sha256sum", sha)):
        result = subprocess.run(
            [need_tool(tool), "-c"], input=text.encode(), cwd=docs, capture_output=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.decode().count(": OK") == 3
    assert run_cli("export", "manifest", db=db)[1] == b3  # deterministic


def test_manifest_needs_a_source_when_there_are_several(corpus, tmp_path: Path) -> None:
    db, _ = corpus
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("x\n")
    with Store(copy) as store:
        ingest_folder(store, str(other), "test")
    code, _, err = run_cli("export", "manifest", db=copy)
    assert code == 2 and "--source" in err
    code, out, _ = run_cli("export", "manifest", "--source", "other", db=copy)
    assert code == 0 and out == f"{blake3.blake3(b'x' + bytes([10])).hexdigest()}  x.txt\n"


@pytest.mark.parametrize("all_versions", [False, True])
def test_bagit_export_validates(corpus, tmp_path: Path, all_versions: bool) -> None:
    db, docs = corpus
    bag = tmp_path / "bag"
    args = ["export", "bagit", str(bag)] + (["--all-versions"] if all_versions else [])
    code, out, _ = run_cli(*args, db=db)
    assert code == 0 and out == f"bag written to {bag}\n"
    assert bagit_cli_valid(bag)
    assert (bag / "data" / "sub dir" / "b c.txt").read_bytes() == (
        docs / "sub dir" / "b c.txt"
    ).read_bytes()
    assert not (bag / "data" / "gone.txt").exists()
    assert (bag / "data" / "versions").exists() == all_versions
    code, _, err = run_cli(*args, db=db)
    assert code == 1 and "not an empty directory" in err and len(err.strip().splitlines()) == 1


def test_ocfl_export_validates(corpus, tmp_path: Path) -> None:
    db, _ = corpus
    root = tmp_path / "ocfl"
    assert run_cli("export", "ocfl", str(root), db=db)[0] == 0
    objects = sorted(p for p in root.iterdir() if p.is_dir() and p.name != "extensions")
    assert len(objects) == 4
    for obj in objects:
        assert ocfl_object_valid(obj), obj.name
    code, _, err = run_cli("export", "ocfl", str(root), db=db)
    assert code == 1 and "not an empty directory" in err


def test_prov_export_reads_back(corpus, tmp_path: Path) -> None:
    db, _ = corpus
    target = tmp_path / "prov.json"
    assert run_cli("export", "prov", str(target), db=db)[0] == 0
    doc = ProvDocument.deserialize(source=str(target), format="json")
    entities = {str(r.identifier) for r in doc.get_records(ProvEntity)}
    versions = sorted(e for e in entities if ".v" in e)
    assert len(versions) == 7 and "pa:doc-1.v2" in versions
    assert len(list(doc.get_records(ProvActivity))) == 3
    code, out, _ = run_cli("export", "prov", "-", db=db)
    assert code == 0 and out == target.read_text()  # deterministic
    code, _, err = run_cli("export", "prov", str(target), db=db)
    assert code == 1 and "never overwrites" in err
