"""The compiled diff core (archive/diffs/_diffcore.c) against the pure-Python reference.

Every test here runs both engines on the same input and asserts identical results, so a
divergence in the C code (a tie broken differently, a UTF-16 count, a step budget spent one
step early) fails with the input that shows it. The core must be built: importing it is not
optional here, so CI cannot silently test only the Python path.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from archive import diffs
from archive.diffs import algorithm, core, delta, lines, stats
from archive.diffs import stored as stored_diffs

CORE = core.load_core()  # ImportError: build it (`make install` or setup.py build_ext)


def outcome(fn, *args):
    """fn(*args) or the exception it raised (type and message), to compare engines."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - the engines must fail alike too
        return (type(e), str(e))


def both(fn, *args):
    with diffs.engine(None):
        pure = outcome(fn, *args)
    with diffs.engine(CORE):
        compiled = outcome(fn, *args)
    return pure, compiled


def assert_agree(fn, *args):
    pure, compiled = both(fn, *args)
    assert compiled == pure


def test_core_is_built_and_selected_by_default():
    assert CORE.VERSION == core._CORE_VERSION
    if os.environ.get("ARCHIVE_PURE_DIFF", "") in ("", "0"):
        assert core.CORE is CORE, "the compiled core is built but not selected"


def test_pure_flag_selects_the_reference(monkeypatch):
    monkeypatch.setenv("ARCHIVE_PURE_DIFF", "1")
    assert core._select_core() is None
    monkeypatch.setenv("ARCHIVE_PURE_DIFF", "0")
    assert core._select_core() is CORE


# Pieces of text that exercise the tokenizer and the UTF-16 counts: astral letters and emoji,
# BMP and astral combining marks, CR, CRLF and blank lines, punctuation, NUL, RTL marks.
_PIECES = [
    "the",
    "The",
    "cat",
    "sat",
    "on",
    "mat",
    "a",
    "é",
    "e\u0301",
    "na\u0308ive",
    "\U0001d400\U0001d401",
    "😀",
    "🧑\u200d🤝\u200d🧑",
    "x\U0001d167y",
    "\U000e0100",
    "中文",
    "_",
    "42",
    ",",
    ".",
    "!",
    "\x00",
    "\u202e",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\n\n",
    "\r\n\r\n",
    "\u00a0",
    "\u2028",
]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=120).map("".join)
_LINES = st.lists(
    st.lists(st.sampled_from(_PIECES[:20] + [" ", ","]), max_size=12).map(
        lambda ws: "".join(ws) + "\n"
    ),
    max_size=30,
).map("".join)


@st.composite
def edited(draw, base=_TEXT):
    """(old, new): new is old with a few pieces replaced, inserted, deleted or moved."""
    old = draw(base)
    new = old
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(new)))
        j = draw(st.integers(i, min(len(new), i + 30)))
        kind = draw(st.sampled_from(["ins", "del", "rep", "move"]))
        piece = draw(_TEXT)
        if kind == "ins":
            new = new[:i] + piece + new[i:]
        elif kind == "del":
            new = new[:i] + new[j:]
        elif kind == "rep":
            new = new[:i] + piece + new[j:]
        else:
            new = new[:i] + new[j:] + new[i:j]
    return old, new


_PAIRS = st.one_of(
    edited(),
    edited(_LINES),
    st.tuples(_TEXT, _TEXT),
    st.tuples(_LINES, _LINES),
    st.tuples(st.text(max_size=60), st.text(max_size=60)),
)


def assert_same_diff(old: str, new: str) -> None:
    pure, compiled = both(diffs.diff_texts, old, new)
    assert compiled == pure
    pure, compiled = both(diffs.diff_texts, new, old)
    assert compiled == pure


@settings(max_examples=400, deadline=None)
@given(_PAIRS)
@example(("", ""))
@example(("", "x"))
@example(("x", ""))
@example(("a\r\nb\r\n", "a\r\nB\r\nb\r\n"))
@example(("x" * 5000, "x" * 4999 + "y"))  # one huge token
@example(("the " * 400 + "end", "the " * 350 + "cat " + "the " * 49 + "end"))
@example(("😀" * 30 + " a", "😀" * 31 + " b"))
def test_diff_texts_identical(pair):
    """Ops, delta, stats, change class and coarse flag are the reference's, both ways round."""
    assert_same_diff(*pair)


_BOUNDS = ("MYERS_STEPS", "MYERS_STEPS_PER_CHAR", "SMALL_GAP_WORK", "LINE_WORK_LIMIT")


@settings(max_examples=200, deadline=None)
@given(
    _PAIRS,
    st.integers(0, 60),
    st.integers(0, 40),
    st.integers(0, 300),
    st.one_of(st.none(), st.integers(1, 40)),
)
def test_tiny_budgets_bail_out_identically(pair, steps, small_gap, line_limit, max_symbols):
    """With step budgets small enough to run out (and the small-gap, line-work and symbol
    bounds moved), the bail-outs to whole delete+insert blocks and the coarse flag match the
    reference."""
    saved = [getattr(core, name) for name in _BOUNDS] + [core.MAX_SYMBOLS]
    try:
        core.MYERS_STEPS, core.MYERS_STEPS_PER_CHAR = steps, 0.001
        core.SMALL_GAP_WORK, core.LINE_WORK_LIMIT = small_gap, line_limit
        if max_symbols is not None:  # more distinct words or lines than this: one block
            core.MAX_SYMBOLS = max_symbols
        assert_same_diff(*pair)
    finally:
        for name, value in zip(_BOUNDS + ("MAX_SYMBOLS",), saved, strict=True):
            setattr(core, name, value)


def test_a_tiny_budget_really_bails():
    """The budget test above reaches the bail-out (else it would prove little)."""
    old, new = "a b " * 100, "a b b " * 70  # related, and no unique word to anchor on
    saved = core.MYERS_STEPS, core.MYERS_STEPS_PER_CHAR
    try:
        core.MYERS_STEPS, core.MYERS_STEPS_PER_CHAR = 5, 0
        pure, compiled = both(diffs.diff_texts, old, new)
    finally:
        core.MYERS_STEPS, core.MYERS_STEPS_PER_CHAR = saved
    assert pure.coarse and compiled == pure


_SYMBOLS = st.text(alphabet="abcab\U0001f600\u0100", max_size=40)


@settings(max_examples=400, deadline=None)
@given(_SYMBOLS, _SYMBOLS, st.one_of(st.none(), st.integers(-5, 400)))
def test_myers_matches_token_dmp_with_steps_left(a, b, steps):
    """The core's Myers is _TokenDmp's step for step: same ops, same steps left (also when
    the budget runs out mid-search), same bail flag; without a budget it is stock dmp's."""
    ops, left, bailed = CORE.myers(a, b, steps)
    if steps is None:
        assert ops == lines.myers(lines.new_dmp(), a, b) and not bailed and left is None
        return
    dmp = algorithm._TokenDmp([], steps)
    assert (ops, left, bailed) == (lines.myers(dmp, a, b), dmp.steps, dmp.bailed)


@settings(max_examples=300, deadline=None)
@given(_SYMBOLS, _SYMBOLS)
def test_common_overlap_matches_dmp(a, b):
    assert CORE.common_overlap(a, b) == lines.new_dmp().diff_commonOverlap(a, b)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | _TEXT)
def test_tokenizer_matches_the_regexes(text):
    """tokens/words (and the word counts and word-only text stats and classes use) are the
    regexes' on any text, astral and combining marks included."""
    assert CORE.tokens(text) == diffs.TOKEN_RE.findall(text)
    found = diffs.WORD_RE.findall(text)
    assert CORE.words(text) == found
    assert CORE.count_words(text) == len(found)
    assert CORE.words_only(text) == "".join(found)


_OPS = st.lists(
    st.tuples(st.sampled_from([-1, 0, 1]), st.text(max_size=12) | st.sampled_from(_PIECES)),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(_OPS)
@example([(1, "\ud800")])  # lone surrogates: dmp raises, so must the core path
@example([(0, "a\udfff")])
@example([(1, "%"), (0, "😀"), (-1, "\U0010ffff")])
def test_delta_round_trip_matches_dmp(ops):
    """to_delta gives dmp's delta (UTF-16 counts, %-escapes) and from_delta reads it back
    into dmp's ops, or both fail alike."""
    pure, compiled = both(delta.to_delta, ops)
    assert compiled == pure
    if isinstance(pure, str):  # an encodable delta reads back into the same ops
        old = "".join(s for op, s in ops if op != 1)
        assert both(diffs.from_delta, old, pure) == (ops, ops)
        assert_agree(diffs.rebuild, old, pure)


_CLASS_PIECES = _PIECES + ["", "Cat", "CAT", "ß", "SS", "ss", " cat", "cat,", "İ", "ﬁ"]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([-1, 0, 1, 1, -1, 2, True]), st.sampled_from(_CLASS_PIECES)),
        max_size=12,
    )
)
def test_classify_and_stats_of_any_ops_match_reference(ops):
    """Change class and stats of arbitrary ops (moved text, empty strings, case folds that
    change lengths, odd op values the core leaves to Python) are the reference's."""
    assert_agree(diffs.classify, ops)
    assert_agree(stats.diff_stats, ops, 7, 9)


_DELTA_TOKENS = st.sampled_from(
    ["=1", "=2", "-1", "=0", "+a", "+%F0%9F%98%80", "+%zz", "+%4", "+%e9", "+%C3%A9", "=x"]
    + ["= 1", "=+1", "=1_0", "=-1", "*3", "+😀", "=99999999999999999999", "-٣", ""]
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab😀\u00e9\ud800", max_size=8), st.lists(_DELTA_TOKENS, max_size=6))
def test_from_delta_on_any_delta_matches_dmp(old, tokens):
    """Damaged or odd deltas (bad numbers, bad escapes, split surrogate pairs, lengths that
    do not fit) give dmp's ops or dmp's error, also through rebuild and ops_of."""
    delta = "\t".join(tokens)
    assert_agree(diffs.from_delta, old, delta)
    assert_agree(diffs.rebuild, old, delta)
    assert_agree(stored_diffs.ops_of, old, delta)


def test_surrogates_fail_alike():
    """Lone surrogates cannot be encoded in a delta: both engines raise the same error."""
    pure, compiled = both(diffs.diff_texts, "a \ud800 b", "a \ud800 c")
    assert isinstance(pure, tuple) and pure[0] is UnicodeEncodeError
    assert compiled == pure


def test_core_rejects_bad_arguments():
    with pytest.raises(TypeError):
        CORE.diff_ops("a", b"b", core.params())
    with pytest.raises(TypeError):
        CORE.diff_ops("a", "b", (1, 2))
    with pytest.raises(TypeError):
        CORE.tokens(b"bytes")
    with pytest.raises(ValueError):
        CORE.configure(b"short")
    assert CORE.to_delta("not a list") is None
    assert CORE.to_delta([(2, "x")]) is None
    assert CORE.to_delta([(True, "x")]) is None
