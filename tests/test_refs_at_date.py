"""Version at a date: `DOC@2024-05-01[T12:00:00Z]` names the version in force, for every source."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.refs import RefError, parse_moment, resolve_version, version_at
from archive.store import Store
from tests.conftest import run_cli
from tests.gitrepo import Repo
from tests.webwarcs import Warc, html

URI = "https://news.example.org/@desk/story"


@pytest.fixture
def web(tmp_path, db):
    warc = tmp_path / "c.warc.gz"
    with Warc(warc) as w:
        w.response(URI, "2024-05-01T10:00:00Z", html("S", "first"))
        w.response(URI, "2024-05-03T10:00:00Z", html("S", "second"))
        w.response(URI, "2024-05-05T10:00:00Z", b"", status="410 Gone")
    assert run_cli("ingest", "--warc", str(warc), db=db)[0] == 0
    return db


@pytest.mark.parametrize(
    "text,moment",
    [
        ("2024-05-01", "2024-05-01T00:00:00Z"),
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"),
        ("2024-05-01T12:00", "2024-05-01T12:00:00Z"),
        ("2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00Z"),
        ("latest", None),
        ("3", None),
        ("-1", None),
    ],
)
def test_parse_moment(text, moment):
    assert parse_moment(text) == moment


def test_bad_dates_are_ref_errors():
    with pytest.raises(RefError):
        parse_moment("2024-13-45")


@pytest.mark.parametrize(
    "at,seq",
    [
        ("2024-05-01T10:00:00Z", 1),
        ("2024-05-02", 1),
        ("2024-05-03T09:59:59Z", 1),
        ("2024-05-03T10:00:00Z", 2),
        ("2024-05-04T00:00:00+02:00", 2),
        ("2024-05-06", 3),
    ],
)
def test_web_document_at_a_date(web, at, seq):
    with Store(web) as store:
        assert resolve_version(store, f"{URI}@{at}").version["seq"] == seq


def test_at_signs_in_uris_and_dates_before_the_first(web):
    with Store(web) as store:
        assert resolve_version(store, URI).version["seq"] == 3  # "@desk/story" is no version
        assert resolve_version(store, f"{URI}@1").version["seq"] == 1
        with pytest.raises(RefError, match="no version .* at or before"):
            resolve_version(store, f"{URI}@2024-04-30")


def test_show_and_diff_take_dates(web):
    code, out, _ = run_cli("show", f"{URI}@2024-05-02", db=web)
    assert code == 0 and "first" in out
    code, out, err = run_cli("show", f"{URI}@2024-05-06", db=web)
    assert code == 1 and "deletion" in (out + err)
    code, out, _ = run_cli("diff", f"{URI}@2024-05-02", f"{URI}@2024-05-04", db=web)
    assert code == 0 and "second" in out


def test_git_and_folder_sources_at_a_date(tmp_path, db):
    repo = Repo(tmp_path / "repo")
    repo.write("a.txt", b"one\n")
    repo.commit("one")
    repo.write("a.txt", b"two\n")
    repo.commit("two")
    assert run_cli("ingest", "--git", str(repo.root), db=db)[0] == 0
    versions = json.loads(run_cli("log", "a.txt", "--json", db=db)[1])["versions"]
    second = versions[1]["observed_at"]
    with Store(db) as store:
        assert resolve_version(store, f"a.txt@{second}").version["seq"] == 2
        assert resolve_version(store, f"a.txt@{versions[0]['observed_at']}").version["seq"] == 1
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "b.txt").write_text("b\n")
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    code, out, _ = run_cli("show", "b.txt@2999-01-01", db=db)
    assert code == 0 and out == "b\n"
    assert run_cli("show", "b.txt@2000-01-01", db=db)[0] == 2  # no version then


DAYS = st.integers(1, 28).map(lambda d: f"2024-05-{d:02d}T10:00:00Z")


@given(st.lists(DAYS, min_size=1, max_size=8), DAYS)
def test_version_at_is_the_last_observed_at_or_before(days, moment):
    versions = [{"seq": n + 1, "observed_at": day} for n, day in enumerate(days)]
    found = version_at(versions, moment)
    before = [v for v in versions if v["observed_at"] <= moment]
    if not before:
        assert found is None
        return
    latest = max(v["observed_at"] for v in before)
    assert found["observed_at"] == latest
    assert found["seq"] == max(v["seq"] for v in before if v["observed_at"] == latest)
