"""archive.ledger.timestamps against a real local TSA (`openssl ts -reply` on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.ledger import timestamps
from archive.ledger.timestamps import TimestampError, load_certificates
from tests.tsa import LocalTSA, local_tsa, make_pki

NOTE = b"example.org/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 x AAAA\n"


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTSA]:
    with local_tsa(tmp_path_factory.mktemp("tsa")) as running:
        yield running


@pytest.fixture(scope="module")
def token(tsa: LocalTSA) -> bytes:
    return timestamps.fetch(tsa.url, NOTE)


def test_token_verifies_and_says_when(tsa: LocalTSA, token: bytes) -> None:
    info = timestamps.verify(token, NOTE, load_certificates(tsa.ca.read_bytes()))
    assert info.digest == hashlib.sha256(NOTE).hexdigest()
    assert info.digest_algorithm == "sha256"
    assert info.time.endswith("Z") and info.time[:2] == "20"
    assert "Test TSA" in info.tsa
    assert timestamps.describe(token) == info


def test_openssl_verifies_the_same_token(tsa: LocalTSA, token: bytes, tmp_path: Path) -> None:
    """Interop: the stored reply is what `openssl ts -verify` checks with the data."""
    (tmp_path / "note").write_bytes(NOTE)
    (tmp_path / "r.tsr").write_bytes(token)
    done = subprocess.run(
        ["openssl", "ts", "-verify", "-data", "note", "-in", "r.tsr"]
        + ["-CAfile", str(tsa.ca), "-untrusted", str(tsa.cert)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "Verification: OK" in done.stdout


def test_token_over_other_data_is_refused(tsa: LocalTSA, token: bytes) -> None:
    with pytest.raises(TimestampError, match="does not verify"):
        timestamps.verify(token, NOTE + b"x", load_certificates(tsa.ca.read_bytes()))


def test_token_from_an_untrusted_ca_is_refused(token: bytes, tmp_path: Path) -> None:
    make_pki(tmp_path / "other", "Other")
    other_ca = load_certificates((tmp_path / "other" / "ca.pem").read_bytes())
    with pytest.raises(TimestampError, match="does not verify"):
        timestamps.verify(token, NOTE, other_ca)
    with pytest.raises(TimestampError, match="no trusted"):
        timestamps.verify(token, NOTE, [])


def test_altered_token_is_refused(tsa: LocalTSA, token: bytes) -> None:
    """A byte flipped inside the signed TSTInfo (its genTime digits) breaks the signature."""
    roots = load_certificates(tsa.ca.read_bytes())
    info = timestamps.describe(token)
    stamp = info.time[:4].encode()  # the year, as GeneralizedTime writes it
    at = token.find(stamp + info.time[5:7].encode())
    assert at > 0
    altered = token[:at] + b"1999" + token[at + 4 :]
    with pytest.raises(TimestampError):
        timestamps.verify(altered, NOTE, roots)


def test_garbage_and_unreachable_are_one_line_errors() -> None:
    with pytest.raises(TimestampError, match="not a time-stamp reply"):
        timestamps.describe(b"not DER at all")
    with pytest.raises(TimestampError, match="not an http"):
        timestamps.fetch("file:///etc/passwd", NOTE)
    with pytest.raises(TimestampError, match="cannot reach"):
        timestamps.fetch("http://127.0.0.1:9/tsa", NOTE, timeout=2)


def test_reply_must_match_the_request(tsa: LocalTSA, token: bytes) -> None:
    with pytest.raises(TimestampError, match="other data"):
        timestamps.check_reply(token, b"another note\n", None)
    with pytest.raises(TimestampError, match="nonce"):
        timestamps.check_reply(token, NOTE, 12345)
