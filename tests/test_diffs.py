"""Tests for archive.diffs: correctness invariants, classes, determinism, bounded work."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.diffs import (
    ALGORITHM,
    classify,
    compact_ops,
    diff_texts,
    expand_ops,
    rebuild,
)

# Every test here runs on both diff engines (compiled core and pure-Python reference).
pytestmark = pytest.mark.usefixtures("diff_engine")


def _check(old: str, new: str):
    r = diff_texts(old, new)
    assert "".join(s for op, s in r.ops if op != 1) == old
    assert "".join(s for op, s in r.ops if op != -1) == new
    assert all(s for _, s in r.ops)
    assert all(a[0] != b[0] for a, b in zip(r.ops, r.ops[1:], strict=False))
    assert rebuild(old, r.delta) == new
    assert expand_ops(old, compact_ops(r.ops)) == r.ops
    return r


@pytest.mark.parametrize(
    ("old", "new", "cls"),
    [
        ("same text\n", "same text\n", "none"),
        ("", "", "none"),
        ("a b\nc", "a  b\r\nc", "trivial-whitespace"),
        ("Hello, world", "Hello world!", "trivial-punctuation"),
        ("foo,bar", "foo bar", "trivial-punctuation"),
        ("Hello World", "hello world.", "trivial-case"),
        ("Straße", "STRASSE", "trivial-case"),
        ("The cat sat.", "The dog sat.", "substantive"),
        ("café", "cafe\u0301", "substantive"),
        ("", "x", "substantive"),
    ],
)
def test_change_classes(old, new, cls):
    r = _check(old, new)
    assert r.change_class == cls
    assert classify(r.ops) == cls
    if cls != "none":
        assert r.stats["hunks"] >= 1 and r.ops != [(0, old)]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("line1\r\nline2\r\n", "line1\r\nline 2\r\n"),
        ("a\rb\rc", "a\rB\rc"),
        ("nul\x00here", "nul\x00there\x00"),
        ("smile 😀 ok", "smile 😀😀 fine 🧑‍🤝‍🧑"),
        ("e\u0301te\u0301 na\u0308ive", "e\u0301te\u0301 naive"),
        ("שלום עולם", "שלום \u202eעולם\u202c גדול"),
        ("مرحبا بالعالم", "مرحبا بكم في العالم"),
        ("", "new text"),
        ("old text", ""),
        ("", ""),
        ("no final newline", "no final newline\n"),
        ("x" * 10 + "\n", "x" * 10),
    ],
)
def test_unicode_round_trips(old, new):
    _check(old, new)


def test_one_word_replacement_is_whole_word():
    r = diff_texts("The quick brown fox jumps.", "The quick brawn fox jumps.")
    assert r.ops == [(0, "The quick "), (-1, "brown"), (1, "brawn"), (0, " fox jumps.")]
    assert r.stats["words_inserted"] == 1 and r.stats["words_deleted"] == 1
    assert r.stats["hunks"] == 1 and not r.coarse


def test_stats_values():
    r = diff_texts("ab cd", "ab ef gh")
    assert r.stats["chars_deleted"] == 2 and r.stats["chars_inserted"] == 5
    assert r.stats["similarity"] == round(2 * 3 / 13, 6)
    assert diff_texts("", "").stats["similarity"] == 1.0


def test_rebuild_rejects_wrong_base():
    r = diff_texts("one two three", "one 2 three")
    with pytest.raises(ValueError, match="does not fit"):
        rebuild("one two three four", r.delta)
    with pytest.raises(ValueError):
        rebuild("😀", "=1\t+x")  # splits a surrogate pair


def test_expand_ops_rejects_mismatch():
    with pytest.raises(ValueError):
        expand_ops("abc", [[0, 5]])
    with pytest.raises(ValueError):
        expand_ops("abc", [[-1, "xyz"]])
    with pytest.raises(ValueError):
        expand_ops("abc", [[0, 2]])
    assert compact_ops([(0, "ab"), (-1, "c"), (1, "d")]) == [[0, 2], [-1, "c"], [1, "d"]]


text_st = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=150, deadline=None)
@given(text_st, text_st)
def test_property_arbitrary_pairs(old, new):
    _check(old, new)


WORDS = ["alpha", "beta", "gamma", "delta", "the", "of", "a", "Zeta", "éte", "😀", "\n", "\r\n"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), min_size=0, max_size=60),
    st.lists(
        st.tuples(
            st.sampled_from(["ins", "del", "rep"]), st.integers(0, 100), st.sampled_from(WORDS)
        ),
        max_size=8,
    ),
    st.sampled_from([" ", ", ", "  "]),
)
def test_property_edited_text(words, edits, sep):
    old_words = list(words)
    for kind, pos, w in edits:
        i = pos % (len(words) + 1)
        if kind == "ins":
            words.insert(i, w)
        elif words and i < len(words):
            if kind == "del":
                del words[i]
            else:
                words[i] = w
    old, new = sep.join(old_words), sep.join(words)
    r = _check(old, new)
    if old != new:
        assert r.change_class != "none"


def test_deterministic_in_subprocess():
    old = "Para one has words.\n\nPara two, edited here.\n" * 5
    new = old.replace("edited", "changed", 3) + "tail 😀\n"
    ops = json.dumps(diff_texts(old, new).ops)
    assert json.dumps(diff_texts(old, new).ops) == ops
    code = (
        "import json,sys; from archive.diffs import diff_texts; "
        "o,n=json.load(sys.stdin); print(json.dumps(diff_texts(o,n).ops))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps([old, new]),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == ops
    assert ALGORITHM.startswith("words-v2+dmp20241021")


def _paragraphs(rng: random.Random, size: int) -> str:
    vocab = [f"w{rng.randrange(3000)}" for _ in range(3000)] + ["the", "of", "and"] * 200
    paras, total = [], 0
    while total < size:
        p = " ".join(rng.choices(vocab, k=rng.randint(30, 120))) + "."
        paras.append(p)
        total += len(p) + 2
    return "\n\n".join(paras)


def test_pathological_unrelated_50kb_returns():
    rng = random.Random(1)
    old, new = _paragraphs(rng, 50_000), _paragraphs(rng, 50_000)
    r = _check(old, new)
    assert r.change_class == "substantive" and r.stats["similarity"] < 0.5


def test_pathological_shuffled_200kb_returns():
    rng = random.Random(2)
    old = _paragraphs(rng, 200_000)
    paras = old.split("\n\n")
    rng.shuffle(paras)
    new = "\n\n".join(paras)
    r = _check(old, new)
    assert r.change_class == "substantive"


def test_pathological_single_line_unrelated_returns():
    rng = random.Random(3)
    old = _paragraphs(rng, 50_000).replace("\n", " ")
    new = _paragraphs(rng, 50_000).replace("\n", " ")
    _check(old, new)


def _prose(rng: random.Random, vocab: list[str], n_words: int) -> str:
    return " ".join(rng.choices(vocab, k=n_words)) + "."


def test_unrelated_block_is_one_delete_and_insert():
    rng = random.Random(4)
    para_a = _prose(rng, [f"alpha{i}" for i in range(300)] + ["the", "of"], 200)
    para_b = _prose(rng, [f"beta{i}" for i in range(300)] + ["the", "of"], 200)
    old, new = f"Intro line.\n{para_a}\nOutro.\n", f"Intro line.\n{para_b}\nOutro.\n"
    r = _check(old, new)
    assert r.ops == [(0, "Intro line.\n"), (-1, para_a + "\n"), (1, para_b + "\n"), (0, "Outro.\n")]
    assert not r.coarse


@pytest.mark.parametrize("sep", ["\n\n", " "])
def test_moved_paragraph_is_one_delete_and_one_insert(sep):
    rng = random.Random(5)
    sizes = [120, 40, 120, 120]  # the moved paragraph is shorter than the one it jumps over
    paras = [_prose(rng, [f"w{k}x{i}" for i in range(500)], n) for k, n in enumerate(sizes)]
    old = sep.join(paras)
    new = sep.join([paras[0], paras[2], paras[1], paras[3]])
    r = _check(old, new)
    changes = [(op, s) for op, s in r.ops if op != 0]
    assert len(changes) == 2 and not r.coarse
    (op1, s1), (op2, s2) = changes
    assert {op1, op2} == {-1, 1} and s1.strip() == s2.strip() and s1.strip() in paras


def test_edits_inside_long_paragraph_stay_word_level():
    rng = random.Random(6)
    vocab = [f"term{i}" for i in range(400)] + ["the", "of", "and", "to", "a"] * 20
    words = rng.choices(vocab, k=3000)
    new_words = list(words)
    for i in range(100, 3000, 300):
        new_words[i] = "CHANGED"
    r = _check(" ".join(words) + ".", " ".join(new_words) + ".")
    assert not r.coarse and r.stats["hunks"] == 10
    assert r.stats["words_inserted"] == 10 and r.stats["words_deleted"] == 10


def test_myers_step_budget_bails_to_whole_block():
    from archive.diffs.algorithm import _TokenDmp

    dmp = _TokenDmp(["a", "b", "c"], steps=0)
    assert dmp.diff_bisect("\u0100\u0101", "\u0101\u0102", 0) == [
        (-1, "\u0100\u0101"),
        (1, "\u0101\u0102"),
    ]
    assert dmp.bailed
    rich = _TokenDmp(["a", "b", "c"], steps=1000)
    assert rich.diff_main("\u0100\u0101", "\u0101\u0102", False) == [
        (-1, "\u0100"),
        (0, "\u0101"),
        (1, "\u0102"),
    ]
    assert not rich.bailed


_WORDS = st.sampled_from(
    ["the", "The", "cat", "sat", "é", "x\u0301", "𝐀", ",", ".", " ", "\n", "  "]
)
_BLOCK = st.lists(_WORDS, max_size=40).map("".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_BLOCK, _BLOCK), min_size=1, max_size=4))
def test_shared_token_table_gives_the_ops_of_fresh_tables(blocks):
    """A diff's blocks share one token table: same ops and coarse flag as a table per block."""
    from archive.diffs.algorithm import _Tokens, _word_refine

    shared, steps_shared, steps_fresh = _Tokens(), [50_000], [50_000]
    for old, new in blocks:
        assert _word_refine(old, new, steps_shared, shared) == _word_refine(old, new, steps_fresh)
        assert steps_shared == steps_fresh


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=80))
def test_token_word_test_agrees_with_the_word_regex(text):
    from archive.diffs import TOKEN_RE
    from archive.diffs.algorithm import _is_token_word
    from archive.diffs.lines import is_word as _is_word

    for token in TOKEN_RE.findall(text):
        assert _is_token_word(token) == _is_word(token)


def _classify_whole(old: str, new: str) -> str:
    """Reference classes judged on the two whole texts (what classify must agree with)."""
    from archive.diffs.stats import _casefold, _no_ws, _words_only

    if old == new:
        return "none"
    if _casefold(_words_only(old)) != _casefold(_words_only(new)):
        return "substantive"
    if _no_ws(old) == _no_ws(new):
        return "trivial-whitespace"
    if _words_only(old) == _words_only(new):
        return "trivial-punctuation"
    return "trivial-case"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([-1, 0, 1]), max_size=12), st.lists(_WORDS, max_size=12))
def test_classify_of_any_ops_matches_whole_text_classes(kinds, words):
    """Per-run shortcuts (and the differing-span comparison) give the whole-text answer,
    also for moved text, where runs differ but the texts are alike."""
    ops = [(k, w) for k, w in zip(kinds, words, strict=False) if w]
    old = "".join(s for op, s in ops if op != 1)
    new = "".join(s for op, s in ops if op != -1)
    assert classify(ops) == _classify_whole(old, new)
