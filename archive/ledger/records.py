"""Leaf formats that cover every recorded fact: versions (v2), commits, runs and contents.

The v1 leaf holds a chosen handful of a version's columns, so a version's mtime, old path
or front-matter provenance, a commit's message, a run's command or problems could be edited
and `verify` would not see it. From now on a version's leaf holds its whole row, generically
(a column added later by any migration is covered without touching this module), with its
content digests, its source and its provenance rows; each git commit and each run gets a
leaf of its own. A source's location and a run's command are held as digests: covered, but
not published (they may name private folders of the machine that made the archive). A
stored leaf is compared with the rows by the keys it holds: a column the leaf predates
must still be NULL in the row, so adding columns never breaks old leaves.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from archive.ledger.leaves import canonical_json

VERSION_V2 = "provenance-archive/leaf/v2"
COMMIT_V1 = "provenance-archive/commit/v1"
RUN_V1 = "provenance-archive/run/v1"
CONTENT_V1 = "provenance-archive/content/v1"
# The run's own checkpoint is written after its leaf: not part of what the leaf states.
RUN_EXCLUDED = ("tree_size", "tree_root")
# Version columns a later stage derives once the leaf is written (the document a new one was
# copied from is found when the batch's passages are indexed): not stated by the leaf, and
# re-derived by `archive verify` instead (archive/record/rederive.py `copies`).
VERSION_DERIVED = ("copied_from_version_id",)
# What each row object of a leaf leaves out, by its name in the leaf.
EXCLUDED = {"version": VERSION_DERIVED, "run": RUN_EXCLUDED}


def _plain(value: Any) -> Any:
    """A column value as JSON: bytes (a BLOB column) become {"base64": ...}."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


# Column values `_plain` leaves as they are: a row of only these is copied, not converted.
_AS_IS = frozenset({str, int, float, bool, type(None)})


def row_object(row: Mapping, exclude: Iterable[str] = ()) -> dict:
    """Every column of a row, as JSON values, but `exclude`. (Verify rebuilds thousands of
    leaves: a row without BLOB values is copied in C, value types checked at once.)"""
    skip = set(exclude)
    out = {k: v for k, v in row.items() if k not in skip} if skip else dict(row.items())
    if set(map(type, out.values())) <= _AS_IS:
        return out
    return {k: _plain(v) for k, v in out.items()}


def _committed(row: Mapping, keys: Iterable[str]) -> dict:
    """The row with these text columns as {"sha256": hex} of their UTF-8: covered by the
    leaf (an edit changes the digest) without publishing them. Why: a source's location
    and a run's command may name this machine's private folders, and leaves are public."""
    out = dict(row)
    for key in keys:
        value = out.get(key)
        if isinstance(value, str):
            out[key] = {
                "sha256": hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
            }
    return out


def source_object(source: Mapping) -> dict:
    """A source row as leaves hold it: every column, its location as a digest."""
    return row_object(_committed(source, ("location",)))


def run_object(run: Mapping) -> dict:
    """A run row as its leaf holds it: every column but its checkpoint, its command as a
    digest."""
    return row_object(_committed(run, ("command",)), RUN_EXCLUDED)


def version_leaf(
    version: Mapping,
    blob: Mapping | None,
    source: Mapping,
    provenance: Iterable[Mapping],
    capture: Mapping | None = None,
) -> bytes:
    """Leaf v2 of a version: its whole `versions` row, its content's SHA-256 and size, its
    source row, its `version_provenance` rows (sorted: the order rows come back in is not a
    fact) and the whole `captures` row of the web capture that made it (else null)."""
    prov = sorted([r["origin"], r["key"], r["value"]] for r in provenance)
    record = {
        "format": VERSION_V2,
        "version": row_object(version, VERSION_DERIVED),
        "blob": None if blob is None else {"sha256": blob["sha256"], "size": blob["size"]},
        "source": source_object(source),
        "provenance": prov,
        "capture": None if capture is None else row_object(capture),
    }
    return canonical_json(record)


def commit_leaf(commit: Mapping) -> bytes:
    """Leaf of a git commit: its whole `commits` row (message, committer, parents...)."""
    return canonical_json({"format": COMMIT_V1, "commit": row_object(commit)})


def run_leaf(
    run: Mapping,
    source: Mapping,
    problems: Iterable[Mapping],
    sidecar_changes: Iterable[Mapping],
    captures: Iterable[Mapping] = (),
) -> bytes:
    """Leaf of a finished (or interrupted) run: its row but its checkpoint, its source, the
    problems it recorded, its sidecar-only edits and the web captures that made no version
    (unchanged, revisits, refusals), each in id order."""
    record = {
        "format": RUN_V1,
        "run": run_object(run),
        "source": source_object(source),
        "problems": [row_object(p) for p in sorted(problems, key=lambda p: p["id"])],
        "sidecar_changes": [row_object(c) for c in sorted(sidecar_changes, key=lambda c: c["id"])],
        "captures": [row_object(c) for c in sorted(captures, key=lambda c: c["id"])],
    }
    return canonical_json(record)


def leaf_format(leaf: bytes) -> str | None:
    """The `format` a stored leaf declares (None when it is not a JSON object)."""
    try:
        record = json.loads(leaf)
    except (ValueError, UnicodeDecodeError):
        return None
    return record.get("format") if isinstance(record, dict) else None


def _object_differs(stored: Any, current: Mapping, where: str) -> str | None:
    """Compare a stored row object with the row now: the stored keys must match; a column
    the leaf does not hold (added since) must be NULL, unless derived after the leaf."""
    if not isinstance(stored, dict):
        return f"{where} is missing from the leaf"
    now = row_object(current, EXCLUDED.get(where, ()))
    for key, value in stored.items():
        if key not in now:
            return f"{where}.{key} is in the leaf but no longer in the archive"
        if now[key] != value:
            return f"{where}.{key} differs from its ledger leaf"
    for key in sorted(set(now) - set(stored)):
        if now[key] is not None:
            return f"{where}.{key} was set after its ledger leaf was written"
    return None


def differs(leaf: bytes, rebuilt: bytes, objects: Mapping[str, Mapping]) -> str | None:
    """Why a stored leaf no longer matches the archive's rows, or None.

    `rebuilt` is the leaf built from the rows now; when the bytes differ, the row objects
    named in `objects` (e.g. {"version": row}) are compared key by key, so a column added
    by a later migration (NULL in old rows) is no difference.
    """
    if leaf == rebuilt:
        return None
    try:
        stored, fresh = json.loads(leaf), json.loads(rebuilt)
    except (ValueError, UnicodeDecodeError):
        return "the leaf is not JSON"
    if not isinstance(stored, dict):
        return "the leaf is not a JSON object"
    for name, row in objects.items():
        why = _object_differs(stored.get(name), row, name)
        if why:
            return why
    rest = {k: v for k, v in stored.items() if k not in objects}
    fresh_rest = {k: v for k, v in fresh.items() if k not in objects}
    if rest != fresh_rest:
        keys = sorted(k for k in set(rest) | set(fresh_rest) if rest.get(k) != fresh_rest.get(k))
        return f"{', '.join(keys)} differ from the ledger leaf"
    return None


# Leaves kept as their hash (archive.ledger.compact): the tables whose rows these leaves
# state; a leaf's `shape` is their columns when it was written, so a column added later
# (NULL in its rows) does not change the leaf rebuilt from them.
SHAPE_TABLES = ("versions", "sources", "captures", "commits", "runs", "problems", "sidecar_changes")
# Columns not stated by a leaf (see EXCLUDED), by table: set later without breaking it.
UNSTATED = {"versions": VERSION_DERIVED, "runs": RUN_EXCLUDED}


def fitted(row: Mapping, shape: Mapping, table: str) -> dict:
    """The row with the columns its table had when the leaf was written (`shape`), in their
    order; ValueError naming the column when one is gone or a newer one holds a value."""
    names = shape.get(table)
    if not isinstance(names, list):
        raise ValueError(f"the leaf's shape has no columns for {table}")
    out = {}
    for name in names:
        if name not in row:
            raise ValueError(f"{table}.{name} is in the leaf but no longer in the archive")
        out[name] = row[name]
    skip = UNSTATED.get(table, ())
    for name, value in row.items():
        if name not in out and name not in skip and value is not None:
            raise ValueError(f"{table}.{name} was set after its ledger leaf was written")
    return out


# Content leaves ------------------------------------------------------------------------
# What the archive derived from a content (its readable-text link, its extracted metadata
# and items, the passage keys of its quotations) is committed in a leaf when the content
# is recorded, subject `content:<blake3>:<n>` (n = 1, then 2, ... as `archive reextract`
# appends newer ones). `archive verify` rebuilds the newest from the rows (cheap) instead
# of re-running the extractor; `verify --rederive` re-runs it. Digests keep the leaf small.

CONTENT_FACTS = {  # leaf key -> the table whose rows it states
    "text_blob": "blobs",
    "metadata": "blob_metadata",
    "items": "blob_items",
    "quotes": "blob_passages",
}


def _digest(obj: Any) -> str:
    """SHA-256 of the canonical JSON of rows read from SQLite (str, int, float, None: the
    bytes `canonical_json` gives, without its type walk, the hot part of verify's check;
    json.dumps still refuses NaN and odd types)."""
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def items_digest(items: Iterable[Mapping]) -> str:
    """The digest a content leaf holds of its `blob_items` (sorted: row order is no fact)."""
    rows = [[i["key"], i["ordinal"], i["value"], i["detail"]] for i in items]
    return _digest(sorted(rows, key=repr))  # repr: a total order, and cheap


def content_leaf(
    blake3: str,
    text_blob: str | None,
    metadata: Mapping | None,
    items: Iterable[Mapping],
    quote_keys: Iterable[int] | None,
    items_hash: str | None = None,
) -> bytes:
    """Leaf of what was derived from one content: its `blobs.text_blob`, a digest of its
    `blob_metadata` row (non-NULL columns: a column added later is no difference), of its
    `blob_items` (`items_digest`, or items_hash when the caller has it) and of its
    quotations' passage keys in text order (None when it has no passage list)."""
    fields = None
    if metadata is not None:
        fields = row_object({k: v for k, v in metadata.items() if k != "blake3" and v is not None})
    record = {
        "format": CONTENT_V1,
        "blake3": blake3,
        "text_blob": text_blob,
        "metadata": None if fields is None else _digest(fields),
        "items": items_digest(items) if items_hash is None else items_hash,
        "quotes": None if quote_keys is None else _digest(list(quote_keys)),
    }
    return canonical_json(record)


def content_subject(blake3: str, n: int) -> str:
    return f"content:{blake3}:{n}"


def content_of(subject: object) -> tuple[str, int] | None:
    """(blake3, n) of a content leaf's subject, else None."""
    if not isinstance(subject, str) or not subject.startswith("content:"):
        return None
    _, blake3, n = (subject.split(":") + [""])[:3]
    return (blake3, int(n)) if n.isdigit() else None


def content_differs(leaf: bytes, rebuilt: bytes) -> list[tuple[str, str]]:
    """(table, problem) for each fact of a stored content leaf the rows no longer state."""
    if leaf == rebuilt:
        return []
    try:
        stored, fresh = json.loads(leaf), json.loads(rebuilt)
    except (ValueError, UnicodeDecodeError):
        return [("ledger", "the leaf is not JSON")]
    if not isinstance(stored, dict) or set(stored) != set(fresh):
        return [("ledger", "the leaf does not hold the facts of a content leaf")]
    found = []
    for key in sorted(stored):
        if stored[key] != fresh[key]:
            found.append((CONTENT_FACTS.get(key, "ledger"), f"{key} differs from its ledger leaf"))
    return found
