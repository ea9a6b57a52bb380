"""Tests for archive.diffs.render: escaping, markers, context, patch round trip, stat line."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from archive.diffs import diff_texts
from archive.diffs import render as diff_render
from archive.diffs.render import (
    diff_lines,
    fold_spans,
    render_html,
    render_patch,
    render_stat,
    render_terminal,
    side_rows,
)
from tests.tools import need_tool

# Every test here runs on both diff engines (compiled core and pure-Python reference).
pytestmark = pytest.mark.usefixtures("diff_engine")

HOSTILE_OLD = 'Click <a href="x">here</a>\nsafe line\n'
HOSTILE_NEW = 'Click <script>alert(1)</script>" onerror=alert(2) javascript:evil()\nsafe line\n'


@pytest.mark.parametrize("side_by_side", [False, True])
def test_html_escapes_document_text(side_by_side):
    html = render_html(diff_texts(HOSTILE_OLD, HOSTILE_NEW).ops, side_by_side=side_by_side)
    assert isinstance(html, Markup)
    assert "<script>" not in html and "<a href" not in html
    assert "script&gt;alert(1)&lt;/script&gt;" in html
    assert '" onerror' not in html and "&#34; onerror" in html
    assert "style=" not in html
    assert "<ins>" in html and "<del>" in html


def test_html_inline_structure():
    html = render_html(diff_texts("a b\nc", "a x\nc").ops)
    assert html == (
        '<div class="diff">\n'
        '<div class="dl ch"><i data-n="1"></i><i data-n="1"></i>'
        "<bdi>a <del>b</del><ins>x</ins></bdi></div>\n"
        '<div class="dl"><i data-n="2"></i><i data-n="2"></i>'
        "<bdi>c</bdi></div>\n</div>"
    )


def test_html_side_by_side_columns():
    html = render_html(diff_texts("one\ntwo\n", "one\n2\nthree\n").ops, side_by_side=True)
    assert html.count("<tr>") == 1 + 1  # header + the unchanged "one" row
    assert html.count('<tr class="ch">') == 2  # two/2 and the inserted "three"
    assert '<td class="ln" data-n="2"></td><td class="diff-old"><del>two</del></td>' in html
    assert '<td class="ln" data-n="2"></td><td class="diff-new"><ins>2</ins></td>' in html
    assert '<td class="ln"></td><td class="diff-old diff-empty"></td>' in html
    assert '<td class="ln" data-n="3"></td><td class="diff-new"><ins>three</ins></td>' in html


def test_terminal_markers_and_color():
    ops = diff_texts("The cat sat.", "The dog sat.").ops
    assert render_terminal(ops, color=False) == "@@ -1 +1 @@\nThe [-cat-]{+dog+} sat."
    colored = render_terminal(ops, color=True)
    assert "\x1b[31mcat\x1b[m" in colored and "\x1b[32mdog\x1b[m" in colored


def test_terminal_context_and_control_chars():
    old = "".join(f"line {i}\n" for i in range(20))
    new = old.replace("line 10\n", "line ten\x1b[2J\n")
    out = render_terminal(diff_texts(old, new).ops, color=False, context=1)
    assert out.splitlines() == ["@@ -10,3 +10,3 @@", "line 9", "line [-10-]{+ten␛[2J+}", "line 11"]
    assert "\x1b" not in out
    full = render_terminal(diff_texts(old, new).ops, color=False, context=None)
    assert full.splitlines() == [f"line {i}" for i in range(10)] + [
        "line [-10-]{+ten␛[2J+}",
        *[f"line {i}" for i in range(11, 20)],
    ]  # no header, and no blank line for the text after the final newline


def test_patch_applies_with_system_tool(tmp_path):
    tool = need_tool("patch")
    old = "alpha\r\nbeta\nγάμμα 😀\nshared\nno newline at end"
    new = "alpha\r\nBETA\nγάμμα 😀\nshared\nno newline at end\nadded"
    ops = diff_texts(old, new).ops
    patch_text = render_patch(ops, "a/doc.txt", "b/doc.txt")
    assert patch_text.startswith("--- a/doc.txt\n+++ b/doc.txt\n")
    assert render_patch(ops, "a/doc.txt", "b/doc.txt") == patch_text
    target = tmp_path / "doc.txt"
    target.write_bytes(old.encode("utf-8"))
    (tmp_path / "p.diff").write_bytes(patch_text.encode("utf-8"))
    subprocess.run(
        [tool, "-p1", "--binary", "-i", "p.diff"], cwd=tmp_path, check=True, capture_output=True
    )
    assert target.read_bytes() == new.encode("utf-8")


def test_patch_identical_and_bad_label():
    assert render_patch(diff_texts("same\n", "same\n").ops, "a", "b") == ""
    with pytest.raises(ValueError):
        render_patch(diff_texts("a", "b").ops, "a\nb", "c")


def test_stat_line():
    r = diff_texts("The cat sat.", "The dog sat down.")
    # ops: "The " -cat +dog " sat" +" down" "." -> two word changes on one line: 1 hunk shown
    assert render_stat(r) == "+2 -1 words, +8 -3 chars, 1 hunk, similarity 0.62, substantive"
    r = diff_texts("a b", "a c")
    assert render_stat(r) == "+1 -1 words, +1 -1 chars, 1 hunk, similarity 0.67, substantive"
    assert render_stat(diff_texts("x", "x")).endswith("0 hunks, similarity 1.00, none")


# Folding: one hunk/context implementation (fold_spans) behind the terminal and HTML views.

LONG = "".join(f"line {i}\n" for i in range(40))


def spans_of(changed: str, context: int | None) -> list[tuple[int, int, bool]]:
    return fold_spans([c == "x" for c in changed], context)


def test_fold_spans_keep_context_around_each_change():
    assert spans_of("....x.....", 1) == [(0, 3, False), (3, 6, True), (6, 10, False)]
    assert spans_of("....x.....", 0) == [(0, 4, False), (4, 5, True), (5, 10, False)]


def test_fold_spans_merge_hunks_whose_context_meets():
    assert spans_of("x...x", 1) == [(0, 2, True), (2, 3, False), (3, 5, True)]
    assert spans_of("x..x", 1) == [(0, 4, True)]  # contexts touch: one hunk
    assert spans_of("xx.......", 2) == [(0, 4, True), (4, 9, False)]


def test_fold_spans_first_last_none_and_whole():
    assert spans_of("x....", 3) == [(0, 4, True), (4, 5, False)]
    assert spans_of("....x", 3) == [(0, 1, False), (1, 5, True)]
    assert spans_of(".....", 3) == [(0, 5, False)]  # no change: all folded
    assert spans_of("", 3) == [] and spans_of("", None) == []
    assert spans_of("..x..", None) == [(0, 5, True)]
    assert spans_of("..x..", 99) == [(0, 5, True)]


@given(st.lists(st.booleans(), max_size=60), st.one_of(st.none(), st.integers(0, 8)))
def test_fold_spans_partition_and_show_exactly_the_context(changed, context):
    spans = fold_spans(changed, context)
    assert [i for a, b, _ in spans for i in range(a, b)] == list(range(len(changed)))
    assert all(a < b for a, b, _ in spans)
    assert all(s1[2] != s2[2] for s1, s2 in pairwise(spans))  # maximal runs
    changes = [i for i, c in enumerate(changed) if c]
    for a, b, shown in spans:
        for i in range(a, b):
            near = context is None or any(abs(i - c) <= context for c in changes)
            assert shown == near


def test_terminal_and_html_fold_the_same_hunks():
    new = LONG.replace("line 5\n", "line five\n").replace("line 30\n", "line thirty\n")
    ops = diff_texts(LONG, new).ops
    term = render_terminal(ops, color=False, context=2)
    assert [ln for ln in term.splitlines() if ln.startswith("@@")] == [
        "@@ -4,5 +4,5 @@",
        "@@ -29,5 +29,5 @@",
    ]
    html = render_html(ops, context=2)
    assert html.count('<details class="fold">') == 3  # before, between and after the hunks
    assert "<summary>3 unchanged lines</summary>" in html  # lines 0-2
    assert "<summary>20 unchanged lines</summary>" in html  # lines 8-27
    assert "<summary>7 unchanged lines</summary>" in html  # lines 33-39
    side = render_html(ops, side_by_side=True, context=2)
    assert side.count('<tr class="fold">') == 3 and side.count('<tr class="ch">') == 2
    assert "<summary>20 unchanged lines</summary>" in side


def test_html_folds_hold_the_whole_text_and_context_all_folds_nothing():
    new = LONG.replace("line 20\n", "line twenty\n")
    ops = diff_texts(LONG, new).ops
    folded = render_html(ops)
    for i in range(40):  # every line is on the page, folded or not
        assert f"<bdi>line {i}</bdi>" in folded or i == 20
    assert folded.count('<details class="fold">') == 2
    assert folded.index("line 16<") < folded.index("</details>") < folded.index("line 17<")
    whole = render_html(ops, context=None)
    assert "<details" not in whole and whole.count('<div class="dl') == 40
    assert render_html(ops, context=0).count('<div class="dl') == 40  # 0: folds, still there
    side = render_html(ops, side_by_side=True, context=None)
    assert "<details" not in side and side.count("<tr") == 41


def test_no_change_is_one_fold_and_an_empty_terminal_diff():
    ops = diff_texts(LONG, LONG).ops
    html = render_html(ops)
    assert html.count("<details") == 1 and "<summary>40 unchanged lines</summary>" in html
    assert render_terminal(ops, color=False) == ""
    assert render_html(diff_texts("", "").ops) == '<div class="diff">\n\n</div>'
    one = render_html(diff_texts("only\n", "only\n").ops, side_by_side=True)
    assert "<summary>1 unchanged line</summary>" in one


def test_line_numbers_follow_each_side():
    old, new = "a\nb\nc\n", "a\nnew\nb\nc\n"
    lines = diff_lines(diff_texts(old, new).ops)
    assert [
        (ln.old_at if ln.on_old else None, ln.new_at if ln.on_new else None) for ln in lines
    ] == [
        (1, 1),
        (None, 2),
        (2, 3),
        (3, 4),
    ]
    assert [ln.changed for ln in lines] == [False, True, False, False]
    html = render_html(diff_texts(old, new).ops)
    assert '<i></i><i data-n="2"></i>' in html


def test_missing_final_newline_is_a_visible_change():
    for old, new, tag in (("a\nb\n", "a\nb", "del"), ("a\nb", "a\nb\n", "ins")):
        ops = diff_texts(old, new).ops
        assert f'<{tag} class="eol">↵</{tag}>' in render_html(ops)
        assert f'<{tag} class="eol">↵</{tag}>' in render_html(ops, side_by_side=True)
        marker = "[-↵-]" if tag == "del" else "{+↵+}"
        lines = render_terminal(ops, color=False).splitlines()
        assert lines == ["@@ -1,2 +1,2 @@", "a", "b" + marker]


def test_crlf_lines_render_without_raw_carriage_returns():
    old = "".join(f"row {i}\r\n" for i in range(10))
    new = old.replace("row 5\r\n", "row five\r\n")
    for side in (False, True):
        html = render_html(diff_texts(old, new).ops, side_by_side=side)
        assert "\r" not in html  # an HTML parser would turn it into a line break
        assert "␍" not in html  # the unchanged CRLF endings are not noise
        assert "row <del>5</del>" in html and "five</ins>" in html
    to_lf = render_html(diff_texts(old, old.replace("\r\n", "\n", 1)).ops)
    assert "\r" not in to_lf and "␍" in to_lf  # a changed line ending is shown
    assert "␍" in render_terminal(diff_texts(old, old.replace("\r\n", "\n", 1)).ops, color=False)


@pytest.mark.parametrize("side_by_side", [False, True])
def test_hostile_text_inside_folds_stays_escaped(side_by_side):
    payloads = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</details><b>"]
    old = "".join(f"{p} {i}\n" for i in range(12) for p in payloads) + "end\n"
    html = render_html(diff_texts(old, old + "more\n").ops, side_by_side=side_by_side)
    assert html.count("<details") == 1 and "</summary>" in html
    for p in payloads:
        assert p not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 0" in html  # folded, escaped, present
    assert html.count("</details>") == 1


class _Nesting(HTMLParser):
    """Records, for every text node holding a bidi control, the open elements around it."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.found: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ("col", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (self.stack, tag)  # well nested
        self.stack.pop()

    def handle_data(self, data):
        if any(c in data for c in "\u202e\u2066\u200f"):
            self.found.append(list(self.stack))


@pytest.mark.parametrize("side_by_side", [False, True])
def test_bidi_controls_stay_inside_their_line(side_by_side):
    old = "".join(f"clause {i}\n" for i in range(10)) + "evil \u202e reversed \u2066 text\u200f\n"
    new = old.replace("clause 2\n", "clause two \u202e\n")
    html = render_html(diff_texts(old, new).ops, side_by_side=side_by_side)
    parser = _Nesting()
    parser.feed(str(html))
    assert parser.stack == [] and len(parser.found) == (3 if side_by_side else 2)
    for stack in parser.found:  # each inside one line's isolate (inline) or its own cell
        assert ("bdi" in stack) if not side_by_side else (stack.count("td") >= 1)
        assert "i" not in stack  # never in a line-number gutter


TEXTS = st.text(alphabet="ab \n\r\u202e<", max_size=40)


@given(TEXTS, TEXTS)
def test_side_rows_hold_each_side_line_by_line(old, new):
    rows = side_rows(diff_texts(old, new).ops)
    for side, text, other in (("old", old, 1), ("new", new, -1)):
        cells = [getattr(r, side) for r in rows if getattr(r, side) is not None]
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()  # the text after a final newline is no line
        shown = ["".join(t for op, t in c if op != other and t != "\n") for c in cells]
        assert shown == lines
        numbers = [getattr(r, side + "_no") for r in rows if getattr(r, side) is not None]
        assert numbers == list(range(1, len(lines) + 1))
    assert any(r.changed for r in rows) == (old != new)


@given(TEXTS, TEXTS)
def test_inline_lines_rebuild_both_texts(old, new):
    lines = diff_lines(diff_texts(old, new).ops)
    for text, other, at in ((old, 1, "old_at"), (new, -1, "new_at")):
        rebuilt = ""
        for k, line in enumerate(lines):
            rebuilt += "".join(t for op, t in line.pieces if op != other and t != "\n")
            if k + 1 < len(lines):
                rebuilt += "\n" * (getattr(lines[k + 1], at) - getattr(line, at))
        assert rebuilt.rstrip("\n") == text.rstrip("\n")
    assert any(ln.changed for ln in lines) == (old != new)


def test_adjacent_equal_pieces_render_whole():
    """Ops from storage may hold neighbouring equal runs: an unchanged line keeps them all."""
    ops = [(0, "one "), (0, "two\nthree\n"), (1, "four\n")]
    html = render_html(ops, context=None)
    assert "<bdi>one two</bdi>" in html and "<bdi>three</bdi>" in html
    assert render_terminal(ops, color=False, context=None).splitlines()[0] == "one two"


@given(TEXTS, TEXTS)
def test_batched_escaping_matches_line_by_line_rendering(old, new):
    """The fast path (unchanged lines escaped in one call) renders exactly what the general
    per-line renderer does."""
    ops = diff_texts(old, new).ops
    lines = diff_lines(ops)
    assert diff_render._inline_lines(lines) == [diff_render._inline_line(ln) for ln in lines]
    rows = side_rows(ops)
    assert diff_render._side_rows_html(rows) == [diff_render._side_row(r) for r in rows]


# Line alignment: each line of each side numbered once, in order; side by side, the lines of
# a changed chunk paired by the text they share, unchanged lines always on one row.


def numbered(lines) -> tuple[list[int], list[int]]:
    """The old and the new line numbers an inline diff shows, in display order."""
    return (
        [ln.old_at for ln in lines if ln.on_old],
        [ln.new_at for ln in lines if ln.on_new],
    )


def line_count(text: str) -> int:
    return len(text.split("\n")) - (text.endswith("\n") or text == "")


@pytest.mark.parametrize(
    "old, new",
    [
        ("abc def\n", "abc\ndef\n"),  # an old line split by an inserted line break
        ("abc\ndef\n", "abc def\n"),  # two old lines joined: the new line once
        ("one two three\nfour\n", "one two\nthree four\n"),  # a break moved
        ("abcd\nend\n", "ab\ncd\nend\n"),
    ],
)
def test_inline_numbers_each_line_of_each_side_once(old, new):
    lines = diff_lines(diff_texts(old, new).ops)
    assert numbered(lines) == (
        list(range(1, line_count(old) + 1)),
        list(range(1, line_count(new) + 1)),
    )
    html = render_html(diff_texts(old, new).ops, context=None)
    for n in range(1, line_count(old) + 1):  # the old gutter (first <i>) shows each once
        assert (
            html.count(f'<div class="dl ch"><i data-n="{n}">')
            + html.count(f'<div class="dl"><i data-n="{n}">')
            == 1
        )


def test_inline_split_line_shows_its_old_number_once():
    lines = diff_lines(diff_texts("abc def\n", "abc\ndef\n").ops)
    assert [(ln.on_old, ln.old_at, ln.on_new, ln.new_at) for ln in lines] == [
        (True, 1, True, 1),
        (False, 1, True, 2),  # the rest of old line 1: no second "1" in the old gutter
    ]
    assert all(ln.changed for ln in lines)  # both display lines belong to a changed line


@given(TEXTS, TEXTS)
def test_inline_numbers_are_each_line_once_in_order(old, new):
    assert numbered(diff_lines(diff_texts(old, new).ops)) == (
        list(range(1, line_count(old) + 1)),
        list(range(1, line_count(new) + 1)),
    )


def row_texts(rows) -> list[tuple[str | None, str | None]]:
    def text(pieces, other):
        if pieces is None:
            return None
        return "".join(t for op, t in pieces if op != other and t != "\n")

    return [(text(r.old, 1), text(r.new, -1)) for r in rows]


def test_side_rows_keep_an_unchanged_line_on_one_row_after_an_insertion():
    rows = side_rows(diff_texts("a\nb\nc\n", "a\nX\nb\nc\n").ops)
    assert row_texts(rows) == [("a", "a"), (None, "X"), ("b", "b"), ("c", "c")]
    assert [(r.old_no, r.new_no) for r in rows if r.old and r.new] == [(1, 1), (2, 3), (3, 4)]
    assert [r.changed for r in rows] == [False, True, False, False]


def test_side_rows_pair_a_changed_line_with_its_new_form():
    old = "intro\nthe quick brown fox\nend\n"
    new = "intro\nNEW LINE\nthe quick brown fox jumps\nend\n"
    rows = side_rows(diff_texts(old, new).ops)
    assert row_texts(rows) == [
        ("intro", "intro"),
        (None, "NEW LINE"),
        ("the quick brown fox", "the quick brown fox jumps"),
        ("end", "end"),
    ]
    html = render_html(diff_texts(old, new).ops, side_by_side=True, context=None)
    assert (
        '<td class="ln" data-n="2"></td><td class="diff-old">the quick brown fox</td>'
        '<td class="ln" data-n="3"></td><td class="diff-new">the quick brown fox<ins> jumps</ins>'
    ) in html


def test_side_rows_pair_a_split_line_with_the_part_that_shares_most():
    rows = side_rows(diff_texts("The quick brown fox jumps\n", "The\nquick brown fox jumps\n").ops)
    assert row_texts(rows) == [
        (None, "The"),
        ("The quick brown fox jumps", "quick brown fox jumps"),
    ]


@given(TEXTS, TEXTS)
def test_side_rows_keep_unchanged_lines_on_one_row(old, new):
    """Every line the inline view shows unchanged, numbered on both sides, is one unchanged
    row side by side; and a row marked unchanged shows the same line on both sides."""
    ops = diff_texts(old, new).ops
    rows = side_rows(ops)
    at = {(r.old_no, r.new_no): r for r in rows if r.old is not None and r.new is not None}
    for ln in diff_lines(ops):
        if not ln.changed and ln.on_old and ln.on_new:
            row = at.get((ln.old_at, ln.new_at))
            assert row is not None and not row.changed, (ln, rows)
    for r in rows:
        if not r.changed:
            assert r.old is not None and r.old == r.new


# Hunks agree across terminal, patch and stat (issue 19: `@@ -1 +1 @@` over a 7->9-line hunk).

HUNK_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@$", re.M)


@st.composite
def edited_texts(draw) -> tuple[str, str]:
    """A text of short lines and an edit of it: lines inserted, deleted, changed, split."""
    pool = ["alpha beta", "gamma", "", "delta eps", "zeta eta theta", "x\r", "one two three"]
    lines = draw(st.lists(st.sampled_from(pool), max_size=40))
    new = list(lines)
    for _ in range(draw(st.integers(0, 5))):
        k = draw(st.integers(0, len(new)))
        action = draw(st.sampled_from(["insert", "delete", "change", "split"]))
        if action == "insert":
            new.insert(k, draw(st.sampled_from(["new line", "alpha", "x y", ""])))
        elif k < len(new):
            if action == "delete":
                del new[k]
            elif action == "change":
                new[k] += " more"
            else:
                new[k : k + 1] = new[k].split(" ", 1)
    ends = draw(st.tuples(st.sampled_from(["", "\n"]), st.sampled_from(["", "\n"])))
    return "\n".join(lines) + ends[0], "\n".join(new) + ends[1]


@settings(max_examples=150, deadline=None)
@given(edited_texts())
def test_hunk_headers_and_counts_agree_in_terminal_patch_and_stat(pair) -> None:
    old, new = pair
    result = diff_texts(old, new)
    terminal = HUNK_HEADER.findall(render_terminal(result.ops, color=False, context=3))
    patch = render_patch(result.ops, "a/x", "b/x")
    assert HUNK_HEADER.findall(patch) == terminal
    assert f"{len(terminal)} hunk" in render_stat(result)
    assert (patch == "") == (old == new)


def test_a_hunk_header_counts_its_lines() -> None:
    old = "".join(f"line {i}\n" for i in range(7))
    new = "intro\n" + old.replace("line 3", "line three") + "outro\n"
    out = render_terminal(diff_texts(old, new).ops, color=False, context=3)
    assert out.splitlines()[0] == "@@ -1,7 +1,9 @@"
    assert render_patch(diff_texts(old, new).ops, "a", "b").splitlines()[2] == "@@ -1,7 +1,9 @@"


@settings(max_examples=60, deadline=None)
@given(edited_texts())
def test_patches_apply_with_the_system_tool(tmp_path_factory, pair) -> None:
    old, new = pair
    patch_text = render_patch(diff_texts(old, new).ops, "a/doc.txt", "b/doc.txt")
    if not patch_text:
        return
    tmp = tmp_path_factory.mktemp("patch")
    (tmp / "doc.txt").write_bytes(old.encode())
    done = subprocess.run(
        [need_tool("patch"), "-p1", "--binary", "-s"],
        cwd=tmp,
        input=patch_text.encode(),
        capture_output=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp / "doc.txt").read_bytes() == new.encode()
