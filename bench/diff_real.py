"""Benchmark archive.diffs.diff_texts on every consecutive version pair of a real archive.

Run: .venv/bin/python bench/diff_real.py [DB]   (default /tmp/terms-archive.db)
     .venv/bin/python bench/diff_real.py --compare [--runs 3] [DB]

When DB does not exist it is built from ``samples/terms-sample.bundle`` (Open Terms Archive
sample) with ``archive ingest --git``. Prints count, median, mean, p99, max, total seconds and
the number of coarse results, then the total for ``git log -p --word-diff=porcelain
--first-parent`` over the same bundle, so the whole-history cost can be compared.

--compare times the compiled core against the pure-Python reference (what ARCHIVE_PURE_DIFF=1
selects) on the same pairs in one process, engines alternating run by run, and prints each
one's median pair time and median total with the ratio (CPU seconds: steadier than wall time
on a busy machine).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive import diffs  # noqa: E402
from archive.diffs import diff_texts  # noqa: E402
from archive.diffs.core import load_core  # noqa: E402
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


def cpu_times(pairs: list[tuple[str, str]]) -> list[float]:
    """CPU seconds of diff_texts on each pair."""
    times = []
    for old, new in pairs:
        t0 = time.process_time()
        diff_texts(old, new)
        times.append(time.process_time() - t0)
    return times


def compare(pairs: list[tuple[str, str]], runs: int) -> None:
    """Compiled core against the pure-Python reference, medians over runs."""
    engines = {"pure": None, "compiled": load_core()}
    totals: dict[str, list[float]] = {name: [] for name in engines}
    per_pair: dict[str, list[list[float]]] = {name: [] for name in engines}
    for _ in range(runs):
        for name, core in engines.items():
            with diffs.engine(core):
                times = cpu_times(pairs)
            totals[name].append(sum(times))
            per_pair[name].append(times)
    med = {}
    for name in engines:
        pair_medians = [statistics.median(ts) for ts in zip(*per_pair[name], strict=True)]
        med[name] = (statistics.median(pair_medians), statistics.median(totals[name]))
        runs_s = ", ".join(f"{t:.2f}" for t in totals[name])
        print(
            f"{name:9}: median pair {med[name][0] * 1000:.2f} ms, total {med[name][1]:.2f} s "
            f"CPU (median of {runs}: {runs_s})"
        )
    (pp, pt), (cp, ct) = med["pure"], med["compiled"]
    print(f"ratio    : pure/compiled {pt / ct:.1f}x total, {pp / cp:.1f}x median pair")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("db", nargs="?", type=Path, default=DEFAULT_DB)
    parser.add_argument("--compare", action="store_true", help="compiled core vs pure Python")
    parser.add_argument("--runs", type=int, default=3, help="runs per engine with --compare")
    args = parser.parse_args(argv)
    db = args.db
    with tempfile.TemporaryDirectory() as d:
        if not db.exists():
            db = Path(d) / "terms-archive.db"
            print(f"building {db} from {BUNDLE.name} ...", file=sys.stderr)
            build_db(db)
        pairs = load_pairs(db)
    if args.compare:
        print(f"pairs: {len(pairs)}")
        compare(pairs, args.runs)
        return 0
    times, coarse = time_ours(pairs)
    chars = sum(len(o) + len(n) for o, n in pairs)
    print(f"pairs: {len(pairs)}, average {chars / 2 / max(len(pairs), 1) / 1000:.1f} K chars")
    print(f"ours : {summary(times)}  coarse {coarse}")
    print(f"git  : log -p --word-diff=porcelain --first-parent total {time_git(BUNDLE):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
