"""`git blame`: which version brought each word (and each passage) of a version into its document.

Words (`spans`): carried through the stored word diffs of the document's history, as git blame
carries lines (archive/passages/wordblame.py): a word is blamed on the version whose diff
inserted it, so a one-word edit blames one word and appending a paragraph blames nothing
before it. Passages (`passages`): a passage of version n is blamed on the earliest version
m <= n such that every version m, m+1, ..., n of the document contains it.

For both, a deletion or a version whose content is not text breaks the run, so text removed
and later restored is blamed on the restore.
"""

from __future__ import annotations

from collections.abc import Sequence

from archive.diffs import EQUAL, Op, diff_texts
from archive.diffs.stored import result_of
from archive.passages.wordblame import BlameError, blame_chain, check_ops, word_runs
from archive.store import Store


def blame_indexes(lists: Sequence[Sequence[int] | None], n: int) -> list[int]:
    """For each passage of lists[n], the index of the version that starts its unbroken run."""
    target = lists[n]
    if target is None:
        raise ValueError(f"version index {n} has no passages")
    sets = [None if ids is None else frozenset(ids) for ids in lists[: n + 1]]
    out = []
    for passage in target:
        m = n
        while m > 0 and sets[m - 1] is not None and passage in sets[m - 1]:
            m -= 1
        out.append(m)
    return out


def blame(store: Store, document: dict, seq: int) -> dict:
    """Each passage of version `seq` with the version that introduced it (plain data)."""
    versions = [v for v in store.versions(document["id"]) if v["seq"] <= seq]
    if not versions or versions[-1]["seq"] != seq:
        raise ValueError(f"{document['path']} has no version {seq}")
    lists = [None if v["blob"] is None else store.passages.ids(v["blob"]) for v in versions]
    if lists[-1] is None:
        raise ValueError(f"{document['path']}@{seq} has no text passages (deleted or binary)")
    origins = blame_indexes(lists, len(lists) - 1)
    texts = store.passages.texts(lists[-1])
    rows = []
    for index, (passage, origin) in enumerate(zip(lists[-1], origins, strict=True)):
        v = versions[origin]
        rows.append(
            {
                "index": index,
                "passage": passage,
                "seq": v["seq"],
                "version_id": v["id"],
                "observed_at": v["observed_at"],
                "run_id": v["run_id"],
                "commit": v.get("commit"),
                "text": texts[passage],
            }
        )
    words = word_blame(store, document, seq)
    return {
        "document": {k: document[k] for k in ("id", "source", "path")},
        "seq": seq,
        "spans": words["spans"],
        "bounded": words["bounded"],
        "passages": rows,
    }


# Word-level blame ----------------------------------------------------------------------------

# Most versions a word blame walks back (a run of text versions longer than this starts at its
# last MAX_CHAIN versions, and the result says `bounded`): work stays bounded on long histories.
MAX_CHAIN = 500


def _step_ops(store: Store, old_blob: str, new_blob: str, old: str, new: str) -> list[Op]:
    """The word ops from one content to the next: the stored diff, else computed now."""
    if old_blob == new_blob:
        return [(EQUAL, old)] if old else []
    row = store.stored_diff(old_blob, new_blob)
    if row is not None:
        try:
            ops = result_of(row, old).ops
            if check_ops(old, ops) == new:
                return ops
        except (ValueError, BlameError):
            pass  # damaged row: `archive verify` reports it; blame recomputes
    return diff_texts(old, new).ops


def word_blame(store: Store, document: dict, seq: int) -> dict:
    """Runs of words of version `seq`, each with the version that introduced them.

    Carried through the word diffs of the unbroken run of text versions ending at seq (a
    deletion or a non-text version restarts it, as for passage blame)."""
    versions = [v for v in store.versions(document["id"]) if v["seq"] <= seq]
    if not versions or versions[-1]["seq"] != seq:
        raise ValueError(f"{document['path']} has no version {seq}")
    if versions[-1]["blob"] is None:
        raise ValueError(f"{document['path']}@{seq} has no text (deleted)")
    start = len(versions) - 1
    while start > 0 and versions[start - 1]["blob"] is not None:
        if len(versions) - start >= MAX_CHAIN:
            break
        start -= 1
    chain_versions = versions[start:]
    bounded = start > 0 and versions[start - 1]["blob"] is not None
    chain: list = []
    prev_blob = prev_text = None
    first = 0
    for k, v in enumerate(chain_versions):
        text = store.read_text(v["blob"])
        if text is None:
            chain, prev_blob, prev_text, first = [], None, None, k + 1
            continue
        if prev_text is None:
            chain.append(text)
        else:
            chain.append(_step_ops(store, prev_blob, v["blob"], prev_text, text))
        prev_blob, prev_text = v["blob"], text
    if prev_text is None:
        raise ValueError(f"{document['path']}@{seq} has no text (binary)")
    used = chain_versions[first:]
    runs = word_runs(prev_text, blame_chain(chain))
    spans = []
    for r in runs:
        v = used[r.origin]
        spans.append(
            {
                "text": prev_text[r.start : r.end],
                "start": r.start,
                "end": r.end,
                "seq": v["seq"],
                "version_id": v["id"],
                "observed_at": v["observed_at"],
                "commit": v.get("commit"),
                "run_id": v["run_id"],
                "previous_version_id": v["previous_version_id"],
            }
        )
    return {"spans": spans, "bounded": bounded}
