"""Extraction over a text's passages gives exactly the whole-text extraction (hostile text)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive.record.metadata import prepare_content
from archive.store.passage_format import split_passages
from archive.store.passage_store import text_quotes
from ingest.extract import extract
from ingest.extract import pieces as pieces_module
from ingest.extract.counts import counts
from ingest.extract.dates import scan_dates
from ingest.extract.listings import find_comments, find_tags
from ingest.extract.pieces import PIECE_CACHE_CHARS, Pieces, ends_blank
from ingest.extract.quotes import find_quotes, segment_quotes

# Pieces of text that make extractors fire, and the characters that break naive splits:
# every line break (CR, CRLF, U+2028, U+0085), blank-line whitespace (\v \f), NUL,
# combining and right-to-left marks, a lone surrogate, and quotation marks of every kind.
TOKENS = [
    "\n", "\n", "\n\n", "\r", "\r\n", "\r\n\r\n", " \n", "\t\n", "\x0b\n", "\x0c", "\u2028",
    "\u0085", "\x00", "\u0301", "\u200f", "\ud800", " ", "  ", "word", "Tehran", "are", "it",
    "May 5", "5 May 2019", "2019-01-06", "2019-01-06 10:27", "10/11/2019", "1999", "Monday",
    "# Title", "## Sub", "```", "~~~", "• ", "- ", "* ", "Iran", "a b c d e", "By Jane Doe",
    "“", "”", '"', "«", "»", "„", "‚", "‘", "’", "「", "」", "『", "』", "don’t", "東京都",
    "---", "title: x", ".", ":", "—", "19٣٤", "٣٤٥٦", "Sept 7", "é 2020", "Dec.",
]  # fmt: skip
texts = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)
front = st.sampled_from(["", "---\ntitle: T\n---\n", "---\r\na: 1\r\n---\r\n  \n", "---\n---\n\n"])
MEDIA = ("text/markdown", "text/plain")


def whole_and_split(text: str, media_type: str):
    kw = {"media_type": media_type, "path": "d.md", "encoding": "utf-8"}
    return extract(text, **kw), extract(text, passages=split_passages(text), **kw)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(front, texts, st.sampled_from(MEDIA))
@example("", "• Iran\n• Russia\n\n• 2019-01-06 10:27\n\nGreat piece\n", "text/plain")
@example("", "“one two\n \nthree four”\n\n“five six seven”", "text/markdown")
@example("---\ntitle: T\n---\n", "\n\n# Head\n\n```\n# not\n```\n## Sub\n", "text/markdown")
@example("", "a\r\n\r\nb\r\n", "text/plain")
def test_extraction_over_passages_is_the_whole_texts(head: str, body: str, media: str) -> None:
    text = head + body
    whole, split = whole_and_split(text, media)
    assert split == whole
    assert (split.fields, split.items, split.problems) == (
        whole.fields,
        whole.items,
        whole.problems,
    )
    if split.quotes is not None:  # found over the whole text: the split's own quotations
        assert [(q.text, q.start) for q in split.quotes] == text_quotes(text)
        assert split.quotes == find_quotes(text)


@settings(max_examples=300, deadline=None)
@given(texts, st.lists(st.integers(min_value=0, max_value=400), max_size=8))
@example("a\r\n\r\nb", [2])  # a cut inside a CR LF
@example("• a\n• b\n• c\n\nx", [4])  # a cut inside a run of bullets
@example("“one two\n\nthree”", [10])
def test_any_cut_is_exact_or_refused(text: str, cuts: list[int]) -> None:
    """Pieces cut anywhere (not only after blank lines) give the whole text's answers: a
    cut that would change one makes them one piece."""
    at = sorted({c for c in cuts if 0 < c < len(text)})
    parts = [text[i:j] for i, j in zip([0, *at], [*at, len(text)], strict=True)]
    p = Pieces(text, parts)
    whole = counts(text)
    assert p.words_and_lines() == (whole["word_count"], whole["line_count"])
    dates, years, weekdays = scan_dates(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    assert p.dates() == (dates, years, weekdays)
    normal = "\n".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    assert p.tags() == find_tags(text, normal)
    if find_comments(text, normal):
        assert p.may_have_comments()
    assert p.quotes(text) == find_quotes(text)
    assert "\n".join(p.lines()) == normal


@settings(max_examples=300, deadline=None)
@given(texts)
def test_quotations_segment_by_segment_are_find_quotes(text: str) -> None:
    assert segment_quotes(text) == find_quotes(text)
    assert segment_quotes(text, []) == []  # no mark given, none looked for


@pytest.mark.parametrize(
    ("piece", "blank"),
    [("a\n\n", True), ("a\n \t\n", True), ("\n", True), ("a\r\n\r\n", True), ("a\r\r", True),
     ("a\n", False), ("a", False), ("", False), ("a\n\u2028\n", False), ("a\nb\n", False)],
)  # fmt: skip
def test_a_piece_may_be_followed_only_after_a_blank_line(piece: str, blank: bool) -> None:
    assert ends_blank(piece) is blank


def test_passages_that_do_not_rebuild_the_text_are_refused() -> None:
    with pytest.raises(ValueError):
        Pieces("one\n\ntwo", ["one\n\n", "too"])


def test_each_distinct_passage_is_worked_once_and_huge_ones_are_not_kept() -> None:
    """Revisions repeat passages: the second extraction finds them kept; a piece past the
    cache's bound is computed each time, never kept."""
    shared = "A paragraph of May 5, 2019 news, kept across revisions.\n\n"
    huge = "word " * (PIECE_CACHE_CHARS // 4) + "\n\n"
    first = shared + huge + "First ending.\n"
    second = shared + huge + "Second ending.\n"
    kw = {"media_type": "text/plain", "path": "n.txt", "encoding": "utf-8"}
    for text in (first, second):
        assert extract(text, passages=split_passages(text), **kw) == extract(text, **kw)
    assert shared in pieces_module._cache and "Second ending.\n" in pieces_module._cache
    assert huge not in pieces_module._cache


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("a.md", "# T\n\n“one two three” on May 5, 2019.\n\n• a\n• b\n".encode()),
        ("b.md", b'---\ntitle: X\n---\n"quoted words here" and more\n\n# H\n'),
        ("c.txt", "caf\u00e9 \u201cd\u00e9j\u00e0 vu\u201d\r\n\r\nx".encode("cp1252")),
        ("d.html", b'<html><title>T</title><p>"one two three"</p></html>'),
    ],
)
def test_prepared_content_is_what_the_whole_text_gives(path: str, data: bytes) -> None:
    """prepare_content hands the split to extraction and shares its quotation scan: the
    metadata, passages and quotations are those of the separate whole-text work."""
    prepared = prepare_content(path, data)
    text = data.decode(prepared.info.encoding)
    assert prepared.split == (split_passages(text), text_quotes(text))
    if path.endswith(".html"):
        return
    whole = extract(
        text, media_type=prepared.info.media_type, path=path, encoding=prepared.info.encoding,
        data=data,
    )  # fmt: skip
    assert prepared.metadata[1][: len(whole.items)] == whole.items


WORDY = st.text(
    st.one_of(
        st.sampled_from(" \t\n\r\x1c\x1f\u00a0\u3000\u2028_-!’“”—é٣漢カ\u0301\u200f\ud800a1"),
        st.characters(codec=None),
    ),
    max_size=80,
)


@settings(max_examples=400, deadline=None)
@given(WORDY)
def test_a_non_ascii_word_count_through_bytes_is_the_regular_expressions(text: str) -> None:
    from ingest.extract import counts as counts_module

    fast = counts_module.word_count(text)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(counts_module, "_FEW", -1)  # every text through the regular expressions
        assert fast == counts_module.word_count(text)


@settings(max_examples=300, deadline=None)
@given(texts)
@example("“one two three”\n\nfour\n \nfive\r\n\r\nsix")
def test_the_passage_split_is_kept_as_pieces_or_joined_at_false_breaks(text: str) -> None:
    """Every cut of the LF passage split follows a blank line: the passages are the pieces.
    The CR LF split also cuts after a single CR LF ("\\r" then "\\n" read as two breaks):
    such passages are joined with the next, and only those."""
    passages = split_passages(text)
    pieces = Pieces(text, passages).pieces
    if "\r" not in text:
        assert pieces == (passages or [""])
    assert "".join(pieces) == text
    assert all(ends_blank(p) for p in pieces[:-1])
    assert not any(p.startswith("\n") for p in pieces[1:])
    assert len(pieces) >= len([p for p in passages[:-1] if p.endswith(("\n\n", "\r\r"))])
