"""Extractors over the two seed documents, fixtures, determinism and hostile text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.extract import EXTRACTOR_VERSION, FIELDS, Extraction, extract
from ingest.extract.base import Context
from ingest.extract.byline import find_byline
from ingest.extract.counts import counts, line_endings
from ingest.extract.dates import find_dateline, find_dates
from ingest.extract.language import detect_language
from ingest.extract.listings import find_comments, find_tags
from ingest.extract.quotes import Quote, find_quotes
from ingest.extract.title import first_meaningful_line

ROOT = Path(__file__).parent.parent
FIX = Path(__file__).parent / "fixtures" / "extract"
SEED0 = "corpus/000_7757f9e639917cb7.txt"
SEED4 = "corpus/004_2437b915e45a5cf0.txt"


def run(path: str) -> Extraction:
    data = (ROOT / path).read_bytes()
    return extract(
        data.decode("utf-8"), media_type="text/plain", path=path, encoding="utf-8", data=data
    )


def values(e: Extraction, key: str) -> list[tuple[str, str | None]]:
    return [(v, d) for k, _, v, d in e.items if k == key]


@pytest.fixture(scope="module")
def seed0() -> Extraction:
    return run(SEED0)


@pytest.fixture(scope="module")
def seed4() -> Extraction:
    return run(SEED4)


# --- seeds ------------------------------------------------------------------------------------


def test_seed0_scalars(seed0: Extraction) -> None:
    f = seed0.fields
    assert seed0.problems == []
    assert f["title"] == "Iran and Russia can cooperate to contain the US's threat to the humanity"
    assert f["language"] == "en"
    assert f["corpus_number"] == "000" and f["identifier"] == "7757f9e639917cb7"
    assert f["first_date"] == "2018-09-07"
    assert f["line_endings"] == "LF"
    assert f["media_type"] == "text/plain" and f["encoding"] == "utf-8"
    assert f["byline"] is None and f["dateline"] is None
    assert f["extractor_version"] == EXTRACTOR_VERSION
    assert set(FIELDS) <= set(f)


def test_seed0_tags_and_comments(seed0: Extraction) -> None:
    assert values(seed0, "tag") == [("Iran", None), ("Russia", None), ("Syria Summit", None)]
    comments = values(seed0, "comment")
    assert [d for _, d in comments] == ["2019-01-06T10:27", "2019-02-06T03:41"]
    assert comments[0][0] == (
        "Masha'ALLAH, adequate coverage of Rahbar e Moazzam's "
        "(Allah'humma'sualle'ala'Muhammad'wa'Aale'Muhammad) important statements."
    )
    assert comments[1][0].startswith("In Name of Merciful God: First, make America understood")
    assert comments[1][0].endswith(
        'Finally, "do what you have to do", not to wait for anyone or anything.'
    )
    assert seed0.fields["comment_count"] == 2


def test_seed0_dates(seed0: Extraction) -> None:
    assert values(seed0, "date") == [
        ("2018-09-07", "September 7, 2018"),
        ("2019-01-06T10:27", "2019-01-06 10:27"),
        ("2019-02-06T03:41", "2019-02-06 03:41"),
    ]


def test_seed0_quotes(seed0: Extraction) -> None:
    quotes = values(seed0, "quote")
    assert (
        "The cooperation between Iran and Russia in the matter of Syria was a prominent example "
        "and a very good experience of the two countries’ bilateral cooperation, which truly "
        "illustrated convergence.",
        "“”",
    ) in quotes  # Khamenei; the apostrophe in countries’ is not a boundary
    assert (
        "In the negotiations, we stressed on expanding relations between the two countries in "
        "all areas, especially via economic and commercial cooperation.",
        "“”",
    ) in quotes  # Putin
    # Putin's last quote is never closed: it runs to its paragraph end, marks = opener only.
    last = [q for q in quotes if q[1] == "“"]
    assert len(last) == 1 and last[0][0].startswith("The U.S. has created a difficult situation")
    assert last[0][0].endswith("look for ways to maintain the JCPOA.")
    assert ("do what you have to do", '""') in quotes  # straight quotes in a comment


def test_seed4(seed4: Extraction) -> None:
    f = seed4.fields
    assert seed4.problems == []
    assert f["title"] == (
        "Khamenei: Iran, Russia Should Cooperate to Isolate U.S., Foster Middle East Stability"
    )
    assert f["language"] == "en"
    assert f["corpus_number"] == "004" and f["identifier"] == "2437b915e45a5cf0"
    assert values(seed4, "date") == [] and f["first_date"] is None
    assert values(seed4, "date_partial") == [
        ("--11-18", "November 18"),
        ("--10-13", "October 13"),
    ]
    assert [v for v, _ in values(seed4, "year")] == ["2015", "1979", "1991"]
    assert values(seed4, "weekday") == [("Wednesday", None)]
    assert values(seed4, "tag") == [] and values(seed4, "comment") == []


def test_seed4_quotes(seed4: Extraction) -> None:
    quotes = [v for v, _ in values(seed4, "quote")]
    assert quotes[0] == (
        "Our cooperation can isolate America … The failure of U.S.-backed terrorists in Syria "
        "cannot be denied but Americans continue their plots,"
    )  # Khamenei
    assert (
        "We are managing to coordinate our positions on the Syrian issue. We oppose any "
        "unilateral change in the multilateral nuclear deal,"
    ) in quotes  # Putin
    assert quotes[2].startswith("America’s hostility is towards the Iranian nation")
    # Scare quotes under three words are not quotations.
    assert "regional terrorism" not in quotes and "very productive" not in quotes
    assert len(quotes) == 4


def test_seed_quote_offsets_cover_marks() -> None:
    text = (ROOT / SEED4).read_text(encoding="utf-8")
    for q in find_quotes(text):
        assert text[q.start] == q.marks[0]
        assert text[q.end - 1] == q.marks[-1]
        assert q.text in text[q.start : q.end]


# --- single extractors ------------------------------------------------------------------------


def test_find_quotes_marks() -> None:
    text = '«Nous sommes prêts à tout» dit-il. „Wir schaffen das heute“ und "plain straight quote".'
    assert [(q.text, q.marks) for q in find_quotes(text)] == [
        ("Nous sommes prêts à tout", "«»"),
        ("Wir schaffen das heute", "„“"),
        ("plain straight quote", '""'),
    ]
    assert find_quotes("“two words”") == []
    assert find_quotes("“two words”", min_words=2) == [Quote("two words", 0, 11, "“”")]


def test_find_quotes_apostrophes_and_unbalanced() -> None:
    assert find_quotes("Russia’s and don’t and it's fine, the 12\" pipe") == []
    text = "“never closed here\n\n“but this one is closed”"
    assert [(q.text, q.marks) for q in find_quotes(text)] == [
        ("never closed here", "“"),
        ("but this one is closed", "“”"),
    ]
    assert find_quotes("” ” “ “ « « » „") == []


def test_title_caption_skipped_only_before_headline() -> None:
    caption = "\n\nAyatollah Khamenei Mr. Putin\n\nIran and Russia can cooperate\n"
    assert first_meaningful_line(caption) == "Iran and Russia can cooperate"
    assert first_meaningful_line("Title\n\nSeptember 7, 2018") == "Title"
    assert first_meaningful_line("Jane Doe Smith\n\nOne Two Three Four Five") == "Jane Doe Smith"
    assert first_meaningful_line("A plain first line.\nSecond line here\n") == "A plain first line."
    assert first_meaningful_line("   \n12345\n") is None


def test_byline() -> None:
    assert find_byline("Headline\nBy Jane Doe and John Roe | Reuters\n\nText.") == (
        "Jane Doe and John Roe"
    )
    assert find_byline("Headline\nby the way, this is not a byline at all.\n") is None


def test_dates_and_dateline() -> None:
    found = find_dates("On 3rd of March 2020, 12/05/2021, 25/12/2021 and 2021-02-30.")
    assert found == [
        ("date", "2020-03-03", "3rd of March 2020"),
        ("date_ambiguous", "12/05/2021", "12/05/2021"),
        ("date", "2021-12-25", "25/12/2021"),
    ]
    assert find_dateline("TEHRAN, Sept 7 (Reuters) — Iran said") == "TEHRAN, Sept 7 (Reuters)"
    assert find_dateline("Khamenei: Iran - x") is None


def test_tags_and_comments_fixtures() -> None:
    text = "Body.\n\n- alpha\n- beta gamma\n\n• 2020-01-02 03:04:05\n  Nice.\n  Really.\n"
    assert find_tags(text) == ["alpha", "beta gamma"]
    assert find_comments(text) == [("Nice. Really.", "2020-01-02T03:04")]
    assert find_tags("- a full sentence that is long.\n- another one here.\n") == []


def test_counts_and_line_endings() -> None:
    assert counts("one two\r\nthree — four\r\n") == {
        "word_count": 4,
        "char_count": 23,
        "line_count": 2,
    }
    assert [line_endings(s) for s in ("a\nb", "a\r\nb", "a\rb", "a\r\nb\n", "ab")] == [
        "LF",
        "CRLF",
        "CR",
        "mixed",
        "none",
    ]
    assert line_endings(b"a\r\nb\r\n") == "CRLF"


def test_language() -> None:
    assert detect_language((FIX / "french.txt").read_text(encoding="utf-8")) == "fr"
    assert detect_language((FIX / "arabic.txt").read_text(encoding="utf-8")) == "ar"
    assert detect_language("12 34 ..") is None


# --- runner -----------------------------------------------------------------------------------


def test_deterministic(seed0: Extraction) -> None:
    assert run(SEED0) == seed0
    assert list(run(SEED0).fields) == sorted(seed0.fields)


def test_failing_extractor_becomes_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.extract as ex

    def boom(text: str, ctx: Context):
        raise RuntimeError("bad\nthing")

    patched = tuple((n, boom if n == "dates" else f) for n, f in ex.EXTRACTORS)
    monkeypatch.setattr(ex, "EXTRACTORS", patched)
    e = ex.extract("Title\n\nSeptember 7, 2018", media_type="text/plain", path="x", encoding=None)
    assert e.problems == ["dates: RuntimeError: bad thing"]
    assert e.fields["title"] == "Title" and e.fields["word_count"] == 4


def test_ordinals_unique_per_key() -> None:
    e = run(SEED0)
    keys = [(k, n) for k, n, _, _ in e.items]
    assert len(keys) == len(set(keys))


def test_none_text_and_binary() -> None:
    e = extract(None, media_type="image/png", path="a.png", encoding=None, data=b"\x89PNG")
    assert e.problems == [] and e.fields["word_count"] == 0 and e.fields["line_endings"] is None


# About 200 KB each: big enough that quadratic backtracking would hang the suite visibly.
HOSTILE = [
    "a" * 200_000,
    "“" * 40_000 + "x" * 40_000,
    '"' * 60_000 + " a" * 20_000,
    "\x00" * 10_000 + "text\x00with NULs",
    "\u202eevil right-to-left override\u202c and \u2066isolates\u2069 " * 400,
    "<script>alert('x')</script>" * 4_000,
    "September " * 20_000 + "7, 2018",
    "• " * 40_000,
    "---\n" + "a: [" * 5_000,
    "1" * 100_000 + "-" + "2" * 100_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_does_not_crash(text: str) -> None:
    for media in ("text/plain", "text/markdown"):
        e = extract(text, media_type=media, path="hostile.txt", encoding="utf-8")
        assert all("\n" not in p for p in e.problems)
        assert e.fields["char_count"] == len(text)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=500))
def test_extract_total_and_deterministic(text: str) -> None:
    a = extract(text, media_type="text/plain", path="t.txt", encoding="utf-8")
    b = extract(text, media_type="text/plain", path="t.txt", encoding="utf-8")
    assert a == b
    assert a.fields["char_count"] == len(text)
    for q in find_quotes(text):
        assert 0 <= q.start < q.end <= len(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab1_ -—…,.\n\t\u00a0\u2003é٣²“”"')), max_size=60))
def test_word_count_is_tokens_with_a_letter_or_digit(text: str) -> None:
    from ingest.extract.counts import counts

    expected = sum(1 for token in text.split() if any(c.isalnum() for c in token))
    assert counts(text)["word_count"] == expected
