"""`archive package`: a bundle whose Dockerfile command, run as a replica would run it, serves
the packaged snapshot; what it packaged is said in bundle.json; a bad DEST changes nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import _free_port, _wait_ready
from tests.conftest import ROOT, run_archive

FILES = ["Dockerfile", "archive.db", "bundle.json", "inspect-data.json", "metadata.yml"]


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("package")
    src = tmp / "src"
    src.mkdir()
    (src / "terms.txt").write_text("We keep your data.\n")
    db = tmp / "archive.db"
    assert run_archive("ingest", str(src), "--db", str(db)).returncode == 0
    (src / "terms.txt").write_text("We keep your data for ever.\n")
    assert run_archive("ingest", str(src), "--db", str(db)).returncode == 0
    return db


@pytest.fixture(scope="module")
def bundle(archive_db, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("bundles") / "site"
    result = run_archive("package", str(dest), "--db", str(archive_db), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["dest"] == str(dest)
    return dest


def test_the_bundle_says_what_it_holds(bundle, archive_db):
    assert sorted(p.name for p in bundle.iterdir()) == sorted([*FILES, "requirements.txt"])
    info = json.loads((bundle / "bundle.json").read_text())
    snapshot = (bundle / "archive.db").read_bytes()
    assert info["sha256"] == hashlib.sha256(snapshot).hexdigest()
    assert info["size"] == len(snapshot)
    with sqlite3.connect(archive_db) as conn:
        run_id, size, root = conn.execute(
            "SELECT id, tree_size, tree_root FROM runs WHERE tree_size IS NOT NULL"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert (info["run_id"], info["tree_size"], info["tree_root"]) == (run_id, size, root)
    with sqlite3.connect(bundle / "archive.db") as conn:  # public: no path of this machine
        (location,) = conn.execute("SELECT location FROM sources").fetchone()
    assert not os.path.isabs(location)
    for db, indexed in ((archive_db, 0), (bundle / "archive.db", 1)):  # built in the copy only
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM reuse_sentences").fetchone() == (indexed,)
    requirements = (bundle / "requirements.txt").read_text().split()
    assert requirements[0].startswith("datasette==") and requirements[1].startswith(
        "provenance-archive=="
    )
    inspect = json.loads((bundle / "inspect-data.json").read_text())
    assert inspect["archive"]["file"] == "archive.db"
    assert inspect["archive"]["tables"]["versions"]["count"] == 2


def test_the_dockerfile_runs_the_command_bundle_json_names(bundle):
    dockerfile = (bundle / "Dockerfile").read_text().splitlines()
    assert dockerfile[0].startswith("FROM python:3.11")
    cmd = next(line for line in dockerfile if line.startswith("CMD "))
    info = json.loads((bundle / "bundle.json").read_text())
    assert shlex.split(cmd.removeprefix("CMD ")) == info["command"]
    copied = next(line for line in dockerfile if line.startswith("COPY archive.db"))
    assert set(copied.split()[1:-1]) == {"archive.db", "metadata.yml", "inspect-data.json"} | {
        "bundle.json"
    }


def test_a_replica_serves_the_snapshot_with_the_plugin(bundle):
    """The Dockerfile's command, run in the bundle as the container runs it (no Docker here:
    this venv's datasette, which has the plugin installed, stands for the image's)."""
    port = _free_port()
    command = json.loads((bundle / "bundle.json").read_text())["command"]
    command = [str(port) if part == "$PORT" else part for part in command]
    datasette = Path(sys.executable).parent / "datasette"
    proc = subprocess.Popen(
        [str(datasette), *command[1:], "--host", "127.0.0.1"],
        cwd=bundle,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DATASETTE_SECRET": "one-for-all"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, base + "/-/versions.json")
        with urllib.request.urlopen(base + "/-/databases.json", timeout=10) as r:
            (db,) = [d for d in json.load(r) if d["name"] == "archive"]
        assert db["is_mutable"] is False  # served immutable: the plugin's caches apply
        with urllib.request.urlopen(base + "/-/archive/version/2", timeout=10) as r:
            page = r.read().decode()
        assert "We keep your data for ever." in page
        with urllib.request.urlopen(base + "/-/archive/search?q=data+for+ever", timeout=10) as r:
            assert "terms.txt" in r.read().decode()  # the search index, built in the bundle
        with urllib.request.urlopen(base + "/-/settings.json", timeout=10) as r:
            assert json.load(r)["suggest_facets"] is False
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_wheels_are_copied_in_and_installed_from_the_bundle(archive_db, tmp_path):
    wheel = tmp_path / "provenance_archive-0.1.0-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    dest = tmp_path / "site"
    result = run_archive("package", str(dest), "--db", str(archive_db), "--wheel", str(wheel))
    assert result.returncode == 0, result.stderr
    assert (dest / "wheels" / wheel.name).read_bytes() == wheel.read_bytes()
    assert f"./wheels/{wheel.name}" in (dest / "requirements.txt").read_text().split()
    assert "COPY wheels/ ./wheels/" in (dest / "Dockerfile").read_text()


def test_a_bad_destination_or_input_changes_nothing(archive_db, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    not_a_wheel = tmp_path / "plugin.tar.gz"
    not_a_wheel.write_bytes(b"x")
    cases = [
        (["package", str(full), "--db", str(archive_db)], "never overwritten"),
        (["package", str(tmp_path / "new"), "--db", str(tmp_path / "none.db")], "no archive"),
        (
            [
                "package",
                str(tmp_path / "new"),
                "--db",
                str(archive_db),
                "--wheel",
                str(not_a_wheel),
            ],
            "not a wheel",
        ),
    ]
    for args, message in cases:
        result = run_archive(*args)
        assert result.returncode == 1, args
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "plugin.tar.gz"]
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
