"""Benchmark archive.diffs.diff_texts on every consecutive version pair of a real archive.

Run: .venv/bin/python bench/diff_real.py [DB]   (default /tmp/terms-archive.db)

When DB does not exist it is built from ``samples/terms-sample.bundle`` (Open Terms Archive
sample) with ``archive ingest --git``. Prints count, median, mean, p99, max, total seconds and
the number of coarse results, then the total for ``git log -p --word-diff=porcelain
--first-parent`` over the same bundle, so the whole-history cost can be compared.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.diffs import diff_texts  # noqa: E402
from archive.store import Store  # noqa: E402

DEFAULT_DB = Path("/tmp/terms-archive.db")
BUNDLE = ROOT / "samples" / "terms-sample.bundle"
PAIRS_SQL = """
SELECT v.blob, p.blob AS prev FROM versions v JOIN versions p ON p.id = v.previous_version_id
WHERE v.blob IS NOT NULL AND p.blob IS NOT NULL ORDER BY v.id
"""


def build_db(db: Path) -> None:
    """Ingest the sample bundle so the benchmark also runs from a fresh clone."""
    subprocess.run(
        [sys.executable, "-m", "archive", "ingest", "--git", str(BUNDLE), "--db", str(db)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def load_pairs(db: Path) -> list[tuple[str, str]]:
    """(old, new) texts of every version and its predecessor, in version order."""
    store = Store(str(db), create=False)
    rows = [(r["blob"], r["prev"]) for r in store.query(PAIRS_SQL)]
    texts: dict[str, str] = {}

    def text(h: str) -> str:
        if h not in texts:
            texts[h] = store.read_text(h) or ""
        return texts[h]

    return [(text(prev), text(blob)) for blob, prev in rows]


def time_ours(pairs: list[tuple[str, str]]) -> tuple[list[float], int]:
    times, coarse = [], 0
    for old, new in pairs:
        t0 = time.perf_counter()
        r = diff_texts(old, new)
        times.append(time.perf_counter() - t0)
        coarse += r.coarse
    return times, coarse


def time_git(bundle: Path) -> float:
    """Seconds for git's word diff of the whole first-parent history of the bundle."""
    with tempfile.TemporaryDirectory() as d:
        repo = Path(d) / "repo"
        subprocess.run(["git", "clone", "-q", str(bundle), str(repo)], check=True)
        cmd = ["git", "-C", str(repo), "log", "-p", "--word-diff=porcelain", "--first-parent"]
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - t0


def summary(times: list[float]) -> str:
    s = sorted(times)
    p99 = s[min(len(s) - 1, int(0.99 * len(s)))]
    return (
        f"count {len(s)}  median {statistics.median(s) * 1000:.2f} ms  "
        f"mean {statistics.fmean(s) * 1000:.2f} ms  p99 {p99 * 1000:.1f} ms  "
        f"max {s[-1] * 1000:.1f} ms  total {sum(s):.2f} s"
    )


def main(argv: list[str]) -> int:
    db = Path(argv[0]) if argv else DEFAULT_DB
    with tempfile.TemporaryDirectory() as d:
        if not db.exists():
            db = Path(d) / "terms-archive.db"
            print(f"building {db} from {BUNDLE.name} ...", file=sys.stderr)
            build_db(db)
        pairs = load_pairs(db)
    times, coarse = time_ours(pairs)
    chars = sum(len(o) + len(n) for o, n in pairs)
    print(f"pairs: {len(pairs)}, average {chars / 2 / max(len(pairs), 1) / 1000:.1f} K chars")
    print(f"ours : {summary(times)}  coarse {coarse}")
    print(f"git  : log -p --word-diff=porcelain --first-parent total {time_git(BUNDLE):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
