"""ingest.hashing against the official BLAKE3 test vectors (every length, every path)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from ingest import hashing
from tests.tools import need_tool

VECTORS = json.loads((Path(__file__).parent / "data" / "blake3_test_vectors.json").read_text())
CASES = VECTORS["cases"]


def _input(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


def _want(case: dict) -> str:
    return case["hash"][:64]  # the default 32-byte digest is the extended output's prefix


@pytest.mark.parametrize("case", CASES, ids=[str(c["input_len"]) for c in CASES])
def test_in_memory(case: dict) -> None:
    data = _input(case["input_len"])
    assert hashing.blake3_hex(data) == _want(case)
    d = hashing.digests(data)
    assert d.blake3 == _want(case)
    assert d.sha256 == hashlib.sha256(data).hexdigest()


def test_vector_file_is_complete() -> None:
    lengths = [c["input_len"] for c in CASES]
    assert len(CASES) == 35 and lengths[0] == 0 and max(lengths) == 102400


@pytest.mark.parametrize("length", [0, 1, 1023, 1025, 8193, 102400])
def test_file_streamed(tmp_path: Path, length: int) -> None:
    case = next(c for c in CASES if c["input_len"] == length)
    f = tmp_path / "f.bin"
    f.write_bytes(_input(length))
    assert hashing.blake3_file(f) == _want(case)


@pytest.mark.parametrize("length", [1, 1024, 1025, 31744, 102400])
def test_file_read_in_many_pieces_on_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, length: int
):
    """A small read size so pieces crossing BLAKE3's 1 KiB chunks are checked on the vectors."""
    case = next(c for c in CASES if c["input_len"] == length)
    monkeypatch.setattr(hashing, "FIRST", 1000)  # then 3000-byte reads
    monkeypatch.setattr(hashing, "CHUNK", 3000)
    f = tmp_path / "f.bin"
    f.write_bytes(_input(length))
    assert hashing.blake3_file(f) == _want(case)


def test_file_over_large_threshold(tmp_path: Path) -> None:
    """A file over one read (multithreaded pieces) agrees with in-memory hashing and b3sum."""
    data = _input(hashing.CHUNK + 12345)
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    got = hashing.blake3_file(f)
    assert got == hashing.blake3_hex(data)
    out = subprocess.run([need_tool("b3sum"), "--no-names", str(f)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == got
