"""ingest.capture against a local server on 127.0.0.1: WARC records, robots, delays, caps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.capture import USER_AGENT, CaptureOptions, capture
from ingest.warc import WarcProblem, WebRecord, read_capture
from tests.webserver import Page, Site, serve

FAST = CaptureOptions(timeout=5, delay=0, trust_env=False)


@pytest.fixture
def site():
    pages = {
        "/robots.txt": Page(b"User-agent: *\nDisallow: /private\n", headers=[]),
        "/story": Page(b"<html><body><p>First text.</p></body></html>"),
        "/zipped": Page(b"<p>compressed</p>" * 50, gzip=True, chunked=True),
        "/old": Page(b"", 301, [("Location", "/story")]),
        "/private": Page(b"secret"),
    }
    with serve(Site(pages)) as s:
        yield s


def records_of(path) -> list[WebRecord]:
    items = list(read_capture(str(path)))
    assert [i for i in items if isinstance(i, WarcProblem)] == []
    return [i for i in items if isinstance(i, WebRecord)]


def test_capture_twice_with_the_page_changed(site, tmp_path):
    first = tmp_path / "one.warc.gz"
    exchanges = capture([site.base + "/story"], str(first), FAST)
    assert [(e.url, e.status, e.problem) for e in exchanges] == [(site.base + "/story", 200, None)]
    site.pages["/story"] = Page(b"<html><body><p>Edited text.</p></body></html>")
    second = tmp_path / "two.warc.gz"
    capture([site.base + "/story"], str(second), FAST)

    bodies = []
    for path in (first, second):
        records = records_of(path)
        types = [r.type for r in records]
        assert types == ["warcinfo", "response", "request", "response", "request"]
        robots, _, page, request = records[1:]
        assert robots.target_uri == site.base + "/robots.txt"
        assert page.target_uri == site.base + "/story" and page.status == 200
        assert request.concurrent_to == (page.record_id,)
        assert request.http_header("User-Agent") == USER_AGENT
        assert page.digest_ok is True
        bodies.append(page.payload)
    assert bodies == [
        b"<html><body><p>First text.</p></body></html>",
        b"<html><body><p>Edited text.</p></body></html>",
    ]
    assert all(agent == USER_AGENT for _, agent in site.requests)
    assert not list(tmp_path.glob("*.part"))


def test_chunked_gzip_body_recorded_as_sent(site, tmp_path):
    path = tmp_path / "z.warc.gz"
    capture([site.base + "/zipped"], str(path), FAST)
    page = records_of(path)[-2]
    assert page.payload == b"<p>compressed</p>" * 50
    assert page.http_header("Content-Encoding") == "gzip"
    assert page.http_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert page.http_header("Transfer-Encoding") is None
    assert page.transferred is not None and page.digest_ok is True


def test_redirect_followed_and_recorded(site, tmp_path):
    path = tmp_path / "r.warc.gz"
    exchanges = capture([site.base + "/old"], str(path), FAST)
    assert [(e.status, e.location) for e in exchanges] == [
        (301, site.base + "/story"),
        (200, None),
    ]
    responses = [r for r in records_of(path) if r.type == "response"][1:]
    assert [(r.status, r.location) for r in responses] == [
        (301, site.base + "/story"),
        (200, None),
    ]


def test_robots_honoured_unless_told_otherwise(site, tmp_path):
    path = tmp_path / "p.warc.gz"
    exchanges = capture([site.base + "/private"], str(path), FAST)
    assert exchanges[0].problem == "disallowed by robots.txt"
    assert "/private" not in [p for p, _ in site.requests]
    responses = [r.target_uri for r in records_of(path) if r.type == "response"]
    assert responses == [site.base + "/robots.txt"]

    ignore = CaptureOptions(timeout=5, delay=0, trust_env=False, robots=False)
    exchanges = capture([site.base + "/private"], str(tmp_path / "q.warc.gz"), ignore)
    assert (exchanges[0].status, exchanges[0].problem) == (200, None)


def test_robots_unreachable_disallows_everything(site, tmp_path):
    site.pages["/robots.txt"] = Page(b"down", 503)
    exchanges = capture([site.base + "/story"], str(tmp_path / "d.warc.gz"), FAST)
    assert exchanges[0].problem == "disallowed by robots.txt"
    site.pages["/robots.txt"] = Page(b"gone", 404)
    exchanges = capture([site.base + "/story"], str(tmp_path / "e.warc.gz"), FAST)
    assert exchanges[0].status == 200


def test_polite_delay_per_host(site, tmp_path):
    clock = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    options = CaptureOptions(timeout=5, delay=2.5, trust_env=False)
    other = site.base.replace("127.0.0.1", "localhost")
    urls = [site.base + "/story", site.base + "/story", other + "/story"]
    capture(urls, str(tmp_path / "w.warc.gz"), options, sleep=sleep, clock=lambda: clock[0])
    # robots.txt then two pages on 127.0.0.1 (two waits); robots.txt then a page on localhost (one)
    assert waits == [2.5, 2.5, 2.5]


def test_size_cap_timeout_and_bad_urls_are_problems(site, tmp_path):
    options = CaptureOptions(timeout=0.3, delay=0, trust_env=False, robots=False, max_bytes=20)
    urls = [site.base + "/story", site.base + "/hang", "ftp://example.org/x", "not a url"]
    exchanges = capture(urls, str(tmp_path / "c.warc.gz"), options)
    problems = [e.problem for e in exchanges]
    assert problems[0] == "body over 20 bytes"
    assert problems[1].startswith("fetch failed: ReadTimeout")
    assert problems[2:] == ["not an http(s) URL", "not an http(s) URL"]
    assert records_of(tmp_path / "c.warc.gz")[0].type == "warcinfo"


def test_capture_date_is_the_fetch_time(site, tmp_path):
    path = tmp_path / "t.warc.gz"
    moment = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    capture([site.base + "/story"], str(path), FAST, now=lambda: moment)
    assert {r.date for r in records_of(path)[1:]} == {"2024-05-01T12:00:00Z"}
