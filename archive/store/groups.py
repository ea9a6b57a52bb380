"""Passage groups read and inflated: the unit a text is rebuilt from, and the ingest's cache.

A GroupReader locates and inflates groups once per read (or trace); TextCache keeps an
ingest's decoded texts and its reader, since group rows never change once written.
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_left, bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import add, attrgetter, getitem, le

from archive.errors import ArchiveError
from archive.store.passage_format import (
    PassageError,
    decompress_group,
    run_bounds,
    unpack_ids,
    unpack_pieces,
    unpack_sizes,
    zdict_of,
)


@dataclass(frozen=True)
class Group:
    """A `passage_groups` row: passages first .. first + len(offsets) - 2, packed."""

    first: int
    end: int  # one past its last passage id
    depth: int
    bases: list[int]
    offsets: list[int]  # where each passage starts in the inflated text, then its length
    data: bytes | None  # None: deflated elsewhere, its row not written yet (`DeferredGroups`)


# A group's deflate started elsewhere (a worker): its stored bytes, once asked for.
Deflate = Callable[[Sequence[bytes], bytes], Callable[[], bytes]]


class DeferredGroups:
    """The `passage_groups` rows of a connection whose deflate runs elsewhere (an import's
    workers: `compress_checked` is a pure function, so the same bytes), written in id order
    by `flush`: at the end of the batch, or before anything reads group rows through this
    connection (`GroupReader` flushes first), so no read ever misses one.

    The passages of a group and their ids are decided and written where they are now; only
    the group's bytes come later."""

    def __init__(self, conn: sqlite3.Connection, deflate: Deflate) -> None:
        self.conn = conn
        self.deflate = deflate
        self.rows: list[tuple[tuple, Callable[[], bytes]]] = []

    def add(self, row: tuple, texts: Sequence[bytes], zdict: bytes) -> None:
        """A group row (id, depth, bases, sizes) whose data is texts deflated with zdict."""
        self.rows.append((row, self.deflate(texts, zdict)))

    def flush(self) -> int:
        """Write the waiting rows (each waits for its bytes); how many. A worker's failure
        (its deflate not inflating back, or its death) raises here: the batch rolls back."""
        rows, self.rows = self.rows, []
        self.conn.executemany(
            "INSERT INTO passage_groups (id, depth, bases, sizes, data) VALUES (?, ?, ?, ?, ?)",
            [(*row, data()) for row, data in rows],
        )
        return len(rows)


_DEFERRED: dict[int, DeferredGroups] = {}  # id(connection) -> its deferred group rows


def deferred_for(conn: sqlite3.Connection) -> DeferredGroups | None:
    """The connection's deferred group rows, when its group deflates run elsewhere."""
    deferred = _DEFERRED.get(id(conn))
    return deferred if deferred is not None and deferred.conn is conn else None


@contextmanager
def deferring_groups(conn: sqlite3.Connection, deflate: Deflate) -> Iterator[DeferredGroups]:
    """Within it, new groups of this connection are deflated by `deflate` and written by
    `flush_groups` (call it before each commit); rows not flushed are dropped on the way out
    (their transaction rolls back)."""
    deferred = DeferredGroups(conn, deflate)
    _DEFERRED[id(conn)] = deferred
    try:
        yield deferred
        if deferred.rows:  # a batch committed without them: its passages would not read
            raise ArchiveError(f"{len(deferred.rows)} passage group rows were never written")
    finally:
        if _DEFERRED.get(id(conn)) is deferred:
            del _DEFERRED[id(conn)]


def flush_groups(conn: sqlite3.Connection) -> int:
    """Write the connection's deferred group rows, if any (see `DeferredGroups`)."""
    deferred = deferred_for(conn)
    return 0 if deferred is None else deferred.flush()


class GroupReader:
    """Finds passages from their ids through the group rows alone, inflating each group once.

    A group's id is its first passage's, so the group of passage i is the one with the
    largest id <= i: one indexed lookup per group, none per passage. A text is joined one
    slice per run of consecutive ids (`run_bounds`), so a read costs per run, not per passage.
    """

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.firsts: list[int] = []  # sorted ids of the groups located so far
        self.groups: dict[int, Group] = {}
        self.inflated: dict[int, bytes] = {}
        self.inflated_bytes = 0

    def _find(self, pid: int) -> Group | None:
        k = bisect_right(self.firsts, pid) - 1
        if k < 0:
            return None
        group = self.groups[self.firsts[k]]
        return group if pid < group.end else None

    def _add(
        self, row: tuple, sizes: list[int] | None = None, bases: list[int] | None = None
    ) -> Group:
        group = self.groups.get(row[0])
        if group is None:
            sizes = unpack_sizes(row[3]) if sizes is None else sizes
            offsets = list(accumulate(sizes, initial=0))
            end = row[0] + len(offsets) - 1
            bases = unpack_ids(row[2]) if bases is None else bases
            data = None if row[4] is None else bytes(row[4])
            group = Group(row[0], end, row[1], bases, offsets, data)
            insort(self.firsts, group.first)
            self.groups[group.first] = group
        return group

    def add_row(self, row: tuple, sizes: list[int], bases: list[int]) -> Group:
        """A `passage_groups` row (id, depth, bases, sizes, data) just written by this
        connection, with the sizes and bases it packs: known without reading or unpacking."""
        return self._add(row, sizes, bases)

    def _written(self, group: Group) -> Group:
        """The group with its bytes: one added before its row was written (`DeferredGroups`)
        is read back once the waiting rows are."""
        if group.data is not None:
            return group
        flush_groups(self.conn)
        del self.groups[group.first]
        self.firsts.remove(group.first)
        return self._fetch(group.first)

    def _fetch(self, pid: int) -> Group:
        flush_groups(self.conn)
        row = self.conn.execute(
            "SELECT id, depth, bases, sizes, data FROM passage_groups WHERE id <= ?"
            " ORDER BY id DESC LIMIT 1",
            (pid,),
        ).fetchone()
        group = None if row is None else self._add(row)
        if group is None or pid >= group.end:
            raise ArchiveError(f"missing passage {pid}")
        return group

    def prefetch(self, groups: Sequence[int]) -> list[Group]:
        """These groups (a blob's, listed in `blob_passages.groups`), fetched in one query;
        a listed id without a row is left out (a read then looks its passages up)."""
        want = [g for g in groups if g not in self.groups]
        if want:
            flush_groups(self.conn)
            for row in self.conn.execute(
                "SELECT id, depth, bases, sizes, data FROM passage_groups"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(want),),
            ):
                self._add(row)
        return [self.groups[g] for g in groups if g in self.groups]

    def group_of(self, pid: int) -> Group:
        return self._find(pid) or self._fetch(pid)

    def locate(self, ids: Sequence[int]) -> list[Group]:
        """The groups holding these sorted passage ids: one lookup per group, and the ids a
        group holds are skipped at once (a bisection), not visited one by one."""
        out: dict[int, Group] = {}
        i, n = 0, len(ids)
        while i < n:
            group = self.group_of(ids[i])
            out[group.first] = group
            i = bisect_left(ids, group.end, i + 1)
        return list(out.values())

    def closure(self, groups: Iterable[Group], skip: Iterable[int] = ()) -> dict[int, Group]:
        """These groups and every group their bases (and theirs, ...) sit in: what a read
        inflates. Groups in skip (already inflated) and their bases are left out."""
        skip = set(skip)
        pending = {g.first: g for g in groups if g.first not in skip}
        todo: dict[int, Group] = {}
        while pending:
            todo.update(pending)
            bases = sorted({b for g in pending.values() for b in g.bases})
            pending = {
                g.first: g
                for g in self.locate(bases)
                if g.first not in skip and g.first not in todo
            }
        return todo

    def size(self, pid: int) -> int:
        """A passage's size in bytes, from its group row."""
        group = self.group_of(pid)
        return group.offsets[pid - group.first + 1] - group.offsets[pid - group.first]

    def text(self, group: Group) -> bytes:
        """A group's passages end to end, inflated once (after the groups of its bases)."""
        text = self.inflated.get(group.first)
        if text is None:
            group = self._written(group)
            zdict = zdict_of([self.join(group.bases)]) if group.bases else b""
            text = decompress_group(group.data or b"", zdict)
            if len(text) != group.offsets[-1]:
                raise PassageError(f"corrupt passage group {group.first}: wrong length")
            self.inflated[group.first] = text
            self.inflated_bytes += len(text)
        return text

    def forget_texts(self) -> None:
        """Drop the inflated texts (the located groups stay): memory stays bounded."""
        self.inflated.clear()
        self.inflated_bytes = 0

    def read(self, ids: Iterable[int]) -> dict[int, bytes]:
        """Each passage's bytes, locating and inflating what it needs (sorted: no lookup per id)."""
        out: dict[int, bytes] = {}
        first = end = 0
        text = b""
        offsets: list[int] = []
        for pid in sorted(set(ids)):
            if not first <= pid < end:
                group = self.group_of(pid)
                first, end, offsets = group.first, group.end, group.offsets
                text = self.text(group)
            j = pid - first
            out[pid] = text[offsets[j] : offsets[j + 1]]
        return out

    def join(self, ids: Iterable[int]) -> bytes:
        """The passages end to end (a few: a group's bases): consecutive ids of one group are
        one slice."""
        pieces: list[bytes] = []
        text = b""
        offsets: list[int] = []
        first = end = start = stop = 0
        for pid in ids:
            if pid == stop and pid < end:
                stop += 1
                continue
            if stop > start:
                pieces.append(text[offsets[start - first] : offsets[stop - first]])
            if not first <= pid < end:
                group = self.group_of(pid)
                first, end, offsets = group.first, group.end, group.offsets
                text = self.text(group)
            start, stop = pid, pid + 1
        if stop > start:
            pieces.append(text[offsets[start - first] : offsets[stop - first]])
        return b"".join(pieces)

    def copy(
        self, snapshot: bytes | None, groups: Sequence[Group], pieces: bytes, primers: bytes
    ) -> bytes:
        """A text from copy instructions (`PassageStore.bound`): each piece a slice of the
        snapshot (source 0, raw deflate) or of a group's text (source: the group's id); each
        group inflated with the dictionary its primers copy, not through its bases' groups."""
        if snapshot is None:
            raise PassageError("copy instructions without their snapshot")
        sources = {0: decompress_group(snapshot)}
        targets, kinds, starts, ends = unpack_pieces(primers, 4)
        primed: dict[int, list[int]] = {}
        for k, target in enumerate(targets):
            primed.setdefault(target, []).append(k)
        try:
            for group in sorted(groups, key=attrgetter("first")):  # primers copy earlier ones
                ks = primed.get(group.first, ())
                zdict = zdict_of([sources[kinds[k]][starts[k] : ends[k]] for k in ks])
                text = decompress_group(self._written(group).data or b"", zdict)
                if len(text) != group.offsets[-1]:
                    raise PassageError(f"corrupt passage group {group.first}: wrong length")
                sources[group.first] = text
            kinds, starts, ends = unpack_pieces(pieces)
            return b"".join(map(getitem, map(sources.__getitem__, kinds), map(slice, starts, ends)))
        except KeyError as e:
            raise PassageError(f"copy instructions name group {e}, not listed") from None

    def assemble(self, ids: Sequence[int], groups: Sequence[Group]) -> bytes:
        """A whole text from these groups (a blob's), iterating in C over its runs: no
        Python work per run or per passage. Falls back to `join` when the groups do not
        hold every run (a stale group list)."""
        groups = sorted(groups, key=attrgetter("first"))
        texts = [b"", *map(self.text, groups)]  # k = bisect_right(firsts, pid): group k - 1
        firsts = [g.first for g in groups]
        ends, shifts, flat = [-1], [0], []  # flat: every group's offsets, end to end
        for group in groups:
            ends.append(group.end)
            shifts.append(len(flat) - group.first)
            flat.extend(group.offsets)
        bounds = run_bounds(ids, set(firsts))
        starts = list(map(ids.__getitem__, bounds[:-1]))
        stops = list(map((1).__add__, map(ids.__getitem__, map((-1).__add__, bounds[1:]))))
        ks = list(map(bisect_right, repeat(firsts), starts))
        if not all(map(le, stops, map(ends.__getitem__, ks))):
            return self.join(ids)
        shift = list(map(shifts.__getitem__, ks))
        cuts = map(
            slice,
            map(flat.__getitem__, map(add, starts, shift)),
            map(flat.__getitem__, map(add, stops, shift)),
        )
        return b"".join(map(getitem, map(texts.__getitem__, ks), cuts))


class TextCache:
    """Decoded texts by blob hash, least recently used dropped past max_chars, and one
    GroupReader for an ingest's packing (group rows never change once written).

    Only texts decoded from bytes whose hash is the key go in (a packed blob, a read), so
    a hit is exactly what reading the blob again would give.
    """

    # Group rows held by the reader before it starts afresh. Every pack locates its text's
    # groups and their bases' (the `blob_passages.groups` list), so the reader must hold an
    # import's working set: with 4,096, a 15,000-commit synthetic history re-read 781,469
    # group rows (52 per version). A row without its inflated text is ~1 KiB.
    MAX_GROUPS = 1 << 17
    MAX_INFLATED = 64 << 20  # bytes of inflated group texts kept (they are dropped past it)

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.chars = 0
        # key -> (encoding, text, (passage ids, passages, keys) when this process packed it)
        self.items: OrderedDict[str, tuple[str, str, tuple | None]] = OrderedDict()
        self._reader: GroupReader | None = None
        # key -> (encoding, passages, quotations, their keys) computed ahead, taken once
        self.splits: dict[str, tuple[str, list[str], list, list[int], list[int]]] = {}
        self.split_chars = 0

    def presplit(
        self, key: str, encoding: str, parts: list[str], quotes: list, keys: tuple[list, list]
    ) -> bool:
        """Hold a new text blob's passages and quotations (passage_store.split_text of its
        decoded bytes) and their passage keys, computed where it was prepared (a worker),
        until it is packed; past max_chars held, not (packing then splits it again: slower,
        same rows). Whether it is held."""
        size = sum(map(len, parts))
        if key in self.splits or self.split_chars + size > self.max_chars:
            return False
        self.splits[key] = (encoding, parts, quotes, *keys)
        self.split_chars += size
        return True

    def held_bytes(self, key: str) -> bytes | None:
        """The bytes of a blob held as its split (they rebuild it: split_text checks), if any."""
        item = self.splits.get(key)
        return None if item is None else "".join(item[1]).encode(item[0])

    def take_unpacked(self) -> list[tuple[str, bytes]]:
        """(blob, bytes) of the blobs still held as splits (not packed), oldest first; the
        cache then holds none."""
        out = [(key, self.held_bytes(key) or b"") for key in self.splits]
        self.splits.clear()
        self.split_chars = 0
        return out

    def take_split(self, key: str, encoding: str) -> tuple[list[str], list, list, list] | None:
        """(passages, quotations, their keys) held for blob key (once), if decoded with
        encoding."""
        item = self.splits.pop(key, None)
        if item is None:
            return None
        self.split_chars -= sum(map(len, item[1]))
        return None if item[0] != encoding else item[1:]

    def get(self, key: str, encoding: str) -> str | None:
        """The text of blob key decoded with encoding, if held."""
        item = self.items.get(key)
        if item is None or item[0] != encoding:
            return None
        self.items.move_to_end(key)
        return item[1]

    def passages(self, key: str) -> tuple[list[int], list[str], list[int]] | None:
        """(passage ids, passage texts, their keys) of a blob this process packed, if held."""
        item = self.items.get(key)
        return None if item is None else item[2]

    @staticmethod
    def _cost(item: tuple[str, str, tuple | None]) -> int:
        """What an item weighs against max_chars: its text, and its passages when held (their
        text again, and an object each: ~100 bytes with its id). Counting the text alone let
        the passages double the cache unseen: 55 MiB of them on a 15,000-commit history.
        With their keys: ~140 bytes a passage."""
        text, passages = item[1], item[2]
        return len(text) if passages is None else 2 * len(text) + 140 * len(passages[0])

    def put(self, key: str, encoding: str, text: str, passages: tuple | None = None) -> None:
        old = self.items.pop(key, None)
        if old is not None:
            self.chars -= self._cost(old)
            if passages is None and old[0] == encoding:
                passages = old[2]
        item = (encoding, text, passages)
        if self._cost(item) > self.max_chars:
            return
        self.items[key] = item
        self.chars += self._cost(item)
        while self.chars > self.max_chars:
            _, dropped = self.items.popitem(last=False)
            self.chars -= self._cost(dropped)

    def reader(self, conn: sqlite3.Connection) -> GroupReader:
        """The ingest's GroupReader, kept within MAX_GROUPS and MAX_INFLATED."""
        self._reader = kept_reader(self._reader, conn, self.MAX_GROUPS, self.MAX_INFLATED)
        return self._reader


def kept_reader(
    reader: GroupReader | None, conn: sqlite3.Connection, max_groups: int, max_inflated: int
) -> GroupReader:
    """`reader` to go on reading through `conn`, bounded: a fresh one once it holds more than
    max_groups group rows, its inflated texts dropped once they pass max_inflated bytes."""
    if reader is None or len(reader.groups) > max_groups:
        return GroupReader(conn)
    if reader.inflated_bytes > max_inflated:
        reader.forget_texts()
    reader.conn = conn
    return reader
