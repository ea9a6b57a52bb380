"""Tests for archive.diff_render: escaping, markers, context, patch round trip, stat line."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from markupsafe import Markup

from archive.diff_render import render_html, render_patch, render_stat, render_terminal
from archive.diffs import diff_texts

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
    assert html == '<div class="diff">a <del>b</del><ins>x</ins><br>\nc</div>'


def test_html_side_by_side_columns():
    html = render_html(diff_texts("one\ntwo\n", "one\n2\nthree\n").ops, side_by_side=True)
    assert html.count("<tr>") == 1 + 3  # header + one/two/blank-end rows
    assert '<td class="diff-old"><del>two</del></td>' in html
    assert '<td class="diff-new"><ins>2</ins></td>' in html
    assert '<td class="diff-old diff-empty"></td>' in html


def test_terminal_markers_and_color():
    ops = diff_texts("The cat sat.", "The dog sat.").ops
    assert render_terminal(ops, color=False) == "@@ -1 +1 @@\nThe [-cat-]{+dog+} sat."
    colored = render_terminal(ops, color=True)
    assert "\x1b[31mcat\x1b[m" in colored and "\x1b[32mdog\x1b[m" in colored


def test_terminal_context_and_control_chars():
    old = "".join(f"line {i}\n" for i in range(20))
    new = old.replace("line 10\n", "line ten\x1b[2J\n")
    out = render_terminal(diff_texts(old, new).ops, color=False, context=1)
    assert out.splitlines() == ["@@ -10 +10 @@", "line 9", "line [-10-]{+ten␛[2J+}", "line 11"]
    assert "\x1b" not in out
    full = render_terminal(diff_texts(old, new).ops, color=False, context=None)
    assert full.count("\n") == 20


def test_patch_applies_with_system_tool(tmp_path):
    tool = shutil.which("patch")
    if not tool:
        pytest.skip("patch binary not available")
    old = "alpha\r\nbeta\nγάμμα 😀\nshared\nno newline at end"
    new = "alpha\r\nBETA\nγάμμα 😀\nshared\nno newline at end\nadded"
    patch_text = render_patch(old, new, "a/doc.txt", "b/doc.txt")
    assert patch_text.startswith("--- a/doc.txt\n+++ b/doc.txt\n")
    assert render_patch(old, new, "a/doc.txt", "b/doc.txt") == patch_text
    target = tmp_path / "doc.txt"
    target.write_bytes(old.encode("utf-8"))
    (tmp_path / "p.diff").write_bytes(patch_text.encode("utf-8"))
    subprocess.run(
        [tool, "-p1", "--binary", "-i", "p.diff"], cwd=tmp_path, check=True, capture_output=True
    )
    assert target.read_bytes() == new.encode("utf-8")


def test_patch_identical_and_bad_label():
    assert render_patch("same\n", "same\n", "a", "b") == ""
    with pytest.raises(ValueError):
        render_patch("a", "b", "a\nb", "c")


def test_stat_line():
    r = diff_texts("The cat sat.", "The dog sat down.")
    # ops: "The " -cat +dog " sat" +" down" "." -> 2 hunks, similarity 2*9/29
    assert render_stat(r) == "+2 -1 words, +8 -3 chars, 2 hunks, similarity 0.62, substantive"
    r = diff_texts("a b", "a c")
    assert render_stat(r) == "+1 -1 words, +1 -1 chars, 1 hunk, similarity 0.67, substantive"
    assert render_stat(diff_texts("x", "x")).endswith("0 hunks, similarity 1.00, none")
