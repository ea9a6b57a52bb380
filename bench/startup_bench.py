"""Start-up time of the `archive` command: median wall time of each command, and its ratio.

    python bench/startup_bench.py [--db ARCHIVE --file FILE] [--runs 21] [--root DIR]

Each command runs as a fresh process, as a user runs it (the interpreter of this venv, the
code of --root), --runs times, the commands taking turns so that a busy machine slows them
alike; the figures are the medians, and each ratio is against `python -c pass` measured in
the same run (the floor: the interpreter and site start-up). Without --db, the sample
history (samples/terms-sample.bundle) is imported into a temporary archive first and FILE
is one of its files, checked out of the bundle. Targets (issue #18): `archive --help`
under 150 ms, `archive lookup FILE` under 250 ms.
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

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "samples" / "terms-sample.bundle"
TARGETS_MS = {"archive --help": 150, "archive lookup FILE": 250}


def wall(cmd: list[str], env: dict, cwd: Path) -> float:
    """Seconds a command takes, as a fresh process in `cwd` (`python -m` puts the working
    directory first on the path: the code measured is the one there); a failing command
    stops the bench."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return took


def sample_archive(tmp: Path, env: dict, cwd: Path) -> tuple[Path, Path]:
    """The sample history imported into an archive, and one of its files on disk."""
    db, checkout = tmp / "sample.db", tmp / "checkout"
    subprocess.run(
        [sys.executable, "-m", "archive", "ingest", "--git", str(BUNDLE), "--db", str(db)],
        env=env,
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(["git", "clone", "-q", str(BUNDLE), str(checkout)], check=True)
    names = subprocess.run(
        ["git", "-C", str(checkout), "ls-files"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    return db, checkout / names[0]


def commands(db: Path, file: Path) -> dict[str, list[str]]:
    archive = [sys.executable, "-m", "archive"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "archive --help": [*archive, "--help"],
        "archive --version": [*archive, "--version"],
        "archive lookup --help": [*archive, "lookup", "--help"],
        "archive lookup FILE": [*archive, "lookup", "--db", str(db), str(file)],
        "archive ls": [*archive, "ls", "--db", str(db)],
    }


def measure(cmds: dict[str, list[str]], runs: int, env: dict, cwd: Path) -> dict[str, float]:
    """Median seconds of each command, the commands taking turns run after run."""
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for cmd in cmds.values():  # one unmeasured run each: the page cache, .pyc files
        wall(cmd, env, cwd)
    for _ in range(runs):
        for name, cmd in cmds.items():
            times[name].append(wall(cmd, env, cwd))
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="An archive (default: the sample, imported).")
    parser.add_argument("--file", type=Path, help="A file to look up in --db.")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--root", type=Path, default=ROOT, help="The code to run.")
    args = parser.parse_args()
    if (args.db is None) != (args.file is None):
        parser.error("--db and --file go together")
    root = args.root.resolve()
    env = {**os.environ, "PYTHONPATH": str(root)}
    with tempfile.TemporaryDirectory() as tmp:
        db, file = (args.db, args.file) if args.db else sample_archive(Path(tmp), env, root)
        medians = measure(commands(db.resolve(), file.resolve()), args.runs, env, root)
    floor = medians["python -c pass"]
    print(f"code: {args.root.resolve()}; {args.runs} runs each, medians; ratio vs python -c pass")
    print(f"{'command':24} {'median ms':>10} {'ratio':>7} {'target ms':>10}")
    failed = False
    for name, seconds in medians.items():
        target = TARGETS_MS.get(name)
        ms = seconds * 1000
        failed |= target is not None and ms > target
        shown = f"{target}" if target else ""
        print(f"{name:24} {ms:10.0f} {seconds / floor:7.2f} {shown:>10}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
