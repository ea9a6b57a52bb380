"""The import's passage work made cheaper gives exactly what the plain versions gave: the split
(a CR-free text takes a faster pattern), the quotations (found from their opening marks, not
segment by segment) and the group's base choice (difflib's matcher, compiled)."""

from __future__ import annotations

import difflib
import re
import sqlite3

from hypothesis import example, given, settings
from hypothesis import strategies as st

from archive.store.groups import GroupReader
from archive.store.passage_format import quote_segments, revised, split_passages
from archive.store.passage_store import QUOTE_OPENERS, text_quotes
from ingest.extract.quotes import find_quotes

# Reference copies of the code before the speed work: the functions must agree with them
# (the split's with its line breaks atomic: a CR LF is one break, test_passages says why).
_REF_BREAK = re.compile(r"(?>\r\n|\r|\n)(?:[ \t\f\v]*(?>\r\n|\r|\n))+")


def ref_split(text: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _REF_BREAK.finditer(text):
        out.append(text[start : m.end()])
        start = m.end()
    if start < len(text):
        out.append(text[start:])
    return out


def ref_quotes(text: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for offset, segment in quote_segments(text):
        if re.search(f"[{QUOTE_OPENERS}]", segment):
            out.extend((q.text, offset + q.start) for q in find_quotes(segment))
    return out


def ref_revised(old: list, new: list) -> list[int]:
    out: dict[int, None] = {}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag == "replace":
            out.update(dict.fromkeys(range(i1, i2)))
        elif tag == "insert":
            out.update(dict.fromkeys(i for i in (i1 - 1, i1) if 0 <= i < len(old)))
    return list(out)


# Texts made of what matters here: line breaks of every kind, blank-ish lines, quote marks.
PIECES = st.sampled_from(
    ["\n", "\r", "\r\n", " ", "\t", "\f", "\v", "a", "word ", '"', "\u201c", "\u201d", "\u00ab"]
    + ["\u00bb", "\u201e", "\u300c", "\u300d", "'", ".", "\n\n", " \n \n"]
)
TEXT = st.lists(PIECES, max_size=60).map("".join) | st.text(max_size=200)


@settings(max_examples=600, deadline=None)
@given(TEXT)
@example("a\nb\n\nc\r\n\r\nd")
@example("\n\n\n\u201cx\n\n\u201dy\u201c")
def test_split_and_quotes_are_the_plain_ones(text: str) -> None:
    assert split_passages(text) == ref_split(text)
    assert text_quotes(text) == ref_quotes(text)
    assert "".join(split_passages(text)) == text


KEYS = st.lists(st.integers(0, 12), max_size=40)


@settings(max_examples=600, deadline=None)
@given(KEYS, KEYS, st.sets(st.integers(0, 12)))
def test_the_base_choice_is_difflibs(old: list[int], new: list[int], unknown: set[int]) -> None:
    """As `_add_group` calls it: old passage ids, new ones or ("new", key) for unknown keys."""
    marked = [("new", k) if k in unknown else k for k in new]
    assert revised(old, marked) == ref_revised(old, marked)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.integers(0, 15), max_size=30),
    st.lists(st.integers(0, 15), max_size=30),
    st.sets(st.integers(0, 15)),
    st.permutations(range(100, 116)),
)
def test_the_base_choice_on_keys_is_the_one_on_ids(
    old_keys: list[int], new_keys: list[int], unstored: set[int], ids: list[int]
) -> None:
    """`_add_group` compares the keys of a text it packed itself rather than its passage
    ids: the same picks. The old text's passages are stored; the new one's may not be."""
    unstored -= set(old_keys)
    id_of = {k: ids[k] for k in range(16) if k not in unstored}  # stored: key <-> id
    old_ids = [id_of[k] for k in old_keys]
    marked = [id_of.get(k, ("new", k)) for k in new_keys]
    assert revised(old_keys, new_keys) == revised(old_ids, marked)


def ref_locate(reader: GroupReader, ids: list[int]) -> list[int]:
    out: dict[int, None] = {}
    group = None
    for pid in ids:
        if group is None or not group.first <= pid < group.end:
            group = reader.group_of(pid)
            out[group.first] = None
    return list(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=12), st.data())
def test_locate_skips_to_the_next_group_and_finds_the_same(sizes: list[int], data) -> None:
    """`GroupReader.locate` jumps over the ids a group holds: the groups a visit of every id
    finds, in the same order."""
    reader = GroupReader(sqlite3.connect(":memory:"))
    first = 1
    for size in sizes:  # groups of consecutive passage ids, each known as just written
        reader.add_row((first, 0, b"", b"", b""), [1] * size, [])
        first += size
    ids = sorted(set(data.draw(st.lists(st.integers(1, first - 1), max_size=40))))
    assert [g.first for g in reader.locate(ids)] == ref_locate(reader, ids)
