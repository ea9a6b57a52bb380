"""Cold render cost of the archive's pages: history, version and diff, in process.

Run: PYTHONPATH=. .venv/bin/python bench/page_render.py [DB] [--rounds N] [--profile PAGE]

DB defaults to /tmp/pages-terms.db, built from ``samples/terms-sample.bundle`` (Open Terms
Archive sample) with ``archive ingest --git`` when missing. Datasette is built exactly as an
`archive serve` worker builds it (archive.publish.server.app.build_datasette: the packaged
metadata, the served settings, the file opened immutable). Every request goes through
Datasette's test client with a Cookie header, so the response cache (which only keeps
anonymous responses) never answers: each one is a full ("cold") render. Pages measured:
every document's history, a fixed sample of versions, and that sample's diffs (inline and
side by side). Prints the median ms per page kind over all its URLs, and the median of the
per-round medians over N rounds (default 3) so a noisy neighbour moves it little, and the
process's CPU ms per page of that kind (user + system, SQL threads included: the figure a
shared machine moves least), the least over the rounds. A worker keeps inflated passage
groups (archive.publish.common.kept_groups), so the first round reads texts colder.
--profile PAGE (history, version, diff, side) prints a cProfile of one round of that kind.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasette.app import Datasette  # noqa: E402

from archive.publish.server.app import ServeConfig, build_datasette, inspect_data  # noqa: E402
from archive.publish.server.serve import default_metadata  # noqa: E402

DEFAULT_DB = Path("/tmp/pages-terms.db")
BUNDLE = ROOT / "samples" / "terms-sample.bundle"
SAMPLE = 120  # versions (and their diffs) per round
HEADERS = {"Cookie": "bench=1"}  # any cookie: the response cache steps aside


def build_db(db: Path) -> None:
    """Ingest the sample bundle so the benchmark also runs from a fresh clone."""
    cmd = [sys.executable, "-m", "archive", "ingest", "--git", str(BUNDLE), "--db", str(db)]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def page_urls(db: Path) -> dict[str, list[str]]:
    """URLs per page kind: every history, a seeded sample of versions and their diffs."""
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    docs = [r[0] for r in conn.execute("SELECT id FROM documents ORDER BY id")]
    pairs = conn.execute(
        "SELECT previous_version_id, id FROM versions"
        " WHERE previous_version_id IS NOT NULL AND blob IS NOT NULL ORDER BY id"
    ).fetchall()
    conn.close()
    sample = sorted(random.Random(0).sample(pairs, min(SAMPLE, len(pairs))))
    return {
        "history": [f"/-/archive/document/{d}" for d in docs],
        "version": [f"/-/archive/version/{v}" for _, v in sample],
        "diff": [f"/-/archive/diff?from={p}&to={v}" for p, v in sample],
        "side": [f"/-/archive/diff?from={p}&to={v}&view=side" for p, v in sample],
    }


async def timed(ds: Datasette, urls: list[str]) -> list[float]:
    """Milliseconds per request, each checked to be a 200 that skipped the cache."""
    out = []
    for url in urls:
        t0 = time.perf_counter()
        r = await ds.client.get(url, headers=HEADERS)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200 or r.headers.get("x-archive-cache") not in (None, "bypass"):
            raise SystemExit(f"{url}: {r.status_code} {r.headers.get('x-archive-cache')}")
    return out


def cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads) so far, finer than os.times."""
    return time.process_time()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", nargs="?", type=Path, default=DEFAULT_DB)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=("history", "version", "diff", "side"))
    args = parser.parse_args()
    if not args.db.exists():
        build_db(args.db)
    urls = page_urls(args.db)
    metadata = default_metadata()
    with tempfile.TemporaryDirectory() as tmp:  # table counts precomputed, as serve does
        inspect = Path(tmp, "inspect-data.json")
        inspect.write_text(json.dumps(inspect_data(str(args.db))), encoding="utf-8")
        meta = str(metadata) if metadata else None
        ds = build_datasette(ServeConfig(str(args.db), meta, True, "bench", str(inspect)))
    await ds.invoke_startup()
    for kind in urls:  # warm up: templates compiled, connections open
        await timed(ds, urls[kind][:3])
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        await timed(ds, urls[args.profile])
        prof.disable()
        pstats.Stats(prof).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(45)
        return
    medians: dict[str, list[float]] = {k: [] for k in urls}
    cpu: dict[str, list[float]] = {k: [] for k in urls}
    for _ in range(args.rounds):
        for kind, kind_urls in urls.items():
            t0 = cpu_seconds()
            medians[kind].append(statistics.median(await timed(ds, kind_urls)))
            cpu[kind].append((cpu_seconds() - t0) * 1000 / len(kind_urls))
    for kind, ms in medians.items():
        rounds = " ".join(f"{m:.1f}" for m in ms)
        cpus = " ".join(f"{m:.2f}" for m in cpu[kind])
        print(
            f"{kind:8} {len(urls[kind]):4} pages  median {statistics.median(ms):6.2f} ms"
            f"  CPU {min(cpu[kind]):5.2f} ms/page  (round medians: {rounds}; CPU: {cpus})"
        )


if __name__ == "__main__":
    asyncio.run(main())
