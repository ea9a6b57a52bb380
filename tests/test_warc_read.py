"""ingest.warc: WARC/WACZ files written by warcio and `wacz create`, read back record by record."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.hashing import blake3_file
from ingest.warc import WarcProblem, WebRecord, normalise_date, read_capture
from tests.webwarcs import Warc, chunked, gzip_body, html, make_wacz

URI = "https://news.example.org/story"


def split(items):
    records = [i for i in items if isinstance(i, WebRecord)]
    problems = [i for i in items if isinstance(i, WarcProblem)]
    return records, problems


@pytest.fixture
def crawl(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """One WARC with every kind of record a crawl holds."""
    path = tmp_path / "crawl.warc.gz"
    ids = {}
    with Warc(path) as w:
        ids["first"] = w.response(URI, "2024-05-01T10:00:00Z", html("Story", "First text."))
        ids["request"] = w.request(URI, "2024-05-01T10:00:00Z", ids["first"])
        ids["gzip"] = w.response(
            URI + "/gz",
            "2024-05-01T10:01:00Z",
            gzip_body(html("Zipped", "Compressed text.")),
            headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        )
        ids["chunked"] = w.response(
            URI + "/chunks",
            "2024-05-01T10:02:00Z",
            chunked(html("Chunks", "Text in pieces.")),
            headers=[("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")],
        )
        ids["gone"] = w.response(
            URI + "/old", "2024-05-01T10:03:00.250Z", b"Not here", status="404 Not Found"
        )
        ids["moved"] = w.response(
            URI + "/moved",
            "2024-05-01T10:04:00Z",
            b"",
            status="301 Moved Permanently",
            headers=[("Location", "../elsewhere?x=1")],
        )
        ids["revisit"] = w.revisit(
            URI,
            "2024-05-02T10:00:00Z",
            "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ids["first"],
            "2024-05-01T10:00:00Z",
        )
        ids["metadata"] = w.metadata(URI, "2024-05-01T10:00:00Z", ids["first"], "via: seed\r\n")
        ids["resource"] = w.resource(
            "urn:text:notes", "2024-05-01T11:00:00Z", b"plain notes", "text/plain"
        )
    return path, ids


def test_every_record_read_as_plain_data(crawl):
    path, ids = crawl
    records, problems = split(list(read_capture(str(path))))
    assert problems == []
    by_id = {r.record_id: r for r in records}
    assert [r.record_id for r in records] == list(ids.values())

    first = by_id[ids["first"]]
    assert (first.type, first.target_uri, first.date, first.status) == (
        "response",
        URI,
        "2024-05-01T10:00:00Z",
        200,
    )
    assert first.payload == html("Story", "First text.")
    assert first.transferred is None
    assert first.content_type == "text/html; charset=utf-8"
    assert first.digest_ok is True and first.payload_digest.startswith("sha1:")
    assert first.file.blake3 == blake3_file(path) and first.file.member is None

    request = by_id[ids["request"]]
    assert request.type == "request" and request.concurrent_to == (ids["first"],)
    assert request.status is None and request.status_line == "GET /story"

    zipped = by_id[ids["gzip"]]
    assert zipped.payload == html("Zipped", "Compressed text.")
    assert zipped.transferred == gzip_body(html("Zipped", "Compressed text."))
    assert zipped.digest_ok is True  # the digest is over the bytes as transferred

    pieces = by_id[ids["chunked"]]
    assert pieces.payload == html("Chunks", "Text in pieces.")
    assert pieces.transferred == chunked(html("Chunks", "Text in pieces."))

    gone = by_id[ids["gone"]]
    assert (gone.status, gone.date, gone.warc_date) == (
        404,
        "2024-05-01T10:03:00Z",
        "2024-05-01T10:03:00.250Z",
    )

    moved = by_id[ids["moved"]]
    assert moved.status == 301 and moved.location == "https://news.example.org/elsewhere?x=1"
    assert first.location is None

    revisit = by_id[ids["revisit"]]
    assert revisit.type == "revisit" and revisit.refers_to == ids["first"]
    assert revisit.header("WARC-Refers-To-Target-URI") == URI

    assert by_id[ids["metadata"]].refers_to == ids["first"]
    resource = by_id[ids["resource"]]
    assert (resource.status, resource.content_type, resource.payload) == (
        None,
        "text/plain",
        b"plain notes",
    )


def test_offsets_point_at_the_records_in_the_file(crawl):
    path, _ = crawl
    data = path.read_bytes()
    for record in split(read_capture(str(path)))[0]:
        member = gzip.decompress(data[record.offset : record.offset + record.length])
        assert member.startswith(b"WARC/1.")
        assert record.record_id.encode() in member


@pytest.mark.parametrize("gz", [True, False])
def test_a_broken_record_is_a_problem_and_the_rest_is_read(tmp_path, gz):
    path = tmp_path / ("broken.warc.gz" if gz else "broken.warc")
    with Warc(path, gzip=gz) as w:
        before = w.response(URI, "2024-05-01T10:00:00Z", b"before")
        w.raw(
            b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 12\r\n\r\nnot a record\r\n\r\n"[5:]
        )
        after = w.response(URI, "2024-05-02T10:00:00Z", b"after")
    records, problems = split(list(read_capture(str(path))))
    assert [r.record_id for r in records] == [before, after]
    assert [r.payload for r in records] == [b"before", b"after"]
    assert len(problems) == 1 and "unreadable record" in problems[0].reason
    garbage_offset = problems[0].offset
    assert records[0].offset < garbage_offset < records[1].offset


def test_a_truncated_file_ends_in_a_problem(tmp_path):
    path = tmp_path / "cut.warc"
    with Warc(path, gzip=False) as w:
        kept = w.response(URI, "2024-05-01T10:00:00Z", b"kept")
        w.response(URI, "2024-05-02T10:00:00Z", b"x" * 5000)
    path.write_bytes(path.read_bytes()[:-3000])
    records, problems = split(list(read_capture(str(path))))
    assert records[0].record_id == kept
    assert problems, "a record cut short must not pass silently"


def test_payload_digest_mismatch_is_a_problem(tmp_path):
    path = tmp_path / "bad.warc.gz"
    with Warc(path) as w:
        rid = w.response(
            URI,
            "2024-05-01T10:00:00Z",
            b"tampered",
            extra={"WARC-Payload-Digest": "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"},
        )
    records, problems = split(list(read_capture(str(path))))
    assert records[0].digest_ok is False
    assert [(p.record_id, p.target_uri) for p in problems] == [(rid, URI)]
    assert "payload digest failed" in problems[0].reason


def test_bad_date_and_size_cap_are_problems(tmp_path):
    path = tmp_path / "odd.warc.gz"
    with Warc(path) as w:
        w.response(URI, "yesterday", b"when?")
        w.response(URI, "2024-05-01T10:00:00Z", b"y" * 1000)
        small = w.response(URI, "2024-05-02T10:00:00Z", b"small")
    records, problems = split(list(read_capture(str(path), max_payload=100)))
    assert [r.record_id for r in records] == [small]
    assert ["WARC-Date" in problems[0].reason, "size cap" in problems[1].reason] == [True, True]


def test_wacz_read_through_its_datapackage(tmp_path):
    one, two = tmp_path / "one.warc.gz", tmp_path / "two.warc.gz"
    with Warc(one) as w:
        a = w.response(URI, "2024-05-01T10:00:00Z", b"one")
    with Warc(two) as w:
        b = w.response(URI, "2024-05-03T10:00:00Z", b"two")
    wacz = make_wacz(tmp_path / "crawl.wacz", one, two)
    records, problems = split(list(read_capture(str(wacz))))
    assert problems == []
    assert sorted((r.record_id, r.file.member) for r in records) == sorted(
        [(a, "archive/one.warc.gz"), (b, "archive/two.warc.gz")]
    )
    assert {r.file.blake3 for r in records} == {blake3_file(wacz)}


def _rewrite_zip(source: Path, target: Path, change) -> None:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info, data)


def test_wacz_member_not_matching_its_hash_is_a_problem(tmp_path):
    warc = tmp_path / "one.warc.gz"
    with Warc(warc) as w:
        w.response(URI, "2024-05-01T10:00:00Z", b"one")
    good = make_wacz(tmp_path / "good.wacz", warc)
    extra = gzip.compress(b"WARC/1.0\r\nWARC-Type: resource\r\nContent-Length: 0\r\n\r\n\r\n\r\n")

    def tamper(name, data):
        return data + extra if name.endswith(".warc.gz") else data

    _rewrite_zip(good, tmp_path / "bad.wacz", tamper)
    _, problems = split(list(read_capture(str(tmp_path / "bad.wacz"))))
    assert any("datapackage.json sha256" in p.reason for p in problems)

    _rewrite_zip(good, tmp_path / "bare.wacz", lambda n, d: None if n == "datapackage.json" else d)
    records, problems = split(list(read_capture(str(tmp_path / "bare.wacz"))))
    assert records == [] and "datapackage.json" in problems[0].reason

    package = json.loads(zipfile.ZipFile(good).read("datapackage.json"))
    assert package["resources"], "wacz create lists the WARCs"


def test_missing_file_is_a_problem(tmp_path):
    assert split(list(read_capture(str(tmp_path / "nope.warc"))))[1][0].reason.startswith(
        "cannot read"
    )


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        ("2024-05-01T10:00:00.999999Z", "2024-05-01T10:00:00Z"),
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"),
        ("2024-05-01", "2024-05-01T00:00:00Z"),
        ("soon", None),
    ],
)
def test_normalise_date(value, expected):
    assert normalise_date(value) == expected


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=300), size=st.integers(1, 40), encoded=st.booleans())
def test_transfer_codings_decode_to_the_body(tmp_path, body, size, encoded):
    wire = gzip_body(body) if encoded else body
    headers = [("Content-Type", "application/octet-stream"), ("Transfer-Encoding", "chunked")]
    if encoded:
        headers.append(("Content-Encoding", "gzip"))
    path = tmp_path / "codings.warc"
    with Warc(path, gzip=False) as w:
        w.response(URI, "2024-05-01T10:00:00Z", chunked(wire, size), headers=headers)
    records, problems = split(list(read_capture(str(path))))
    assert problems == [] and records[0].payload == body and records[0].digest_ok is True
