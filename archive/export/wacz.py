"""WACZ export of web captures: each capture rewritten as the WARC record it was, packaged.

A capture's record keeps its WARC-Record-ID, WARC-Date, target URI and WARC-Payload-Digest,
its HTTP status line and headers, and its payload exactly as transferred (still chunked or
content-encoded when it was), so the digest in the export is the capture's own and checks.
Only the block digest is recomputed (warcio writes header blocks its own way). Nothing here
touches the database: captures come in as rows, payloads through `read_bytes`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from io import BytesIO
from typing import IO

from cdxj_indexer.main import CDXJIndexer
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ReadBytes = Callable[[str], bytes]
WACZ_VERSION = "1.1.1"
WARC_NAME = "captures.warc.gz"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
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
    writer.write_record(writer.create_warcinfo_record(WARC_NAME, info))
    count = 0
    for capture in captures:
        writer.write_record(warc_record(writer, capture, read_bytes))
        count += 1
    return count


def export_wacz(
    captures: Iterable[Mapping], read_bytes: ReadBytes, dest: str, software: str
) -> int:
    """Write a WACZ 1.1.1 of the captures to dest (renamed into place once complete).

    The package is what `wacz create` makes: the WARC and its CDXJ index (cdxj-indexer, with
    its .idx) stored uncompressed, a page list, and datapackage.json listing each file's
    SHA-256, itself hashed in datapackage-digest.json.
    """
    captures = list(captures)
    if not captures:
        raise ValueError("no web captures to export")
    folder = os.path.dirname(os.path.abspath(dest))
    with tempfile.TemporaryDirectory(dir=folder, prefix=".wacz-") as work:
        warc = os.path.join(work, WARC_NAME)
        with open(warc, "wb") as out:
            count = write_warc(captures, read_bytes, out)
        cdx, idx = os.path.join(work, "index.cdx.gz"), os.path.join(work, "index.idx")
        with open(cdx, "wb") as data:
            CDXJIndexer(
                idx, [warc], sort=True, compress=data, data_out_name="index.cdx.gz"
            ).process_all()
        files = [
            (f"archive/{WARC_NAME}", _read(warc), zipfile.ZIP_STORED),
            ("indexes/index.cdx.gz", _read(cdx), zipfile.ZIP_STORED),
            ("indexes/index.idx", _read(idx), zipfile.ZIP_DEFLATED),
            ("pages/pages.jsonl", pages_jsonl(captures), zipfile.ZIP_DEFLATED),
        ]
        package = datapackage(files, software)
        digest = {"path": "datapackage.json", "hash": "sha256:" + _sha256(package)}
        partial = os.path.join(work, "out.wacz")
        with zipfile.ZipFile(partial, "w") as wacz:
            for name, data, method in files:
                wacz.writestr(name, data, compress_type=method)
            wacz.writestr("datapackage.json", package, compress_type=zipfile.ZIP_DEFLATED)
            wacz.writestr("datapackage-digest.json", json.dumps(digest, indent=2))
        os.replace(partial, dest)
    return count


def pages_jsonl(captures: Sequence[Mapping]) -> bytes:
    """The page list: one entry per captured HTML page (its first capture), as replay lists."""
    lines = [{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}]
    seen: set[str] = set()
    for c in captures:
        media = (c.get("mime") or "").split(";")[0].strip().lower()
        uri = c["target_uri"]
        if media not in HTML_TYPES or uri in seen or not (200 <= (c.get("status") or 0) < 300):
            continue
        seen.add(uri)
        page_id = hashlib.sha256(c["record_id"].encode()).hexdigest()[:22]
        lines.append({"id": page_id, "url": uri, "ts": c["warc_date"]})
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def datapackage(files: Sequence[tuple[str, bytes, int]], software: str) -> bytes:
    resources = [
        {
            "name": os.path.basename(name),
            "path": name,
            "hash": "sha256:" + _sha256(data),
            "bytes": len(data),
        }
        for name, data, _ in files
    ]
    package = {
        "profile": "data-package",
        "resources": resources,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wacz_version": WACZ_VERSION,
        "software": software,
    }
    return json.dumps(package, indent=2).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
