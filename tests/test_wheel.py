"""The package carries what it serves: a built wheel, installed in a fresh venv and run from an
empty folder, serves the archive's own title and canned queries (metadata.yml as package data).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.browser.conftest import _free_port, _wait_ready

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["pyproject.toml", "setup.py", "README.md", "metadata.yml", "MANIFEST.in"]


def _run(args: list, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, **kw)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed in it; the dependencies are this venv's (a .pth
    line, so no network), but none of this checkout: not its files, not its editable install."""
    venv = tmp / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ]
    )
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    Path(purelib.stdout.strip(), "_test_deps.pth").write_text(site.getsitepackages()[0] + "\n")
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in ("archive", "ingest"):
        shutil.copytree(
            ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.so")
        )
    for name in SHIPPED:
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    dist = tmp / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(dist),
            str(src),
        ]
    )
    (wheel,) = dist.glob("provenance_archive-*.whl")
    return _fresh_venv(tmp, wheel)


def test_the_installed_wheel_serves_the_archive_s_metadata(installed, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ARCHIVE_DB")}
    bin_ = installed / "bin"
    empty = tmp_path / "elsewhere"  # no metadata.yml here, nor beside the code
    empty.mkdir()
    where = _run(
        [str(bin_ / "python"), "-c", "import archive; print(archive.__file__)"], env=env, cwd=empty
    )
    assert where.stdout.startswith(str(installed))  # the wheel's code, not this checkout's
    shutil.copytree(ROOT / "corpus", empty / "docs")
    _run([str(bin_ / "archive"), "ingest", "docs"], cwd=empty, env=env)
    port = _free_port()
    proc = subprocess.Popen(
        [str(bin_ / "archive"), "serve", "--port", str(port), "--workers", "1"],
        cwd=empty,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, base + "/-/versions.json")
        title = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))["title"]
        with urllib.request.urlopen(base + "/-/metadata.json", timeout=10) as r:
            assert json.load(r)["title"] == title
        with urllib.request.urlopen(base + "/", timeout=10) as r:
            assert f"<title>{title}</title>" in r.read().decode()
        with urllib.request.urlopen(base + "/archive/recent_changes.json?_shape=array") as r:
            rows = json.load(r)  # a canned query: it exists only through the metadata
        assert rows and {"version_id", "path"} <= set(rows[0])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stderr.close()


def test_serve_never_takes_the_working_directory_s_metadata(tmp_path, monkeypatch) -> None:
    from archive.publish.server.serve import default_metadata

    (tmp_path / "metadata.yml").write_text("title: a stray file\n")
    monkeypatch.chdir(tmp_path)
    chosen = default_metadata()
    assert chosen is not None and chosen.resolve() != (tmp_path / "metadata.yml").resolve()
    assert chosen.read_text(encoding="utf-8") == (ROOT / "metadata.yml").read_text("utf-8")
