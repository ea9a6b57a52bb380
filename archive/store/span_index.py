"""The span index's SQL: every passage's token keys in a positional FTS5 index, and where each
passage occurs.

Why: `archive trace` must find every passage holding a span without scanning them: `span_fts`
keeps each passage's token keys (archive.passages.spans: NFKC, case-folded, CJK split into
characters) with positions, so a span is a phrase query answered from the postings. And it must
find every version carrying those passages without scanning every blob's passage list:
`passage_blobs` (passage, blob rowid). Both are filled incrementally after the passages of new
versions are packed: `catch_up` indexes the passages and blobs added since it last ran
(`span_state` keeps where it stopped), so an ingest pays for its new text only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence

from archive.passages.reuse import BOILERPLATE_CAP, gap_days, reuse_keys, sentence_of
from archive.passages.spans import fold, index_text, ngram_query, phrase

CHUNK = 2000  # passages indexed per batch: memory stays flat on a large catch-up

Texts = Callable[[Sequence[int]], dict[int, str]]
Unpack = Callable[[bytes], list[int]]


class SpanIndex:
    """`span_fts` (rowid = passage id), `passage_blobs` (passage, blob rowid), `span_state`."""

    def __init__(self, conn: sqlite3.Connection, unpack: Unpack):
        self.conn = conn
        self.unpack = unpack  # the passage-list codec (archive.passages)

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
        """True when passages or text blobs were added since the index last caught up."""
        passage = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM passages").fetchone()[0]
        blob = self.conn.execute(
            "SELECT COALESCE(MAX(b.rowid), 0) FROM blob_passages p JOIN blobs b"
            " ON b.blake3 = p.blob"
        ).fetchone()[0]
        return passage > self._state("passage") or blob > self._state("blob")

    def _new_passages(self) -> Iterator[list[int]]:
        after = self._state("passage")
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

    def catch_up(self, texts: Texts) -> dict[str, int]:
        """Index the passages, blobs and versions added since the last call; counts of each."""
        passages = blobs = 0
        for ids in self._new_passages():
            found = texts(ids)
            folded = {pid: fold(found[pid]) for pid in ids}  # once per passage, for both
            self.conn.executemany(
                "INSERT INTO span_fts (rowid, words) VALUES (?, ?)",
                [(pid, index_text(folded[pid], folded=True)) for pid in ids],
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO reuse_sentences (key, passage, words) VALUES (?, ?, ?)",
                [
                    (key, pid, words)
                    for pid in ids
                    for key, words in reuse_keys(folded[pid], folded=True)
                ],
            )
            passages += len(ids)
            self._set_state("passage", ids[-1])
        last = self._state("blob")
        for rowid, ids, quotes in self.conn.execute(
            "SELECT b.rowid, p.ids, p.quotes FROM blob_passages p JOIN blobs b"
            " ON b.blake3 = p.blob WHERE b.rowid > ? ORDER BY b.rowid",
            (last,),
        ).fetchall():
            held = set(self.unpack(ids)).union(self.unpack(quotes))
            self.conn.executemany(
                "INSERT OR IGNORE INTO passage_blobs (passage, blob) VALUES (?, ?)",
                [(pid, rowid) for pid in sorted(held)],
            )
            blobs += 1
            last = rowid
        self._set_state("blob", last)
        versions = self._reuse_versions(texts)
        return {"passages": passages, "blobs": blobs, "versions": versions}

    def _ids(self, blob: str | None) -> set[int]:
        if blob is None:
            return set()
        row = self.conn.execute("SELECT ids, quotes FROM blob_passages WHERE blob = ?", (blob,))
        found = row.fetchone()
        return set() if found is None else set(self.unpack(found[0])).union(self.unpack(found[1]))

    def _reuse_versions(self, texts: Texts) -> int:
        """Record, for each new version, the reuse keys it brought into its document (those
        of passages its previous text version did not hold); a key's first row per document
        stays. Keys now in two documents get their sentence text (`reuse_texts`)."""
        after = self._state("version")
        rows = self.conn.execute(
            "SELECT v.id, v.document_id, v.observed_at, v.blob, (SELECT p.blob FROM versions p"
            " WHERE p.document_id = v.document_id AND p.seq < v.seq AND p.blob IS NOT NULL"
            " ORDER BY p.seq DESC LIMIT 1) FROM versions v WHERE v.id > ? ORDER BY v.id",
            (after,),
        ).fetchall()
        touched: dict[int, int] = {}  # key -> a passage holding it
        for vid, doc, observed, blob, previous in rows:
            new = sorted(self._ids(blob) - self._ids(previous))
            if not new:
                continue
            found = self.conn.execute(
                "SELECT rs.key, rs.passage FROM json_each(?) j JOIN reuse_sentences rs"
                " ON rs.passage = j.value",
                (json.dumps(new),),
            ).fetchall()
            self.conn.executemany(
                "INSERT OR IGNORE INTO reuse_documents (key, document_id, version_id, observed_at)"
                " VALUES (?, ?, ?, ?)",
                [(key, doc, vid, observed) for key, _ in found],
            )
            for key, pid in found:
                touched.setdefault(key, pid)
        if rows:
            self._set_state("version", rows[-1][0])
        shared = [
            r[0]
            for r in self.conn.execute(
                "SELECT j.value FROM json_each(?) j WHERE NOT EXISTS (SELECT 1 FROM reuse_texts t"
                " WHERE t.key = j.value) AND (SELECT count(*) FROM reuse_documents d"
                " WHERE d.key = j.value) >= 2",
                (json.dumps(sorted(touched)),),
            )
        ]
        if shared:
            held = texts(sorted({touched[k] for k in shared}))
            for key in shared:
                text = held[touched[key]]
                sentence = sentence_of(text, key) or text.strip()
                words = dict(reuse_keys(text)).get(key, 0)
                self.conn.execute(
                    "INSERT OR IGNORE INTO reuse_texts (key, text, words) VALUES (?, ?, ?)",
                    (key, sentence, words),
                )
        return len(rows)

    def clear(self) -> None:
        """Empty the index (a rebuild: `catch_up` then indexes everything again)."""
        self.conn.execute("INSERT INTO span_fts (span_fts) VALUES ('delete-all')")
        for table in ("passage_blobs", "reuse_sentences", "reuse_documents", "reuse_texts"):
            self.conn.execute(f"DELETE FROM {table}")
        self.conn.execute("DELETE FROM span_state")

    # Reading -----------------------------------------------------------------------------

    def holding(self, token_keys: Sequence[str], limit: int | None = None) -> list[int]:
        """Passage ids whose keys hold these keys consecutively, ascending (the first `limit`)."""
        query = phrase(token_keys)
        if query is None:
            return []
        sql = "SELECT rowid FROM span_fts WHERE span_fts MATCH ? ORDER BY rowid"
        params: tuple = (query,)
        if limit is not None:
            sql, params = sql + " LIMIT ?", (query, limit)
        return [r[0] for r in self.conn.execute(sql, params)]

    def sharing(self, token_keys: Sequence[str], limit: int) -> list[int]:
        """The passages sharing the most (and rarest) word 3-grams with these keys, best first
        (BM25 over an OR of the 3-gram phrases), at most `limit`."""
        query = ngram_query(token_keys)
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

    def blobs_of(self, passage_ids: Iterable[int]) -> dict[int, list[str]]:
        """passage -> the blobs (BLAKE3 hex) whose text holds it, as paragraph or quotation."""
        out: dict[int, list[str]] = {}
        for pid, blob in self.conn.execute(
            "SELECT pb.passage, b.blake3 FROM json_each(?) j JOIN passage_blobs pb"
            " ON pb.passage = j.value JOIN blobs b ON b.rowid = pb.blob"
            " ORDER BY pb.passage, b.rowid",
            (json.dumps(sorted(set(passage_ids))),),
        ):
            out.setdefault(pid, []).append(blob)
        return out

    def reuse(self, min_words: int, cap: int = BOILERPLATE_CAP) -> dict:
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

    def size(self) -> dict[str, int]:
        """Rows of the index tables (for bench/)."""
        return {
            "passages_indexed": self._state("passage"),
            "passage_blobs": self.conn.execute("SELECT count(*) FROM passage_blobs").fetchone()[0],
        }
