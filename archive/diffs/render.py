"""Render stored diffs late: terminal word diff, HTML, unified patch, one-line stat.

Why late: stored diffs are data; every renderer escapes document text itself, so no stored
HTML (or terminal control sequence) is ever trusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from markupsafe import Markup, escape

from archive.diffs import DELETE, EQUAL, INSERT, DiffResult

Op = tuple[int, str]

PATCH_CONTEXT = 3  # unchanged lines around each hunk of a patch (and of the stat's count)
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


class Line(NamedTuple):
    """One display line of an inline diff: its pieces (newline-free; a lone (op, "\\n") piece
    marks a line whose only change is its line break), the old/new line numbers where it
    starts, whether it starts a line of each side (and so shows that side's number: a line
    split or joined by a changed line break spans several display lines but is numbered
    once), and whether it holds a change."""

    pieces: tuple[Op, ...]
    old_at: int
    new_at: int
    on_old: bool
    on_new: bool
    changed: bool


class Row(NamedTuple):
    """One side-by-side row: each side's line (None: no line there) and its number; a row
    of a chunk holding any insertion or deletion is changed unless it shows the same
    unchanged line on both sides."""

    old: tuple[Op, ...] | None
    new: tuple[Op, ...] | None
    old_no: int
    new_no: int
    changed: bool


def _end_line(pieces: list[Op], end: int | None) -> bool:
    """Close a line ended by a newline of op `end` (None: the text's end); True if changed.

    A line whose only change is its line break gets a visible marker piece."""
    changed = any(op != EQUAL for op, _ in pieces)
    if end is not None and end != EQUAL:
        if not changed:
            pieces.append((end, "\n"))
        changed = True
    return changed


def diff_lines(ops: Iterable[Op]) -> list[Line]:
    """Split ops into inline display lines (deletions and insertions share a line).

    Each side's lines are numbered once, in order: a display line that continues a line
    already numbered (the rest of an old line split by an inserted break) shows no number
    on that side, and counts as changed. The empty text after a final newline is no line,
    so both texts ending in a newline do not end the diff with a blank line."""
    lines: list[Line] = []
    pieces: list[Op] = []
    old_no = new_no = 1
    shown_old = shown_new = 0  # the last number each side has shown

    def close(end: int | None) -> None:
        """Close the pending line, ended by a newline of op `end` (None: the text's end)."""
        nonlocal shown_old, shown_new
        changed = _end_line(pieces, end)
        has_old = (end is not None and end != INSERT) or any(o != INSERT for o, _ in pieces)
        has_new = (end is not None and end != DELETE) or any(o != DELETE for o, _ in pieces)
        on_old, on_new = has_old and old_no != shown_old, has_new and new_no != shown_new
        shown_old, shown_new = (old_no if on_old else shown_old), (new_no if on_new else shown_new)
        changed = changed or not (on_old and on_new)
        lines.append(Line(tuple(pieces), old_no, new_no, on_old, on_new, changed))

    for op, text in ops:
        if "\n" not in text:
            if text:
                pieces.append((op, text))
            continue
        parts = text.split("\n")
        for k, part in enumerate(parts):
            if k:
                if (
                    op == EQUAL
                    and (not pieces or (len(pieces) == 1 and pieces[0][0] == EQUAL))
                    and old_no != shown_old
                    and new_no != shown_new
                ):  # an unchanged line: most lines
                    lines.append(Line(tuple(pieces), old_no, new_no, True, True, False))
                    shown_old, shown_new = old_no, new_no
                else:
                    close(op)
                old_no += op != INSERT
                new_no += op != DELETE
                pieces = []
            if part:
                pieces.append((op, part))
    if pieces:
        close(None)
    return lines


Anchor = tuple[int, int, int]  # (old line, new line, weight) within one chunk


def _pairing(anchors: Sequence[Anchor]) -> list[tuple[int, int]]:
    """The (old line, new line) pairs of a chunk that share the most unchanged text, each
    line in one pair at most and pairs in order on both sides (a heaviest chain).

    The anchors come in op order, so both line indexes never decrease along them: the
    anchors before c with both indexes smaller are a prefix, up to the first anchor that
    shares c's old or new line. That makes the chain O(n)."""
    cells: list[Anchor] = []
    for i, j, w in anchors:
        if w <= 0:
            continue
        if cells and cells[-1][:2] == (i, j):
            cells[-1] = (i, j, cells[-1][2] + w)
        else:
            cells.append((i, j, w))
    first_i: dict[int, int] = {}
    first_j: dict[int, int] = {}
    back: list[int] = []  # the best chain through each cell: its previous cell (-1: none)
    prefix: list[tuple[int, int]] = [(0, -1)]  # best (weight, last cell) among cells[:p]
    for c, (i, j, w) in enumerate(cells):
        weight, prev = prefix[min(first_i.setdefault(i, c), first_j.setdefault(j, c))]
        back.append(prev)
        prefix.append(max(prefix[-1], (weight + w, c), key=lambda t: t[0]))
    pairs = []
    c = prefix[-1][1]
    while c >= 0:
        pairs.append(cells[c][:2])
        c = back[c]
    return pairs[::-1]


def _unchanged(pieces: Sequence[Op] | None) -> bool:
    return pieces is not None and all(op == EQUAL for op, _ in pieces)


def _chunk_rows(
    old: list[list[Op]], new: list[list[Op]], anchors: list[Anchor]
) -> Iterator[tuple[tuple[Op, ...] | None, tuple[Op, ...] | None, bool]]:
    """(old line, new line, changed) rows of a changed chunk: lines sharing unchanged text on one
    row, the lines between them paired top down. A chunk's last lines, when the same
    unchanged line (what a chunk ends with), always share the last row."""
    last = None
    if old and new and old[-1] == new[-1] and _unchanged(old[-1]):
        last = (len(old) - 1, len(new) - 1)
        anchors = [a for a in anchors if a[0] != last[0] and a[1] != last[1]]
    pairs = _pairing(anchors) + ([last] if last else [])
    i = j = 0
    for ai, aj in [*pairs, (len(old), len(new))]:
        for k in range(max(ai - i, aj - j)):
            o = tuple(old[i + k]) if i + k < ai else None
            n = tuple(new[j + k]) if j + k < aj else None
            yield o, n, True
        if ai < len(old):
            o, n = tuple(old[ai]), tuple(new[aj])
            yield o, n, not (o == n and _unchanged(o))
        i, j = ai + 1, aj + 1


def side_rows(ops: Iterable[Op]) -> list[Row]:
    """Rows of a two-column diff: ops grouped into chunks that end at a shared (equal)
    newline, each side's lines of a chunk side by side (aligned on the unchanged text they
    share, see `_chunk_rows`), numbered per side."""
    chunks: list[tuple[list[list[Op]], list[list[Op]], list[Anchor], bool]] = []
    old: list[list[Op]] = [[]]
    new: list[list[Op]] = [[]]
    anchors: list[Anchor] = []
    changed = False
    for op, text in ops:
        if op != EQUAL and not changed:  # the chunk's unchanged start: its first line's
            changed = True
            lead = sum(len(t.strip()) for _, t in old[-1])
            anchors = [(0, 0, lead)] if lead else []
        parts = text.split("\n")
        for k, part in enumerate(parts):
            if k:
                if op == EQUAL:
                    chunks.append((old, new, anchors, changed))
                    old, new, anchors, changed = [[]], [[]], [], False
                else:
                    side = old if op == DELETE else new
                    _end_line(side[-1], op)
                    side.append([])
            if part:
                if op != INSERT:
                    old[-1].append((op, part))
                if op != DELETE:
                    new[-1].append((op, part))
                if op == EQUAL and changed:  # unchanged chunks need no alignment
                    anchors.append((len(old) - 1, len(new) - 1, len(part.strip())))
    for side in (old, new):  # the empty text after a side's last newline is no line
        if not side[-1]:
            side.pop()
    if old or new:
        chunks.append((old, new, anchors, changed))
    rows: list[Row] = []
    old_no = new_no = 1
    for old_lines, new_lines, chunk_anchors, chunk_changed in chunks:
        if not chunk_changed:  # the same lines on both sides: one row each
            for line in old_lines:
                rows.append(Row(tuple(line), tuple(line), old_no, new_no, False))
                old_no += 1
                new_no += 1
            continue
        for o, n, row_changed in _chunk_rows(old_lines, new_lines, chunk_anchors):
            rows.append(Row(o, n, old_no, new_no, row_changed))
            old_no += o is not None
            new_no += n is not None
    return rows


def fold_spans(changed: Sequence[bool], context: int | None) -> list[tuple[int, int, bool]]:
    """The hunk/context logic of every renderer: rows [0, n) cut into consecutive spans
    (start, stop, shown). Shown spans hold each changed row and up to `context` rows either
    side (so nearby hunks merge); the rest is folded. context None: everything shown."""
    n = len(changed)
    if context is None:
        return [(0, n, True)] if n else []
    keep = [False] * n
    kept_to = 0  # rows before this are already decided
    for i, c in enumerate(changed):
        if c:
            stop = min(n, i + context + 1)
            for j in range(max(kept_to, i - context), stop):
                keep[j] = True
            kept_to = max(kept_to, stop)
    spans: list[tuple[int, int, bool]] = []
    start = 0
    for i in range(1, n + 1):
        if i == n or keep[i] != keep[start]:
            spans.append((start, i, keep[start]))
            start = i
    return spans


def _terminal_piece(op: int, text: str, color: bool) -> str:
    safe = "\u21b5" if text == "\n" else _terminal_safe(text)
    if op == EQUAL:
        return safe
    if op == DELETE:
        return f"{_RED}{safe}{_RESET}" if color else f"[-{safe}-]"
    return f"{_GREEN}{safe}{_RESET}" if color else f"{{+{safe}+}}"


class Hunk(NamedTuple):
    """Display lines [start, stop) shown as one hunk, and the old and new lines they cover
    (unified diff numbering: a side with no line starts at the line before)."""

    start: int
    stop: int
    old_start: int
    old_count: int
    new_start: int
    new_count: int


def _range(start: int, count: int) -> str:
    """A hunk header's range as ``diff -u`` writes it: `n` for one line, `n,count` else."""
    if count == 1:
        return str(start)
    return f"{start - 1 if count == 0 else start},{count}"


def hunk_header(h: Hunk) -> str:
    return f"@@ -{_range(h.old_start, h.old_count)} +{_range(h.new_start, h.new_count)} @@"


def hunks(lines: Sequence[Line], context: int | None = PATCH_CONTEXT) -> list[Hunk]:
    """The hunks every renderer shows: changed lines with `context` lines around them (see
    fold_spans), each with the old and new lines it covers. Terminal, patch and stat all
    count these, so their headers and counts agree."""
    out = []
    for start, stop, shown in fold_spans([ln.changed for ln in lines], context):
        if shown:
            span = lines[start:stop]
            old_count = sum(ln.on_old for ln in span)
            new_count = sum(ln.on_new for ln in span)
            out.append(Hunk(start, stop, span[0].old_at, old_count, span[0].new_at, new_count))
    return out


def hunk_count(ops: Sequence[Op], context: int = PATCH_CONTEXT) -> int:
    """How many hunks the terminal diff and the patch show with `context` lines."""
    return len(hunks(diff_lines(ops), context))


def render_terminal(ops: Sequence[Op], color: bool = True, context: int | None = 3) -> str:
    """Word diff like ``git diff --word-diff``: red/green with color, else [-..-]/{+..+};
    each hunk of changed lines with `context` lines around it (None: the whole text), under
    the header its patch has (`@@ -old,count +new,count @@`)."""
    lines = diff_lines(ops)
    out: list[str] = []
    for h in hunks(lines, context):
        if context is not None:
            out.append(hunk_header(h))
        for line in lines[h.start : h.stop]:
            out.append("".join(_terminal_piece(op, t, color) for op, t in line.pieces))
    return "\n".join(out)


def _html_text(op: int, text: str, last: bool) -> str:
    """Escaped text of one piece. CR would become a line break in HTML: an unchanged line's
    final CR (its CRLF ending) is dropped, any other CR shown as a control picture."""
    if text == "\n":
        return "\u21b5"
    if "\r" in text:
        if op == EQUAL and last and text.endswith("\r"):
            text = text[:-1]
        text = text.replace("\r", "\u240d")
    return str(escape(text))


def _html_pieces(pieces: Sequence[Op]) -> str:
    out = []
    last = len(pieces) - 1
    for k, (op, text) in enumerate(pieces):
        body = _html_text(op, text, k == last)
        if op == EQUAL:
            out.append(body)
        else:
            tag = "del" if op == DELETE else "ins"
            cls = ' class="eol"' if text == "\n" else ""
            out.append(f"<{tag}{cls}>{body}</{tag}>")
    return "".join(out)


def _fold_label(count: int) -> str:
    return f"{count:,} unchanged line{'' if count == 1 else 's'}"


def _escaped_lines(texts: list[str]) -> Iterator[str]:
    """Unchanged lines escaped in one call for all of them, then split back (a line ending's
    CR dropped, any other CR shown as ␍): the same text as _html_text, far fewer calls."""
    joined = "\n".join(t[:-1] if t.endswith("\r") else t for t in texts)
    return iter(str(escape(joined.replace("\r", "\u240d"))).split("\n"))


def _inline_lines(lines: Sequence[Line]) -> list[str]:
    """Each line's HTML. Unchanged one-piece lines (most of a diff page) are escaped in one
    call for all of them, then split back: the same text as _html_text, far fewer calls."""
    plain = [ln for ln in lines if not ln.changed and len(ln.pieces) < 2]
    escaped = _escaped_lines([ln.pieces[0][1] if ln.pieces else "" for ln in plain])
    out = []
    for line in lines:
        if not line.changed and len(line.pieces) < 2:
            out.append(
                f'<div class="dl"><i data-n="{line.old_at}"></i><i data-n="{line.new_at}"></i>'
                f"<bdi>{next(escaped)}</bdi></div>"
            )
        else:
            out.append(_inline_line(line))
    return out


def _inline_line(line: Line) -> str:
    cls = "dl ch" if line.changed else "dl"
    o = f' data-n="{line.old_at}"' if line.on_old else ""  # a line of one side only: no number
    n = f' data-n="{line.new_at}"' if line.on_new else ""
    return f'<div class="{cls}"><i{o}></i><i{n}></i><bdi>{_html_pieces(line.pieces)}</bdi></div>'


def _side_cell(side: str, pieces: tuple[Op, ...] | None, number: int) -> str:
    if pieces is None:
        return f'<td class="ln"></td><td class="diff-{side} diff-empty"></td>'
    return (
        f'<td class="ln" data-n="{number}"></td><td class="diff-{side}">{_html_pieces(pieces)}</td>'
    )


def _plain(pieces: tuple[Op, ...] | None) -> bool:
    return pieces is not None and len(pieces) < 2 and all(op == EQUAL for op, _ in pieces)


def _side_rows_html(rows: Sequence[Row]) -> list[str]:
    """Each row's HTML; unchanged rows (the same one-piece line on both sides) escaped in one
    call for all of them, as in _inline_lines."""
    plain = [not r.changed and _plain(r.old) and r.old == r.new for r in rows]
    escaped = _escaped_lines(
        [r.old[0][1] if r.old else "" for r, p in zip(rows, plain, strict=True) if p]
    )
    out = []
    for row, p in zip(rows, plain, strict=True):
        if p:
            text = next(escaped)
            out.append(
                f'<tr><td class="ln" data-n="{row.old_no}"></td><td class="diff-old">{text}</td>'
                f'<td class="ln" data-n="{row.new_no}"></td><td class="diff-new">{text}</td></tr>'
            )
        else:
            out.append(_side_row(row))
    return out


def _side_row(row: Row) -> str:
    cls = ' class="ch"' if row.changed else ""
    return (
        f"<tr{cls}>{_side_cell('old', row.old, row.old_no)}"
        f"{_side_cell('new', row.new, row.new_no)}</tr>"
    )


_COLS = '<colgroup><col class="cn"><col><col class="cn"><col></colgroup>'


def render_html(
    ops: Sequence[Op],
    side_by_side: bool = False,
    context: int | None = 3,
    lines: Sequence[Line] | None = None,
) -> Markup:
    """Inline <ins>/<del> lines in a div, or a two-column table (old left, new right), with
    line numbers; unchanged text beyond `context` lines of a change (None: none) is folded
    into <details> that open without a request or script. `lines`: the ops' diff_lines, when
    the caller has them already (a page that also counts hunks splits the ops once).

    Every document string goes through markupsafe.escape; each line is its own block and its
    text a <bdi> or cell, so bidi controls in a document cannot reorder anything around it.
    """
    items: Sequence[Line] | Sequence[Row]
    if side_by_side:
        items = side_rows(ops)
        html = _side_rows_html(items)
    else:
        items = diff_lines(ops) if lines is None else lines
        html = _inline_lines(items)
    body: list[str] = []
    for start, stop, shown in fold_spans([i.changed for i in items], context):
        inner = "\n".join(html[start:stop])
        summary = f'<details class="fold"><summary>{_fold_label(stop - start)}</summary>'
        if shown:
            body.append(inner)
        elif side_by_side:
            body.append(
                f'<tr class="fold"><td colspan="4">{summary}<table class="diff diff-fold">'
                f"{_COLS}<tbody>\n{inner}\n</tbody></table></details></td></tr>"
            )
        else:
            body.append(f"{summary}\n{inner}\n</details>")
    joined = "\n".join(body)
    if not side_by_side:
        return Markup(f'<div class="diff">\n{joined}\n</div>')
    return Markup(
        f'<table class="diff diff-side-by-side">{_COLS}<thead><tr><th class="ln"></th>'
        '<th class="diff-old">old</th><th class="ln"></th><th class="diff-new">new</th></tr>'
        f"</thead><tbody>\n{joined}\n</tbody></table>"
    )


def _split_keep(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _texts(ops: Iterable[Op]) -> tuple[str, str]:
    """Both texts of a diff, rebuilt from its ops."""
    ops = list(ops)
    return (
        "".join(t for op, t in ops if op != INSERT),
        "".join(t for op, t in ops if op != DELETE),
    )


def render_patch(
    ops: Sequence[Op], old_label: str, new_label: str, context: int = PATCH_CONTEXT
) -> str:
    """Unified diff (``diff -u``) of the word diff's lines, so that its hunks are the
    terminal diff's and the stat's: unchanged lines as context, each run of changed lines as
    its old lines (-) then its new lines (+). ``patch`` and ``git apply`` apply it."""
    for label in (old_label, new_label):
        if "\n" in label or "\r" in label:
            raise ValueError("patch labels must be single-line")
    old_text, new_text = _texts(ops)
    old, new = _split_keep(old_text), _split_keep(new_text)
    lines = diff_lines(ops)
    found = hunks(lines, context)
    if not found:
        return ""
    out = [f"--- {old_label}\n", f"+++ {new_label}\n"]

    def emit(mark: str, text: str) -> None:
        out.append(mark + text)
        if not text.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")

    for h in found:
        out.append(hunk_header(h) + "\n")
        i = h.start
        while i < h.stop:
            if not lines[i].changed:
                emit(" ", old[lines[i].old_at - 1])
                i += 1
                continue
            j = i
            while j < h.stop and lines[j].changed:
                j += 1
            old_to = lines[j].old_at if j < len(lines) else len(old) + 1
            new_to = lines[j].new_at if j < len(lines) else len(new) + 1
            out_old = [old[n - 1] for n in range(lines[i].old_at, old_to)]
            out_new = [new[n - 1] for n in range(lines[i].new_at, new_to)]
            for text in out_old:
                emit("-", text)
            for text in out_new:
                emit("+", text)
            i = j
    return "".join(out)


def render_stat(result: DiffResult, n_hunks: int | None = None) -> str:
    """One line: '+12 -3 words, +80 -15 chars, 2 hunks, similarity 0.97, substantive'; the
    hunks are those the terminal diff and the patch show (3 lines of context): `n_hunks`,
    when the caller has counted them already."""
    s = result.stats
    n = hunk_count(result.ops) if n_hunks is None else n_hunks
    line = (
        f"+{s['words_inserted']} -{s['words_deleted']} words, "
        f"+{s['chars_inserted']} -{s['chars_deleted']} chars, "
        f"{n} hunk{'' if n == 1 else 's'}, "
        f"similarity {s['similarity']:.2f}, {result.change_class}"
    )
    return line + (", coarse" if result.coarse else "")
