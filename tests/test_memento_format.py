"""archive.publish.memento's pure parts: RFC 1123 dates, link-format TimeMaps, version in force."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.publish.memento import (
    http_date,
    in_force,
    link_entry,
    memento_link,
    parse_accept_datetime,
    request_target,
    timemap_json,
    timemap_link,
)


def test_http_date_is_rfc_1123_gmt():
    assert http_date("2024-05-01T10:00:00Z") == "Wed, 01 May 2024 10:00:00 GMT"
    assert http_date("2000-06-20T18:02:59") == "Tue, 20 Jun 2000 18:02:59 GMT"


def test_accept_datetime_parsed_and_refused():
    assert parse_accept_datetime("Wed, 01 May 2024 10:00:00 GMT") == "2024-05-01T10:00:00Z"
    for bad in ("yesterday", "", "2024-05-01"):
        with pytest.raises(ValueError):
            parse_accept_datetime(bad)


@given(st.datetimes(min_value=datetime(1970, 1, 2)))
def test_accept_datetime_round_trips_http_date(moment):
    iso = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parse_accept_datetime(http_date(iso)) == iso


TIMELINE = [
    {"id": 1, "observed_at": "2024-05-01T10:00:00Z", "blob": "a"},
    {"id": 2, "observed_at": "2024-05-03T10:00:00Z", "blob": None},
    {"id": 3, "observed_at": "2024-05-05T10:00:00Z", "blob": "b"},
]


@pytest.mark.parametrize(
    "moment,expected",
    [
        (None, 3),
        ("2024-04-01T00:00:00Z", 1),  # before the first: the first
        ("2024-05-01T10:00:00Z", 1),  # at a version's time: that version
        ("2024-05-02T00:00:00Z", 1),
        ("2024-05-03T10:00:00Z", 2),
        ("2024-05-04T00:00:00Z", 2),
        ("2030-01-01T00:00:00Z", 3),
    ],
)
def test_in_force(moment, expected):
    assert in_force(TIMELINE, moment)["id"] == expected


def test_in_force_of_nothing():
    assert in_force([], "2024-05-01T00:00:00Z") is None


def test_timemap_link_format():
    body = timemap_link(
        "https://news.example.org/story",
        "http://a/tm",
        "http://a/tg",
        [("http://a/v/1", "2024-05-01T10:00:00Z"), ("http://a/v/3", "2024-05-05T10:00:00Z")],
    )
    assert body == (
        '<https://news.example.org/story>; rel="original",\n'
        '<http://a/tm>; rel="self"; type="application/link-format";'
        ' from="Wed, 01 May 2024 10:00:00 GMT"; until="Sun, 05 May 2024 10:00:00 GMT",\n'
        '<http://a/tg>; rel="timegate",\n'
        '<http://a/v/1>; rel="first memento"; datetime="Wed, 01 May 2024 10:00:00 GMT",\n'
        '<http://a/v/3>; rel="last memento"; datetime="Sun, 05 May 2024 10:00:00 GMT"\n'
    )
    one = timemap_link("o", "tm", "tg", [("m", "2024-05-01T10:00:00Z")])
    assert 'rel="first last memento"' in one


def test_link_values_cannot_be_broken_out_of():
    assert (
        link_entry('https://x/"><evil', "original") == '<https://x/%22%3E%3Cevil>; rel="original"'
    )


def test_link_values_are_printable_ascii():
    entry = link_entry("https://x.org/café\r\nSet-Cookie: a=b", "original")
    assert entry == '<https://x.org/caf%C3%A9%0D%0ASet-Cookie:%20a=b>; rel="original"'


def test_memento_link_names_all_four():
    link = memento_link("o", "tg", "tm", "m", "2024-05-01T10:00:00Z")
    assert link == (
        '<o>; rel="original", <tg>; rel="timegate",'
        ' <tm>; rel="timemap"; type="application/link-format",'
        ' <m>; rel="memento"; datetime="Wed, 01 May 2024 10:00:00 GMT"'
    )


def test_timemap_json():
    data = timemap_json("o", {"link_format": "tm"}, "tg", [("m", "2024-05-01T10:00:00Z")])
    assert data["mementos"]["first"] == {"datetime": "2024-05-01T10:00:00Z", "uri": "m"}
    assert data["original_uri"] == "o" and data["timegate_uri"] == "tg"


def test_request_target_candidates():
    assert request_target("https://x.org/a%20b", "q=1") == [
        "https://x.org/a%20b?q=1",
        "https://x.org/a b?q=1",
    ]
    assert "https://x.org/a" in request_target("https:/x.org/a", "")
    assert request_target("notes/a.txt", "") == ["notes/a.txt"]
