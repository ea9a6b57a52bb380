"""Read WARC and WACZ captures record by record into plain data, broken records as problems.

This is the read side of `archive ingest --warc`. `warcio` parses each record; its payload is
read once as transferred (the bytes `WARC-Payload-Digest` is over, checked by warcio) and then
decoded as its HTTP headers say (de-chunked, de-compressed) with warcio's own readers. One
record is in memory at a time. A record that cannot be parsed becomes a problem at its offset,
and reading resumes at the next record the file holds, so one bad record never loses the rest.
A WACZ is read through its `datapackage.json`: each WARC it lists, checked against its hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO
from urllib.parse import urljoin

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from ingest.hashing import blake3_file

CHUNK = 1 << 16
# A payload larger than this is a problem, not a version (one record is held in memory).
MAX_PAYLOAD = 256 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_STARTS = (b"WARC/1.0\r\n", b"WARC/1.1\r\n", b"WARC/0.18\r\n", b"WARC/0.17\r\n")
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class WarcFile:
    """One WARC read: the file given, or a WARC inside the WACZ given (member)."""

    path: str
    blake3: str  # of the file given (the .wacz for a member)
    size: int
    member: str | None = None


@dataclass(frozen=True)
class WebRecord:
    """One WARC record as plain data; payload decoded, transferred bytes kept when they differ."""

    file: WarcFile
    offset: int  # in the (compressed) file, as CDX indexes count
    length: int  # the record's bytes in the file, from offset
    type: str  # response, resource, revisit, request, metadata, warcinfo, ...
    record_id: str
    target_uri: str | None
    date: str  # WARC-Date normalised to UTC seconds, ISO 8601 with Z
    warc_date: str  # WARC-Date as written
    warc_headers: tuple[tuple[str, str], ...]
    status: int | None  # HTTP status (responses and revisits with headers)
    status_line: str | None  # "200 OK", or "GET /path" for a request
    http_protocol: str | None  # "HTTP/1.1"
    http_headers: tuple[tuple[str, str], ...]
    content_type: str | None  # HTTP Content-Type, or the WARC one for a resource
    payload: bytes  # de-chunked and decoded as the HTTP headers say
    transferred: bytes | None  # the payload as transferred, when it differs from payload
    payload_digest: str | None  # WARC-Payload-Digest as declared
    digest_ok: bool | None  # None: nothing declared to check
    location: str | None  # a redirect's target, resolved against the target URI

    def header(self, name: str) -> str | None:
        """A WARC header's first value (names compare case-insensitively)."""
        return _first(self.warc_headers, name)

    def http_header(self, name: str) -> str | None:
        return _first(self.http_headers, name)

    @property
    def concurrent_to(self) -> tuple[str, ...]:
        return tuple(v for k, v in self.warc_headers if k.lower() == "warc-concurrent-to")

    @property
    def refers_to(self) -> str | None:
        return self.header("WARC-Refers-To")


@dataclass(frozen=True)
class WarcProblem:
    """Something in a capture file that could not be read or does not hold."""

    file: str  # the file given, plus "!member" inside a WACZ
    offset: int | None
    reason: str
    record_id: str | None = None
    target_uri: str | None = None


def _first(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers if k.lower() == lowered), None)


def normalise_date(value: str) -> str | None:
    """WARC-Date (W3C-DTF, maybe fractional) as UTC seconds `YYYY-MM-DDTHH:MM:SSZ`, or None."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_wacz(path: str) -> bool:
    if path.lower().endswith(".wacz"):
        return True
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def read_capture(path: str, max_payload: int = MAX_PAYLOAD) -> Iterator[WebRecord | WarcProblem]:
    """Every record of a .warc, .warc.gz or .wacz, in file order, and every problem met."""
    try:
        wacz = is_wacz(path)
        digest = blake3_file(path)
        size = os.path.getsize(path)
    except OSError as e:
        yield WarcProblem(path, None, f"cannot read: {e.strerror}")
        return
    if wacz:
        yield from _read_wacz(path, digest, size, max_payload)
        return
    with open(path, "rb") as fh:
        yield from read_stream(fh, WarcFile(path, digest, size), max_payload)


def _read_wacz(
    path: str, digest: str, size: int, max_payload: int
) -> Iterator[WebRecord | WarcProblem]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        yield WarcProblem(path, None, f"not a readable WACZ: {e}")
        return
    with archive:
        try:
            package = json.loads(archive.read("datapackage.json"))
            resources = [r for r in package["resources"] if _is_warc_resource(r)]
        except (KeyError, TypeError, ValueError, zipfile.BadZipFile) as e:
            yield WarcProblem(path, None, f"WACZ without a usable datapackage.json: {e!r}")
            return
        for resource in resources:
            member = resource["path"]
            where = f"{path}!{member}"
            try:
                with archive.open(member) as fh:
                    problem = _hash_problem(fh, resource.get("hash"), where)
                if problem:
                    yield problem
                with archive.open(member) as fh:
                    yield from read_stream(fh, WarcFile(path, digest, size, member), max_payload)
            except (KeyError, zipfile.BadZipFile, OSError, zlib.error) as e:
                yield WarcProblem(where, None, f"cannot read WACZ member: {e}")


def _is_warc_resource(resource: object) -> bool:
    if not isinstance(resource, dict) or not isinstance(resource.get("path"), str):
        return False
    name = resource["path"]
    return name.startswith("archive/") and name.lower().endswith((".warc", ".warc.gz"))


def _hash_problem(fh: IO[bytes], declared: object, where: str) -> WarcProblem | None:
    """The datapackage's `sha256:` (or `md5:`...) hash of a WARC, checked streamed."""
    if not isinstance(declared, str) or ":" not in declared:
        return WarcProblem(where, None, "datapackage.json gives no hash for this WARC")
    algorithm, _, expected = declared.partition(":")
    try:
        hasher = hashlib.new(algorithm)
    except ValueError:
        return WarcProblem(where, None, f"unknown hash algorithm in datapackage.json: {algorithm}")
    while chunk := fh.read(CHUNK):
        hasher.update(chunk)
    if hasher.hexdigest() != expected.lower():
        return WarcProblem(where, None, f"WARC does not match its datapackage.json {algorithm}")
    return None


def read_stream(
    fh: IO[bytes], file: WarcFile, max_payload: int = MAX_PAYLOAD
) -> Iterator[WebRecord | WarcProblem]:
    """Records of one WARC stream (seekable); after a broken record, resume at the next one."""
    where = file.path if file.member is None else f"{file.path}!{file.member}"
    start = fh.tell()
    while start is not None:
        fh.seek(start)
        records = ArchiveIterator(fh, check_digests=True)
        offset = start
        try:
            while True:
                with _warnings_as_problems(where, offset) as problems:
                    record = next(records, None)
                yield from problems
                if record is None:
                    return
                offset = records.offset  # this record's start, until it is read to its end
                raw, whole = _read_capped(record.raw_stream, max_payload)
                missing = getattr(record.raw_stream, "limit", 0)  # bytes Content-Length promised
                with _warnings_as_problems(where, offset) as problems:
                    records.read_to_end()
                yield from problems
                length = records.get_record_length()
                if missing:
                    yield WarcProblem(where, offset, f"record cut short: {missing} bytes missing")
                    return
                yield from _one_record(record, raw, whole, file, where, offset, length)
                offset = records.offset  # the next record's start
        except Exception as e:  # noqa: BLE001 - any parse failure is this record's problem
            yield WarcProblem(where, offset, f"unreadable record: {_error_text(e)}")
            start = _next_record_start(fh, offset + 1)


@contextlib.contextmanager
def _warnings_as_problems(where: str, offset: int) -> Iterator[list[WarcProblem]]:
    """warcio prints some faults (a wrong Content-Length) to stderr: they become problems."""
    problems: list[WarcProblem] = []
    text = io.StringIO()
    with contextlib.redirect_stderr(text):
        yield problems
    if text.getvalue().strip():
        problems.append(WarcProblem(where, offset, _warning_text(text.getvalue())))


def _warning_text(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return "; ".join(lines[:2])[:300]


def _error_text(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]


def _one_record(
    record: ArcWarcRecord,
    raw: bytes,
    whole: bool,
    file: WarcFile,
    where: str,
    offset: int,
    length: int,
) -> Iterator[WebRecord | WarcProblem]:
    """The record as plain data, after the problems found in it (payload over the cap, digest)."""
    headers = record.rec_headers
    record_id = headers.get_header("WARC-Record-ID") or ""
    uri = headers.get_header("WARC-Target-URI")
    if not whole:
        yield WarcProblem(where, offset, "payload over the size cap", record_id, uri)
        return
    checker = record.digest_checker
    for text in checker.problems:
        yield WarcProblem(where, offset, text, record_id, uri)
    warc_date = headers.get_header("WARC-Date") or ""
    date = normalise_date(warc_date)
    if date is None:
        yield WarcProblem(where, offset, f"bad WARC-Date: {warc_date[:40]!r}", record_id, uri)
        return
    http = record.http_headers
    payload = _decoded(record, raw)
    status = _status(http, record.rec_type)
    http_pairs = tuple((str(k), str(v)) for k, v in http.headers) if http else ()
    location = _first(http_pairs, "Location")
    if uri and location and status in REDIRECTS:
        location = urljoin(uri, location)
    else:
        location = None
    content_type = _first(http_pairs, "Content-Type") if http else record.content_type
    yield WebRecord(
        file=file,
        offset=offset,
        length=length,
        type=record.rec_type or "",
        record_id=record_id,
        target_uri=uri,
        date=date,
        warc_date=warc_date,
        warc_headers=tuple((str(k), str(v)) for k, v in headers.headers),
        status=status,
        status_line=http.statusline if http else None,
        http_protocol=http.protocol if http else None,
        http_headers=http_pairs,
        content_type=content_type,
        payload=payload,
        transferred=raw if raw != payload else None,
        payload_digest=headers.get_header("WARC-Payload-Digest"),
        digest_ok=(not checker.problems) if checker.passed is not None else None,
        location=location,
    )


def _read_capped(stream: IO[bytes], cap: int) -> tuple[bytes, bool]:
    """The stream's bytes up to cap; past it, drained (so digests are still checked)."""
    parts: list[bytes] = []
    size = 0
    whole = True
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > cap:
            whole = False
            parts.clear()
        elif whole:
            parts.append(chunk)
    return b"".join(parts), whole


def _decoded(record: ArcWarcRecord, raw: bytes) -> bytes:
    """The payload de-chunked and decoded per its HTTP headers, by warcio's own readers."""
    if not record.http_headers or not raw:
        return raw
    copy = ArcWarcRecord(
        record.format,
        record.rec_type,
        record.rec_headers,
        io.BytesIO(raw),
        record.http_headers,
        record.content_type,
        len(raw),
    )
    try:
        return copy.content_stream().read()
    except Exception:  # noqa: BLE001 - a body that does not decode is kept as transferred
        return raw


def _status(http: object, rec_type: str) -> int | None:
    if http is None or rec_type == "request":
        return None
    try:
        return int(http.get_statuscode())  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None


def _next_record_start(fh: IO[bytes], position: int) -> int | None:
    """Where the next record begins at or after position: a gzip member or a WARC/ line."""
    fh.seek(0)
    gzipped = fh.read(3) == GZIP_MAGIC
    fh.seek(position)
    carry = b""
    base = position
    while True:
        chunk = fh.read(CHUNK)
        if not chunk:
            return None
        window = carry + chunk
        origin = base - len(carry)
        for hit in _candidates(window, gzipped):
            if _starts_record(fh, origin + hit, gzipped):
                return origin + hit
        fh.seek(base + len(chunk))
        base += len(chunk)
        carry = window[-16:]


def _candidates(window: bytes, gzipped: bool) -> Iterator[int]:
    needles = (GZIP_MAGIC,) if gzipped else tuple(b"\n" + s for s in WARC_STARTS)
    hits = set()
    for needle in needles:
        at = window.find(needle)
        while at != -1:
            hits.add(at if gzipped else at + 1)
            at = window.find(needle, at + 1)
    yield from sorted(hits)


def _starts_record(fh: IO[bytes], position: int, gzipped: bool) -> bool:
    fh.seek(position)
    head = fh.read(4096)
    if not gzipped:
        return head.startswith(WARC_STARTS)
    try:
        text = zlib.decompressobj(31).decompress(head, 16)
    except zlib.error:
        return False
    return text.startswith(b"WARC/")
