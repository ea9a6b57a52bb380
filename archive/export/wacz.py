"""WACZ export of web captures: each capture rewritten as its WARC record, then `wacz create`.

A capture's record keeps its WARC-Record-ID, WARC-Date, target URI and WARC-Payload-Digest,
its HTTP status line and headers, and its payload exactly as transferred (still chunked or
content-encoded when it was), so the digest in the export is the capture's own and checks.
Only the block digest is recomputed (warcio writes header blocks its own way). Nothing here
touches the database: captures come in as rows, payloads through `read_bytes`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from io import BytesIO
from typing import IO

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ReadBytes = Callable[[str], bytes]
# Recomputed on writing: the header block is serialised anew.
DROPPED_WARC_HEADERS = frozenset({"warc-block-digest", "content-length"})


def warc_record(writer: WARCWriter, capture: Mapping, read_bytes: ReadBytes):
    """The warcio record of one capture row (response or resource)."""
    pairs = [
        (str(k), str(v))
        for k, v in json.loads(capture["warc_headers"])
        if str(k).lower() not in DROPPED_WARC_HEADERS
    ]
    warc_headers = StatusAndHeaders("", pairs, protocol="WARC/1.0")
    blob = capture["transferred_blob"] or capture["blob"]
    payload = read_bytes(blob)
    http_headers = None
    if capture["http"]:
        http = json.loads(capture["http"])
        http_headers = StatusAndHeaders(
            http["status_line"],
            [(str(k), str(v)) for k, v in http["headers"]],
            protocol=http["protocol"] or "HTTP/1.1",
        )
    return writer.create_warc_record(
        capture["target_uri"],
        capture["type"],
        payload=BytesIO(payload),
        length=len(payload),
        warc_headers=warc_headers,
        warc_content_type=warc_headers.get_header("Content-Type") or "",
        http_headers=http_headers,
    )


def write_warc(captures: Iterable[Mapping], read_bytes: ReadBytes, out: IO[bytes]) -> int:
    """Write the captures to a gzipped WARC (a warcinfo record first); returns their count."""
    writer = WARCWriter(out, gzip=True)
    info = {"software": "provenance-archive (archive export wacz)", "format": "WARC/1.0"}
    writer.write_record(writer.create_warcinfo_record("captures.warc.gz", info))
    count = 0
    for capture in captures:
        writer.write_record(warc_record(writer, capture, read_bytes))
        count += 1
    return count


def export_wacz(captures: Iterable[Mapping], read_bytes: ReadBytes, dest: str) -> int:
    """Write a WACZ of the captures to dest (replaced only once complete)."""
    folder = os.path.dirname(os.path.abspath(dest))
    with tempfile.TemporaryDirectory(dir=folder, prefix=".wacz-") as work:
        warc = os.path.join(work, "captures.warc.gz")
        with open(warc, "wb") as out:
            count = write_warc(captures, read_bytes, out)
        if count == 0:
            raise ValueError("no web captures to export")
        partial = os.path.join(work, "out.wacz")
        result = subprocess.run(
            [sys.executable, "-m", "wacz", "create", "--detect-pages", "-o", partial, warc],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or not os.path.exists(partial):
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ValueError(f"wacz create failed: {last[0][:200]}")
        os.replace(partial, dest)
    return count
