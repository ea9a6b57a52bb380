"""Checkpoints an outsider can check, end to end through the CLI: keys, signed notes,
`verify --key/--checkpoint`, witnesses, trusted time from a real local TSA, proofs."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.ledger import checkpoints, compact, merkle
from archive.ledger.signing import parse_note, parse_verifier
from archive.store import Store
from tests.conftest import run_cli
from tests.tsa import LocalTSA, local_tsa


def keygen(tmp_path: Path, name: str, *extra: str) -> tuple[Path, str]:
    path = tmp_path / f"{name.replace('/', '_')}.key"
    code, out, err = run_cli("key", "generate", name, "--out", str(path), *extra)
    assert code == 0, err
    return path, out.strip()


@pytest.fixture
def signed(tmp_path: Path, folder: Path, db: Path) -> tuple[Path, str]:
    """An archive of two runs, each checkpoint signed at ingest."""
    key, vkey = keygen(tmp_path, "newsroom.example/archive")
    (folder / "a.txt").write_text("first\n")
    assert run_cli("ingest", str(folder), "--sign", str(key), db=db)[0] == 0
    (folder / "a.txt").write_text("second\n")
    (folder / "b.txt").write_text("other\n")
    assert run_cli("ingest", str(folder), "--sign", str(key), db=db)[0] == 0
    return key, vkey


def verify(db: Path, *args: str) -> tuple[int, str]:
    code, out, _ = run_cli("verify", *args, db=db)
    return code, out


def test_key_generate_file_and_verifier(tmp_path: Path) -> None:
    key, vkey = keygen(tmp_path, "newsroom.example/archive")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("PRIVATE+KEY+newsroom.example/archive+")
    assert parse_verifier(vkey).name == "newsroom.example/archive"
    code, _, err = run_cli("key", "generate", "x.example", "--out", str(key))
    assert code == 1 and "never overwritten" in err
    assert run_cli("key", "generate", "bad name", "--out", str(tmp_path / "k2"))[0] == 2


def test_signed_checkpoint_note_and_verify_key(signed, db: Path, tmp_path: Path) -> None:
    key, vkey = signed
    code, out, err = run_cli("checkpoint", db=db)
    assert code == 0 and "signed" in err
    note = parse_note(out)
    assert note.text.startswith("provenance-archive/")
    assert note.signatures[0].name == "newsroom.example/archive"
    assert verify(db, "--key", vkey) == (0, "ok: everything checks\n")
    _, other = keygen(tmp_path, "newsroom.example/other")
    code, out = verify(db, "--key", other)
    assert code == 1 and "not signed by newsroom.example/other" in out


def test_origin_names_the_log_not_the_file(signed, db: Path, tmp_path: Path) -> None:
    moved = tmp_path / "renamed.db"
    shutil.copy(db, moved)
    first = run_cli("checkpoint", db=db)[1].splitlines()[0]
    assert run_cli("checkpoint", db=moved)[1].splitlines()[0] == first
    assert "archive.db" not in first


def test_sign_after_the_fact_and_secret_never_stored(db: Path, folder: Path, tmp_path) -> None:
    (folder / "a.txt").write_text("x\n")
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    key, vkey = keygen(tmp_path, "newsroom.example/archive")
    code, out = verify(db, "--key", vkey)
    assert code == 1 and "not signed" in out
    assert run_cli("sign", "--key", str(key), db=db)[0] == 0
    assert verify(db, "--key", vkey)[0] == 0
    # PRIVATE+KEY+<name>+<hash>+<base64 key data>: the base64 may itself hold "+"
    secret = key.read_text().strip().split("+", 4)[4]
    seed = base64.b64decode(secret)[1:]
    assert len(seed) == 32
    stored = db.read_bytes()
    assert secret.encode() not in stored and seed not in stored


def tamper(db: Path, tmp_path: Path, name: str, *sql: str) -> Path:
    copy = tmp_path / f"{name}.db"
    shutil.copy(db, copy)
    conn = sqlite3.connect(copy)
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return copy


def rebuild_ledger(db: Path) -> None:
    """The attacker's way: drop the ledger and checkpoints, rebuild both with the project's
    own functions from the (edited) rows."""
    with Store(db) as store, store.write():
        store.conn.execute("DELETE FROM ledger")
        store.conn.execute("UPDATE runs SET tree_size = NULL, tree_root = NULL")
        for run in store.runs():
            checkpoints.checkpoint_run(store, run["id"])


def test_rewrite_and_rebuild_is_caught_only_with_the_key(signed, db, tmp_path) -> None:
    key, vkey = signed
    forged = tamper(
        db,
        tmp_path,
        "forged",
        "UPDATE versions SET observed_at = '1999-01-01T00:00:00Z' WHERE id = 1",
        "UPDATE documents SET first_seen = '1999-01-01T00:00:00Z'"
        " WHERE id = (SELECT document_id FROM versions WHERE id = 1)",
        "DELETE FROM checkpoint_signatures",
    )
    rebuild_ledger(forged)
    assert verify(forged)[0] == 0  # consistent in itself: why signatures are needed
    code, out = verify(forged, "--key", vkey)
    assert code == 1 and "not signed by newsroom.example/archive" in out
    # ...and signing the rewrite with another key does not help.
    other, _ = keygen(tmp_path, "newsroom.example/archive-2")
    assert run_cli("sign", "--key", str(other), db=forged)[0] == 0
    assert verify(forged, "--key", vkey)[0] == 1
    # Keeping the old signature rows: they no longer match the rebuilt trees.
    kept = tamper(db, tmp_path, "kept", "UPDATE versions SET path = 'x.txt' WHERE id = 1")
    rebuild_ledger(kept)
    code, out = verify(kept, "--key", vkey)
    assert code == 1 and "is not this ledger's" in out


def test_swapped_content_with_rebuilt_leaves_and_no_checkpoints(signed, db, tmp_path) -> None:
    """Drop every checkpoint, swap a version's content for another, rebuild the leaves with
    the project's own functions: without the key only the missing checkpoints show; with
    it, the unsigned (and differently rooted) history does."""
    _, vkey = signed
    dropped = tamper(db, tmp_path, "dropped", "UPDATE runs SET tree_size = NULL, tree_root = NULL")
    code, out = verify(dropped)
    assert code == 1 and "under no checkpoint" in out
    swapped = tamper(
        db,
        tmp_path,
        "swapped",
        "UPDATE versions SET blob = (SELECT blob FROM versions WHERE path = 'b.txt')"
        " WHERE path = 'a.txt' AND seq = 2",
        "DELETE FROM checkpoint_signatures",
    )
    rebuild_ledger(swapped)
    assert verify(swapped)[0] == 0
    code, out = verify(swapped, "--key", vkey)
    assert code == 1 and "not signed by newsroom.example/archive" in out


def test_outside_checkpoint_finds_truncation_rewrite_and_fork(signed, db, tmp_path) -> None:
    key, vkey = signed
    kept = tmp_path / "kept.note"
    kept.write_text(run_cli("checkpoint", db=db)[1])
    assert verify(db, "--checkpoint", str(kept), "--key", vkey)[0] == 0
    truncated = tamper(db, tmp_path, "truncated", "DELETE FROM ledger WHERE leaf_index >= 2")
    code, out = verify(truncated, "--checkpoint", str(kept), "--key", vkey)
    assert code == 1 and "truncated or behind" in out
    rewritten = tamper(db, tmp_path, "rewritten", "UPDATE versions SET kind = 'x' WHERE id = 2")
    rebuild_ledger(rewritten)  # (without the content leaves, which backfill does not make)
    code, out = verify(rewritten, "--checkpoint", str(kept), "--key", vkey)
    assert code == 1 and ("history was rewritten" in out or "truncated or behind" in out)
    # The same tree under another log's name is another log's checkpoint.
    other_log = tmp_path / "other.note"
    other_log.write_text("other.example/log\n" + kept.read_text().split("\n", 1)[1])
    code, out = verify(db, "--checkpoint", str(other_log))
    assert code == 1 and "the checkpoint is of log 'other.example/log'" in out
    forged_note = tmp_path / "forged.note"
    lines = kept.read_text().split("\n")
    lines[1] = str(int(lines[1]) - 1)  # a smaller tree under the same signature
    forged_note.write_text("\n".join(lines))
    code, out = verify(db, "--checkpoint", str(forged_note), "--key", vkey)
    assert code == 1 and "does not check" in out


def test_stored_signature_tampered_is_found(signed, db, tmp_path) -> None:
    _, vkey = signed
    bad = tamper(
        db, tmp_path, "bad", "UPDATE checkpoint_signatures SET tree_root = replace(tree_root, "
        "substr(tree_root, 1, 1), CASE substr(tree_root, 1, 1) WHEN 'a' THEN 'b' ELSE 'a' END)"
    )  # fmt: skip
    code, out = verify(bad)
    assert code == 1 and "does not verify" in out


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTSA]:
    with local_tsa(tmp_path_factory.mktemp("tsa")) as running:
        yield running


def test_timestamp_openssl_and_verify_tsa_ca(signed, db, tmp_path, tsa) -> None:
    code, out, err = run_cli("timestamp", "--tsa", tsa.url, "--tsa-ca", str(tsa.ca), db=db)
    assert code == 0, err
    assert "time-stamped at" in out
    tsr, note = tmp_path / "cp.tsr", tmp_path / "cp.note"
    code, out, _ = run_cli("checkpoint", "--tsr", str(tsr), db=db)
    assert code == 0
    note.write_text(out)
    done = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(note), "-in", str(tsr)]
        + ["-CAfile", str(tsa.ca), "-untrusted", str(tsa.cert)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stderr
    assert verify(db, "--tsa-ca", str(tsa.ca))[0] == 0
    # Another CA: the token does not chain; an altered token or note: found.
    other = tmp_path / "other-ca.pem"
    other.write_bytes(
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(tmp_path / "o.key"), "-subj", "/CN=Other", "-days", "2"],
            capture_output=True, check=True,
        ).stdout
    )  # fmt: skip
    code, out = verify(db, "--tsa-ca", str(other))
    assert code == 1 and "does not verify" in out
    moved = tamper(db, tmp_path, "moved", "UPDATE checkpoint_timestamps SET note = note || ' '")
    assert verify(moved)[0] == 1


def test_timestamp_needs_a_signed_checkpoint(db, folder, tsa) -> None:
    (folder / "a.txt").write_text("x\n")
    run_cli("ingest", str(folder), db=db)
    code, _, err = run_cli("timestamp", "--tsa", tsa.url, db=db)
    assert code == 1 and "not signed" in err


def test_witnesses_cosign_import_and_refuse_a_split_view(signed, db, folder, tmp_path) -> None:
    key, vkey = signed
    wkey, wvkey = keygen(tmp_path, "rival.example/witness", "--witness")
    state = tmp_path / "witness-state"
    note1 = tmp_path / "n1"
    note1.write_text(run_cli("checkpoint", db=db)[1])
    code, cosigned, err = run_cli(
        "cosign", str(note1), "--log-key", vkey, "--key", str(wkey), "--state", str(state)
    )
    assert code == 0, err
    witnessed = tmp_path / "w1"
    witnessed.write_text(cosigned)
    code, out, err = run_cli("checkpoint", "--import", str(witnessed), "--witness", wvkey, db=db)
    assert code == 0 and "rival.example/witness" in out, err
    assert verify(db, "--key", vkey, "--witness", wvkey)[0] == 0
    lines = parse_note(run_cli("checkpoint", db=db)[1]).signatures
    assert lines[-1].name == "rival.example/witness"
    # The archive grows: the witness needs a consistency proof from what it cosigned.
    (folder / "c.txt").write_text("third\n")
    run_cli("ingest", str(folder), "--sign", str(key), db=db)
    code, out = verify(db, "--key", vkey, "--witness", wvkey)
    assert code == 1 and "no cosignature of rival.example/witness" in out
    note2 = tmp_path / "n2"
    note2.write_text(run_cli("checkpoint", db=db)[1])
    base = ["cosign", str(note2), "--log-key", vkey, "--key", str(wkey), "--state", str(state)]
    code, _, err = run_cli(*base)
    assert code == 1 and "consistency proof" in err
    old_size = parse_note(note1.read_text()).text.split("\n")[1]
    new_size = parse_note(note2.read_text()).text.split("\n")[1]
    proof = tmp_path / "proof.json"
    proof.write_text(run_cli("proof", "--consistency", old_size, new_size, db=db)[1])
    assert run_cli(*base, "--proof", str(proof))[0] == 0
    # A fork of the same log, signed with the log's own key: refused, one line, exit 1.
    fork = tamper(db, tmp_path, "fork", "UPDATE versions SET path = 'z.txt' WHERE id = 1")
    rebuild_ledger(fork)
    code, _, err = run_cli("sign", "--key", str(key), db=fork)
    assert code == 1 and "refusing to sign a fork" in err  # the log itself refuses
    sqlite3.connect(fork).executescript("DELETE FROM checkpoint_signatures")
    assert run_cli("sign", "--key", str(key), db=fork)[0] == 0
    fork_note = tmp_path / "fork.note"
    fork_note.write_text(run_cli("checkpoint", db=fork)[1])
    code, _, err = run_cli(
        "cosign", str(fork_note), "--log-key", vkey, "--key", str(wkey), "--state", str(state)
    )
    assert code == 1 and "split view" in err and len(err.strip().splitlines()) == 1


def test_verify_proof_against_the_signed_checkpoint(signed, db, tmp_path) -> None:
    key, vkey = signed
    note = tmp_path / "cp.note"
    note.write_text(run_cli("checkpoint", db=db)[1])
    proof = tmp_path / "p.json"
    proof.write_text(run_cli("proof", "a.txt@1", db=db)[1])
    code, out, _ = run_cli("verify-proof", str(proof))
    assert code == 0 and "only internal consistency was checked" in out
    code, out, _ = run_cli("verify-proof", str(proof), "--checkpoint", str(note), "--key", vkey)
    assert code == 0 and "checked against provenance-archive/" in out
    assert "version.path: a.txt" in out
    # Edit the leaf (kind, date) and recompute every hash: the forged proof.
    doc = json.loads(proof.read_text())
    leaf = json.loads(doc["leaf"])
    leaf["version"]["observed_at"] = "1999-01-01T00:00:00Z"
    doc["leaf"] = json.dumps(leaf)
    doc["leaf_hash"] = merkle.leaf_hash(doc["leaf"].encode()).hex()
    doc["root"] = merkle.root_from_inclusion(
        doc["leaf_index"], doc["tree_size"], bytes.fromhex(doc["leaf_hash"]),
        [bytes.fromhex(p) for p in doc["proof"]],
    ).hex()  # fmt: skip
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    assert run_cli("verify-proof", str(forged))[0] == 0  # consistent in itself
    code, out, _ = run_cli("verify-proof", str(forged), "--checkpoint", str(note), "--key", vkey)
    assert code == 1 and "another root than the signed checkpoint" in out
    broken = {**doc, "leaf": doc["leaf"] + " "}
    forged.write_text(json.dumps(broken))
    code, out, _ = run_cli("verify-proof", str(forged))
    assert code == 1 and "the leaf was altered" in out


def test_proof_of_a_file_on_disk_proves_its_bytes(signed, db, folder, tmp_path) -> None:
    older = tmp_path / "older.txt"
    older.write_text("first\n")
    code, out, _ = run_cli("proof", str(older), db=db)
    assert code == 0
    leaf = json.loads(json.loads(out)["leaf"])
    assert leaf["version"]["seq"] == 1  # the bytes given, not the latest version at a.txt
    (folder / "a.txt").write_text("edited, never ingested\n")
    code, out, err = run_cli("proof", str(folder / "a.txt"), db=db)
    assert code == 1 and "not in the archive" in err + out


def test_signing_key_from_the_environment(tmp_path, folder, db, monkeypatch) -> None:
    key, vkey = keygen(tmp_path, "newsroom.example/archive")
    monkeypatch.setenv("ARCHIVE_SIGNING_KEY", str(key))
    (folder / "a.txt").write_text("x\n")
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    monkeypatch.delenv("ARCHIVE_SIGNING_KEY")
    assert verify(db, "--key", vkey)[0] == 0
    assert os.environ.get("ARCHIVE_SIGNING_KEY") is None


PREVIOUS = Path(__file__).parent / "data" / "archive-ledger-v1.db"


def test_previous_release_migrates_keeping_every_leaf_and_checkpoint(tmp_path, folder) -> None:
    """An archive made by the release before (v1 leaves, checkpoints in runs) opens with
    every leaf's bytes, hash and index and every checkpoint unchanged; new runs append."""
    db = tmp_path / "old.db"
    shutil.copy(PREVIOUS, db)
    conn = sqlite3.connect(db)
    leaves = conn.execute("SELECT leaf_index, version_id, leaf, leaf_hash FROM ledger").fetchall()
    heads = conn.execute("SELECT id, tree_size, tree_root FROM runs ORDER BY id").fetchall()
    conn.close()
    with Store(db) as store:
        after = store.conn.execute(
            "SELECT leaf_index, version_id, leaf, leaf_hash FROM ledger WHERE subject IS NULL"
        ).fetchall()
        assert after == leaves
        assert store.conn.execute("SELECT id, tree_size, tree_root FROM runs").fetchall() == heads
    assert verify(db) == (0, "ok: everything checks\n")
    key, vkey = keygen(tmp_path, "newsroom.example/archive")
    (folder / "new.txt").write_text("after the upgrade\n")
    assert run_cli("ingest", str(folder), "--sign", str(key), db=db)[0] == 0
    assert verify(db, "--key", vkey) == (0, "ok: everything checks\n")
    with Store(db) as store:
        ledger = list(compact.iter_leaves(store))
        kept = [
            (e["leaf_index"], e["version_id"], bytes(e["leaf"]), e["leaf_hash"]) for e in ledger
        ]
        assert kept[: len(leaves)] == [(i, v, bytes(b), h) for i, v, b, h in leaves]
        # The old commits and runs got leaves of their own, after the old versions.
        subjects = [e["subject"] for e in ledger if e["subject"]]
        assert sum(s.startswith("commit:") for s in subjects) == 2
        assert {"run:1", "run:2", "run:3", "run:4"} <= set(subjects)


def test_resumed_git_import_leaves_no_leaf_outside_a_checkpoint(tmp_path) -> None:
    from tests.conftest import run_archive
    from tests.gitrepo import Repo

    repo = Repo(tmp_path / "repo")

    def commits(start: int, count: int) -> None:
        for i in range(start, start + count):
            repo.write(f"doc{i % 3}.txt", f"revision {i}\n".encode())
            repo.commit(f"commit {i}")

    commits(0, 2)
    db = tmp_path / "killed.db"
    args = ("ingest", "--git", str(repo.root), "--db", str(db), "--batch", "2")
    assert run_archive(*args).returncode == 0  # a whole run first
    commits(2, 7)
    assert run_archive(*args, env={"ARCHIVE_KILL_AT": "commit:5"}).returncode == -9
    resumed = run_archive(*args)
    assert resumed.returncode == 0, resumed.stderr
    code, out = verify(db)
    assert (code, out) == (0, "ok: everything checks\n")
    with Store(db) as store:
        runs = store.runs()
        assert [r["tree_size"] is not None for r in runs] == [True, True, True]
        assert runs[-1]["tree_size"] == store.ledger_size()
        assert {e["subject"] for e in store.iter_ledger()} >= {"run:1", "run:2", "run:3"}


async def test_published_pages_show_who_vouches_and_serve_the_note(
    signed, db, tmp_path, tsa
) -> None:
    import yaml
    from datasette.app import Datasette

    from tests.conftest import ROOT

    key, vkey = signed
    wkey, wvkey = keygen(tmp_path, "rival.example/witness", "--witness")
    note = tmp_path / "n"
    note.write_text(run_cli("checkpoint", db=db)[1])
    out = run_cli(
        "cosign", str(note), "--log-key", vkey, "--key", str(wkey), "--state", str(tmp_path / "s")
    )[1]
    note.write_text(out)
    assert run_cli("checkpoint", "--import", str(note), "--witness", wvkey, db=db)[0] == 0
    assert run_cli("timestamp", "--tsa", tsa.url, db=db)[0] == 0
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    ds = Datasette([str(db)], metadata=metadata)
    with Store(db) as store:
        vid = store.query("SELECT id FROM versions WHERE path = 'a.txt' AND seq = 2")[0]["id"]
    page = (await ds.client.get(f"/-/archive/version/{vid}")).text
    signers = page[page.index('id="checkpoint-signers"') :]
    assert "newsroom.example/archive" in signers.split("</dd>")[0]
    assert "rival.example/witness" in page[page.index('id="checkpoint-witnesses"') :]
    assert "Test TSA" in page[page.index('id="checkpoint-times"') :]
    home = (await ds.client.get("/")).text  # the front door says who vouches for the latest
    assert "newsroom.example/archive" in home[home.index('id="home-signers"') :].split("</dd>")[0]
    assert "rival.example/witness" in home[home.index('id="home-witnesses"') :].split("</dd>")[0]
    assert "Test TSA" in home[home.index('id="home-times"') :].split("</dd>")[0]
    response = await ds.client.get("/-/archive/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == run_cli("checkpoint", db=db)[1]
    stamped = (await ds.client.get("/-/archive/checkpoint?stamped=1")).text
    token = await ds.client.get("/-/archive/checkpoint.tsr")
    assert token.headers["content-type"] == "application/timestamp-reply"
    (tmp_path / "s.note").write_text(stamped)
    (tmp_path / "s.tsr").write_bytes(token.content)
    done = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(tmp_path / "s.note")]
        + ["-in", str(tmp_path / "s.tsr"), "-CAfile", str(tsa.ca), "-untrusted", str(tsa.cert)],
        capture_output=True,
        text=True,
    )
    assert "Verification: OK" in done.stdout, done.stderr


def test_bag_carries_the_evidence_to_check_offline(signed, db, tmp_path, tsa) -> None:
    import bagit

    from tests.validators import bagit_cli_valid

    key, vkey = signed
    assert run_cli("timestamp", "--tsa", tsa.url, db=db)[0] == 0
    bag = tmp_path / "bag"
    code, _, err = run_cli("export", "bagit", str(bag), "--all-versions", db=db)
    assert code == 0, err
    assert bagit_cli_valid(bag)
    assert bagit.Bag(str(bag)).is_valid()
    ev = bag / "evidence"
    assert {"README.txt", "checkpoint.note", "checkpoint.tsr", "prov.json"} <= {
        p.name for p in ev.iterdir()
    }
    proofs = sorted((ev / "proofs").iterdir())
    assert len(proofs) == 3  # a.txt twice, b.txt once
    for proof in proofs:
        code, out, _ = run_cli(
            "verify-proof", str(proof), "--checkpoint", str(ev / "checkpoint.note"), "--key", vkey
        )
        assert code == 0 and "checked against" in out, out
    done = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(ev / "checkpoint-stamped.note")]
        + ["-in", str(ev / "checkpoint.tsr"), "-CAfile", str(tsa.ca), "-untrusted", str(tsa.cert)],
        capture_output=True,
        text=True,
    )
    assert "Verification: OK" in done.stdout, done.stderr
    info = (bag / "bag-info.txt").read_text()
    payload = [p for p in (bag / "data").rglob("*") if p.is_file()]
    oxum = f"Payload-Oxum: {sum(p.stat().st_size for p in payload)}.{len(payload)}"
    assert oxum in info
    (ev / "checkpoint.note").write_text("tampered\n")
    assert not bagit.Bag(str(bag)).is_valid()


def test_ocfl_export_carries_the_evidence_beside_valid_objects(signed, db, tmp_path) -> None:
    from tests.validators import ocfl_object_valid

    _, vkey = signed
    root = tmp_path / "ocfl"
    assert run_cli("export", "ocfl", str(root), db=db)[0] == 0
    objects = [p for p in root.iterdir() if p.is_dir() and p.name != "extensions"]
    assert objects and all(ocfl_object_valid(o) for o in objects)
    ev = root / "extensions" / "provenance-archive-evidence"
    proofs = sorted((ev / "proofs").iterdir())
    assert len(proofs) == 3
    for proof in proofs:
        args = ("--checkpoint", str(ev / "checkpoint.note"), "--key", vkey)
        assert run_cli("verify-proof", str(proof), *args)[0] == 0


def test_verify_proof_of_an_older_tree_with_a_consistency_proof(signed, db, tmp_path) -> None:
    _, vkey = signed
    note = tmp_path / "cp.note"
    note.write_text(run_cli("checkpoint", db=db)[1])
    size = parse_note(note.read_text()).text.split("\n")[1]
    proof, bridge = tmp_path / "p.json", tmp_path / "c.json"
    first = json.loads(run_cli("proof", "a.txt@1", db=db)[1])["leaf_index"] + 1
    proof.write_text(run_cli("proof", "a.txt@1", "--size", str(first), db=db)[1])
    bridge.write_text(run_cli("proof", "--consistency", str(first), size, db=db)[1])
    args = ("--checkpoint", str(note), "--key", vkey)
    code, out, _ = run_cli("verify-proof", str(proof), *args)
    assert code == 1 and "--consistency" in out
    code, out, _ = run_cli("verify-proof", str(proof), *args, "--consistency", str(bridge))
    assert code == 0 and f"through a consistency proof from size {first}" in out


def test_hostile_rows_never_reach_the_terminal(signed, db, tmp_path) -> None:
    bad = tamper(
        db,
        tmp_path,
        "hostile",
        "UPDATE checkpoint_signatures SET key_name = 'x' || char(27) || '[2J'",
    )
    code, out, _ = run_cli("checkpoint", db=bad)
    assert code == 0 and "\x1b" not in out and "\n\n" not in out  # unsigned: the body only
    code, out = verify(bad)
    assert code == 1 and "\x1b" not in out and "names another key" in out
