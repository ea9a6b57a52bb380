"""Store rows derived from contents: passages, diffs, the served snapshot, the span index.

The span index (`SpanIndex`, tables of the `_spans` migration) is SQL only: which passages,
blobs and versions are not indexed yet, and the rows for them; the tokens and keys come from
archive/passages/indexing.py, which drives it. An import keeps only which documents hold each
passage (`passage_documents`, for copy detection); the search indexes (`passages_fts`,
`span_fts`, the reuse tables) are derived data, built where they are read.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from archive.store.content import text_source
from archive.store.passage_format import unpack_ids
from archive.store.passage_store import PassageStore, versions_where
from archive.store.version_rows import Change


class DerivedRows:
    """Passage, diff and snapshot access; mixed into `Store` (uses its `conn`, `query`)."""

    # Passages -------------------------------------------------------------------------

    @property
    def passages(self) -> PassageStore:
        return PassageStore(self.conn)

    @property
    def spans(self) -> SpanIndex:
        return SpanIndex(self.conn)

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
        commands by their last component (leaves hold only their digests)."""
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


def gap_days(first: str, later: str) -> float:
    """Days from one ISO 8601 time to a later one (3 decimals)."""
    seconds = (datetime.fromisoformat(later) - datetime.fromisoformat(first)).total_seconds()
    return round(seconds / 86400, 3)


CHUNK = 2000  # passages indexed per batch: memory stays flat on a large catch-up


class SpanIndex:
    """`span_fts` (rowid = passage id), `passage_documents`, the reuse tables, `span_state`."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # Filling -----------------------------------------------------------------------------

    def _state(self, name: str) -> int:
        row = self.conn.execute("SELECT value FROM span_state WHERE name = ?", (name,)).fetchone()
        return 0 if row is None else row[0]

    def _set_state(self, name: str, value: int) -> None:
        self.conn.execute(
            "INSERT INTO span_state (name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def behind(self) -> bool:
        """True when the search indexes lack passages or versions stored since they were last
        brought up to date (an import leaves them behind; so did older releases at times)."""
        passage = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM passages").fetchone()[0]
        version = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM versions").fetchone()[0]
        indexed = min(self._state("version"), self._state("documents"))
        return passage > self._indexed_passages() or version > indexed

    def backlog(self) -> tuple[int, int]:
        """(passages, versions) the search indexes have still to take in."""
        passages = self.conn.execute(
            "SELECT count(*) FROM passages WHERE id > ?", (self._indexed_passages(),)
        ).fetchone()[0]
        versions = self.conn.execute(
            "SELECT count(*) FROM versions WHERE id > ?", (self._state("version"),)
        ).fetchone()[0]
        return passages, versions

    def _indexed_passages(self) -> int:
        """The last passage id both passage indexes hold: `span_fts` and `reuse_sentences`
        ('passage'), `passages_fts` ('text': archives imported before the indexes moved out
        of the import have it whole)."""
        return min(self._state("passage"), self._state("text"))

    def new_passages(self) -> Iterator[list[int]]:
        """Ids of the passages not indexed yet, CHUNK at a time, ascending."""
        after = self._indexed_passages()
        while True:
            ids = [
                r[0]
                for r in self.conn.execute(
                    "SELECT id FROM passages WHERE id > ? ORDER BY id LIMIT ?", (after, CHUNK)
                )
            ]
            if not ids:
                return
            yield ids
            after = ids[-1]

    def add_passages(
        self,
        words: Sequence[tuple[int, str]],
        sentences: Sequence[tuple[int, int, int]],
        texts: Sequence[tuple[int, str]],
    ) -> None:
        """Index passages: (id, token keys joined by spaces), their (key, id, words) reuse keys
        and (id, text); each index takes those past the last it holds, and then stands past
        the last id given."""
        if not words:
            return
        spans, text = self._state("passage"), self._state("text")
        self.conn.executemany(
            "INSERT INTO span_fts (rowid, words) VALUES (?, ?)",
            [row for row in words if row[0] > spans],
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO reuse_sentences (key, passage, words) VALUES (?, ?, ?)",
            [row for row in sentences if row[1] > spans],
        )
        self.conn.executemany(
            "INSERT INTO passages_fts (rowid, text) VALUES (?, ?)",
            [row for row in texts if row[0] > text],
        )
        last = max(pid for pid, _ in words)
        self._set_state("passage", max(spans, last))
        self._set_state("text", max(text, last))

    def _ids(self, blob: str | None) -> set[int]:
        return self._ids_of([blob])[blob]

    def _ids_of(self, blobs: Iterable[str | None]) -> dict[str | None, set[int]]:
        """The passages (list and quotations) of each of these contents, in one read."""
        keys = sorted({b for b in blobs if b is not None})
        out: dict[str | None, set[int]] = {None: set(), **{b: set() for b in keys}}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            for blob, ids, quotes in self.conn.execute(
                "SELECT blob, ids, quotes FROM blob_passages"
                f" WHERE blob IN ({','.join('?' * len(part))})",
                part,
            ):
                out[blob] = set(unpack_ids(ids)).union(unpack_ids(quotes))
        return out

    def _changes(self, state: str) -> Iterator[tuple[int, int, str, set[int], set[int]]]:
        """(version id, document id, observed_at, passages it brought into its document,
        passages it took out) of each version past `state`, which then stands past them."""
        after = self._state(state)
        rows = self.conn.execute(
            "SELECT v.id, v.document_id, v.observed_at, v.blob, (SELECT p.blob FROM versions p"
            " WHERE p.document_id = v.document_id AND p.seq < v.seq AND p.blob IS NOT NULL"
            " ORDER BY p.seq DESC LIMIT 1) FROM versions v WHERE v.id > ? ORDER BY v.id",
            (after,),
        ).fetchall()
        for start in range(0, len(rows), 256):  # a window's passage lists read at once
            window = rows[start : start + 256]
            held = self._ids_of(b for row in window for b in row[3:])
            for vid, doc, observed, blob, previous in window:
                yield vid, doc, observed, held[blob] - held[previous], held[previous] - held[blob]
        if rows:
            self._set_state(state, rows[-1][0])

    def index_documents(self) -> int:
        """Record, for each new version, the passages it brought into its document (those its
        previous text version did not hold: `passage_documents`; a first row per document
        stays): what copy detection looks sources up in, kept by the import. Returns the
        number of versions looked at."""
        done = 0
        rows: list[tuple[int, int, int]] = []  # in version order: the first row stays
        for vid, doc, _, new, _ in self._changes("documents"):
            done += 1
            rows += [(pid, doc, vid) for pid in sorted(new)]
        self.conn.executemany(
            "INSERT OR IGNORE INTO passage_documents (passage, document_id, version_id)"
            " VALUES (?, ?, ?)",
            rows,
        )
        return done

    def index_reuse(self) -> tuple[int, dict[int, int]]:
        """Record, for each new version, the reuse keys of the sentences it brought into its
        document (`reuse_documents`; a first row per document stays), once their passages are
        in `reuse_sentences`. Returns (versions looked at, {key: the first passage holding it}
        for the keys two or more documents now hold and that have no `reuse_texts` row yet)."""
        touched: set[int] = set()
        done = 0
        for vid, doc, observed, new, gone in self._changes("version"):
            done += 1
            if not new:
                continue
            keyed = self.conn.execute(  # an edited paragraph: its other sentences stay
                "SELECT rs.key, rs.passage FROM json_each(?) j JOIN reuse_sentences rs"
                " ON rs.passage = j.value",
                (json.dumps(sorted(new | gone)),),
            ).fetchall()
            kept = {key for key, pid in keyed if pid in gone}
            found = sorted({key for key, pid in keyed if pid in new and key not in kept})
            self.conn.executemany(
                "INSERT OR IGNORE INTO reuse_documents (key, document_id, version_id, observed_at)"
                " VALUES (?, ?, ?, ?)",
                [(key, doc, vid, observed) for key in found],
            )
            touched.update(found)
        shared = self.conn.execute(
            "SELECT j.value FROM json_each(?) j WHERE NOT EXISTS (SELECT 1 FROM reuse_texts t"
            " WHERE t.key = j.value) AND (SELECT count(*) FROM reuse_documents d"
            " WHERE d.key = j.value) >= 2",
            (json.dumps(sorted(touched)),),
        ).fetchall()
        if not shared:
            return done, {}
        first = self.conn.execute(  # the passage a sentence is quoted from: its first (one scan)
            "SELECT key, min(passage) FROM reuse_sentences WHERE key IN"
            " (SELECT value FROM json_each(?)) GROUP BY key",
            (json.dumps([r[0] for r in shared]),),
        ).fetchall()
        return done, dict(first)

    def copy_candidates(self, after: int = 0, upto: int | None = None) -> list[tuple]:
        """New documents' first versions (kind 'added', kept as passages) with ids in
        (after, upto]: (id, document_id, blob, run_id, commit, packed passage ids)."""
        return self.conn.execute(
            'SELECT v.id, v.document_id, v.blob, v.run_id, v."commit", bp.ids FROM versions v'
            " JOIN blob_passages bp ON bp.blob = v.blob WHERE v.id > ? AND v.id <= ?"
            " AND v.seq = 1 AND v.kind = 'added' ORDER BY v.id",
            (after, upto if upto is not None else 1 << 62),
        ).fetchall()

    def copy_source(self, candidate: tuple, min_share: float) -> int | None:
        """The version a new document's first version was copied from, or None: another
        document's content just before its run or commit (git's copy detection against the
        parent tree) at least `min_share` the same (shared passages' bytes over the larger of
        the two texts), the best source first (then the oldest). Only documents that held a
        shared passage before it are candidates, so the answer is the same whenever asked."""
        vid, doc, blob, run_id, commit, ids = candidate
        mine = set(unpack_ids(ids))
        sizes = self._sizes(mine)
        size = self._size(blob)
        best = None
        for other, _ in self.conn.execute(
            "SELECT pd.document_id, count(*) FROM json_each(?) j JOIN passage_documents pd"
            " ON pd.passage = j.value WHERE pd.document_id != ? AND pd.version_id < ?"
            " GROUP BY pd.document_id ORDER BY 2 DESC, 1 LIMIT 8",
            (json.dumps(sorted(mine)), doc, vid),
        ).fetchall():
            source = self.conn.execute(  # its content just before this run or commit
                "SELECT s.id, s.blob FROM versions s WHERE s.document_id = ? AND s.id < ?"
                ' AND NOT (s.run_id = ? AND s."commit" IS ?) ORDER BY s.id DESC LIMIT 1',
                (other, vid, run_id, commit),
            ).fetchone()
            if source is None or source[1] is None:
                continue  # not there yet, or deleted then
            shared = sum(sizes[p] for p in mine & self._ids(source[1]))
            share = shared / max(size, self._size(source[1]), 1)
            if share >= min_share and (best is None or share > best[0]):
                best = (share, source[0])
        return None if best is None else best[1]

    def copies_marked_upto(self) -> int:
        """The last version id copy detection has looked at."""
        return self._state("copy")

    def mark_copies(self, min_share: float) -> int:
        """Set `copied_from_version_id` (`copy_source`) on the first versions of documents
        added since the last call; how many were set."""
        after = self._state("copy")
        last = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM versions").fetchone()[0]
        marked = 0
        for candidate in self.copy_candidates(after):
            source = self.copy_source(candidate, min_share)
            if source is not None:
                self.conn.execute(
                    "UPDATE versions SET copied_from_version_id = ? WHERE id = ?",
                    (source, candidate[0]),
                )
                marked += 1
        self._set_state("copy", last)
        return marked

    def _sizes(self, ids: Iterable[int]) -> dict[int, int]:
        """Bytes of each passage."""
        return dict(
            self.conn.execute(
                "SELECT p.id, p.size FROM json_each(?) j JOIN passages p ON p.id = j.value",
                (json.dumps(sorted(set(ids))),),
            ).fetchall()
        )

    def _size(self, blob: str) -> int:
        """Bytes of a text blob's passages (its UTF-8 text)."""
        row = self.conn.execute("SELECT ids FROM blob_passages WHERE blob = ?", (blob,)).fetchone()
        if row is None:
            return 0
        return self.conn.execute(
            "SELECT COALESCE(SUM(p.size), 0) FROM json_each(?) j JOIN passages p ON p.id = j.value",
            (json.dumps(unpack_ids(row[0])),),
        ).fetchone()[0]

    def add_reuse_texts(self, rows: Iterable[tuple[int, str, int]]) -> None:
        """(key, sentence as written, words) of keys shared by documents."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO reuse_texts (key, text, words) VALUES (?, ?, ?)", list(rows)
        )

    def clear(self) -> None:
        """Empty the search indexes (a rebuild: `catch_up` then indexes everything again);
        `passage_documents` and copy detection, the import's, stay."""
        for fts in ("span_fts", "passages_fts"):
            self.conn.execute(f"INSERT INTO {fts} ({fts}) VALUES ('delete-all')")
        for table in ("reuse_sentences", "reuse_documents", "reuse_texts"):
            self.conn.execute(f"DELETE FROM {table}")
        self.conn.execute("DELETE FROM span_state WHERE name IN ('passage', 'text', 'version')")

    # Reading -----------------------------------------------------------------------------

    def holding(self, query: str | None, limit: int | None = None) -> list[int]:
        """Passage ids matching an FTS5 query of token keys (a phrase: the keys in order),
        ascending (the first `limit`)."""
        if query is None:
            return []
        sql = "SELECT rowid FROM span_fts WHERE span_fts MATCH ? ORDER BY rowid"
        params: tuple = (query,)
        if limit is not None:
            sql, params = sql + " LIMIT ?", (query, limit)
        return [r[0] for r in self.conn.execute(sql, params)]

    def ranked(self, query: str | None, limit: int) -> list[int]:
        """The passages best matching an FTS5 query (BM25: most and rarest terms), at most
        `limit`."""
        if query is None:
            return []
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT rowid FROM span_fts WHERE span_fts MATCH ?"
                " ORDER BY bm25(span_fts), rowid LIMIT ?",
                (query, limit),
            )
        ]

    def documents_of(self, passage_ids: Iterable[int]) -> dict[int, set[int]]:
        """passage -> the documents that have held it (as paragraph or quotation)."""
        out: dict[int, set[int]] = {}
        for pid, doc in self.conn.execute(
            "SELECT pd.passage, pd.document_id FROM json_each(?) j JOIN passage_documents pd"
            " ON pd.passage = j.value",
            (json.dumps(sorted(set(passage_ids))),),
        ):
            out.setdefault(pid, set()).add(doc)
        return out

    def versions_of_documents(self, document_ids: Iterable[int]) -> list[dict]:
        """Every version of these documents, with document path and source, oldest first."""
        return versions_where(self.conn, "document_id", document_ids)

    def held_by(self, blobs: Iterable[str]) -> dict[str, set[int]]:
        """blob -> the passages its text holds (paragraphs and quotations)."""
        return {
            blob: set(unpack_ids(ids)).union(unpack_ids(quotes))
            for blob, ids, quotes in self.conn.execute(
                "SELECT p.blob, p.ids, p.quotes FROM json_each(?) j JOIN blob_passages p"
                " ON p.blob = j.value",
                (json.dumps(sorted(set(blobs))),),
            )
        }

    def reuse(self, min_words: int, cap: int) -> dict:
        """Clusters of sentences shared by 2..cap documents (words >= min_words), oldest
        first, each with its appearances (first version per document, gap since the first);
        `boilerplate`: how many sentences more than `cap` documents share."""
        clusters = []
        boilerplate = 0
        for key, text, words, n in self.conn.execute(
            "SELECT t.key, t.text, t.words, (SELECT count(*) FROM reuse_documents d"
            " WHERE d.key = t.key) FROM reuse_texts t WHERE t.words >= ? ORDER BY t.key",
            (min_words,),
        ).fetchall():
            if n > cap:
                boilerplate += 1
                continue
            cursor = self.conn.execute(
                "SELECT d.document_id, d.version_id, d.observed_at, v.seq, doc.path, s.name"
                " FROM reuse_documents d JOIN versions v ON v.id = d.version_id"
                " JOIN documents doc ON doc.id = d.document_id"
                " JOIN sources s ON s.id = doc.source_id WHERE d.key = ?"
                " ORDER BY d.observed_at, d.version_id",
                (key,),
            )
            names = ("document_id", "version_id", "observed_at", "seq", "path", "source")
            rows = [dict(zip(names, r, strict=True)) for r in cursor]
            for row in rows:
                row["gap_days"] = gap_days(rows[0]["observed_at"], row["observed_at"])
            clusters.append({"key": key, "text": text, "words": words, "appearances": rows})
        clusters.sort(key=lambda c: (c["appearances"][0]["observed_at"], c["key"]))
        return {"clusters": clusters, "boilerplate": boilerplate, "cap": cap}

    def document_keys(self, document_id: int) -> set[int]:
        """The reuse keys of every sentence the document has held."""
        return {
            r[0]
            for r in self.conn.execute(
                "SELECT key FROM reuse_documents WHERE document_id = ?", (document_id,)
            )
        }

    def sentence_texts(self, keys: Sequence[int]) -> list[str]:
        """The sentences of shared reuse keys (those with a `reuse_texts` row), in key order."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT t.text FROM json_each(?) j JOIN reuse_texts t ON t.key = j.value"
                " ORDER BY t.key",
                (json.dumps(list(keys)),),
            )
        ]

    def size(self) -> dict[str, int]:
        """Rows of the index tables (for bench/)."""
        return {
            "passages_indexed": self._state("passage"),
            "passage_documents": self.conn.execute(
                "SELECT count(*) FROM passage_documents"
            ).fetchone()[0],
        }
