"""A real local RFC 3161 time-stamp authority for tests: `openssl ts -reply` behind HTTP.

The CA and the TSA certificate are made by `openssl` in a temporary directory; the server
listens on 127.0.0.1 only and answers `application/timestamp-query` POSTs with what
`openssl ts -reply` writes, as a public TSA would.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TSA_CONFIG = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
certs = $dir/chain.pem
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5.6
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
signer_digest = sha256
"""

CA_EXT = """\
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

TSA_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _openssl(*args: str, cwd: Path, data: bytes | None = None) -> bytes:
    done = subprocess.run(["openssl", *args], cwd=cwd, input=data, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def make_pki(dest: Path, name: str = "Test") -> None:
    """A self-signed CA (ca.pem) and a TSA certificate it issued (tsa.pem, tsa.key)."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "ca.ext").write_text(CA_EXT)
    (dest / "tsa.ext").write_text(TSA_EXT)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
        "-subj", f"/CN={name} Time-Stamp CA", "-extensions", "v3_ca_ext",
        "-config", "ca.cnf", cwd=_write(dest, "ca.cnf", _req_config(CA_EXT)),
    )  # fmt: skip
    _openssl(
        "req", "-new", *ec, "-keyout", "tsa.key", "-out", "tsa.csr",
        "-subj", f"/CN={name} TSA", cwd=dest,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "tsa.pem", "-days", "3650", "-extfile", "tsa.ext",
        cwd=dest,
    )  # fmt: skip
    shutil.copyfile(dest / "tsa.pem", dest / "chain.pem")
    (dest / "serial").write_text("01\n")
    (dest / "tsa.cnf").write_text(TSA_CONFIG.format(dir=dest))


def _req_config(ext: str) -> str:
    return f"[ req ]\ndistinguished_name = dn\n[ dn ]\n[ v3_ca_ext ]\n{ext}"


def _write(dest: Path, name: str, text: str) -> Path:
    (dest / name).write_text(text)
    return dest


@dataclass
class LocalTSA:
    """A running TSA: POST a TimeStampReq to `url`; trust `ca`, the signer is `cert`."""

    url: str
    ca: Path
    cert: Path
    dir: Path


def _handler(tsa_dir: Path, state: dict) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            query = self.rfile.read(length)
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415)
                return
            with lock:  # openssl increments the serial file: one at a time
                state["requests"] += 1
                qfile = tsa_dir / f"q{state['requests']}.tsq"
                qfile.write_bytes(query)
                try:
                    reply = _openssl(
                        "ts", "-reply", "-config", "tsa.cnf", "-queryfile", qfile.name,
                        cwd=tsa_dir,
                    )  # fmt: skip
                except RuntimeError:
                    self.send_error(400)
                    return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def local_tsa(dest: Path) -> Iterator[LocalTSA]:
    """Make a PKI in `dest` and serve a TSA on 127.0.0.1 until the block ends."""
    make_pki(dest)
    state = {"requests": 0}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(dest, state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield LocalTSA(f"http://{host}:{port}/tsa", dest / "ca.pem", dest / "tsa.pem", dest)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
