"""WARC and WACZ files for tests, written with warcio (and `wacz create`) as crawlers write them."""

from __future__ import annotations

import gzip
import os
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.conftest import ROOT

# py-wacz, from its own venv (scripts/ensure-tools.sh; `make test` runs it): see that script.
WACZ = os.environ.get("ARCHIVE_WACZ") or str(ROOT / ".venv-tools" / "bin" / "wacz")


def wacz_tool() -> str:
    """The wacz program, or a failure that says how to get it."""
    if not os.access(WACZ, os.X_OK):
        pytest.fail(f"{WACZ} is missing: run `sh scripts/ensure-tools.sh` (make test does)")
    return WACZ


def html(title: str, body: str) -> bytes:
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{body}</p></article></body></html>"
    ).encode()


def chunked(data: bytes, size: int = 7) -> bytes:
    """data in HTTP/1.1 chunked transfer coding, as it crossed the wire."""
    parts = [
        b"%x\r\n" % len(data[i : i + size]) + data[i : i + size] + b"\r\n"
        for i in range(0, len(data), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


class Warc:
    """A WARC being written; each method adds one record and returns its WARC-Record-ID."""

    def __init__(self, path: Path, gzip: bool = True) -> None:
        self.path = path
        self.file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.writer = WARCWriter(self.file, gzip=gzip)

    def __enter__(self) -> Warc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()

    def _write(self, record) -> str:
        self.writer.write_record(record)
        return record.rec_headers.get_header("WARC-Record-ID")

    def response(
        self,
        uri: str,
        date: str,
        body: bytes,
        status: str = "200 OK",
        headers: list[tuple[str, str]] | None = None,
        extra: dict[str, str] | None = None,
    ) -> str:
        http = StatusAndHeaders(
            status, headers or [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
        )
        record = self.writer.create_warc_record(
            uri,
            "response",
            payload=BytesIO(body),
            length=len(body),
            http_headers=http,
            warc_headers_dict={"WARC-Date": date, **(extra or {})},
        )
        return self._write(record)

    def request(self, uri: str, date: str, concurrent_to: str) -> str:
        path = "/" + uri.split("/", 3)[3] if uri.count("/") >= 3 else "/"
        http = StatusAndHeaders(f"GET {path}", [("Host", "example.org")], protocol="HTTP/1.1")
        record = self.writer.create_warc_record(
            uri,
            "request",
            http_headers=http,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": concurrent_to},
        )
        return self._write(record)

    def resource(self, uri: str, date: str, body: bytes, content_type: str) -> str:
        record = self.writer.create_warc_record(
            uri,
            "resource",
            payload=BytesIO(body),
            length=len(body),
            warc_content_type=content_type,
            warc_headers_dict={"WARC-Date": date},
        )
        return self._write(record)

    def revisit(self, uri: str, date: str, digest: str, refers_to: str, refers_date: str) -> str:
        http = StatusAndHeaders(
            "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
        )
        record = self.writer.create_revisit_record(
            uri,
            digest,
            uri,
            refers_date,
            http_headers=http,
            warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": refers_to},
        )
        return self._write(record)

    def metadata(self, uri: str, date: str, refers_to: str, text: str) -> str:
        record = self.writer.create_warc_record(
            uri,
            "metadata",
            payload=BytesIO(text.encode()),
            length=len(text.encode()),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": refers_to},
        )
        return self._write(record)

    def raw(self, data: bytes) -> None:
        """Bytes that are no record at all (gzipped as a member when the file is)."""
        self.file.write(gzip.compress(data) if self.writer.gzip else data)


def gzip_body(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def digest_of(record_id: str, path: Path) -> str:
    """The WARC-Payload-Digest a record was written with."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_headers.get_header("WARC-Record-ID") == record_id:
                return record.rec_headers.get_header("WARC-Payload-Digest")
    raise KeyError(record_id)


def make_wacz(out: Path, *warcs: Path) -> Path:
    subprocess.run(
        [wacz_tool(), "create", "-o", str(out), *map(str, warcs)],
        check=True,
        capture_output=True,
    )
    return out
