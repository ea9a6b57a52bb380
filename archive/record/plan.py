"""Decide which versions a snapshot of a source creates: a pure function of plain data.

Folder ingests and git commits both come here, so a commit's tree and the same files in
a folder produce the same versions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from archive.store.version_rows import Change, DocState, Observed

# git's -M default: an edited file counts as renamed when at least half of it is unchanged.
RENAME_SIMILARITY = 0.5


Similarity = Callable[[str, str], float]


def plan(
    docs: Iterable[DocState],
    observed: Iterable[Observed],
    keep_paths: Iterable[str] = (),
    similarity: Similarity | None = None,
) -> list[Change]:
    """Changes, sorted by path, that bring the documents to the observed snapshot.

    keep_paths are paths that could not be read this time: their documents are left as
    they are rather than taken for deleted. similarity(old_blob, new_blob) enables
    edited renames; without it only exact renames (same content) are found.
    """
    docs = list(docs)
    present = {d.path: d for d in docs if d.present}
    deleted: dict[str, DocState] = {}
    for d in sorted((d for d in docs if not d.present), key=lambda d: d.document_id):
        deleted[d.path] = d  # the newest document that had this path wins
    seen = {o.path: o for o in observed}
    keep = set(keep_paths)

    changes: list[Change] = []
    fresh: dict[str, Observed] = {}
    for path in sorted(seen):
        obs = seen[path]
        doc = present.get(path)
        if doc is None:
            fresh[path] = obs
        elif doc.blob != obs.blob:
            # Back to an earlier content while present: a revert (`restored` is kept for a
            # document back after its deletion).
            kind = "reverted" if obs.blob in doc.seen_blobs else "modified"
            changes.append(Change(kind, doc.document_id, path, obs.blob, doc.blob, obs.mtime))
    gone = [present[p] for p in sorted(present) if p not in seen and p not in keep]

    gone, renames = _pair_renames(gone, fresh, similarity)
    changes.extend(renames)
    for path in sorted(fresh):
        obs = fresh[path]
        old = deleted.get(path)
        if old is not None:
            changes.append(Change("restored", old.document_id, path, obs.blob, None, obs.mtime))
        else:
            changes.append(Change("added", None, path, obs.blob, None, obs.mtime))
    changes.extend(Change("deleted", d.document_id, d.path, None, d.blob) for d in gone)
    return sorted(changes, key=lambda c: c.path)


def _pair_renames(
    gone: list[DocState], fresh: dict[str, Observed], similarity: Similarity | None
) -> tuple[list[DocState], list[Change]]:
    """Pair vanished documents with new paths: exact content first, then most similar."""
    renames: list[Change] = []
    by_blob: dict[str, list[str]] = {}
    for path in sorted(fresh):
        by_blob.setdefault(fresh[path].blob, []).append(path)
    left: list[DocState] = []
    for doc in gone:
        paths = by_blob.get(doc.blob or "")
        if paths:
            renames.append(_rename(doc, fresh.pop(paths.pop(0))))
        else:
            left.append(doc)
    if similarity is None or not left or not fresh:
        return left, renames
    scored = sorted(
        (-score, doc.path, path)
        for doc in left
        for path in fresh
        if doc.blob is not None
        and (score := similarity(doc.blob, fresh[path].blob)) >= RENAME_SIMILARITY
    )
    taken_docs: set[str] = set()
    for _, doc_path, path in scored:
        if doc_path in taken_docs or path not in fresh:
            continue
        taken_docs.add(doc_path)
        doc = next(d for d in left if d.path == doc_path)
        renames.append(_rename(doc, fresh.pop(path)))
    return [d for d in left if d.path not in taken_docs], renames


def _rename(doc: DocState, obs: Observed) -> Change:
    return Change("renamed", doc.document_id, obs.path, obs.blob, doc.blob, obs.mtime, doc.path)


def change_list(changes: Sequence[Change], commit: str | None = None) -> list[dict]:
    """What changed, by name, for a run's report: kind, path, old path (renames), commit."""
    out = []
    for c in sorted(changes, key=lambda c: c.path):
        row = {"kind": c.kind, "path": c.path}
        if c.old_path:
            row["old_path"] = c.old_path
        if commit:
            row["commit"] = commit
        out.append(row)
    return out


def summarize(changes: Sequence[Change]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.kind] = counts.get(c.kind, 0) + 1
    return dict(sorted(counts.items()))
