"""Store rows derived from contents: passages, diffs and the served snapshot (a Store mixin)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence

from archive.store.content import text_source
from archive.store.passage_store import PassageStore
from archive.store.shapes import Change


class DerivedRows:
    """Passage, diff and snapshot access; mixed into `Store` (uses its `conn`, `query`)."""

    # Passages -------------------------------------------------------------------------

    @property
    def passages(self) -> PassageStore:
        return PassageStore(self.conn)

    def pack_passages(self, changes: Sequence[Change]) -> None:
        """Keep the text blobs of new versions as passages, each revision deltaed on the last."""
        passages = self.passages
        for change in changes:
            if change.blob is not None:
                passages.pack_blob(change.blob, change.previous_blob, self.texts)

    # Diffs ------------------------------------------------------------------------------

    def diff_bases(self, version_ids: Sequence[int]) -> list[tuple[str, str]]:
        """(from_blob, to_blob) for each of these versions that changed content: the
        document's last version with content before it, against it (deletions, additions
        and unchanged contents give none)."""
        pairs = []
        for vid in version_ids:
            row = self.conn.execute(
                "SELECT (SELECT p.blob FROM versions p WHERE p.document_id = v.document_id"
                " AND p.seq < v.seq AND p.blob IS NOT NULL ORDER BY p.seq DESC LIMIT 1), v.blob"
                " FROM versions v WHERE v.id = ?",
                (vid,),
            ).fetchone()
            if row and row[0] is not None and row[1] is not None and row[0] != row[1]:
                pairs.append((row[0], row[1]))
        return pairs

    def diff_exists(self, from_blob: str, to_blob: str, algorithm: str) -> bool:
        return (
            self.conn.execute(
                "SELECT 1 FROM diffs WHERE from_blob = ? AND to_blob = ? AND algorithm = ?",
                (from_blob, to_blob, algorithm),
            ).fetchone()
            is not None
        )

    def insert_diffs(self, rows: Iterable[dict]) -> None:
        """Stored diffs (columns of `diffs`, delta compressed: `diffs.stored.diff_row`); a pair
        already stored is left as it is."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO diffs (from_blob, to_blob, algorithm, delta, delta_codec,"
            " chars_inserted, chars_deleted, words_inserted, words_deleted, similarity, hunks,"
            " change_class, coarse) VALUES (:from_blob, :to_blob, :algorithm, :delta,"
            " :delta_codec, :chars_inserted, :chars_deleted, :words_inserted, :words_deleted,"
            " :similarity, :hunks, :change_class, :coarse)",
            list(rows),
        )

    def stored_diff(self, from_blob: str, to_blob: str) -> dict | None:
        """The newest stored diff of a pair (the last algorithm's row), or None."""
        return self.query_one(
            "SELECT * FROM diffs WHERE from_blob = ? AND to_blob = ? ORDER BY rowid DESC LIMIT 1",
            (from_blob, to_blob),
        )

    def iter_diffs(self) -> Iterator[dict]:
        """Every stored diff in key order."""
        cursor = self.conn.execute("SELECT * FROM diffs ORDER BY from_blob, to_blob, algorithm")
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def text_target(self, blake3: str) -> tuple[str, str] | None:
        """(key, encoding) a blob's readable text must hash to when encoded."""
        return text_source(self.conn, blake3)

    # Snapshots --------------------------------------------------------------------------

    def snapshot(self, dest: str | os.PathLike[str], *, public: bool = False) -> None:
        """A consistent single-file copy (WAL folded in) for serving immutably.

        public: for publishing, with no absolute path of this machine in it: a source
        recorded at an absolute location is shown by its name, and absolute paths in run
        commands by their last component (neither is part of a ledger leaf)."""
        target = sqlite3.connect(os.fspath(dest))
        try:
            self.conn.backup(target)
            target.execute("PRAGMA journal_mode = DELETE")
            if public:
                with target:
                    _relative_locations(target)
        finally:
            target.close()


def _relative_locations(conn: sqlite3.Connection) -> None:
    for source_id, name, location in conn.execute(
        "SELECT id, name, location FROM sources ORDER BY id"
    ).fetchall():
        if not os.path.isabs(location):
            continue
        taken = conn.execute(
            "SELECT 1 FROM sources s, sources t WHERE s.id = ? AND t.kind = s.kind"
            " AND t.location = ? AND t.id != s.id",
            (source_id, name),
        ).fetchone()
        shown = f"source-{source_id}" if taken else name
        conn.execute("UPDATE sources SET location = ? WHERE id = ?", (shown, source_id))
    for run_id, command in conn.execute("SELECT id, command FROM runs").fetchall():
        if command:
            words = [_last_part(w) if os.path.isabs(w) else w for w in command.split(" ")]
            conn.execute("UPDATE runs SET command = ? WHERE id = ?", (" ".join(words), run_id))


def _last_part(path: str) -> str:
    return os.path.basename(path.rstrip("/")) or "/"
