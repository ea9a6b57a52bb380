"""Shared parts of bench/size_floor.py: the scratch copy and its measures, table rewrites that
keep the rows they rewrite checkable, record compression (zstd dictionaries or zlib)."""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import sys
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_bench import ROOT  # noqa: E402
from size_bench import table_sizes  # noqa: E402

sys.path.insert(0, str(ROOT))
from archive.store import Store  # noqa: E402
from archive.store.groups import GroupReader  # noqa: E402
from archive.store.passage_format import unpack_ids  # noqa: E402

MIB = 2**20
DICTIONARIES = "CREATE TABLE IF NOT EXISTS dictionaries (name TEXT PRIMARY KEY, data BLOB)"
MAX_CHAIN = 50  # git's default delta depth (pack.depth), for the git-way design f'
READS = 200  # single-passage (or single-text) reads timed per design


def zstd():
    """The zstandard module, or None (steps that need it say 'skipped')."""
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard


class CheckFailed(AssertionError):
    """A transform lost information: the bench stops, naming what differs."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise CheckFailed(what)


# ---------------------------------------------------------------------------- compression


def trained(samples: list[bytes], size: int) -> bytes:
    """A zstd dictionary trained on samples (level 19), or b'' when there is too little."""
    z = zstd()
    if not z or len(samples) < 10 or sum(map(len, samples)) < 4 * size:
        return b""
    try:
        return z.train_dictionary(size, samples, level=19).as_bytes()
    except z.ZstdError:
        return b""


class Packer:
    """Compresses small records (commit messages, item sets) with a zstd dictionary trained on
    them when zstandard is there, else zlib 9; a leading byte names the codec (0 raw)."""

    def __init__(self, samples: list[bytes], dict_size: int = 16384):
        z = zstd()
        self.dict = trained(samples, dict_size)
        if self.dict:
            zd = z.ZstdCompressionDict(self.dict)
            self.c = z.ZstdCompressor(
                level=19,
                dict_data=zd,
                write_checksum=False,
                write_content_size=True,
                write_dict_id=False,
            )
            self.d = z.ZstdDecompressor(dict_data=zd)

    def pack(self, data: bytes) -> bytes:
        best = b"\x00" + data
        if self.dict:
            best = min(best, b"\x02" + self.c.compress(data), key=len)
        return min(best, b"\x01" + zlib.compress(data, 9), key=len)

    def unpack(self, blob: bytes) -> bytes:
        codec, body = blob[0], blob[1:]
        if codec == 0:
            return body
        if codec == 1:
            return zlib.decompress(body)
        return self.d.decompress(body)


# ---------------------------------------------------------------------------- measuring


def vacuumed(db: Path, dest: Path) -> Path:
    dest.unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    conn.execute("VACUUM INTO ?", (str(dest),))
    conn.close()
    return dest


def median_ms(times: list[float]) -> float:
    return 1000 * statistics.median(times) if times else float("nan")


class Bench:
    """The scratch copy, the truth read from the original, and the table of results."""

    def __init__(self, original: Path, tmp: Path, packs: dict[str, int], out=print):
        self.tmp, self.packs, self.out = tmp, packs, out
        self.work = tmp / "work.db"
        shutil.copy(original, self.work)
        self.prev = vacuumed(self.work, tmp / "step-0.db")
        self.results: list[tuple[str, int]] = []
        self.files: dict[str, Path] = {}
        self.unpack_list: Callable[[bytes], list[int]] = unpack_ids  # blob_passages.ids
        self.sizes = dict(table_sizes(self.prev))
        self.steps = 0
        self.texts, self.passages, self.encodings = read_truth(self.prev)
        self.passage_dict: bytes | None = None

    def connect(self, db: Path | None = None) -> sqlite3.Connection:
        conn = sqlite3.connect(db or self.work, isolation_level=None)
        conn.execute("PRAGMA legacy_alter_table = ON")  # rename with views naming the table
        conn.create_function(
            "h2b", 1, lambda h: None if h is None else bytes.fromhex(h), deterministic=True
        )
        return conn

    def record(self, name: str, db: Path | None = None) -> int:
        """Measure db (the work file) after VACUUM; print the tables that changed."""
        self.steps += 1
        snap = vacuumed(db or self.work, self.tmp / f"step-{self.steps}.db")
        size = snap.stat().st_size
        sizes = dict(table_sizes(snap))
        self.out(f"  {name}: {size / MIB:.2f} MiB{self.ratios(size)}")
        changed = sorted(
            set(sizes) | set(self.sizes), key=lambda t: -abs(sizes.get(t, 0) - self.sizes.get(t, 0))
        )
        for t in changed:
            a, b = self.sizes.get(t, 0), sizes.get(t, 0)
            if abs(a - b) >= 0.005 * MIB:
                self.out(f"      {t:<28} {a / MIB:6.2f} -> {b / MIB:6.2f} MiB")
        self.results.append((name, size))
        self.files[name] = snap
        if db is None:
            self.prev, self.sizes = snap, sizes
        return size

    def ratios(self, size: int) -> str:
        return "".join(f", {size / n:.2f}x {k}" for k, n in self.packs.items() if n)


def read_truth(db: Path) -> tuple[dict[str, bytes], dict[int, bytes], dict[str, str]]:
    """Every text blob's bytes and every passage's bytes, read by the product code."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    store = Store.over(conn)
    reader = GroupReader(conn)
    encodings = dict(
        conn.execute(
            "SELECT b.blake3, b.encoding FROM blobs b JOIN blob_passages p ON p.blob = b.blake3"
        )
    )
    texts = {blob: store.passages.rebuild(blob, enc, reader) for blob, enc in encodings.items()}
    ids = [r[0] for r in conn.execute("SELECT id FROM passages ORDER BY id")]
    passages = store.passages.raw(ids, reader)
    conn.close()
    return texts, passages, encodings


# ---------------------------------------------------------------------------- table rewrites


def retype(
    conn: sqlite3.Connection,
    table: str,
    changes: dict[str, tuple[list[tuple[str, str, str]], str]],
    *,
    add: Iterable[tuple[str, str, str]] = (),
    pk: list[str] | None = None,
    unique: Iterable[tuple[str, ...]] = (),
) -> str:
    """Rebuild table with columns changed. changes: old column -> ([(new column, declared
    type, SQL over the old row `o`)], SQL over the new row `n` giving the old value back);
    add: leading new columns. A single INTEGER primary key becomes the rowid. Rowids kept,
    indexes re-made where their columns remain. Returns the SELECT giving the old rows back."""
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    without_rowid = "WITHOUT ROWID" in sql.upper()
    old_pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
    cols = list(add)
    inverse = []
    for _, name, decl, notnull, _, _ in info:
        new, back = changes.get(name, ([(name, decl, f'o."{name}"')], f'n."{name}"'))
        cols += [(c, d + (" NOT NULL" if notnull and c == name else ""), e) for c, d, e in new]
        inverse.append(back)
    names = [c for c, _, _ in cols]
    pk = [p for p in (old_pk if pk is None else pk) if p in names]
    decls = dict((c, d) for c, d, _ in cols)
    rowid_pk = len(pk) == 1 and decls[pk[0]].split()[0].upper() == "INTEGER"
    defs = [f'"{c}" {d}' + (" PRIMARY KEY" if rowid_pk and c == pk[0] else "") for c, d, _ in cols]
    if pk and not rowid_pk:
        defs.append("PRIMARY KEY (" + ", ".join(f'"{p}"' for p in pk) + ")")
    keep_rowid = not without_rowid and not rowid_pk
    indexes = []
    made = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = ?", (table,)))
    for _, name, is_unique, origin, _ in conn.execute(f"PRAGMA index_list({table})").fetchall():
        on = [r[2] for r in conn.execute(f"PRAGMA index_info({name})")]
        if origin == "pk" or not all(c in names for c in on):
            continue  # the primary key is declared above; an index on a dropped column goes
        if made.get(name):
            indexes.append(made[name])
        elif is_unique:  # a UNIQUE column constraint: the same index, made explicitly
            cols_ = ", ".join(f'"{c}"' for c in on)
            indexes.append(
                f"CREATE UNIQUE INDEX {table}_unique_{len(indexes)} ON {table} ({cols_})"
            )
    suffix = " WITHOUT ROWID" if without_rowid and not rowid_pk and pk else ""
    conn.execute(f"CREATE TABLE new_{table} ({', '.join(defs)}){suffix}")
    target = (["rowid"] if keep_rowid else []) + [f'"{c}"' for c in names]
    source = (["o.rowid"] if keep_rowid else []) + [e for _, _, e in cols]
    order = "o.rowid" if not without_rowid else ", ".join(f'o."{p}"' for p in old_pk)
    conn.execute(
        f"INSERT INTO new_{table} ({', '.join(target)}) SELECT {', '.join(source)}"
        f" FROM {table} o ORDER BY {order}"
    )
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE new_{table} RENAME TO {table}")
    for isql in indexes:
        conn.execute(isql)
    for n, cols_ in enumerate(unique):
        conn.execute(f"CREATE UNIQUE INDEX {table}_key{n} ON {table} ({', '.join(cols_)})")
    return f"SELECT {', '.join(inverse)} FROM {table} n"


def same_rows(conn: sqlite3.Connection, prev: Path, table: str, inverse: str) -> None:
    """The rewritten table gives back exactly the previous step's rows (as a multiset)."""
    conn.execute("ATTACH ? AS prev", (f"file:{prev}?mode=ro",))
    try:
        old = conn.execute(f"SELECT count(*) FROM prev.{table}").fetchone()[0]
        new = conn.execute(f"SELECT count(*) FROM ({inverse})").fetchone()[0]
        lost = conn.execute(
            f"SELECT count(*) FROM (SELECT * FROM prev.{table} EXCEPT {inverse})"
        ).fetchone()[0]
        extra = conn.execute(
            f"SELECT count(*) FROM ({inverse} EXCEPT SELECT * FROM prev.{table})"
        ).fetchone()[0]
    finally:
        conn.execute("DETACH prev")
    check(
        old == new and not lost and not extra,
        f"{table}: {old} rows before, {new} after, {lost} lost, {extra} new",
    )


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def tables(conn: sqlite3.Connection) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
        )
    }
