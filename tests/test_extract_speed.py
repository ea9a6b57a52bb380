"""The fast extractors (lines split once, whole-text C-speed scans, pre-checks, caches) give
exactly what a plain line-by-line reference gives, on adversarial text: archives made before
are verified by re-running the extractor, so any difference would fail `archive verify`.

Each reference below is the obvious implementation (the extractor as it was before it was made
fast), kept here only as the oracle.
"""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingest.extract import extract
from ingest.extract.base import Context, lines_of
from ingest.extract.byline import find_byline
from ingest.extract.counts import counts, line_endings, word_count
from ingest.extract.dates import _DATELINE, find_dateline
from ingest.extract.language import detect_language
from ingest.extract.listings import _STAMP, BULLETS, _is_label, find_comments, find_tags
from ingest.extract.quotes import _PAIRS, _straight_closes, _straight_opens, find_quotes
from ingest.extract.title import extract_headings, extract_title

# Line breaks of every kind (and the ones that are not breaks here: U+2028, NEL, \x1c),
# NUL, combining marks, right-to-left marks, spaces of every width, bullets, headings, fences,
# quotation marks, digits of two scripts, CJK, and the words dates and bylines look for.
PIECES = [
    "\n", "\r\n", "\r", "\n\n", "\r\r", "\u2028", "\u2029", "\x85", "\x1c", "\x1f", "\x7f",
    "\x00", "\x0b",
    " ", "  ", "\t", "\u00a0", "\u3000", "\u2003", "\u0301", "e\u0301", "\u200f", "\u202e",
    "\u0627\u0644", "•", "·", "*", "-", "–", "▪", "◦", "‣", "• ", "- ", "* ", "-\t", "•\u00a0",
    "#", "# ", "## ", "###### ", "####### ", "   # ", "    # ", "```", "~~~", " ```",
    '"', "“", "”", "«", "»", "„", "‚", "‘", "’", "「", "」", "『", "』", "(", "—", ":",
    "2019-01-06 10:27", "2020-01-02T03:04:05", "2019", "12", "٣", "March 3", "Monday", "day",
    "By ", "by ", "Jane", "Doe", "and", "x", "word", "a.", "Tag", "漢字", "カナ", "_", "!",
    "TEHRAN", ", Sept 7", " (Reuters)", " — ", " - ",
]  # fmt: skip
TEXT = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
# Line-shaped text: indent, a marker (bullet, heading, fence, stamp), words, trailing space.
LINE = st.tuples(
    st.sampled_from(["", " ", "   ", "    ", "\t", "\u00a0", "\u2003"]),
    st.sampled_from(
        ["", "- ", "• ", "*\t", "-\u00a0", "# ", "## ", "#", "```", "~~~", "• 2019-01-06 10:27"]
    ),
    st.lists(
        st.sampled_from(["word", "Tag", "x.", "!", "“a b c”", "2019", "#", " ", "- "]), max_size=6
    ).map(" ".join),
    st.sampled_from(["", " ", "\t", " #", "\u00a0"]),
).map("".join)
LINES = st.tuples(st.lists(LINE, max_size=12), st.sampled_from(["\n", "\r\n", "\r"])).map(
    lambda t: t[1].join(t[0])
)
HUGE = "word " * 3_000 + "“" + "x " * 3_000  # a huge line: an unclosed quote past the span


def ctx(text: str, media_type: str = "text/markdown") -> Context:
    return Context(media_type, "t.md", "utf-8", None, text)


# --- references -------------------------------------------------------------------------------


_OLD_NOT_A_WORD = re.compile(r"(?<!\S)(?:[^\w\s]|_)+(?!\S)")
_OLD_CJK = re.compile(
    "[\u3005\u3006\u3007\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)


def ref_word_count(text: str) -> int:
    cjk = len(_OLD_CJK.findall(text))
    if cjk:
        text = _OLD_CJK.sub(" ", text)
    return len(text.split()) - len(_OLD_NOT_A_WORD.findall(text)) + cjk


def ref_counts(text: str) -> dict[str, int]:
    normal = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = normal.count("\n") + (1 if normal and not normal.endswith("\n") else 0)
    return {"word_count": ref_word_count(text), "char_count": len(text), "line_count": lines}


def ref_line_endings(s: str) -> str:
    crlf, cr, lf = s.count("\r\n"), s.count("\r"), s.count("\n")
    kinds = [name for name, n in (("CRLF", crlf), ("CR", cr - crlf), ("LF", lf - crlf)) if n]
    return "none" if not kinds else kinds[0] if len(kinds) == 1 else "mixed"


_OLD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")


def ref_headings(text: str) -> list[tuple[str, str]]:
    found, in_fence = [], False
    for line in lines_of(text):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        m = None if in_fence else _OLD_HEADING.match(line)
        if m:
            found.append((" ".join(m.group(2).split()), f"h{len(m.group(1))}"))
    return found


def ref_h1(text: str) -> str | None:
    for line in lines_of(text):
        m = _OLD_HEADING.match(line)
        if m and len(m.group(1)) == 1:
            return " ".join(m.group(2).split())[:500]
    return None


def ref_bullet(line: str) -> str | None:
    s = line.strip()
    if len(s) >= 2 and s[0] in BULLETS and s[1] in " \t\u00a0":
        return s[2:].strip()
    return None


def ref_tags(text: str) -> list[str]:
    tags: list[str] = []
    block: list[str] = []
    for line in lines_of(text) + [""]:
        item = ref_bullet(line)
        if item is not None:
            block.append(item)
            continue
        if line.strip() and block:
            block = []
            continue
        if len(block) >= 2 and all(_is_label(b) for b in block):
            tags.extend(block)
        block = []
    return tags


def ref_comments(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    stamp: str | None = None
    body: list[str] = []

    def flush() -> None:
        if stamp is not None and body:
            out.append((" ".join(" ".join(body).split()), stamp))

    for line in lines_of(text):
        item = ref_bullet(line)
        m = _STAMP.match(item) if item is not None else None
        if m:
            flush()
            stamp, body = f"{m.group(1)}T{m.group(2)}", []
        elif item is not None:
            flush()
            stamp, body = None, []
        elif stamp is not None:
            if line.strip():
                body.append(line.strip())
            elif body:
                flush()
                stamp, body = None, []
    flush()
    return out


def ref_find_close(text: str, i: int, opener: str) -> tuple[int, bool]:
    closers = _PAIRS[opener]
    limit = min(len(text), i + 1 + 5000)
    j = i + 1
    while j < limit:
        c = text[j]
        if c == "\n" and j + 1 < len(text) and text[j + 1] in "\r\n":
            return j, False
        if opener == '"':
            if c == '"':
                if _straight_closes(text, j):
                    return j, True
                if _straight_opens(text, j):
                    return -1, False
        elif c in closers:
            return j, True
        elif c == opener:
            return -1, False
        j += 1
    return (len(text), False) if limit == len(text) else (-1, False)


def ref_quotes(text: str) -> list[tuple[str, int, int, str]]:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c not in _PAIRS or (c == '"' and not _straight_opens(text, i)):
            i += 1
            continue
        j, closed = ref_find_close(text, i, c)
        if j < 0 or (not closed and c == '"'):
            i += 1
            continue
        inner = text[i + 1 : j].strip()
        if ref_word_count(inner) >= 3:
            out.append((inner, i, j + 1 if closed else j, c + text[j] if closed else c))
        i = j + 1 if closed else j
    return out


def ref_byline(text: str) -> str | None:
    seen = 0
    for raw in lines_of(text):
        line = " ".join(raw.split())
        if not line:
            continue
        seen += 1
        if seen > 15:
            break
        if line[:3].lower() != "by " or len(line.split()) > 12:
            continue
        names = line[3:].strip().rstrip(".,;")
        for sep in (" | ", " - ", " — ", " – "):
            names = names.split(sep)[0].strip()
        words = names.split()
        connectors = {"and", "&", "de", "van", "von", "der", "al", "bin", "la", "le", "del", "di"}
        if words and all(w[0].isupper() or w.lower() in connectors for w in words):
            return names
    return None


def ref_dateline(text: str) -> str | None:
    seen = 0
    for line in text.replace("\r", "\n").split("\n", 200)[:200]:
        if not line.strip():
            continue
        seen += 1
        if seen > 8:
            break
        m = _DATELINE.match(line.strip()[:200])
        if m:
            return m.group(1)
    return None


# --- the fast functions against them ----------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(TEXT)
@example("- a\r- b\r\r• 2019-01-06 10:27\rhi there\r")
@example(HUGE)
def test_counts(text: str) -> None:
    assert word_count(text) == ref_word_count(text)
    assert counts(text) == ref_counts(text)
    assert counts(text, lines_of(text)) == ref_counts(text)
    assert line_endings(text) == ref_line_endings(text)
    assert line_endings(text.encode()) == ref_line_endings(text)


@settings(max_examples=400, deadline=None)
@given(TEXT | LINES)
@example("```\n# not a heading\n~~~\n## Two ##  \n # One\r\n")
def test_headings_and_h1_title(text: str) -> None:
    c = ctx(text)
    assert [(v, d) for _, _, v, d in extract_headings(text, c).items] == ref_headings(text)
    h1 = ref_h1(text)
    if h1 is not None:
        assert extract_title(text, c).fields["title"] == h1  # headings found already
        assert extract_title(text, ctx(text)).fields["title"] == h1  # found afresh


@settings(max_examples=400, deadline=None)
@given(TEXT | LINES)
@example("- a \n- b \n\nx")
@example("- one two three four five\n- a\n- b\n\n")
@example("- alpha\r\n- beta\r\n\r\n• 2020-01-02 03:04:05 \n  Nice.\n  Really.\n- x\n")
@example("•\u00a0a\n• b\n\u2028\n- c\n-\u00a0\n- d")
def test_tags_and_comments(text: str) -> None:
    assert find_tags(text) == ref_tags(text)
    assert find_comments(text) == ref_comments(text)
    c = ctx(text)
    assert find_tags(text, c.normal) == ref_tags(text)
    assert find_comments(text, c.normal) == ref_comments(text)


@settings(max_examples=400, deadline=None)
@given(TEXT)
@example(HUGE)
@example('"a b c\n\r"d e f" “g h i\n\n')
def test_quotes(text: str) -> None:
    assert [(q.text, q.start, q.end, q.marks) for q in find_quotes(text)] == ref_quotes(text)


@settings(max_examples=200, deadline=None)
@given(TEXT)
@example("\r\rBy Jane Doe | Reuters\r")
@example(" \n" * 16 + "By Jane Doe\n")  # blank lines are not among the first 15
@example("x\n" * 15 + "By Jane Doe\n")
def test_byline(text: str) -> None:
    assert find_byline(text) == ref_byline(text)
    assert find_byline(text, lines_of(text)) == ref_byline(text)


def test_language_is_the_model_answer_and_cached() -> None:
    import py3langid

    text = "Ceci est un texte en français, assez long pour que le modèle décide. " * 3
    assert detect_language(text) == py3langid.classify(text[:2000])[0] == "fr"
    assert detect_language(text) == "fr"  # from the cache, the same
    assert detect_language("\u0301" * 50 + "12 34") is None


@settings(max_examples=150, deadline=None)
@given(TEXT | LINES, st.sampled_from(["text/markdown", "text/plain"]))
def test_extract_shares_lines_without_changing_answers(text: str, media_type: str) -> None:
    """The shared Context.lines/normal give every extractor what its own split gave."""
    e = extract(text, media_type=media_type, path="t.md", encoding="utf-8")
    assert e.fields["word_count"] == ref_word_count(text)
    assert e.fields["line_count"] == ref_counts(text)["line_count"]
    comments = [c for c, _ in dict.fromkeys(ref_comments(text))]  # rows() drops repeats
    assert [v for k, _, v, _ in e.items if k == "comment"] == comments


@settings(max_examples=300, deadline=None)
@given(TEXT | LINES)
@example("\r\n" * 150 + "TEHRAN, Sept 7 (Reuters) — Iran said")
@example("\n" * 150 + "TEHRAN — x")
def test_dateline(text: str) -> None:
    assert find_dateline(text) == ref_dateline(text)
    assert find_dateline(text, lines_of(text)) == ref_dateline(text)


def test_lone_surrogates_become_replacement_characters() -> None:
    e = extract("Title \ud800 here\n\n- a\udfff\n- b\n", media_type="text/markdown", path="t.md",
                encoding=None)  # fmt: skip
    assert e.fields["title"] == "Title \ufffd here"
    assert ("tag", 0, "a\ufffd", None) in e.items
    for lone in ("\ud800", "\udbff", "\udc00", "\udfff"):  # each end of both halves
        e = extract(f"A {lone} b", media_type="text/plain", path="t", encoding=None)
        assert e.fields["title"] == "A \ufffd b"
    literal = "Title \\ud800 is text, not a surrogate\n"
    assert extract(literal, media_type="text/plain", path="t", encoding=None).fields["title"] == (
        literal.strip()
    )
