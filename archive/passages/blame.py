"""`git blame` per passage: which version brought each passage of a version into its document.

The rule: a passage of version n is blamed on the earliest version m <= n such that every
version m, m+1, ..., n of the document contains it. A deletion, or a version whose content is
not text, breaks the run, so a paragraph removed and later restored is blamed on the restore.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    return {
        "document": {k: document[k] for k in ("id", "source", "path")},
        "seq": seq,
        "passages": rows,
    }
