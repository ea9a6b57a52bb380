"""Span index: build time and size against the import, and `trace` latency (p50/p99).

    python bench/span_bench.py samples/terms-sample.bundle [--spans 300]
    python bench/span_bench.py --synthetic 20000 [--docs 200]   # a generated, longer history

Imports the history into a fresh archive (`archive ingest --git`, which leaves the search
indexes to their readers), then times a build of the index alone (emptied, then `catch_up`,
as `archive index` does), reports the
index's share of the file, and traces random spans of 6-12 words taken from stored passages
(in process, through `archive.passages.trace.trace`). --synthetic writes a git history with
fast-import: --docs documents, each commit rewording one sentence of one of them.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.passages.indexing import catch_up  # noqa: E402
from archive.passages.spans import keys  # noqa: E402
from archive.passages.trace import trace  # noqa: E402
from archive.store import Store  # noqa: E402

GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
GIT_ENV.update(LC_ALL="C", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
WORDS = (
    "policy data user service account content law court privacy share third party notice "
    "terms agree right license provide information change update access cookie partner"
).split()


def synthetic_repo(
    path: Path, commits: int, docs: int, seed: int = 7, like_sample: bool = False
) -> Path:
    """A git repository of `commits` commits over `docs` documents (fast-import, seconds).

    Each commit rewords one sentence of one document of 40 sentences (~3.5 KB): per-commit
    overhead is all there is. like_sample: shaped like samples/terms-sample.bundle instead
    (and the 27 KB of text per commit of the issue's 42,632-commit history): documents of
    ~40 KB in paragraphs of a few sentences, each commit editing 1-4 sentences of one of them
    (reworded, inserted or dropped). Deterministic (seeded); streamed to fast-import, so a
    history of gigabytes is never held whole."""
    rng = random.Random(seed)
    size = LIKE_SAMPLE_SENTENCES if like_sample else 40
    texts = [
        [" ".join(rng.choices(WORDS, k=rng.randint(8, 20))) + "." for _ in range(size)]
        for _ in range(docs)
    ]
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True, env=GIT_ENV)
    importer = subprocess.Popen(
        ["git", "-C", str(path), "fast-import", "--quiet"], stdin=subprocess.PIPE, env=GIT_ENV
    )
    assert importer.stdin is not None
    for n in range(commits):
        d = n % docs if n < docs else rng.randrange(docs)
        if n >= docs and like_sample:
            _edit(rng, texts[d])
        elif n >= docs:
            texts[d][rng.randrange(40)] = " ".join(rng.choices(WORDS, k=rng.randint(8, 20))) + "."
        body = (_paragraphs(texts[d]) if like_sample else "\n\n".join(texts[d]) + "\n").encode()
        msg = f"commit {n}\n".encode()
        when = 1_600_000_000 + n * 60
        name = f"doc{d:04d}.md" if like_sample else f"doc{d:04d}.txt"
        importer.stdin.write(
            b"".join(
                [
                    b"commit refs/heads/main\n",
                    f"committer Bench <bench@example.org> {when} +0000\n".encode(),
                    b"data %d\n" % len(msg),
                    msg,
                    f"M 100644 inline {name}\n".encode(),
                    b"data %d\n" % len(body),
                    body,
                    b"\n",
                ]
            )
        )
    importer.stdin.close()
    if importer.wait() != 0:
        raise RuntimeError("git fast-import failed")
    subprocess.run(["git", "-C", str(path), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)
    return path


# Sentences of a --like-sample document: ~40 KB, as the sample's policies are.
LIKE_SAMPLE_SENTENCES = 400


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(8, 20))) + "."


def _edit(rng: random.Random, sentences: list[str]) -> None:
    """1-4 sentences reworded (mostly), inserted or dropped, the document's size kept near."""
    for _ in range(rng.randint(1, 4)):
        action = rng.random()
        at = rng.randrange(len(sentences))
        if action < 0.7:
            sentences[at] = _sentence(rng)
        elif action < 0.85 or len(sentences) < LIKE_SAMPLE_SENTENCES // 2:
            sentences.insert(at, _sentence(rng))
        else:
            del sentences[at]


def _paragraphs(sentences: list[str]) -> str:
    """Markdown paragraphs of five sentences under a heading every 40: a policy's shape."""
    out = []
    for i in range(0, len(sentences), 5):
        if i % 40 == 0:
            out.append(f"## Section {i // 40 + 1}")
        out.append(" ".join(sentences[i : i + 5]))
    return "\n\n".join(out) + "\n"


def index_bytes(db: Path) -> dict[str, int] | None:
    """Bytes of each span and reuse index table (dbstat), or None when SQLite lacks dbstat."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return dict(
            conn.execute(
                "SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE 'span_fts%'"
                " OR name LIKE 'reuse_%' OR name IN ('passage_documents', 'span_state')"
                " GROUP BY name ORDER BY 2 DESC"
            ).fetchall()
        )
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo", nargs="?")
    ap.add_argument("--synthetic", type=int, default=0)
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--spans", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        repo = (
            synthetic_repo(tmpdir / "synthetic.git", args.synthetic, args.docs)
            if args.synthetic
            else Path(args.repo)
        )
        db = tmpdir / "bench.db"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "archive", "ingest", "--git", str(repo), "--db", str(db)],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=ROOT,
        )
        imported = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        imported_cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        with Store(db, create=False) as store:
            with store.write():
                store.spans.clear()
            start, cpu = time.perf_counter(), time.process_time()
            with store.write():
                counts = catch_up(store)
            build, build_cpu = time.perf_counter() - start, time.process_time() - cpu
            versions = store.conn.execute("SELECT count(*) FROM versions").fetchone()[0]
            ids = [r[0] for r in store.conn.execute("SELECT id FROM passages")]
            rng = random.Random(1)
            texts = store.passages.texts(rng.sample(ids, min(len(ids), args.spans * 3)))
            spans = []
            for text in texts.values():
                ws = list(re.finditer(r"\S+", text))
                if len(ws) >= 12 and len(keys(text)) >= 12 and len(spans) < args.spans:
                    i = rng.randrange(0, len(ws) - 11)
                    j = i + rng.randint(6, 12) - 1
                    spans.append(text[ws[i].start() : ws[j].end()])  # as written
            times, truncated = [], 0
            for span in spans:
                t = time.perf_counter()
                result = trace(store, span, as_text=True)
                times.append(time.perf_counter() - t)
                truncated += bool(result["truncated"]) or result["first"] is None
        size = db.stat().st_size
        spans_size = index_bytes(db)
    times.sort()
    p50 = statistics.median(times) * 1000
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
    print(
        f"history: {versions:,} versions; import (no search index) {imported:.1f} s wall,"
        f" {imported_cpu:.1f} s CPU"
    )
    print(
        f"index build: {build:.2f} s wall ({build / imported:.0%} of the import),"
        f" {build_cpu:.2f} s CPU ({build_cpu / imported_cpu:.0%}) for"
        f" {counts['passages']:,} passages and {counts['versions']:,} versions"
    )
    total = sum((spans_size or {}).values())
    share = "" if not spans_size else f"; index {total / 1e6:.1f} MB ({total / size:.0%}): "
    parts = ", ".join(f"{name} {n / 1e6:.1f}" for name, n in (spans_size or {}).items())
    print(f"archive {size / 1e6:.1f} MB{share}{parts}")
    print(
        f"trace of {len(times)} spans (6-12 words): p50 {p50:.1f} ms, p99 {p99:.1f} ms;"
        f" incomplete or not found: {truncated}"
    )


if __name__ == "__main__":
    main()
