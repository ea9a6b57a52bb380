"""archive.record.renames: git's chunk-based rename score, and the planner using it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.record.plan import DocState, Observed
from archive.record.renames import (
    MAX_PAIRS,
    blob_similarity,
    chunk_weights,
    plan_with_renames,
    similarity,
)

LINES = st.lists(st.binary(min_size=0, max_size=90).map(lambda b: b.replace(b"\n", b"") + b"\n"))


def test_chunks_are_lines_or_64_byte_pieces() -> None:
    data = b"a\nbb\n" + b"x" * 130 + b"\nlast"
    weights = chunk_weights(data)
    assert weights[b"a\n"] == 2 and weights[b"bb\n"] == 3 and weights[b"last"] == 4
    assert weights[b"x" * 64] == 128 and weights[b"xx\n"] == 3
    assert sum(weights.values()) == len(data)


def test_known_scores() -> None:
    assert similarity(b"", b"") == 1.0
    assert similarity(b"", b"x\n") == 0.0
    assert similarity(b"a\nb\n", b"a\nb\n") == 1.0
    assert similarity(b"a\nb\n", b"c\nd\n") == 0.0
    # half the bytes of the larger content are shared
    assert similarity(b"a\nb\n", b"a\nc\n") == 0.5
    # a line moved counts as kept; a CR is part of its line
    assert similarity(b"1\n2\n3\n4\n", b"4\n3\n2\n1\n") == 1.0
    assert similarity(b"a\r\nb\r\n", b"a\nb\n") == 0.0
    assert similarity("é\n", "é\n".encode()) == 1.0


@settings(max_examples=100, deadline=None)
@given(LINES, LINES)
def test_symmetric_bounded_and_reflexive(a: list[bytes], b: list[bytes]) -> None:
    x, y = b"".join(a), b"".join(b)
    s = similarity(x, y)
    assert 0.0 <= s <= 1.0
    assert s == similarity(y, x)
    assert similarity(x, x) == 1.0


@settings(max_examples=100, deadline=None)
@given(LINES, LINES)
def test_appending_at_most_as_much_keeps_a_rename(a: list[bytes], extra: list[bytes]) -> None:
    x, y = b"".join(a), b"".join(extra)
    if len(y) <= len(x):
        assert similarity(x, x + y) >= 0.5


@settings(max_examples=100, deadline=None)
@given(LINES, LINES)
def test_blob_similarity_agrees_with_similarity(a: list[bytes], b: list[bytes]) -> None:
    contents = {"A": b"".join(a), "B": b"".join(b)}
    reads: list[str] = []

    def read(key: str) -> bytes:
        reads.append(key)
        return contents[key]

    compare = blob_similarity(read)
    got = compare("A", "B")
    expected = similarity(contents["A"], contents["B"])
    assert got == expected or (got == 0.0 and expected < 0.5)
    compare("B", "A")
    assert sorted(reads) == ["A", "B"]  # each content read once


def doc(doc_id: int, path: str, blob: str) -> DocState:
    return DocState(doc_id, path, True, blob, frozenset({blob}))


def test_plan_with_renames_finds_edited_renames_only_with_contents() -> None:
    contents = {"old": b"".join(b"line %d\n" % i for i in range(10))}
    contents["new"] = contents["old"] + b"one more\n"
    docs = [doc(1, "a.txt", "old")]
    observed = [Observed("b.txt", "new")]
    kinds = [c.kind for c in plan_with_renames(docs, observed)]
    assert kinds == ["deleted", "added"]
    (change,) = plan_with_renames(docs, observed, read=contents.__getitem__)
    assert (change.kind, change.document_id, change.old_path) == ("renamed", 1, "a.txt")


def test_plan_with_renames_gives_up_on_too_many_pairs() -> None:
    n = int(MAX_PAIRS**0.5) + 1
    docs = [doc(i, f"old/{i}", f"o{i}") for i in range(n)]
    observed = [Observed(f"new/{i}", f"n{i}") for i in range(n)]

    def read(key: str) -> bytes:
        raise AssertionError("contents must not be read beyond the pair limit")

    kinds = {c.kind for c in plan_with_renames(docs, observed, read=read)}
    assert kinds == {"added", "deleted"}
