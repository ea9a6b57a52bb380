"""Highlighted snippets for trace and search results: escaped, around the match, lossless."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from archive.publish.snippets import excerpt, highlight, match_spans, snippet


def plain(markup: str) -> str:
    return html.unescape(re.sub(r"</?mark>", "", str(markup)))


def marked(markup: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r"<mark>(.*?)</mark>", str(markup))]


def test_the_whole_query_is_marked_ignoring_case_and_spacing() -> None:
    text = "The Licence  is granted.\nthe licence is GRANTED again."
    assert marked(highlight(text, match_spans(text, "licence is granted"))) == [
        "Licence  is granted",
        "licence is GRANTED",
    ]


def test_without_the_phrase_each_word_is_marked_whole() -> None:
    text = "Terms apply; termination follows the terms."
    assert marked(highlight(text, match_spans(text, "terms follows"))) == [
        "Terms",
        "follows",
        "terms",
    ]  # "termination" is not the word "terms"


def test_curly_quotes_match_straight_ones() -> None:
    text = "He said \u201chello\u201d and left."
    assert marked(highlight(text, match_spans(text, '"hello"'))) == ["\u201chello\u201d"]


def test_hostile_text_and_query_stay_text() -> None:
    text = "a <script>alert(1)</script> b <mark>x</mark>"
    out = str(highlight(text, match_spans(text, "<script>")))
    assert "<script>" not in out and out.count("<mark>") == 1
    assert plain(out) == text


def test_a_long_passage_is_cut_around_the_first_match() -> None:
    words = [f"w{i}" for i in range(400)]
    text = " ".join(words)
    result = excerpt(text, "w300")
    shown = plain(result["snippet"])
    assert shown.startswith("\u2026") and shown.endswith("\u2026")
    assert "w300" in shown and len(shown) < 300
    assert marked(result["snippet"]) == ["w300"]
    assert plain(result["whole"]) == text  # "more": the whole passage, highlighted
    assert excerpt("short text", "short")["whole"] is None


@given(st.text(max_size=600), st.text(max_size=20), st.integers(10, 300))
def test_snippets_lose_no_text_and_mark_only_matches(text, query, chars) -> None:
    spans = match_spans(text, query)
    assert spans == sorted(spans) and all(a < b for a, b in spans)
    assert all(e <= s2 for (_, e), (s2, _) in zip(spans, spans[1:], strict=False))
    start, end = snippet(text, spans, chars)
    out = highlight(text, spans, start, end)
    body = plain(out)
    body = body[1:] if start > 0 else body
    body = body[:-1] if end < len(text) else body
    assert body == text[start:end]
    assert "<" not in re.sub(r"</?mark>", "", str(out))
    if spans and len(text) > chars:
        assert start <= spans[0][0] < end
