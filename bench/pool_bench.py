"""The import's worker pool: wall and CPU time for 1, 2, ... workers, and the same archive.

    python bench/pool_bench.py samples/terms-sample.bundle [--workers 1 2] [--runs 3]
    python bench/pool_bench.py --synthetic 5000 [--docs 100]   # a generated, longer history
    python bench/pool_bench.py --synthetic 5000 --like-sample  # ~40 KB documents, as the sample

Each run is `archive ingest --git` through bench/archive_digest.py (clock frozen, same --db
path, so even the ledger compares), with ARCHIVE_WORKERS set; the table digests of every run
must be identical whatever the number of workers (printed: "digests: identical"). Also prints
the peer, `git log --first-parent -p --word-diff=porcelain`, and the ratio to it. Medians of
--runs, wall and CPU (the process and its workers) seconds, and the main process's own CPU:
the critical path, which the wall time approaches when the workers have cores of their own
(on a shared machine, read it rather than the wall time). Peak memory: the largest resident
set of the main process and of any one child (a worker, or git) as the import returns
(ru_maxrss, the largest of the runs); the import's peak is at most the main one plus the
workers' (ARCHIVE_WORKERS of them). Last, each count's total CPU against 1 worker's: what
the pool costs beyond the work itself.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_bench import GIT_ENV, ROOT, bare_repo, git_dir_of, timed  # noqa: E402

# Runs archive_digest.py and prints the CPU seconds of this process alone at exit: the main
# process is the import's critical path (its one writer), whatever the workers do beside it.
# Peak memory is taken as the import returns, before the digests (whose SQL sorts of whole
# tables peaked at 376 MiB on a 40,000-commit history, against 145 MiB for the import).
OWN_CPU = (
    "import atexit, resource, runpy, sys\n"
    "import archive.record.git as g\n"
    "peak = []\n"
    "def measured(*args, **kwargs):\n"
    "    out = real(*args, **kwargs)\n"
    "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    c = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "    peak.append(f'peak-kib {r.ru_maxrss} {c.ru_maxrss}')\n"
    "    return out\n"
    "real, g.import_git = g.import_git, measured\n"
    "def own():\n"
    "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    print(f'main-cpu {r.ru_utime + r.ru_stime:.3f}')\n"
    "    print(*peak[:1])\n"
    "atexit.register(own)\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def generated(path: Path, commits: int, docs: int, like_sample: bool = False) -> Path:
    """span_bench.synthetic_repo, made by a child process: it holds the whole history in
    memory, and a process started from one that did inherits its peak (ru_maxrss survives
    fork and exec: every import measured 376 MiB on 40,000 commits, whatever it used)."""
    code = (
        "import sys; from pathlib import Path; from span_bench import synthetic_repo\n"
        "synthetic_repo(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),"
        " like_sample=sys.argv[4] == '1')"
    )
    env = {**os.environ, "PYTHONPATH": f"{Path(__file__).resolve().parent}{os.pathsep}{ROOT}"}
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(commits), str(docs), str(int(like_sample))],
        check=True,
        env=env,
    )
    return path


def run(repo: Path, db: Path, workers: int) -> tuple[float, float, float, str, tuple[int, int]]:
    """(wall, CPU, main-process CPU, digest lines, peak KiB of the main process and of its
    largest worker) of one frozen-clock import with this many workers."""
    for stale in db.parent.glob(db.name + "*"):
        stale.unlink()
    cmd = [sys.executable, "-c", OWN_CPU, str(ROOT / "bench" / "archive_digest.py")]
    cmd += ["--ingest", str(db), "--", "--git", str(repo)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARCHIVE_WORKERS": str(workers)}
    out = tempfile.TemporaryFile()
    start = time.perf_counter()
    before = os.times()
    subprocess.run(cmd, check=True, env=env, stdout=out)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    out.seek(0)
    text = out.read().decode().splitlines()
    lines = [
        line
        for line in text
        if len(line.split()) == 3 and line.split()[1].isdigit() and not line.startswith("peak")
    ]
    own = next(float(line.split()[1]) for line in text if line.startswith("main-cpu "))
    peak = next(line.split()[1:] for line in text if line.startswith("peak-kib "))
    return wall, cpu, own, "\n".join(lines), (int(peak[0]), int(peak[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo", type=Path, nargs="?")
    parser.add_argument("--synthetic", type=int, help="generate a history of this many commits")
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument(
        "--like-sample",
        action="store_true",
        help="synthetic documents shaped like the sample's (~40 KB, 1-4 sentences edited"
        " per commit) instead of ~3.5 KB ones",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pool-bench-") as tmpname:
        tmp = Path(tmpname)
        if args.synthetic:
            repo = git_dir = generated(
                tmp / "synthetic.git", args.synthetic, args.docs, args.like_sample
            )
        elif args.repo:
            repo = args.repo.resolve()
            bare = bare_repo(repo, tmp)
            git_dir = bare if repo.is_file() else git_dir_of(bare)
        else:
            parser.error("give a repository or bundle, or --synthetic N")
        peer = ["git", f"--git-dir={git_dir}", "log", "-p", "--word-diff=porcelain"]
        peer += ["--first-parent", "HEAD"]
        git_s = statistics.median(timed(peer, env=GIT_ENV)[0] for _ in range(args.runs))
        db = tmp / "archive.db"
        digests = set()
        cpus: dict[int, float] = {}
        shape = ", shaped like the sample" if args.like_sample else ""
        print(f"history: {args.repo or f'synthetic, {args.synthetic} commits{shape}'}")
        print(f"git log --first-parent -p --word-diff=porcelain: {git_s:.2f} s wall")
        for workers in args.workers:
            results = [run(repo, db, workers) for _ in range(args.runs)]
            digests.update(r[3] for r in results)
            wall, cpu, own = (statistics.median(r[k] for r in results) for k in range(3))
            cpus[workers] = cpu
            main_kib, worker_kib = (max(r[4][k] for r in results) for k in range(2))
            print(
                f"ARCHIVE_WORKERS={workers}: {wall:6.2f} s wall, {cpu:6.2f} s CPU of which"
                f" {own:6.2f} s in the main process  ({wall / git_s:.1f}x git wall,"
                f" {own / git_s:.1f}x in main-process CPU)  median of {args.runs};"
                f" peak RSS {main_kib / 1024:.0f} MiB main, {worker_kib / 1024:.0f} MiB"
                " largest child"
            )
        for workers, cpu in cpus.items():  # what the pool costs beyond the work itself
            if workers > 1 and 1 in cpus:
                print(f"ARCHIVE_WORKERS={workers}: {cpu - cpus[1]:+.2f} s CPU against 1 worker")
        print("digests:", "identical" if len(digests) == 1 else f"DIFFER ({len(digests)} kinds)")
    return 0 if len(digests) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
