"""Time `archive verify` on the sample history, for one source tree of the archive.

    python bench/verify_bench.py samples/terms-sample.bundle [--root DIR] [--runs 3] [--reextract]

--root runs another checkout of the code (e.g. `git archive main | tar -x -C DIR`, with
the compiled diff core copied in) to compare before and after a change: the archive is
built by that code (`archive ingest --git`), then `archive verify` is timed as a fresh
process, median of --runs, wall and CPU seconds.
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


def timed(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """(wall, CPU, exit code) of a command and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--root", type=Path, default=ROOT, help="The code to run.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--reextract", action="store_true", help="Run `archive reextract` first (metadata)."
    )
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.root.resolve())}
    archive = [sys.executable, "-m", "archive"]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "archive.db"
        subprocess.run(
            [*archive, "ingest", "--git", str(args.bundle.resolve()), "--db", str(db)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if args.reextract:
            subprocess.run(
                [*archive, "reextract", "--db", str(db)],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        times = [timed([*archive, "verify", "--db", str(db)], env) for _ in range(args.runs)]
    codes = {code for _, _, code in times}
    wall = statistics.median(t[0] for t in times)
    cpu = statistics.median(t[1] for t in times)
    print(f"{args.root}: archive verify {wall:.2f} s wall, {cpu:.2f} s CPU (exit {codes})")


if __name__ == "__main__":
    main()
