"""Leaves kept as their hash: rebuilt from their rows on read, so no leaf is stored twice.

A version (v2), commit or run leaf is canonical JSON of rows the archive keeps anyway
(`archive.ledger.records`). Such a leaf is written with `leaf` NULL, its `leaf_hash`, and
`shape`: the columns its tables had then (`leaf_shapes`), so the same bytes come back after
a later migration adds a column. Proofs, exports and pages rebuild the bytes here and check
them against the stored hash; `archive verify` rebuilds every such leaf and compares hashes,
so a row edited behind the ledger's back is still found (and named by table and row). The
Merkle tree is built from the stored hashes either way. Leaves that state facts kept in no
row (v1 version leaves) stay stored as bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from archive.ledger import merkle, records
from archive.store import ArchiveError, Store

# What else a leaf states, for a finding: its hash alone cannot tell which row changed.
STATES = {
    "versions": " (or the blob digests, source, provenance or capture its leaf states)",
    "runs": " (or the source, problems, sidecar changes or captures its leaf states)",
}


def _source(facts: Mapping, shape: Mapping) -> dict:
    """The source row fitted to shape; {} for a run of no source (`archive reextract`'s), as
    the leaf states it."""
    return records.fitted(facts["source"], shape, "sources") if facts["source"] else {}


def version_leaf(facts: Mapping, shape: Mapping) -> bytes:
    """A version's v2 leaf from its `Store.leaf_facts` entry, its rows fitted to shape."""
    capture = facts.get("capture")
    return records.version_leaf(
        records.fitted(facts["version"], shape, "versions"),
        facts["blob"],
        _source(facts, shape),
        facts["provenance"],
        None if capture is None else records.fitted(capture, shape, "captures"),
    )


def commit_leaf(row: Mapping, shape: Mapping) -> bytes:
    return records.commit_leaf(records.fitted(row, shape, "commits"))


def run_leaf(facts: Mapping, shape: Mapping) -> bytes:
    """A run's leaf from its `Store.run_facts` entry, its rows fitted to shape."""

    def rows(table: str, key: str) -> list[dict]:
        return [records.fitted(r, shape, table) for r in facts.get(key, ())]

    return records.run_leaf(
        records.fitted(facts["run"], shape, "runs"),
        _source(facts, shape),
        rows("problems", "problems"),
        rows("sidecar_changes", "sidecar_changes"),
        rows("captures", "captures"),
    )


def entry_hash(entry: Mapping) -> bytes:
    """The Merkle leaf hash of a ledger row: of its stored bytes, else its stored hash (which
    `archive verify` checks against the leaf rebuilt from rows)."""
    leaf = entry["leaf"]
    if leaf is None and entry.get("shape") is not None:
        try:
            digest = bytes.fromhex(entry["leaf_hash"])
        except (TypeError, ValueError):
            digest = b""
        if len(digest) == merkle.HASH_SIZE:
            return digest
    if isinstance(leaf, str):
        leaf = leaf.encode("utf-8", "surrogatepass")
    return merkle.leaf_hash(b"" if leaf is None else bytes(leaf))


class Rebuilder:
    """Leaf bytes of ledger rows, rebuilt where they are kept as their hash. Rows are read
    per leaf (one proof) or, with bulk, all at once on first need (every leaf)."""

    def __init__(self, store: Store, bulk: bool = False) -> None:
        self.store, self.bulk = store, bulk
        self.shapes: dict[int, dict] | None = None
        self.facts: dict[int, dict] | None = None
        self.commits: dict[str, dict] | None = None
        self.runs: dict[int, dict] | None = None

    def leaf(self, entry: Mapping) -> bytes:
        """The leaf's bytes; ArchiveError when its rows no longer give its stored hash."""
        leaf = entry["leaf"]
        if isinstance(leaf, str):  # stored as text by hand: its bytes as verify hashes them
            return leaf.encode("utf-8", "surrogatepass")
        if leaf is not None:
            return bytes(leaf)
        try:
            leaf = self._rebuilt(entry)
        except LookupError:
            raise ArchiveError(
                f"ledger leaf {entry['leaf_index']}: the row it states is gone:"
                " run `archive verify`"
            ) from None
        except (TypeError, ValueError) as e:
            raise ArchiveError(
                f"ledger leaf {entry['leaf_index']}: {e}: run `archive verify`"
            ) from None
        if merkle.leaf_hash(leaf).hex() != entry["leaf_hash"]:
            raise ArchiveError(
                f"ledger leaf {entry['leaf_index']}: its rows differ from the leaf:"
                " run `archive verify`"
            )
        return leaf

    def problems(self, entry: Mapping) -> list[tuple[str, str, str]]:
        """(table, key, problem) when the rows no longer give the leaf's stored hash: what
        `archive verify` reports for a leaf kept as its hash."""
        where, subject = f"leaf {entry['leaf_index']}", entry.get("subject")
        kind, _, name = str(subject or "").partition(":")
        table, key, what = {
            "": ("versions", f"id {entry['version_id']}", "version row"),
            "commit": ("commits", name, "commit row"),
            "run": ("runs", f"id {name}", "run row"),
        }.get(kind if subject is not None else "", ("ledger", where, "leaf"))
        states = STATES.get(table, "")
        try:
            leaf = self._rebuilt(entry)
        except LookupError:
            return [(table, key, f"{what} is gone ({where})")]
        except (TypeError, ValueError) as e:
            return [(table, key, f"{e} ({where})")]
        if merkle.leaf_hash(leaf).hex() != entry["leaf_hash"]:
            return [(table, key, f"{what}{states} differs from its ledger leaf ({where})")]
        return []

    def _rebuilt(self, entry: Mapping) -> bytes:
        if self.shapes is None:
            self.shapes = self.store.leaf_shapes()
        shape = self.shapes.get(entry.get("shape"))
        if shape is None:
            raise ValueError("the leaf has neither bytes nor a shape")
        subject = entry.get("subject")
        if subject is None:
            vid = entry["version_id"]
            if self.bulk and self.facts is None:
                self.facts = {f["version"]["id"]: f for f in self.store.leaf_facts()}
            facts = self.facts if self.bulk else self._version_facts(vid)
            return version_leaf(facts[vid], shape)
        kind, _, name = str(subject).partition(":")
        if kind == "commit":
            if self.bulk and self.commits is None:
                self.commits = self.store.commit_rows()
            commits = self.commits if self.bulk else self.store.commit_rows([name])
            return commit_leaf(commits[name], shape)
        if kind == "run" and name.isdigit():
            if self.bulk and self.runs is None:
                self.runs = self.store.run_facts()
            runs = self.runs if self.bulk else self.store.run_facts([int(name)])
            return run_leaf(runs[int(name)], shape)
        raise ValueError(f"unknown leaf subject {subject!r}")

    def _version_facts(self, vid: int) -> dict[int, dict]:
        return {f["version"]["id"]: f for f in self.store.leaf_facts([vid])}


def iter_leaves(store: Store) -> Iterator[dict]:
    """Every ledger row in log order with its leaf bytes (rebuilt where kept as a hash)."""
    rebuilder = Rebuilder(store, bulk=True)
    for entry in store.iter_ledger():
        yield {**entry, "leaf": rebuilder.leaf(entry)}
