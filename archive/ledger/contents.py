"""Content leaves: what was derived from a content, committed in the ledger as it is recorded.

`git fsck` re-derives nothing: it checks that stored objects hash to their names. Our
verify used to re-run the metadata extractor, the readable-text conversion and the quote
finder on every content to catch an edited `blob_metadata`, `blob_items`, `blobs.text_blob`
or `blob_passages.quotes` row. Instead, these facts now go into a leaf of their own when
the content is written (`append_contents`, for the contents `record.metadata.write_prepared` wrote),
and `archive reextract` appends a newer leaf when it changes them (`renew`). Default verify
rebuilds the newest leaf of each content from its rows (`Contents.check`), which is cheap;
`verify --rederive` re-runs the extractors as before (which also checks the extractors),
and contents recorded before these leaves existed are always re-derived (`covered`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from archive.ledger import merkle, records
from archive.ledger.leaves import canonical_json
from archive.store import Store, now_iso

Problem = tuple[str, str, str]


def _append(store: Store, items: Sequence[tuple[str, bytes]]) -> None:
    start = store.ledger_size()
    store.append_subject_leaves(
        (start + i, subject, leaf, merkle.leaf_hash(leaf).hex(), None)  # kept as they are
        for i, (subject, leaf) in enumerate(items)
    )


def _leaf(
    blake3: str, facts: dict, keys: Sequence[int] | None, digests: dict | None = None
) -> bytes:
    """A content's leaf from its facts (`Store.content_facts`); digests: the items digest of
    each item set met so far (verify meets each set's digest once, not once per content)."""
    keys = None if keys is None else list(keys)
    items, set_id, items_hash = facts["items"], facts.get("item_set"), None
    if digests is not None and set_id is not None:
        items_hash = digests.get(set_id)
        if items_hash is None:
            items_hash = digests[set_id] = records.items_digest(items)
    return records.content_leaf(
        blake3, facts["text_blob"], facts["metadata"], items, keys, items_hash
    )


def append_contents(store: Store, pending: Sequence[tuple]) -> None:
    """The leaves of contents whose blob and text link rows were just written, in the order
    given, with one bulk read of their rows (a batch of an ingest at a time); each (blake3,
    quote keys[, metadata]): the passage keys of the quotations its passage list will get
    (its passages are packed later), None when it has no passage list; metadata, when
    given and not None, the (fields, items) its rows are written with first (all at once)."""
    store.put_metadata_many([(p[0], *p[2]) for p in pending if len(p) > 2 and p[2] is not None])
    facts = store.content_facts([p[0] for p in pending])
    digests: dict = {}  # a batch's contents share item sets: each set's digest made once
    _append(
        store,
        [
            (records.content_subject(p[0], 1), _leaf(p[0], facts[p[0]], p[1], digests))
            for p in pending
            if p[0] in facts
        ],
    )


def newest(store: Store) -> dict[str, tuple[int, int]]:
    """blake3 -> (leaf index, n) of each content's newest leaf."""
    found: dict[str, tuple[int, int]] = {}
    for index, subject in store.content_leaf_subjects():
        parsed = records.content_of(subject)
        if parsed is not None:
            found[parsed[0]] = (index, parsed[1])
    return found


def covered(store: Store) -> set[str]:
    """The contents whose derived facts a leaf states: verify checks them by rebuilding the
    leaf; the others (recorded before content leaves) are re-derived."""
    return set(newest(store))


def renew(store: Store, blobs: Iterable[str]) -> int:
    """After `reextract` rewrote these contents' metadata: a newer leaf for each that has
    one and whose metadata or items now differ; its text link and quotations are copied
    from the leaf before (reextract re-derives neither, so an edit to them stays found).
    A content without a leaf gets none (verify re-derives it). Returns the leaves added."""
    latest = newest(store)
    wanted = [b for b in blobs if b in latest]
    if not wanted:
        return 0
    subjects = {blake3: records.content_subject(blake3, latest[blake3][1]) for blake3 in wanted}
    leaves = store.content_leaves(list(subjects.values()))
    facts = store.content_facts(wanted)
    items = []
    for blake3 in wanted:
        n = latest[blake3][1]
        old = json.loads(leaves[subjects[blake3]])
        fresh = json.loads(_leaf(blake3, facts[blake3], None))
        if (fresh["metadata"], fresh["items"]) == (old.get("metadata"), old.get("items")):
            continue
        record = {**old, "metadata": fresh["metadata"], "items": fresh["items"]}
        items.append((records.content_subject(blake3, n + 1), canonical_json(record)))
    _append(store, items)
    return len(items)


def renew_in_run(store: Store, blobs: Iterable[str], command: str) -> int:
    """`renew`, and when it added leaves, a run of no source that holds them and ends with
    a checkpoint (every leaf is under one, as after an ingest). Returns the leaves added."""
    from archive.ledger.checkpoints import checkpoint_run

    added = renew(store, blobs)
    if added:
        run_id = store.start_run(None, command, now_iso())
        store.finish_run(run_id, files_seen=added, new_versions=0, unchanged=0, problems=0)
        checkpoint_run(store, run_id)
    return added


class Contents:
    """Checks content leaves against the rows now: the newest leaf of each content must be
    the leaf its rows give; an older one (superseded by `reextract`) is only history."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.latest = {index: blake3 for blake3, (index, _) in newest(store).items()}
        self.facts: dict[str, dict] | None = None
        self.digests: dict[int, str] = {}  # item set id -> its items digest

    def check(self, subject: str, index: int, leaf: bytes) -> list[Problem]:
        """Leaves are checked in log order: the rows of the newest leaves from the first one
        checked on are read then, in bulk (`verify --quick` checks the new ones only)."""
        if self.facts is None:
            blobs = sorted(b for i, b in self.latest.items() if i >= index)
            self.facts = self.store.content_facts(blobs)
        parsed = records.content_of(subject)
        if parsed is None:
            return [("ledger", f"leaf {index}", f"malformed content subject {subject!r}")]
        blake3 = parsed[0]
        if self.latest.get(index) != blake3:
            return []  # superseded: the newer leaf states the rows now
        facts = self.facts.get(blake3)
        if facts is None:  # a leaf before the first one checked (or its blob row is gone)
            facts = self.store.content_facts([blake3]).get(blake3)
        if facts is None:
            return [("blobs", blake3, "content row is gone")]
        keys = facts["quote_keys"]
        fresh = _leaf(blake3, facts, keys, self.digests)
        if keys is None and fresh != leaf:
            # no passage list (a content never packed): no quotations stored to compare with
            try:
                stored = json.loads(leaf)
            except ValueError:
                return [("ledger", f"leaf {index}", "the leaf is not JSON")]
            rebuilt = json.loads(fresh)
            rebuilt["quotes"] = stored.get("quotes") if isinstance(stored, dict) else None
            fresh = canonical_json(rebuilt)
        return [(t, blake3, p) for t, p in records.content_differs(leaf, fresh)]
