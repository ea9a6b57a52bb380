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

from archive.passages.spans import index_text, ngram_query, phrase

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
        """Index the passages and blobs added since the last call; counts of what was added."""
        passages = blobs = 0
        for ids in self._new_passages():
            found = texts(ids)
            self.conn.executemany(
                "INSERT INTO span_fts (rowid, words) VALUES (?, ?)",
                [(pid, index_text(found[pid])) for pid in ids],
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
        return {"passages": passages, "blobs": blobs}

    def clear(self) -> None:
        """Empty the index (a rebuild: `catch_up` then indexes everything again)."""
        self.conn.execute("INSERT INTO span_fts (span_fts) VALUES ('delete-all')")
        self.conn.execute("DELETE FROM passage_blobs")
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

    def size(self) -> dict[str, int]:
        """Rows of the index tables (for bench/)."""
        return {
            "passages_indexed": self._state("passage"),
            "passage_blobs": self.conn.execute("SELECT count(*) FROM passage_blobs").fetchone()[0],
        }
