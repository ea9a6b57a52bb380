#!/usr/bin/env python3
"""Folder ingest against its peers on the same files, in one run.

Generates a corpus (fixed seed) and times, median of --runs:
  b3sum over every file, sha256sum over every file, `git add -A && git commit` (first time),
  `archive ingest` (first time), and `archive ingest` again with nothing changed;
then prints the medians and the ratios to b3sum.

    python bench/ingest_bench.py [--files 3000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = "the of and to in archive document policy terms service user data may we our".split()


def make_corpus(folder: Path, files: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    total = 0
    for i in range(files):
        sub = folder / f"d{i % 50:02d}"
        sub.mkdir(exist_ok=True)
        size = int(rng.lognormvariate(9, 1.2))  # median ~8 KB, a long tail
        words = " ".join(rng.choice(WORDS) for _ in range(max(1, size // 6)))
        data = "\n\n".join(words[j : j + 600] for j in range(0, len(words), 600)).encode()
        (sub / f"doc{i:05d}.txt").write_bytes(data)
        total += len(data)
    return total


def timed(cmd: str, cwd: Path, setup: str | None = None) -> float:
    if setup:
        subprocess.run(setup, shell=True, cwd=cwd, check=True, capture_output=True)
    start = time.perf_counter()
    subprocess.run(cmd, shell=True, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    for tool in ("b3sum", "sha256sum", "git"):
        if not shutil.which(tool):
            print(f"{tool} is missing (Debian: apt-get install {tool})", file=sys.stderr)
            return 2
    archive = f"{sys.executable} -m archive"
    env_root = str(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        corpus = base / "corpus"
        corpus.mkdir()
        size = make_corpus(corpus, args.files)
        os.environ["PYTHONPATH"] = env_root
        each = "find . -type f -not -path './.git/*' -print0 | xargs -0"
        git_env = "GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1"
        git_commit = (
            f"{git_env} git init -q . && git add -A && "
            f"{git_env} git -c user.name=b -c user.email=b@b commit -qm bench"
        )
        cases = {
            "b3sum": lambda: timed(f"{each} b3sum > /dev/null", corpus),
            "sha256sum": lambda: timed(f"{each} sha256sum > /dev/null", corpus),
            "git add+commit": lambda: timed(git_commit, corpus, setup="rm -rf .git"),
            "archive ingest (first)": lambda: timed(
                f"{archive} ingest {corpus} --db {base}/a.db", base, setup=f"rm -f {base}/a.db*"
            ),
            "archive ingest (unchanged)": lambda: timed(
                f"{archive} ingest {corpus} --db {base}/a.db", base
            ),
        }
        print(f"{args.files} files, {size / 1e6:.1f} MB, median of {args.runs} runs")
        medians = {}
        for name, run in cases.items():
            medians[name] = statistics.median(run() for _ in range(args.runs))
        subprocess.run(f"rm -rf {corpus}/.git", shell=True, check=True)
        print(f"{'':28} {'median s':>9} {'x b3sum':>8}")
        for name, value in medians.items():
            print(f"{name:28} {value:9.3f} {value / medians['b3sum']:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
