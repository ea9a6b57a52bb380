"""The change planner: a pure function from (documents, snapshot) to versions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.record.plan import DocState, Observed, plan


def doc(i, path, blob, present=True, seen=()):
    return DocState(i, path, present, blob if present else None, frozenset(seen) | {blob})


def kinds(changes):
    return [(c.kind, c.path, c.document_id) for c in changes]


def test_new_files_are_added_in_path_order():
    changes = plan([], [Observed("b.txt", "B"), Observed("a.txt", "A")])
    assert kinds(changes) == [("added", "a.txt", None), ("added", "b.txt", None)]


def test_unchanged_snapshot_plans_nothing():
    assert plan([doc(1, "a.txt", "A")], [Observed("a.txt", "A")]) == []


def test_modified_keeps_previous_blob():
    [c] = plan([doc(1, "a.txt", "A")], [Observed("a.txt", "A2")])
    assert (c.kind, c.document_id, c.blob, c.previous_blob) == ("modified", 1, "A2", "A")


def test_back_to_earlier_content_while_present_is_reverted():
    """Not `restored`: that means back after a deletion, and no deletion happened."""
    [c] = plan([doc(1, "a.txt", "B", seen={"A"})], [Observed("a.txt", "A")])
    assert c.kind == "reverted"


def test_missing_file_is_deleted():
    [c] = plan([doc(1, "a.txt", "A")], [])
    assert (c.kind, c.document_id, c.blob, c.previous_blob) == ("deleted", 1, None, "A")


def test_reappearing_after_deletion_is_restored():
    [c] = plan([doc(1, "a.txt", "A", present=False)], [Observed("a.txt", "Z")])
    assert (c.kind, c.document_id) == ("restored", 1)


def test_same_content_at_new_path_is_a_rename():
    [c] = plan([doc(1, "old.txt", "A")], [Observed("new.txt", "A")])
    assert (c.kind, c.document_id, c.path, c.old_path) == ("renamed", 1, "new.txt", "old.txt")


def test_edited_rename_needs_similarity():
    docs, snap = [doc(1, "old.txt", "A")], [Observed("new.txt", "A'")]
    assert kinds(plan(docs, snap)) == [("added", "new.txt", None), ("deleted", "old.txt", 1)]
    [c] = plan(docs, snap, similarity=lambda a, b: 0.8)
    assert (c.kind, c.document_id, c.previous_blob) == ("renamed", 1, "A")
    low = plan(docs, snap, similarity=lambda a, b: 0.2)
    assert [c.kind for c in low] == ["added", "deleted"]


def test_unreadable_paths_are_not_deleted():
    assert plan([doc(1, "a.txt", "A")], [], keep_paths=["a.txt"]) == []


def test_two_identical_files_renamed_pair_deterministically():
    docs = [doc(1, "a1", "X"), doc(2, "a2", "X")]
    changes = plan(docs, [Observed("b1", "X"), Observed("b2", "X")])
    assert kinds(changes) == [("renamed", "b1", 1), ("renamed", "b2", 2)]


def apply(docs: list[DocState], changes) -> list[DocState]:
    """What the store does with planned changes, in memory."""
    by_id = {d.document_id: d for d in docs}
    next_id = max(by_id, default=0) + 1
    for c in changes:
        if c.document_id is None:
            by_id[next_id] = DocState(next_id, c.path, True, c.blob, frozenset({c.blob}))
            next_id += 1
            continue
        d = by_id[c.document_id]
        seen = d.seen_blobs | ({c.blob} if c.blob else set())
        by_id[c.document_id] = DocState(d.document_id, c.path, c.kind != "deleted", c.blob, seen)
    return list(by_id.values())


snapshots = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e", "f"]), st.sampled_from(["X", "Y", "Z", "W"])
)


@settings(max_examples=300, deadline=None)
@given(st.lists(snapshots, min_size=1, max_size=6))
def test_any_sequence_of_snapshots_is_tracked_exactly(sequence):
    docs: list[DocState] = []
    for snap in sequence:
        observed = [Observed(p, b) for p, b in snap.items()]
        docs = apply(docs, plan(docs, observed))
        present = {d.path: d.blob for d in docs if d.present}
        assert present == snap
        # Re-observing the same snapshot records nothing: ingest is idempotent.
        assert plan(docs, observed) == []
        # A path is held by at most one present document.
        assert len([d for d in docs if d.present]) == len(present)
