"""Time `archive ingest --git REPO` against git doing the same diff work in C.

    python bench/import_bench.py samples/terms-sample.bundle [--runs 3]

The peer is `git log -p --word-diff=porcelain --first-parent` over the same commits: what
the archive will compute per version once diffs are recorded at ingest (the time printed
here covers whatever `record_versions` does, diffs included when they land). Each side is
timed as a fresh process, median of --runs; the archive starts from an empty file each time.
Also printed: the archive's size against the repository's packed size.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
GIT_ENV.update(LC_ALL="C", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)


def timed(cmd: list[str], **kw) -> tuple[float, float]:
    """(wall, CPU) seconds of a command and its children: CPU is robust on a busy machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def bare_repo(repo: Path, tmp: Path) -> Path:
    """A bare clone for a bundle (git log cannot read one directly), else the repo itself."""
    if repo.is_file():
        target = tmp / "repo.git"
        subprocess.run(
            ["git", "clone", "--quiet", "--bare", str(repo), str(target)],
            check=True,
            env=GIT_ENV,
        )
        return target
    return repo


def packed_kib(git_dir: Path) -> int:
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "count-objects", "-v"],
        check=True,
        env=GIT_ENV,
        capture_output=True,
        text=True,
    ).stdout
    fields = dict(line.split(": ") for line in out.splitlines())
    return int(fields["size-pack"]) + int(fields["size"])


def git_dir_of(repo: Path) -> Path:
    out = subprocess.run(
        ["git", "rev-parse", "--absolute-git-dir"],
        cwd=repo,
        check=True,
        env=GIT_ENV,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Path(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    repo = args.repo.resolve()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmpname:
        tmp = Path(tmpname)
        bare = bare_repo(repo, tmp)
        git_dir = bare if repo.is_file() else git_dir_of(bare)
        commits = subprocess.run(
            ["git", f"--git-dir={git_dir}", "rev-list", "--first-parent", "--count", "HEAD"],
            check=True,
            env=GIT_ENV,
            capture_output=True,
            text=True,
        ).stdout.strip()
        peer = [
            "git",
            f"--git-dir={git_dir}",
            "log",
            "-p",
            "--word-diff=porcelain",
            "--first-parent",
            "HEAD",
        ]
        git_times = [timed(peer, env=GIT_ENV) for _ in range(args.runs)]
        ours, size = [], 0
        for i in range(args.runs):
            db = tmp / f"archive-{i}.db"
            cmd = [sys.executable, "-m", "archive", "ingest", "--git", str(repo), "--db", str(db)]
            ours.append(timed(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp))
            size = sum(p.stat().st_size for p in tmp.glob(f"archive-{i}.db*") if p.is_file())
        packed = packed_kib(git_dir) * 1024
    ours_s, git_s = (statistics.median(w for w, _ in t) for t in (ours, git_times))
    ours_cpu, git_cpu = (statistics.median(c for _, c in t) for t in (ours, git_times))
    print(f"repository:        {args.repo} ({commits} first-parent commits)")
    print(f"archive ingest:    {ours_s:.2f} s wall, {ours_cpu:.2f} s CPU  (median of {args.runs};")
    print("                   includes Python start-up and cloning a bundle)")
    print(
        f"git log -p --word-diff=porcelain --first-parent: {git_s:.2f} s wall, {git_cpu:.2f} s CPU"
    )
    print(
        f"ratio:             {ours_s / git_s:.2f}x git wall, {ours_cpu / git_cpu:.2f}x CPU"
        "  (target <= 2x)"
    )
    print(f"commits/s:         {int(commits) / ours_s:,.0f}")
    print(f"archive size:      {size / 2**20:.1f} MiB (database + WAL)")
    print(f"packed repository: {packed / 2**20:.1f} MiB  ({size / max(packed, 1):.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
