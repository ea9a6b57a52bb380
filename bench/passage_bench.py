"""Passage store figures on the terms sample: archive size, pack size, read time.

    .venv/bin/python bench/passage_bench.py [samples/terms-sample.bundle]

Replays the bundle's commits through `Store` (one run per commit, as a git import would) twice:
with the full-content layout (the schema before `_passages`, text in `blobs.content`) and with
passages. Prints sizes after VACUUM (with and without `passages_fts`), the git pack size from
`git count-objects -vH` on a bare clone, and median read times.
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

from archive import schema  # noqa: E402
from archive.changes import Observed, plan  # noqa: E402
from archive.record import record_versions  # noqa: E402
from archive.store import Store  # noqa: E402
from ingest.content import describe  # noqa: E402
from ingest.gitsource import GitSource  # noqa: E402


@contextmanager
def full_content_layout():
    """The previous release: no `_passages` migration, no packing."""
    saved = schema.MIGRATIONS, schema.SCHEMA_VERSION, Store.pack_passages
    schema.MIGRATIONS = schema.MIGRATIONS[: schema.MIGRATIONS.index(schema._passages)]
    schema.SCHEMA_VERSION = len(schema.MIGRATIONS)
    Store.pack_passages = lambda self, changes: None
    try:
        yield
    finally:
        schema.MIGRATIONS, schema.SCHEMA_VERSION, Store.pack_passages = saved


def replay(bundle: str, db: str) -> float:
    """Every commit as one run over the whole tree; returns seconds taken."""
    src = GitSource(bundle)
    commits = list(src.commits())
    oids = list(dict.fromkeys(c.blob for commit in commits for c in commit.changes if c.blob))
    data = dict(src.read_blobs(oids))
    started = time.perf_counter()
    tree: dict[str, str] = {}
    infos: dict = {}
    with Store(db) as store:
        for commit in commits:
            for ch in commit.changes:
                if ch.blob is None:
                    tree.pop(ch.path, None)
                else:
                    tree[ch.path] = ch.blob
            with store.write():
                source = store.source("git", bundle, "terms")
                run = store.start_run(source["id"], "bench", commit.committer_date)
                observed = []
                for path, oid in sorted(tree.items()):
                    if oid not in infos:
                        infos[oid] = describe(path, data[oid])[0]
                        store.insert_blob(infos[oid], data[oid])
                    observed.append(Observed(path, infos[oid].blake3, None))
                changes = plan(store.document_states(source["id"]), observed)
                record_versions(store, source["id"], run, changes, commit.committer_date)
                store.finish_run(run, files_seen=len(observed), new_versions=len(changes))
    return time.perf_counter() - started


def vacuumed_size(db: str, drop_fts: bool = False) -> int:
    copy = db + ".copy"
    shutil.copyfile(db, copy)
    conn = sqlite3.connect(copy)
    if drop_fts:
        conn.execute("DROP TABLE passages_fts")
    conn.execute("VACUUM")
    conn.close()
    size = os.path.getsize(copy)
    os.remove(copy)
    return size


def pack_size(bundle: str, tmp: str) -> str:
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
    texts = [store.read_text(b) for (b,) in store.conn.execute("SELECT blake3 FROM blobs")]
    body, n = [], 0
    for i, t in enumerate(texts * 20):
        body.append(f"Copy {i}.\n\n{t}\n\n")
        n += len(body[-1])
        if n > 5_000_000:
            break
    first = "".join(body).encode()
    second = first.replace(b"Copy 7.", b"Copy seven, revised.")
    hashes = []
    with store.write():
        for data in (first, second):
            info, _ = describe("big.md", data)
            store.insert_blob(info, data)
            hashes.append(info.blake3)
        store.passages.pack_blob(hashes[0])
        store.passages.pack_blob(hashes[1], hashes[0])
    return hashes[0], hashes[1]


def main() -> None:
    bundle = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "samples/terms-sample.bundle")
    with tempfile.TemporaryDirectory() as tmp:
        full, packed = os.path.join(tmp, "full.db"), os.path.join(tmp, "passages.db")
        with full_content_layout():
            t_full = replay(bundle, full)
        t_packed = replay(bundle, packed)
        pack = pack_size(bundle, tmp)
        size_full = vacuumed_size(full)
        size_with = vacuumed_size(packed)
        size_without = vacuumed_size(packed, drop_fts=True)
        with Store(packed) as store:
            stats = store.query(
                "SELECT count(*) AS passages, sum(size) AS text_bytes, sum(length(data))"
                " AS stored_bytes, max(depth) AS max_depth FROM passages"
            )[0]
            lists = store.query(
                "SELECT sum(count) AS refs, sum(length(ids)) AS bytes FROM blob_passages"
            )[0]
            largest = store.query(
                "SELECT blake3, size FROM blobs WHERE is_text = 1 ORDER BY size DESC LIMIT 1"
            )[0]
            read_ms = median_ms(lambda: store.read_content(largest["blake3"]))
            big1, big2 = synthetic_5mb(store)
            big_size = store.blob(big2)["size"]
            big_ms = median_ms(lambda: store.read_content(big2), 9)
        with full_content_layout(), Store(full) as store:
            full_ms = median_ms(lambda: store.read_content(largest["blake3"]))
    mb = 1e6
    print(f"replay: full-content {t_full:.1f} s, passages {t_packed:.1f} s")
    print(
        f"passages: {stats['passages']} distinct, {stats['text_bytes'] / mb:.2f} MB of text stored"
        f" as {stats['stored_bytes'] / mb:.2f} MB (max chain {stats['max_depth']});"
        f" {lists['refs']} references in {lists['bytes'] / mb:.3f} MB of lists"
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
    print(f"read synthetic {big_size / mb:.2f} MB version: median {big_ms:.1f} ms")


if __name__ == "__main__":
    main()
