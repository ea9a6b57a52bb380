"""The passage tables' SQL: texts kept as de-duplicated, deflated passages, reads bounded."""

from __future__ import annotations

import codecs
import json
import re
import sqlite3
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache, partial

from archive.errors import ArchiveError
from archive.store.groups import Group, GroupReader, TextCache, deferred_for
from archive.store.passage_format import (
    MAX_DEPTH,
    MAX_GROUPS,
    MAX_PIECES,
    WINDOW,
    PassageError,
    compress_checked,
    compress_group,
    decompress_group,
    digest_key,
    pack_ids,
    pack_pieces,
    pack_sizes,
    passage_digest,
    quote_stops,
    revised,
    run_bounds,
    split_passages,
    unpack_ids,
    zdict_of,
)
from ingest.hashing import blake3_hex

# Passages ---------------------------------------------------------------------------


# Quotation marks that can open a quote (ingest.extract.quotes.OPENERS, checked by a test; not
# imported: the extract package is slow to load): a segment without any has none.
QUOTE_OPENERS = '\u201c\u00ab\u00bb\u201e\u201a\u300c\u300e"'
_OPENER = re.compile(f"[{QUOTE_OPENERS}]")


@lru_cache(maxsize=16384)
def _segment_quotes(segment: str) -> tuple[tuple[str, int], ...]:
    """(text, offset) of a segment's quotations; revisions repeat most segments, so cached."""
    from ingest.extract.quotes import find_quotes  # lazy: the extract package is slow to load

    return tuple((q.text, q.start) for q in find_quotes(segment))


@lru_cache(maxsize=1 << 16)
def passage_key(text: str) -> int:
    """A passage's key (`passages.key`); revisions repeat most passages, so cached."""
    return digest_key(passage_digest(text))


def text_quotes(text: str) -> list[tuple[str, int]]:
    """(text, offset) of every quotation in text, as `find_quotes(text)` finds them: those
    of each `quote_segments` segment holding an opening mark, found from the marks (most
    segments have none: they are never cut out)."""
    out: list[tuple[str, int]] = []
    stops = quote_stops(text)  # segment k: [stops[k - 1] + 1, stops[k] + 2), the last to the end
    found = _OPENER.search(text)
    while found is not None:
        k = bisect_left(stops, found.start())  # a mark is never the line feed segments share
        start = stops[k - 1] + 1 if k else 0
        end = stops[k] + 2 if k < len(stops) else len(text)
        out.extend((q, start + at) for q, at in _segment_quotes(text[start:end]))
        found = _OPENER.search(text, end - 1) if end < len(text) else None
    return out


def split_text(blob: str, encoding: str, text: str) -> tuple[list[str], list[tuple[str, int]]]:
    """A text blob's passages and quotations: pure, so an import's workers compute it ahead
    (`TextCache.presplit`). Raises PassageError when the passages do not rebuild its bytes."""
    parts = split_passages(text)
    if blake3_hex("".join(parts).encode(encoding)) != blob:
        raise PassageError(f"blob {blob}: passages do not rebuild its bytes")
    return parts, text_quotes(text)


def _extend(pieces: list[list[int]], piece: list[int]) -> bool:
    """Append a copy instruction (..., source, start, end), or lengthen the last one when it
    ends where this one starts; False past MAX_PIECES."""
    last = pieces[-1] if pieces else None
    if last and last[:-1] == piece[:-2] and last[-1] == piece[-2]:
        last[-1] = piece[-1]
    elif len(pieces) < MAX_PIECES:
        pieces.append(piece)
    else:
        return False
    return True


def _utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


class PassageStore:
    """The passage tables' SQL; used by `Store` and by the `_passages` migration.

    A text blob is a row of `blob_passages` (its packed list of passage ids) instead of bytes
    in `blobs.content`; each passage is stored once, in the group of passages its version
    introduced (one deflate stream, primed with the passages they revise).
    """

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def ids(self, blob: str) -> list[int] | None:
        """The blob's passage ids in order, or None when it is not kept as passages."""
        row = self.conn.execute("SELECT ids FROM blob_passages WHERE blob = ?", (blob,)).fetchone()
        return None if row is None else unpack_ids(row[0])

    def reader(self) -> GroupReader:
        """A cache of located and inflated groups for one read (or one trace)."""
        return GroupReader(self.conn)

    def raw(self, ids: Iterable[int], reader: GroupReader | None = None) -> dict[int, bytes]:
        """The UTF-8 bytes of each passage id; reader caches inflated groups across calls."""
        return (reader or self.reader()).read(ids)

    def texts(self, ids: Iterable[int], reader: GroupReader | None = None) -> dict[int, str]:
        """The text of each passage id."""
        try:
            return {i: b.decode("utf-8") for i, b in self.raw(ids, reader).items()}
        except UnicodeDecodeError as e:
            raise PassageError(f"corrupt passage text: {e}") from None

    def rebuild(self, blob: str, encoding: str | None, reader: GroupReader | None = None) -> bytes:
        """A text blob's bytes from its passages (or its snapshot), checked against its BLAKE3.
        reader: inflated groups kept across reads (a verify unit's blobs share most groups).

        One query gives the blob's passage and group lists and, when its read is bounded by a
        snapshot (`bound`), the snapshot or the copy instructions and the snapshot they use.
        """
        try:
            row = self.conn.execute(
                "SELECT p.ids, p.groups, s.data, s.groups, s.pieces, s.primers, b.data"
                " FROM blob_passages p"
                " LEFT JOIN blob_snapshots s ON s.blob = p.blob"
                " LEFT JOIN blob_snapshots b ON b.blob = s.base WHERE p.blob = ?",
                (blob,),
            ).fetchone()
        except sqlite3.OperationalError as e:  # migrations before `_snapshots` read too
            if "no such table" not in str(e):
                raise
            row = self.conn.execute(
                "SELECT ids, groups, NULL, NULL, NULL, NULL, NULL FROM blob_passages"
                " WHERE blob = ?",
                (blob,),
            ).fetchone()
        if row is None or encoding is None:
            raise ArchiveError(f"blob {blob} has neither content nor passages")
        ids, groups, snapshot, copied, pieces, primers, base = row
        reader = GroupReader(self.conn) if reader is None else reader
        if snapshot is not None:
            data = decompress_group(snapshot)
        elif pieces is not None:
            data = reader.copy(base, reader.prefetch(unpack_ids(copied)), pieces, primers)
        else:
            data = reader.assemble(unpack_ids(ids), reader.prefetch(unpack_ids(groups)))
        if not _utf8(encoding):
            try:
                data = data.decode("utf-8").encode(encoding)
            except (UnicodeError, LookupError):
                raise ArchiveError(f"blob {blob} does not rebuild from its passages") from None
        if blake3_hex(data) != blob:
            raise ArchiveError(f"blob {blob} does not rebuild from its passages")
        return data

    def rows(self, ids: Iterable[int]) -> dict[int, dict]:
        """id, key, kind, size and group of passages (not their text)."""
        cursor = self.conn.execute(
            "SELECT p.id, p.key, p.kind, p.size FROM json_each(?) j"
            " JOIN passages p ON p.id = j.value",
            (json.dumps(sorted(set(ids))),),
        )
        return {r[0]: dict(zip(("id", "key", "kind", "size"), r, strict=True)) for r in cursor}

    def by_keys(self, keys: Iterable[int]) -> dict[int, int]:
        """key -> id for the keys that are stored."""
        cursor = self.conn.execute(
            "SELECT p.key, p.id FROM json_each(?) j JOIN passages p ON p.key = j.value",
            (json.dumps(sorted(set(keys))),),
        )
        return dict(cursor.fetchall())

    @staticmethod
    def _bases(
        old_ids: list[int], old: dict[int, bytes], picks: list[int], reader: GroupReader
    ) -> list[int]:
        """The old passages to prime a new group with: the revised ones whose groups are not
        too deep, as many as the deflate window holds (the last ones win)."""
        chosen: list[int] = []
        room = WINDOW
        for pid in reversed(list(dict.fromkeys(old_ids[i] for i in picks))):
            if room <= 0:
                break
            if reader.group_of(pid).depth < MAX_DEPTH:
                chosen.append(pid)
                room -= len(old[pid])
        return chosen[::-1]

    def pack_blob(
        self,
        blob: str,
        previous: str | None = None,
        cache: TextCache | None = None,
        snapshots: bool = True,
    ) -> bool:
        """Move a text blob's content into passages (previous: the blob it revises, if any).

        Its new passages become one group. The split is checked by re-encoding and re-hashing
        before anything is written, and the group by inflating it in memory; a mismatch raises
        (the caller's transaction then rolls back). Returns False when there was nothing to do.
        cache: an ingest's texts and group rows, read and filled (see `Store.caching_texts`).
        snapshots: bound its read (`bound`); False only before `blob_snapshots` exists.
        """
        row = self.conn.execute(
            "SELECT is_text, encoding, content IS NOT NULL FROM blobs WHERE blake3 = ?", (blob,)
        ).fetchone()
        if row is None or not row[0] or row[1] is None:
            return False
        encoding = row[1]
        split = cache.take_split(blob, encoding) if cache is not None else None
        if split is None and not row[2]:
            return False  # packed already (or large: in chunks)
        if split is not None:  # split, and keyed, where the content was prepared
            parts, quotes, keys, quote_keys = split
            text = "".join(parts)
        else:
            content = self.conn.execute(
                "SELECT content FROM blobs WHERE blake3 = ?", (blob,)
            ).fetchone()[0]
            text = bytes(content).decode(encoding)
            parts, quotes = split_text(blob, encoding, text)
            keys = list(map(passage_key, parts))
            quote_keys = [passage_key(q) for q, _ in quotes]
        # key -> id of the stored ones: those of the text it revises, when this process
        # packed it, are known without a query (most of a revision's passages)
        packed = cache.passages(previous) if cache is not None and previous else None
        known = dict(zip(packed[2], packed[0], strict=True)) if packed else {}
        unknown = [k for k in keys + quote_keys if k not in known]
        if unknown:
            known.update(self.by_keys(unknown))
        new: dict[int, tuple[str, str]] = {}  # key -> (kind, text), in order of first use
        for key, part in zip(keys, parts, strict=True):
            if key not in known:
                new.setdefault(key, ("para", part))
        for key, (q, _) in zip(quote_keys, quotes, strict=True):
            if key not in known:
                new.setdefault(key, ("quote", q))
        if new:
            added = self._add_group(new, keys, known, previous, cache, packed)
            known.update(added)
        ids = [known[k] for k in keys]
        if cache is not None:
            cache.put(blob, encoding, text, passages=(ids, parts, keys))
        reader = cache.reader(self.conn) if cache is not None else GroupReader(self.conn)
        groups = sorted(reader.closure(reader.locate(sorted(set(ids)))))
        self.conn.execute(
            "INSERT INTO blob_passages (blob, count, ids, quotes, groups) VALUES (?, ?, ?, ?, ?)",
            (
                blob,
                len(ids),
                pack_ids(ids),
                pack_ids([known[k] for k in quote_keys]),
                pack_ids(groups),
            ),
        )
        if snapshots:
            self.bound(blob, previous, ids, groups, reader, lambda: text.encode("utf-8"))
        if row[2]:
            self.conn.execute("UPDATE blobs SET content = NULL WHERE blake3 = ?", (blob,))
        return True

    def keep_content(self, blob: str, data: bytes) -> bool:
        """Write a text blob's bytes whole when it has neither them nor passages (a content
        written ahead of its packing that was not packed: `record.metadata.keep_unpacked`)."""
        return (
            self.conn.execute(
                "UPDATE blobs SET content = ? WHERE blake3 = ? AND content IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM blob_passages WHERE blob = ?)"
                " AND NOT EXISTS (SELECT 1 FROM blob_chunks WHERE blob = ?)",
                (data, blob, blob, blob),
            ).rowcount
            > 0
        )

    def bound(
        self,
        blob: str,
        previous: str | None,
        ids: Sequence[int],
        groups: Sequence[int],
        reader: GroupReader,
        utf8: Callable[[], bytes],
    ) -> None:
        """Keep the blob's read within MAX_GROUPS groups and MAX_PIECES pieces, as git bounds
        its delta chains: past either (a long history scatters a text over many groups), the
        read copies from the snapshot its previous version reads through, when that stays
        within them, else from a snapshot of its own. More bytes, but only for such texts.

        groups: the groups its passages need (with their bases'); utf8: its text, on demand.
        """
        if len(groups) <= MAX_GROUPS and len(run_bounds(ids, set(groups))) <= MAX_PIECES + 1:
            return
        base = self._snapshot_of(previous) if previous else None
        plan = self._plan(base, ids, reader) if base else None
        if plan is None:
            row = (blob, compress_group([utf8()]), None, pack_ids([]), *[pack_pieces([])] * 2)
        else:
            row = (blob, None, base, pack_ids(plan[0]), pack_pieces(plan[1]), pack_pieces(plan[2]))
        self.conn.execute(
            "INSERT INTO blob_snapshots (blob, data, base, groups, pieces, primers)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            row,
        )

    def _snapshot_of(self, blob: str) -> str | None:
        """The blob whose snapshot a read of this blob uses (itself or its base), if any."""
        row = self.conn.execute(
            "SELECT CASE WHEN data IS NULL THEN base ELSE blob END FROM blob_snapshots"
            " WHERE blob = ?",
            (blob,),
        ).fetchone()
        return None if row is None else row[0]

    def _plan(self, base: str, ids: Sequence[int], reader: GroupReader) -> tuple | None:
        """(groups, pieces, primers) copying the passages ids from base's snapshot (source 0)
        where it has them, else from their groups, whose dictionaries (their bases' text) are
        copied the same way: so a copy inflates the snapshot and the groups new since, never
        a chain of older groups. None when that is not within the bounds either. A passage
        the snapshot has more than once is copied from where it continues the last piece."""
        first: dict[int, tuple[int, int]] = {}  # passage id -> its first bytes in the snapshot
        at: dict[int, int] = {}  # offset in the snapshot -> the passage starting there
        end = 0
        for pid in self.ids(base) or []:
            start, end = end, end + reader.size(pid)
            first.setdefault(pid, (start, end))
            at[start] = pid
        used: dict[int, Group] = {}

        def where(pid: int) -> list[int]:
            if pid in first:
                return [0, *first[pid]]
            group = reader.group_of(pid)
            used[group.first] = group
            j = pid - group.first
            return [group.first, group.offsets[j], group.offsets[j + 1]]

        pieces: list[list[int]] = []
        for pid in ids:
            last = pieces[-1] if pieces else None
            if last and last[0] == 0 and at.get(last[2]) == pid:
                last[2] += first[pid][1] - first[pid][0]
            elif not _extend(pieces, where(pid)):
                return None
        primers: list[list[int]] = []
        done: set[int] = set()
        while len(done) < len(used) < MAX_GROUPS:  # bases sit in earlier groups: it ends
            group = used[min(used.keys() - done)]
            done.add(group.first)
            for pid in group.bases:
                _extend(primers, [group.first, *where(pid)])
        if len(used) >= MAX_GROUPS:
            return None
        return sorted(used), pieces, primers

    def _add_group(
        self,
        new: dict[int, tuple[str, str]],
        keys: list[int],
        known: dict,
        previous: str | None,
        cache: TextCache | None = None,
        packed: tuple[list[int], list[str], list[int]] | None = None,
    ) -> dict[int, int]:
        """Store new passages as one group primed with what they revise; key -> id.
        packed: the (ids, passages, keys) of previous, when this process packed it.

        The passages get consecutive ids and the group the first of them as its id."""
        old_ids = packed[0] if packed else (self.ids(previous) if previous else None) or []
        bases: list[int] = []
        zdict = b""
        depth = 0
        if old_ids:
            reader = cache.reader(self.conn) if cache is not None else self.reader()
            if packed:  # the text just split here: no inflating, and keys to compare
                # keys match where ids do (a stored passage has one of each; an unstored
                # key matches no old one), so the opcodes are the same as on ids
                picks = revised(packed[2], keys)
                old = {packed[0][i]: packed[1][i].encode("utf-8") for i in picks}
            else:
                old = self.raw(old_ids, reader)
                picks = revised(old_ids, [known.get(k, ("new", k)) for k in keys])
            bases = self._bases(old_ids, old, picks, reader) if picks else []
            zdict = zdict_of([old[b] for b in bases])
            depth = 1 + max((reader.group_of(b).depth for b in bases), default=-1)
        texts = [t.encode("utf-8") for _, t in new.values()]
        deferred = deferred_for(self.conn)  # deflated on a worker, written by the batch's end
        data = compress_checked(texts, zdict) if deferred is None else None
        # the ids SQLite would give one at a time (max + 1), given at once: consecutive
        first = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM passages").fetchone()[0]
        out = {key: first + i for i, key in enumerate(new)}
        self.conn.executemany(
            "INSERT INTO passages (id, key, kind, size) VALUES (?, ?, ?, ?)",
            [
                (out[key], key, kind, len(raw))
                for (key, (kind, _)), raw in zip(new.items(), texts, strict=True)
            ],
        )
        sizes = [len(t) for t in texts]
        row = (first, depth, pack_ids(bases), pack_sizes(sizes), data)
        if deferred is not None:
            deferred.add(row[:4], texts, zdict)
        else:
            self.conn.execute(
                "INSERT INTO passage_groups (id, depth, bases, sizes, data) VALUES (?, ?, ?, ?, ?)",
                row,
            )
        if cache is not None:  # the ingest's reader knows it without reading it back
            cache.reader(self.conn).add_row(row, sizes, bases)
        return out

    def pack_all(self, snapshots: bool = True) -> int:
        """Move every text blob still held whole into passages, oldest version first."""
        done = 0
        for blob, previous in self.conn.execute(
            "SELECT v.blob, pv.blob FROM versions v JOIN blobs b ON b.blake3 = v.blob"
            " LEFT JOIN versions pv ON pv.id = v.previous_version_id"
            " WHERE b.is_text = 1 AND b.content IS NOT NULL ORDER BY v.id"
        ).fetchall():
            done += self.pack_blob(blob, previous, snapshots=snapshots)
        for (blob,) in self.conn.execute(
            "SELECT blake3 FROM blobs WHERE is_text = 1 AND content IS NOT NULL ORDER BY blake3"
        ).fetchall():
            done += self.pack_blob(blob, snapshots=snapshots)
        return done

    def bound_all(self) -> int:
        """`bound` every blob kept as passages, oldest version first (so a revision can copy
        from the snapshot its previous version reads through), but those bounded already;
        returns how many rows `blob_snapshots` has."""
        pairs = self.conn.execute(
            "SELECT v.blob, pv.blob FROM versions v JOIN blob_passages p ON p.blob = v.blob"
            " LEFT JOIN versions pv ON pv.id = v.previous_version_id ORDER BY v.id"
        ).fetchall()
        pairs += self.conn.execute("SELECT blob, NULL FROM blob_passages ORDER BY blob").fetchall()
        seen = {b for (b,) in self.conn.execute("SELECT blob FROM blob_snapshots")}
        for blob, previous in pairs:
            if blob in seen:
                continue
            seen.add(blob)
            ids, groups = map(
                unpack_ids,
                self.conn.execute(
                    "SELECT ids, groups FROM blob_passages WHERE blob = ?", (blob,)
                ).fetchone(),
            )
            reader = GroupReader(self.conn)  # one per blob: memory stays flat
            self.bound(blob, previous, ids, groups, reader, partial(reader.join, ids))
        return self.conn.execute("SELECT count(*) FROM blob_snapshots").fetchone()[0]

    def lists(self) -> Iterator[tuple[str, list[int], list[int]]]:
        """Every (blob, passage ids, quote ids): a scan, for tracing where passages occur."""
        for blob, ids, quotes in self.conn.execute(
            "SELECT blob, ids, quotes FROM blob_passages ORDER BY blob"
        ):
            yield blob, unpack_ids(ids), unpack_ids(quotes)

    def quote_ids(self, blob: str) -> list[int]:
        """The passage ids of a blob's quotations, in document order."""
        row = self.conn.execute(
            "SELECT quotes FROM blob_passages WHERE blob = ?", (blob,)
        ).fetchone()
        return [] if row is None else unpack_ids(row[0])

    def key_chunks(self, size: int = 4096) -> Iterator[list[tuple[int, int]]]:
        """Every passage's (id, key), in id order, a chunk at a time (for `archive verify`)."""
        cursor = self.conn.execute("SELECT id, key FROM passages ORDER BY id")
        while chunk := cursor.fetchmany(size):
            yield chunk

    def snapshot_blobs(self) -> list[str]:
        """The blobs whose reads go through a snapshot, not through their passages."""
        return [r[0] for r in self.conn.execute("SELECT blob FROM blob_snapshots ORDER BY blob")]

    def first_ids(self, fts_query: str | None, limit: int) -> list[int]:
        """The first `limit` passage ids (by id) whose text matches an FTS5 query, or of all
        passages for None: what a trace checks, so its work stays bounded however many match."""
        if fts_query is None:
            sql, params = "SELECT id FROM passages ORDER BY id LIMIT ?", (limit,)
        else:
            sql = "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? ORDER BY rowid LIMIT ?"
            params = (fts_query, limit)
        return [r[0] for r in self.conn.execute(sql, params)]

    def document_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM documents ORDER BY id")]

    def all_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM passages ORDER BY id")]

    def versions_of_blobs(self, blobs: Iterable[str]) -> list[dict]:
        """Versions holding any of the blobs, with document path and source, oldest first."""
        return versions_where(self.conn, "blob", blobs)


def versions_where(
    conn: sqlite3.Connection, column: str, values: Iterable[str | int]
) -> list[dict]:
    """Versions whose `column` ('blob' or 'document_id') is one of values, with document
    path and source, oldest first (one query whatever the number of values)."""
    if column not in ("blob", "document_id"):
        raise ValueError(f"versions are not looked up by {column!r}")
    cursor = conn.execute(
        "SELECT v.*, d.path AS document_path, s.name AS source FROM json_each(?) j"
        f" JOIN versions v ON v.{column} = j.value JOIN documents d ON d.id = v.document_id"
        " JOIN sources s ON s.id = d.source_id ORDER BY v.observed_at, v.id",
        (json.dumps(sorted(set(values))),),
    )
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor]
