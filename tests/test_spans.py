"""Spans (normalisation, CJK tokens, winnowed seeds), fuzzy alignment and word-level blame."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.diffs import DELETE, EQUAL, INSERT, diff_texts
from archive.passages.align import align
from archive.passages.spans import (
    MIN_WORDS,
    contains,
    keys,
    ngram_query,
    normalize,
    phrase,
    query_keys,
    tokenize,
)
from archive.passages.wordblame import BlameError, blame_chain, check_ops, step, word_runs

SEED = (
    "Since the deal was reached in 2015, Khamenei has continued to denounce the United States "
    "publicly. Putin praised cooperation with Iran as “very productive”."
)


def test_normalize_folds_case_width_and_every_quote_style():
    assert normalize("Straße") == normalize("STRASSE") == "strasse"
    assert normalize("„Zitat“ «цитата» 「引用」 ‚x‘") == '"zitat" "цитата" "引用" \'x\''
    assert normalize("ＡＢＣ\u00a0 def\n\tg") == "abc def g"


def test_cjk_text_is_tokenised_by_character():
    text = "東京都は防災計画を発表した。"
    assert keys(text) == list("東京都は防災計画を発表した")
    assert len(keys("防災計画を発表した")) == 9
    # Mixed scripts: Latin words stay whole, CJK characters split.
    assert keys("GDP成長率 2.5%") == ["gdp", "成", "長", "率", "2", "5"]
    toks = tokenize("Ab 防災")
    assert [(t.start, t.end) for t in toks] == [(0, 2), (3, 4), (4, 5)]


def test_arabic_russian_german_words_keep_their_marks():
    assert keys("كَتَبَ الطالبُ") == ["كَتَبَ", "الطالبُ"]
    assert keys("Путин ПОХВАЛИЛ") == ["путин", "похвалил"]
    assert keys("Größe MASSE") == ["grösse", "masse"]


def _inside(needle: list[str], hay: list[str]) -> bool:
    n = len(needle)
    return any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))


def test_a_mid_text_span_is_a_phrase_of_the_text():
    for span in (
        "Khamenei has continued to denounce the United States publicly",
        "Putin praised cooperation with Iran as very productive",
        "ontinued to denounce the United States publicly. Putin prai",  # cut edges: left out
    ):
        assert _inside(query_keys(span), keys(SEED))
    assert query_keys("too short a span") == ["too", "short", "a", "span"]


def test_japanese_spans_are_character_phrases():
    text = "政府は新しい防災計画を来年から実施すると発表した。"
    assert _inside(query_keys("新しい防災計画を来年"), keys(text))
    assert not _inside(query_keys("新しい防災方針を来年"), keys(text))
    assert " ".join(keys("防災計画")) == "防 災 計 画"
    assert phrase(keys("防災計画")) == '"防 災 計 画"'


def test_ngram_query_is_an_or_of_distinct_phrases():
    assert ngram_query(["a", "b", "c", "a", "b", "c"]) == '"a b c" OR "b c a" OR "c a b"'
    assert ngram_query(["a", "b"]) == '"a b"'
    assert ngram_query([]) is None


_WORDS = st.sampled_from("alpha beta gamma delta the of and Straße 東 京 Путин".split())


@settings(max_examples=150, deadline=None)
@given(st.lists(_WORDS, min_size=MIN_WORDS, max_size=60), st.data())
def test_every_span_of_whole_words_is_a_phrase_of_its_text(words, data):
    """Completeness of the phrase lookup: a span's query keys are consecutive keys of any
    text that holds it, whatever the spacing, case or script."""
    n = len(words)
    i = data.draw(st.integers(0, n - MIN_WORDS))
    j = data.draw(st.integers(i + MIN_WORDS, n))
    text = " ".join(words)
    span = "  ".join(w.upper() for w in words[i:j])
    assert _inside(query_keys(span), keys(text))
    assert _inside(query_keys(" ".join(words[i:j])), keys(text))


def test_fast_keys_are_the_tokeniser_keys():
    assert keys(SEED) == [t.key for t in tokenize(SEED)]
    assert keys("東京 Straße ＡＢＣ") == [t.key for t in tokenize("東京 Straße ＡＢＣ")]


def test_contains_exact_and_normalised():
    assert contains(SEED, "Putin praised cooperation", False)
    assert not contains(SEED, 'Iran as "very productive"', False)
    assert contains(SEED, 'IRAN as "very   productive"', True)


def test_fuzzy_alignment_finds_a_reworded_sentence():
    text = "Intro words here. " + SEED + " Then other words follow."
    reworded = "Khamenei had continued to publicly denounce the United States"
    found = align(reworded, text)
    assert found is not None and 60 < found.score < 100
    assert found.text.startswith("Khamenei has continued")
    assert text[found.start : found.end] == found.text
    assert ("replace", "had", "has") in found.ops
    assert ("delete", "publicly", "") in found.ops
    same = align("Putin praised cooperation with Iran as 'very productive'", text)
    assert (
        same.score == 100.0
        and same.text == "Putin praised cooperation with Iran as “very productive"
    )
    assert align("entirely unrelated wording about gardening tools", text, min_score=80) is None


def _chain(texts):
    chain, prev = [], None
    for t in texts:
        chain.append(t if prev is None else diff_texts(prev, t).ops)
        prev = t
    return chain


def _attributed(text, runs):
    return [(text[r.start : r.end], r.origin) for r in runs]


def test_blame_of_a_one_word_edit_blames_only_that_word():
    v0 = "The cat sat on the mat.\n\nSecond paragraph here.\n"
    v1 = "The dog sat on the mat.\n\nSecond paragraph here.\n"
    v2 = v1 + "\nA new last paragraph.\n"
    runs = word_runs(v2, blame_chain(_chain([v0, v1, v2])))
    assert _attributed(v2, runs) == [
        ("The ", 0),
        ("dog", 1),
        (" sat on the mat.\n\nSecond paragraph here.\n", 0),
        ("\nA new last paragraph.\n", 2),
    ]


def test_blame_after_a_gap_restarts_from_the_text():
    runs = blame_chain(["one two", [(DELETE, "one two")], "one two three"])
    assert [(r.start, r.end, r.origin) for r in runs] == [(0, 13, 2)]


def test_blame_rejects_ops_that_do_not_fit():
    try:
        step([[3, 0]], [(EQUAL, "abcd")], 1)
    except BlameError:
        pass
    else:
        raise AssertionError("ops longer than the text were accepted")
    try:
        check_ops("abc", [(EQUAL, "abd"), (INSERT, "x")])
    except BlameError:
        pass
    else:
        raise AssertionError("ops of another text were accepted")


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(_WORDS, max_size=12), min_size=1, max_size=6))
def test_blame_covers_the_text_and_each_run_is_in_its_origin(versions):
    texts = [" ".join(v) for v in versions]
    runs = blame_chain(_chain(texts))
    final = texts[-1]
    assert "".join(final[r.start : r.end] for r in runs) == final
    assert all(r.end > r.start for r in runs)
    for r in runs:
        assert final[r.start : r.end] in texts[r.origin]


def test_alignment_in_a_long_text_looks_around_the_shared_words():
    filler = "lorem ipsum dolor sit amet " * 400
    text = filler + SEED + " " + filler
    found = align("Putin praised cooperation with Iran as very productive", text)
    assert found is not None and found.score == 100.0
    assert found.text == "Putin praised cooperation with Iran as “very productive"
