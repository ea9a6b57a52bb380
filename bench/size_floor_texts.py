"""The text designs of bench/size_floor.py: diffs without their delta, the git way (texts as delta
chains), lean passage rows, passage storage recompressed; each checked by rebuilding the texts."""

from __future__ import annotations

import bisect
import lzma
import random
import shutil
import sqlite3
import sys
import time
import zlib
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path

from blake3 import blake3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_bench import ROOT  # noqa: E402

sys.path.insert(0, str(ROOT))
from size_floor_common import (  # noqa: E402
    DICTIONARIES,
    MAX_CHAIN,
    READS,
    Bench,
    Packer,
    check,
    median_ms,
    retype,
    same_rows,
    trained,
    zstd,
)

from archive.diffs import diff_texts  # noqa: E402
from archive.diffs.delta import rebuild  # noqa: E402
from archive.store.delta_codec import unpack_delta  # noqa: E402
from archive.store.groups import GroupReader  # noqa: E402
from archive.store.passage_format import (  # noqa: E402
    digest_key,
    pack_ids,
    pack_sizes,
    unpack_ids,
    unpack_sizes,
)
from archive.store.passage_store import passage_key, split_text  # noqa: E402


def delta_rows(b: Bench, conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT d.rowid, lower(hex(f.blake3)), lower(hex(t.blake3)), d.delta, d.delta_codec"
        " FROM diffs d JOIN blobs f ON f.id = d.from_blob JOIN blobs t ON t.id = d.to_blob"
        " ORDER BY d.rowid"
    ).fetchall()


def text_of(b: Bench, blob: str) -> str:
    return b.texts[blob].decode(b.encodings[blob] or "utf-8")


def step_no_deltas(b: Bench) -> list[float]:
    """f: diffs keep their stats but not the delta: recomputed on read from the two texts (the
    algorithm column names the engine; a different engine would have to keep its deltas);
    `algorithm` and `change_class` (a few distinct names each) as small integers.
    Checks each recomputed delta equals the stored one; returns the per-diff CPU seconds."""
    conn = b.connect()
    rows = delta_rows(b, conn)
    times, wrong = [], 0
    for _, old, new, data, codec in rows:
        if old not in b.texts or new not in b.texts:
            wrong += 1
            continue
        old_text = text_of(b, old)
        start = time.process_time()
        delta = diff_texts(old_text, text_of(b, new)).delta
        times.append(time.process_time() - start)
        wrong += delta != unpack_delta(data, codec, old_text)
    check(not wrong, f"{wrong} of {len(rows)} deltas are not recomputed exactly")
    diff_names_as_codes(conn, b.prev)
    conn.execute("ALTER TABLE diffs DROP COLUMN delta")
    conn.execute("ALTER TABLE diffs DROP COLUMN delta_codec")
    conn.close()
    p = sorted(times)
    b.out(
        f"    {len(rows)} deltas recomputed exactly; per diff CPU median {median_ms(times):.1f}"
        f" ms, p99 {1000 * p[int(0.99 * (len(p) - 1))] if p else 0:.1f} ms"
    )
    b.record("f  diffs without their delta (recomputed on read), names as codes")
    return times


def diff_names_as_codes(conn: sqlite3.Connection, prev: Path) -> None:
    """`diffs.algorithm` and `change_class` as small integers (checked against prev)."""
    changes = {}
    for column in ("algorithm", "change_class"):
        to, back = codes(conn, "diffs", column)
        changes[column] = ([(column, "INTEGER", to)], back)
    same_rows(conn, prev, "diffs", retype(conn, "diffs", changes))


def git_way(b: Bench, base: Path) -> None:
    """f': from the state before f, each text kept only as the delta from its previous
    version (chains at most MAX_CHAIN long, as git's pack depth); the first text of a chain
    compressed whole (zstd 19, else zlib 9). Passage groups and snapshots dropped, and
    `blob_passages` too: a text's passages and quotations are split from it again and looked
    up by key (the passage rows stay, kind an integer, size dropped: blame, trace and search
    name passages). Checks every text, every passage list and every passage's bytes."""
    db = b.tmp / "git-way.db"
    shutil.copy(base, db)
    conn = b.connect(db)
    z = zstd()
    compress = (
        (lambda d: z.ZstdCompressor(level=19).compress(d)) if z else (lambda d: zlib.compress(d, 9))
    )
    decompress = (lambda d: z.ZstdDecompressor().decompress(d)) if z else zlib.decompress
    ids = {lower: i for i, lower in conn.execute("SELECT id, lower(hex(blake3)) FROM blobs")}
    into: dict[str, list[tuple[int, str]]] = {}
    for rowid, old, new, _, _ in delta_rows(b, conn):
        into.setdefault(new, []).append((rowid, old))
    order = [
        r[0]
        for r in conn.execute(
            "SELECT lower(hex(k.blake3)) FROM versions v JOIN blobs k ON k.id = v.blob"
            " ORDER BY v.id"
        )
    ]
    depth: dict[str, int] = {}
    full, chained = [], []
    for blob in dict.fromkeys(order):
        if blob not in b.texts or blob in depth:
            continue
        base_ = next(
            ((r, o) for r, o in into.get(blob, []) if depth.get(o, MAX_CHAIN) < MAX_CHAIN), None
        )
        if base_ is None:
            depth[blob] = 0
            full.append((ids[blob], compress(text_of(b, blob).encode("utf-8"))))
        else:
            depth[blob] = depth[base_[1]] + 1
            chained.append((ids[blob], base_[0]))
    conn.execute("CREATE TABLE texts_full (blob INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    conn.execute("CREATE TABLE texts_delta (blob INTEGER PRIMARY KEY, diff INTEGER NOT NULL)")
    conn.executemany("INSERT INTO texts_full VALUES (?, ?)", full)
    conn.executemany("INSERT INTO texts_delta VALUES (?, ?)", chained)
    for t in ("passage_groups", "blob_snapshots"):
        conn.execute(f"DROP TABLE IF EXISTS {t}")
    diff_names_as_codes(conn, base)

    def read(blob_id: int, cache: dict[int, str]) -> str:
        if blob_id in cache:
            return cache[blob_id]
        row = conn.execute("SELECT data FROM texts_full WHERE blob = ?", (blob_id,)).fetchone()
        if row:
            text = decompress(row[0]).decode("utf-8")
        else:
            old_id, delta, codec = conn.execute(
                "SELECT d.from_blob, d.delta, d.delta_codec FROM texts_delta t JOIN diffs d"
                " ON d.rowid = t.diff WHERE t.blob = ?",
                (blob_id,),
            ).fetchone()
            old = read(old_id, cache)
            text = rebuild(old, unpack_delta(delta, codec, old))
        cache[blob_id] = text
        return text

    by_id = {v: k for k, v in ids.items()}
    every = list(dict(full)) + [c for c, _ in chained]
    cache: dict[int, str] = {}
    for blob_id in every:
        blob = by_id[blob_id]
        check(
            encoded(b, blob, read(blob_id, cache).encode("utf-8")) == b.texts[blob],
            f"text {blob} does not rebuild (git way)",
        )
    times = []
    for blob_id in random.Random(18).sample(every, min(READS, len(every))):
        start = time.process_time()
        read(blob_id, {})
        times.append(time.process_time() - start)
    lean_passages(b, conn, base, {i: cache[i] for i in every}, by_id)
    conn.close()
    b.out(
        f"    {len(full)} texts whole, {len(chained)} as deltas (longest chain"
        f" {max(depth.values(), default=0)}); every text rebuilt exactly; read one text:"
        f" median {median_ms(times):.1f} ms, max {1000 * max(times, default=0):.0f} ms CPU"
    )
    b.record("f' the git way: texts as delta chains, passages split on read", db)


def passage_checks(b: Bench, read_all: Callable[[], dict[int, bytes]]) -> None:
    """Every passage's bytes as before and matching its key; every text rebuilt and hashed."""
    got = read_all()
    check(got == b.passages, "passages differ")
    conn = sqlite3.connect(b.prev)
    keys = {i: k for k, i in conn.execute("SELECT key, id FROM passage_keys")}
    check(
        all(digest_key(blake3(t).digest()) == keys[i] for i, t in got.items()),
        "a passage does not hash to its key",
    )
    for blob, ids in conn.execute(
        "SELECT lower(hex(k.blake3)), p.ids FROM blob_passages p JOIN blobs k ON k.id = p.blob"
    ):
        data = encoded(b, blob, b"".join(got[i] for i in b.unpack_list(ids)))
        check(blake3(data).hexdigest() == blob, f"text {blob} does not rebuild")
    conn.close()


def encoded(b: Bench, blob: str, utf8: bytes) -> bytes:
    """A text's bytes in its blob's encoding (passages hold UTF-8)."""
    enc = b.encodings[blob] or "utf-8"
    return utf8 if enc.lower().replace("_", "-") in ("utf-8", "utf8") else utf8.decode().encode(enc)


def group_rows(conn: sqlite3.Connection) -> list[tuple[int, int, list[int], list[int]]]:
    return [
        (g, d, unpack_ids(bases), unpack_sizes(sizes))
        for g, d, bases, sizes in conn.execute(
            "SELECT id, depth, bases, sizes FROM passage_groups ORDER BY id"
        )
    ]


def time_reads(read_one: Callable[[int, dict], bytes], ids: list[int]) -> list[float]:
    """Seconds (wall: a page waits for it) to read each passage alone, nothing cached."""
    times = []
    for pid in ids:
        start = time.perf_counter()
        read_one(pid, {})
        times.append(time.perf_counter() - start)
    return times


def step_groups(b: Bench) -> list[tuple[str, int, float]]:
    """g: passage texts recompressed, each variant from the same state: the groups as now
    (zlib primed with their bases), zstd 19 primed with the bases' whole text, and blocks of
    consecutive passages (N KiB of text) with a trained zstd dictionary or lzma (preset 9e).
    Returns (variant, bytes, median ms to read one passage)."""
    base = b.prev
    conn = sqlite3.connect(base)
    rng = random.Random(18)
    all_ids = sorted(b.passages)
    sample = rng.sample(all_ids, min(READS, len(all_ids)))
    out = []
    times = time_reads(lambda pid, _: GroupReader(conn).read([pid]), sample)
    passage_checks(b, lambda: GroupReader(conn).read(all_ids))
    out.append(
        ("zlib groups primed with their bases (as now)", base.stat().st_size, median_ms(times))
    )
    b.out(
        f"    the groups as now (zlib primed with their bases): read one passage: median"
        f" {median_ms(times):.2f} ms"
    )
    groups = group_rows(conn)
    conn.close()
    z = zstd()
    variants: list[tuple[str, Callable[[Path], Callable[[int], bytes]]]] = []
    if z:
        variants.append(
            (
                "zstd 19 groups primed with their bases' whole text",
                lambda db: primed_groups(b, db, groups),
            )
        )
        for kib in (64, 256, 1024, 4096):
            variants.append(
                (
                    f"zstd 19 blocks of {kib} KiB, trained dictionary",
                    lambda db, k=kib: blocks(b, db, k, "zstd", False),
                )
            )
        for kib in (64, 256, 1024):
            variants.append(
                (
                    f"zstd 19 blocks of {kib} KiB by document, trained dictionary",
                    lambda db, k=kib: blocks(b, db, k, "zstd", True),
                )
            )
    else:
        b.out("    zstd variants skipped: zstandard not installed")
    for kib, by_document in ((1024, False), (4096, False), (256, True), (1024, True)):
        order = " by document" if by_document else ""
        variants.append(
            (
                f"lzma 9e blocks of {kib} KiB{order}",
                lambda db, k=kib, d=by_document: blocks(b, db, k, "xz", d),
            )
        )
    for name, make in variants:
        db = b.tmp / "groups.db"
        shutil.copy(base, db)
        read_one = make(db)
        passage_checks(b, lambda r=read_one, c={}: {i: r(i, c) for i in all_ids})
        times = time_reads(read_one, sample)
        size = b.record(f"g  {name}", db)
        b.out(f"      read one passage: median {median_ms(times):.2f} ms")
        out.append((name, size, median_ms(times)))
    return out


def primed_groups(b: Bench, db: Path, groups: list) -> Callable[[int], bytes]:
    """The same groups, zstd 19 with their bases' whole text as a raw-content dictionary."""
    z = zstd()
    conn = sqlite3.connect(db, isolation_level=None)
    rows, firsts = [], []
    for first, _depth, bases, sizes in groups:
        prime = b"".join(b.passages[i] for i in bases)
        text = b"".join(b.passages[i] for i in range(first, first + len(sizes)))
        zd = z.ZstdCompressionDict(prime, dict_type=z.DICT_TYPE_RAWCONTENT) if prime else None
        c = z.ZstdCompressor(level=19, dict_data=zd, write_checksum=False, write_dict_id=False)
        rows.append((c.compress(text), first))
        firsts.append(first)
    conn.executemany("UPDATE passage_groups SET data = ? WHERE id = ?", rows)
    conn.close()
    index = {g[0]: g for g in groups}
    reader = sqlite3.connect(db)

    def read(pid: int, cache: dict) -> bytes:
        first, _, bases, sizes = index[firsts[bisect.bisect_right(firsts, pid) - 1]]
        if first not in cache:
            data = reader.execute(
                "SELECT data FROM passage_groups WHERE id = ?", (first,)
            ).fetchone()[0]
            prime = b"".join(read(i, cache) for i in bases)
            zd = z.ZstdCompressionDict(prime, dict_type=z.DICT_TYPE_RAWCONTENT) if prime else None
            cache[first] = z.ZstdDecompressor(dict_data=zd).decompress(data)
        at = pid - first
        start = sum(sizes[:at])
        return cache[first][start : start + sizes[at]]

    return read


def blocks(b: Bench, db: Path, kib: int, codec: str, by_document: bool) -> Callable[[int], bytes]:
    """passage_groups replaced by blocks of passages (about kib KiB of text each), compressed
    alone (zstd 19 with a dictionary trained on passages, or lzma preset 9e). In id order a
    block is a run of consecutive ids (found by bisection); by_document, passages are ordered
    by the first document that held them (as git sorts objects by path before deltifying: a
    paragraph's revisions sit together), `passage_block_runs` names the block of each run of
    consecutive ids (id: the run's first), and the block's `ids` (varints, zlib) give the
    passage's place in it."""
    z = zstd()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TABLE passage_groups")
    conn.execute(
        "CREATE TABLE passage_blocks (id INTEGER PRIMARY KEY, ids BLOB, sizes BLOB NOT NULL,"
        " data BLOB NOT NULL)"
    )
    ids = sorted(b.passages)
    if by_document:
        doc = dict(
            conn.execute("SELECT passage, min(document_id) FROM passage_documents GROUP BY 1")
        )
        ids.sort(key=lambda i: (doc.get(i, 1 << 62), i))
    if codec == "zstd":
        if b.passage_dict is None:
            b.passage_dict = trained([b.passages[i] for i in sorted(b.passages)], 65536)
        zd = z.ZstdCompressionDict(b.passage_dict) if b.passage_dict else None
        conn.execute(DICTIONARIES)
        conn.execute(
            "INSERT OR REPLACE INTO dictionaries VALUES ('passages', ?)", (b.passage_dict,)
        )
        c = z.ZstdCompressor(level=19, dict_data=zd, write_checksum=False, write_dict_id=False)
        compress, decompress = c.compress, z.ZstdDecompressor(dict_data=zd).decompress
    else:
        filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
        compress = lambda t: lzma.compress(t, lzma.FORMAT_RAW, filters=filters)  # noqa: E731
        decompress = lambda t: lzma.decompress(t, lzma.FORMAT_RAW, filters=filters)  # noqa: E731
    rows, block, firsts, held, where = [], [], [], 0, []
    for n, pid in enumerate(ids):
        block.append(pid)
        held += len(b.passages[pid])
        if held >= kib * 1024 or n == len(ids) - 1:
            text = b"".join(b.passages[i] for i in block)
            key = len(rows) if by_document else block[0]
            listed = zlib.compress(varints(block), 9) if by_document else None
            sizes = pack_sizes([len(b.passages[i]) for i in block])
            rows.append((key, listed, sizes, compress(text)))
            firsts.append(key)
            where += [(key, i) for i in block]
            block, held = [], 0
    conn.executemany("INSERT INTO passage_blocks VALUES (?, ?, ?, ?)", rows)
    if by_document:
        # runs of consecutive ids in one block (a version's new passages mostly share one)
        block_of = {i: k for k, i in where}
        runs = [(i, block_of[i]) for i in sorted(block_of) if block_of.get(i - 1) != block_of[i]]
        conn.execute("CREATE TABLE passage_block_runs (id INTEGER PRIMARY KEY, block INTEGER)")
        conn.executemany("INSERT INTO passage_block_runs VALUES (?, ?)", runs)
    conn.close()
    reader = sqlite3.connect(db)

    def read(pid: int, cache: dict) -> bytes:
        if by_document:
            key = reader.execute(
                "SELECT block FROM passage_block_runs WHERE id <= ? ORDER BY id DESC LIMIT 1",
                (pid,),
            ).fetchone()[0]
        else:
            key = firsts[bisect.bisect_right(firsts, pid) - 1]
        if key not in cache:
            listed, sizes, data = reader.execute(
                "SELECT ids, sizes, data FROM passage_blocks WHERE id = ?", (key,)
            ).fetchone()
            place = None
            if listed is not None:
                place = {p: j for j, p in enumerate(unvarints(zlib.decompress(listed)))}
            offsets = list(accumulate(unpack_sizes(sizes), initial=0))
            cache[key] = (place, offsets, decompress(data))
        place, offsets, text = cache[key]
        j = place[pid] if place is not None else pid - key
        return text[offsets[j] : offsets[j + 1]]

    return read


def varints(values: list[int]) -> bytes:
    """Zigzag LEB128 of the differences between consecutive values (from 0)."""
    out, prev = bytearray(), 0
    for v in values:
        n = v - prev
        prev = v
        n = (n << 1) ^ (n >> 63)
        while n >= 0x80:
            out.append(n & 0x7F | 0x80)
            n >>= 7
        out.append(n)
    return bytes(out)


def unvarints(data: bytes) -> list[int]:
    out, prev, n, shift = [], 0, 0, 0
    for byte in data:
        n |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            prev += (n >> 1) ^ -(n & 1)
            out.append(prev)
            n = shift = 0
    return out


def codes(conn: sqlite3.Connection, table: str, column: str) -> tuple[str, str]:
    """SQL turning a column of a few distinct strings into small integers, and back (an enum:
    the few names would be one small table)."""
    names = [r[0] for r in conn.execute(f"SELECT DISTINCT {column} FROM {table} ORDER BY 1")]
    check(all("'" not in str(k) for k in names) and len(names) < 100, f"{table}.{column} codes")
    to = " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(names) if k is not None)
    back = " ".join(f"WHEN {i} THEN '{k}'" for i, k in enumerate(names) if k is not None)
    return f"CASE o.{column} {to} END", f"CASE n.{column} {back} END"


def step_passage_rows(b: Bench) -> None:
    """h: lean passage rows: `passages` as a key -> id map (`passage_map`); `blob_passages`
    id lists as zigzag varints compressed with a zstd dictionary, `count` dropped (the list's
    length), `groups` dropped (the groups of its passages and their bases, found from the
    group rows)."""
    conn = b.connect()
    size_of = {first + j: s for first, _, _, sizes in group_rows(conn) for j, s in enumerate(sizes)}
    passage_map(conn, b.prev, size_of)
    lists = [unpack_ids(r[0]) for r in conn.execute("SELECT ids FROM blob_passages")]
    packer = Packer([varints(ids) for ids in lists], 32768)
    reader = GroupReader(sqlite3.connect(b.prev))
    conn.create_function("vpack", 1, lambda d: packer.pack(varints(unpack_ids(d))))
    conn.create_function("vunpack", 1, lambda d: pack_ids(unvarints(packer.unpack(d))))
    conn.create_function("vcount", 1, lambda d: len(unvarints(packer.unpack(d))))
    conn.create_function(
        "vgroups",
        1,
        lambda d: pack_ids(
            sorted(reader.closure(reader.locate(sorted(set(unvarints(packer.unpack(d)))))))
        ),
    )
    conn.execute(DICTIONARIES)
    conn.execute("INSERT INTO dictionaries VALUES ('passage lists', ?)", (packer.dict,))
    inverse = retype(
        conn,
        "blob_passages",
        {
            "count": ([], "vcount(n.ids)"),
            "ids": ([("ids", "BLOB", "vpack(o.ids)")], "vunpack(n.ids)"),
            "quotes": ([("quotes", "BLOB", "vpack(o.quotes)")], "vunpack(n.quotes)"),
            "groups": ([], "vgroups(n.ids)"),
        },
    )
    same_rows(conn, b.prev, "blob_passages", inverse)
    conn.close()
    b.unpack_list = lambda d: unvarints(packer.unpack(d))
    b.record("h  passages as a key -> id map, id lists varint+zstd")


def lean_passages(
    b: Bench, conn: sqlite3.Connection, base: Path, texts: dict[int, str], hex_of: dict[int, str]
) -> None:
    """The git way's passages: every text split again (passages, quotations), each part looked
    up by its key, must give the stored lists and every passage's bytes; then `blob_passages`
    is dropped and `passages` keeps id, key and kind (an integer)."""
    keys = dict(conn.execute("SELECT key, id FROM passages"))
    stored = {
        blob: (unpack_ids(ids), unpack_ids(quotes))
        for blob, ids, quotes in conn.execute("SELECT blob, ids, quotes FROM blob_passages")
    }
    derived: dict[int, bytes] = {}
    for blob_id, text in texts.items():
        blob = hex_of[blob_id]
        parts, quotes = split_text(blob, b.encodings[blob], text)
        ids = [keys[passage_key(p)] for p in parts]
        qids = [keys[passage_key(q)] for q, _ in quotes]
        check(stored.get(blob_id) == (ids, qids), f"text {blob}: passages not split again")
        derived.update(zip(ids, (p.encode("utf-8") for p in parts), strict=True))
        derived.update(zip(qids, (q.encode("utf-8") for q, _ in quotes), strict=True))
    check(len(stored) == len(texts), "a passage list of no text")
    check(derived == b.passages, "passages are not all split again from the texts")
    conn.execute("DROP TABLE blob_passages")
    passage_map(conn, base, {i: len(t) for i, t in derived.items()})


def passage_map(conn: sqlite3.Connection, prev: Path, size_of: dict[int, int]) -> None:
    """`passages` (id, key, kind, size) as what only it knows: `passage_keys`, key -> id (the
    key as rowid: one b-tree, what an import looks new passages up by), and `passage_kinds`
    for the passages of a kind other than the commonest ('para': the 'quote' ones). A read by
    id goes through the text's block or group, and a passage's key is its text's hash; the
    size is the group's (or the split text's). Checked: the old rows come back exactly."""
    common = conn.execute(
        "SELECT kind FROM passages GROUP BY kind ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    to, back = codes(conn, "passages", "kind")
    conn.execute("CREATE TABLE passage_keys (key INTEGER PRIMARY KEY, id INTEGER NOT NULL)")
    conn.execute("INSERT INTO passage_keys SELECT key, id FROM passages ORDER BY key")
    conn.execute("CREATE TABLE passage_kinds (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL)")
    conn.execute(
        f"INSERT INTO passage_kinds SELECT o.id, {to} FROM passages o WHERE o.kind IS NOT ?"
        " ORDER BY o.id",
        (common[0] if common else None,),
    )
    conn.execute("DROP TABLE passages")
    conn.create_function("psize", 1, size_of.get, deterministic=True)
    kind = back.replace("n.kind", "(SELECT kind FROM passage_kinds k WHERE k.id = n.id)")
    usual = f"'{common[0]}'" if common else "NULL"
    inverse = f"SELECT n.id, n.key, COALESCE({kind}, {usual}), psize(n.id) FROM passage_keys n"
    same_rows(conn, prev, "passages", inverse)
