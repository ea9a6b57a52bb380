"""Render stored diffs late: terminal word diff, HTML, unified patch, one-line stat.

Why late: stored diffs are data; every renderer escapes document text itself, so no stored
HTML (or terminal control sequence) is ever trusted.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from markupsafe import Markup, escape

from archive.diffs import DELETE, EQUAL, INSERT, DiffResult

Op = tuple[int, str]

_RED, _GREEN, _RESET = "\x1b[31m", "\x1b[32m", "\x1b[m"
# Bidi controls can make a terminal show text in a misleading order ("Trojan Source").
_BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def _terminal_safe(text: str) -> str:
    """Make control and bidi-override characters visible instead of interpreting them."""
    out = []
    for ch in text:
        c = ord(ch)
        if ch in "\n\t":
            out.append(ch)
        elif c < 0x20:
            out.append(chr(0x2400 + c))  # control pictures: NUL -> U+2400, CR -> U+240D
        elif c == 0x7F:
            out.append("\u2421")
        elif 0x80 <= c < 0xA0 or c in _BIDI:
            out.append(f"<U+{c:04X}>")
        else:
            out.append(ch)
    return "".join(out)


def _lines(ops: Iterable[Op]) -> list[list[Op]]:
    """Split ops into display lines; each line is a list of (op, text) without newlines."""
    lines: list[list[Op]] = [[]]
    for op, text in ops:
        parts = text.split("\n")
        for k, part in enumerate(parts):
            if k:
                lines.append([])
            if part:
                lines[-1].append((op, part))
    return lines


def render_terminal(ops: Sequence[Op], color: bool = True, context: int | None = 3) -> str:
    """Word diff like ``git diff --word-diff``: red/green with color, else [-..-]/{+..+}."""
    rendered: list[str] = []
    changed: list[bool] = []
    for line in _lines(ops):
        pieces = []
        for op, part in line:
            safe = _terminal_safe(part)
            if op == EQUAL:
                pieces.append(safe)
            elif op == DELETE:
                pieces.append(f"{_RED}{safe}{_RESET}" if color else f"[-{safe}-]")
            else:
                pieces.append(f"{_GREEN}{safe}{_RESET}" if color else f"{{+{safe}+}}")
        rendered.append("".join(pieces))
        changed.append(any(op != EQUAL for op, _ in line))
    # A newline inside a delete/insert ends a line on one side only, so count per side.
    starts = _line_starts(ops)
    if context is None:
        return "\n".join(rendered)
    keep = [False] * len(rendered)
    for i, c in enumerate(changed):
        if c:
            for j in range(max(0, i - context), min(len(rendered), i + context + 1)):
                keep[j] = True
    out: list[str] = []
    prev = -2
    for i, k in enumerate(keep):
        if not k:
            continue
        if i != prev + 1:
            out.append(f"@@ -{starts[i][0]} +{starts[i][1]} @@")
        out.append(rendered[i])
        prev = i
    return "\n".join(out)


def _line_starts(ops: Iterable[Op]) -> list[tuple[int, int]]:
    """Old/new line number at the start of each display line."""
    starts = [(1, 1)]
    old_no = new_no = 1
    for op, text in ops:
        for _ in range(text.count("\n")):
            if op != INSERT:
                old_no += 1
            if op != DELETE:
                new_no += 1
            starts.append((old_no, new_no))
    return starts


def _html_piece(op: int, text: str) -> Markup:
    parts = [escape(p) for p in text.split("\n")]
    body = Markup("<br>\n").join(parts)
    if op == EQUAL:
        return body
    tag = "del" if op == DELETE else "ins"
    return Markup("<{0}>{1}</{0}>").format(Markup(tag), body)


def render_html(ops: Sequence[Op], side_by_side: bool = False) -> Markup:
    """Inline <ins>/<del> in a div, or a two-column table (old left, new right)."""
    if not side_by_side:
        inner = Markup("").join(_html_piece(op, text) for op, text in ops)
        return Markup('<div class="diff">{}</div>').format(inner)
    rows: list[Markup] = []
    for old_lines, new_lines in _aligned_chunks(ops):
        for k in range(max(len(old_lines), len(new_lines))):
            cells = []
            for side, lines in (("old", old_lines), ("new", new_lines)):
                if k < len(lines):
                    content = Markup("").join(_html_piece(op, t) for op, t in lines[k])
                    cls = f"diff-{side}"
                else:
                    content, cls = Markup(""), f"diff-{side} diff-empty"
                cells.append(Markup('<td class="{}">{}</td>').format(cls, content))
            rows.append(Markup("<tr>{}</tr>").format(Markup("").join(cells)))
    body = Markup("\n").join(rows)
    return Markup(
        '<table class="diff diff-side-by-side"><thead><tr><th class="diff-old">old</th>'
        '<th class="diff-new">new</th></tr></thead><tbody>\n{}\n</tbody></table>'
    ).format(body)


def _aligned_chunks(ops: Iterable[Op]) -> list[tuple[list[list[Op]], list[list[Op]]]]:
    """Group ops into chunks that end at a shared (equal) newline; split each side into lines."""
    chunks: list[tuple[list[list[Op]], list[list[Op]]]] = []
    old: list[list[Op]] = [[]]
    new: list[list[Op]] = [[]]
    for op, text in ops:
        parts = text.split("\n")
        for k, part in enumerate(parts):
            if k:
                if op == EQUAL:
                    chunks.append((old, new))
                    old, new = [[]], [[]]
                else:
                    (old if op == DELETE else new).append([])
            if part:
                if op != INSERT:
                    old[-1].append((op, part))
                if op != DELETE:
                    new[-1].append((op, part))
    if old != [[]] or new != [[]]:
        chunks.append((old, new))
    return chunks


def _split_keep(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def render_patch(old: str, new: str, old_label: str, new_label: str) -> str:
    """Unified line diff (``diff -u`` format) that ``patch``/``git apply`` can apply."""
    for label in (old_label, new_label):
        if "\n" in label or "\r" in label:
            raise ValueError("patch labels must be single-line")
    out: list[str] = []
    for line in difflib.unified_diff(
        _split_keep(old), _split_keep(new), old_label, new_label, lineterm="\n", n=3
    ):
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def render_stat(result: DiffResult) -> str:
    """One line: '+12 -3 words, +80 -15 chars, 2 hunks, similarity 0.97, substantive'."""
    s = result.stats
    hunks = s["hunks"]
    line = (
        f"+{s['words_inserted']} -{s['words_deleted']} words, "
        f"+{s['chars_inserted']} -{s['chars_deleted']} chars, "
        f"{hunks} hunk{'' if hunks == 1 else 's'}, "
        f"similarity {s['similarity']:.2f}, {result.change_class}"
    )
    return line + (", coarse" if result.coarse else "")
