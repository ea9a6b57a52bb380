"""The span index's SQL: winnowed n-gram seeds of every passage, and the blobs holding each passage.

Why: `archive trace` must find every passage holding a span without scanning them (the seeds,
archive.passages.spans), and every version carrying those passages without scanning every
blob's passage list (`passage_blobs`). Both are filled incrementally, after the passages of new
versions are packed: `catch_up` indexes the passages and blobs added since it last ran
(`span_state` keeps where it stopped), so an ingest pays for its new text only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence

from archive.passages.spans import seeds

# A seed in more passages than this is boilerplate (navigation, licence text): fuzzy search and
# reuse clusters skip it (exact trace still uses it when it is all a span has).
BOILERPLATE_CAP = 200
CHUNK = 2000  # passages indexed per batch: memory stays flat on a large catch-up

Texts = Callable[[Sequence[int]], dict[int, str]]


def _unpack(data: bytes) -> list[int]:
    from archive.passages.format import unpack_ids  # the layout's codec module

    return unpack_ids(data)


class SpanIndex:
    """`span_seeds` (seed, passage), `passage_blobs` (passage, blob rowid), `span_state`."""

    def __init__(self, conn: sqlite3.Connection, unpack: Callable[[bytes], list[int]] = _unpack):
        self.conn = conn
        self.unpack = unpack

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
        """True when passages or blobs were added since the index last caught up."""
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
        passages = seed_rows = 0
        for ids in self._new_passages():
            found = texts(ids)
            rows = [(s, pid) for pid in ids for s in sorted(seeds(found[pid]))]
            self.conn.executemany(
                "INSERT OR IGNORE INTO span_seeds (seed, passage) VALUES (?, ?)", rows
            )
            passages += len(ids)
            seed_rows += len(rows)
            self._set_state("passage", ids[-1])
        blobs = 0
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
        return {"passages": passages, "seeds": seed_rows, "blobs": blobs}

    # Reading -----------------------------------------------------------------------------

    def counts(self, seed_list: Iterable[int]) -> dict[int, int]:
        """How many passages hold each seed (seeds held by none are absent)."""
        return dict(
            self.conn.execute(
                "SELECT s.seed, count(*) FROM json_each(?) j JOIN span_seeds s"
                " ON s.seed = j.value GROUP BY s.seed",
                (json.dumps(sorted(set(seed_list))),),
            ).fetchall()
        )

    def postings(self, seed: int, within: Iterable[int] | None = None) -> list[int]:
        """The passages holding a seed (only those in `within`, when given), ascending."""
        if within is None:
            sql, params = "SELECT passage FROM span_seeds WHERE seed = ? ORDER BY passage", (seed,)
        else:
            sql = (
                "SELECT s.passage FROM json_each(?) j JOIN span_seeds s"
                " ON s.seed = ? AND s.passage = j.value ORDER BY s.passage"
            )
            params = (json.dumps(sorted(set(within))), seed)
        return [r[0] for r in self.conn.execute(sql, params)]

    def holding_all(self, seed_list: Sequence[int]) -> list[int]:
        """Passages holding every seed: the rarest seed's postings, narrowed by the others.

        Work is bounded by the rarest seed's postings (a span's seeds are all needed, so a
        passage missing one cannot hold the span)."""
        counts = self.counts(seed_list)
        if not seed_list or len(counts) < len(set(seed_list)):
            return []
        order = sorted(counts, key=lambda s: (counts[s], s))
        found = self.postings(order[0])
        for seed in order[1:]:
            if not found:
                break
            found = self.postings(seed, found)
        return found

    def sharing(self, seed_list: Sequence[int], limit: int) -> list[tuple[int, int]]:
        """(passage, seeds shared) for the passages sharing most of these seeds, best first;
        seeds in more than BOILERPLATE_CAP passages are left out (work stays bounded)."""
        counts = self.counts(seed_list)
        useful = sorted(s for s, n in counts.items() if n <= BOILERPLATE_CAP)
        if not useful:
            return []
        return self.conn.execute(
            "SELECT s.passage, count(*) AS n FROM json_each(?) j JOIN span_seeds s"
            " ON s.seed = j.value GROUP BY s.passage ORDER BY n DESC, s.passage LIMIT ?",
            (json.dumps(useful), limit),
        ).fetchall()

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
        """Rows of each index table (for `bench/` and the README figures)."""
        return {
            t: self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("span_seeds", "passage_blobs")
        }
