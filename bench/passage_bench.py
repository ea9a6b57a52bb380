"""Passage store figures on the terms sample: archive size, pack size, read and ingest time.

    .venv/bin/python bench/passage_bench.py [samples/terms-sample.bundle]

Builds two archives with the real `archive ingest --git BUNDLE` (in-process, in a temp dir):
one with the full-content layout (text left in `blobs.content`: no passage packing) and one
with passages. Prints sizes after VACUUM (passages with and without `passages_fts`), the git
pack size of a bare clone, the passage archive's size by table and index (dbstat, after
VACUUM), ingest times (and the passage share of the second), median read times of the largest
real version and of two synthetic 5 MB documents (a revision of each), and trace/search times:
  - many paragraphs: the sample's real paragraphs copied into one text, so its passages sit in
    hundreds of groups (a document with a long history: the worst case for per-group work).
    Past MAX_GROUPS groups the first version gets a snapshot and the revision copies from it
    (PassageStore.bound); the line says what the two rows of `blob_snapshots` cost;
  - one paragraph: 5 MB without a blank line, revised (a read inflates it twice: the new
    passage's group and the group it is primed from).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from archive.cli import cli  # noqa: E402
from archive.passages.trace import search_documents, trace  # noqa: E402
from archive.store import Store  # noqa: E402
from ingest.content import describe  # noqa: E402


@contextmanager
def full_content_layout():
    """Text blobs stay whole in `blobs.content`: the layout before passages."""
    saved = Store.pack_passages
    Store.pack_passages = lambda self, changes: None
    try:
        yield
    finally:
        Store.pack_passages = saved


@contextmanager
def timed_packing(totals: list[float]):
    """Accumulate the seconds spent in `Store.pack_passages` into totals[0]."""
    saved = Store.pack_passages

    def pack(self, changes):
        t = time.perf_counter()
        try:
            return saved(self, changes)
        finally:
            totals[0] += time.perf_counter() - t

    Store.pack_passages = pack
    try:
        yield
    finally:
        Store.pack_passages = saved


def ingest(bundle: str, db: str) -> float:
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["ingest", "--git", bundle, "--db", db])
    if result.exit_code != 0:
        raise SystemExit(f"ingest failed: {result.output}{result.exception!r}")
    return time.perf_counter() - started


def vacuumed_size(db: str, drop_fts: bool = False, tables: dict | None = None) -> int:
    """Bytes after VACUUM; tables (given): filled with KiB by table or index (dbstat)."""
    copy = db + ".copy"
    shutil.copyfile(db, copy)
    conn = sqlite3.connect(copy)
    if drop_fts:
        conn.execute("DROP TABLE passages_fts")
    conn.execute("VACUUM")
    if tables is not None:
        for name, size in conn.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC, 1"
        ):
            tables[name] = size / 1024
    conn.close()
    size = os.path.getsize(copy)
    os.remove(copy)
    return size


def pack_size(bundle: str, tmp: str) -> int:
    bare = os.path.join(tmp, "terms.git")
    subprocess.run(["git", "clone", "-q", "--bare", bundle, bare], check=True)
    out = subprocess.run(
        ["git", "-C", bare, "count-objects", "-v"], check=True, capture_output=True, text=True
    ).stdout
    kib = int(next(line.split()[1] for line in out.splitlines() if line.startswith("size-pack")))
    return kib * 1024


def median_ms(fn, n: int = 15) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def synthetic_5mb(store: Store) -> tuple[str, str]:
    """A 5 MB document made of the sample's real paragraphs, and a revision of it."""
    blobs = [b for (b,) in store.conn.execute("SELECT blake3 FROM blobs ORDER BY blake3")]
    texts = [t for t in (store.read_text(b) for b in blobs) if t]
    body, n = [], 0
    for i, t in enumerate(texts * 20):
        body.append(f"Copy {i}.\n\n{t}\n\n")
        n += len(body[-1])
        if n > 5_000_000:
            break
    first = "".join(body).encode()
    return store_pair(store, "big.md", first, first.replace(b"Copy 7.", b"Copy seven, revised."))


def synthetic_paragraph(store: Store) -> tuple[str, str]:
    """A 5 MB document that is one paragraph (the sample's words, no blank line), revised."""
    blobs = [b for (b,) in store.conn.execute("SELECT blake3 FROM blobs ORDER BY blake3")]
    words = " ".join(" ".join(t.split()) for t in (store.read_text(b) for b in blobs) if t)
    while len(words) < 5_000_000:
        words += " " + words
    first = words[:5_000_000].encode() + b"\n"
    return store_pair(store, "one.md", first, first.replace(b"personal data", b"personal info", 3))


def store_pair(store: Store, name: str, first: bytes, second: bytes) -> tuple[str, str]:
    """Store two versions of a document as passages, the second revising the first."""
    hashes = []
    with store.write():
        for data in (first, second):
            info, _ = describe(name, data)
            store.insert_blob(info, data)
            hashes.append(info.blake3)
        store.passages.pack_blob(hashes[0])
        store.passages.pack_blob(hashes[1], hashes[0])
    return hashes[0], hashes[1]


def main() -> None:
    bundle = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "samples/terms-sample.bundle")
    mb = 1e6
    with tempfile.TemporaryDirectory() as tmp:
        full, packed = os.path.join(tmp, "full.db"), os.path.join(tmp, "passages.db")
        with full_content_layout():
            t_full = ingest(bundle, full)
        packing = [0.0]
        with timed_packing(packing):
            t_packed = ingest(bundle, packed)
        pack = pack_size(bundle, tmp)
        size_full = vacuumed_size(full)
        tables: dict[str, float] = {}
        size_with = vacuumed_size(packed, tables=tables)
        size_without = vacuumed_size(packed, drop_fts=True)
        with Store(packed) as store:
            largest = store.query(
                "SELECT blake3, size FROM blobs WHERE is_text = 1 ORDER BY size DESC LIMIT 1"
            )[0]
            read_ms = median_ms(lambda: store.read_content(largest["blake3"]))
            phrase = "personal data"
            trace_ms = median_ms(lambda: trace(store, phrase), 5)
            search_ms = median_ms(lambda: search_documents(store.passages, phrase, 50), 5)
            found = len(trace(store, phrase)["passages"])
            big1, big2 = synthetic_5mb(store)
            big_size = store.blob(big2)["size"]
            big_ms = median_ms(lambda: store.read_content(big2), 15)
            snap_bytes = store.conn.execute(
                "SELECT coalesce(sum(length(data) + length(groups) + length(pieces)"
                " + length(primers)), 0) FROM blob_snapshots WHERE blob IN (?, ?)",
                (big1, big2),
            ).fetchone()[0]
            one1, one2 = synthetic_paragraph(store)
            one_size = store.blob(one2)["size"]
            one_ms = median_ms(lambda: store.read_content(one2), 15)
            one_first_ms = median_ms(lambda: store.read_content(one1), 15)
        with Store(full) as store:
            full_ms = median_ms(lambda: store.read_content(largest["blake3"]))
    print(
        f"ingest --git: full-content {t_full:.1f} s, passages {t_packed:.1f} s"
        f" (of which packing passages {packing[0]:.1f} s)"
    )
    print(f"archive.db full-content layout: {size_full / mb:.2f} MB")
    print(
        f"archive.db passages, with FTS: {size_with / mb:.2f} MB; without FTS:"
        f" {size_without / mb:.2f} MB (FTS {(size_with - size_without) / mb:.2f} MB)"
    )
    print(
        f"git pack: {pack / mb:.2f} MB; ratio passages/pack: with FTS {size_with / pack:.2f},"
        f" without FTS {size_without / pack:.2f}"
    )
    print(
        f"read largest version ({largest['size'] / mb:.2f} MB): median {read_ms:.1f} ms"
        f" (full-content layout {full_ms:.2f} ms)"
    )
    print(
        f"read synthetic {big_size / mb:.2f} MB version, many paragraphs: median {big_ms:.1f} ms"
        f" (blob_snapshots rows of it and its first version: {snap_bytes / mb:.2f} MB)"
    )
    print(
        f"read synthetic {one_size / mb:.2f} MB version, one paragraph: revision median"
        f" {one_ms:.1f} ms, first version {one_first_ms:.1f} ms"
    )
    print(
        f"trace {phrase!r} ({found} passages): median {trace_ms:.0f} ms;"
        f" search_documents: median {search_ms:.0f} ms"
    )
    print("archive.db passages, with FTS, by table/index (KiB, after VACUUM):")
    shown = [(n, k) for n, k in tables.items() if k >= 16]
    for name, kib in shown:
        print(f"  {name:40s} {kib:8.0f}")
    print(f"  {'(the rest)':40s} {sum(tables.values()) - sum(k for _, k in shown):8.0f}")


if __name__ == "__main__":
    main()
