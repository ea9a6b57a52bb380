"""Time `git fsck --full` against `archive verify` and `archive verify --quick`, in one run.

    python bench/verify_bench.py samples/terms-sample.bundle [--runs 5] [--tail 100]
        [--workers 1,2] [--root DIR] [--before DIR] [--reextract] [--rederive]
    python bench/verify_bench.py --synthetic 5000 [--docs 300] ...   # a generated history

The bundle is cloned bare (git fsck's side) and imported by `archive ingest --git` in two
steps: all but the last --tail commits, a full verify (recorded), then the rest; so
`verify --quick` has the tail's contents to check, as after a routine import. Each command
runs as a fresh process, alternating, --runs times: median wall and CPU seconds, the ratio
to git fsck's median wall time, and peak memory (the largest resident set of the process or
any of its workers). --workers times `archive verify` with ARCHIVE_VERIFY_WORKERS set to
each value. --root runs another checkout of the code (e.g. `git archive main | tar -x -C
DIR`, with the compiled diff core copied in) to compare before and after a change;
--before DIR times that checkout's `archive verify` and `--quick` too, in the same run (taking
turns with the others, on the same archive), so both sides see the same machine load.
Both checkouts are byte-compiled first, as an installed package is (with
PYTHONDONTWRITEBYTECODE set, every run would otherwise compile the modules it imports).
--rederive also times `archive verify --rederive` (every extractor run again, as verify did
before content leaves).
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
TIME = os.path.exists("/usr/bin/time")


def timed(cmd: list[str], env: dict, cwd: str) -> tuple[float, float, int, int]:
    """(wall s, CPU s, peak RSS KiB, exit code) of a command and the workers it waited for.

    The peak is GNU time's (%M, the largest process of the tree): a child forked from this
    (large) process would report this process's resident set as its own."""
    report = Path(cwd) / "time.out"
    wrapper = ["/usr/bin/time", "-f", "%M", "-o", str(report)] if TIME else []
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*wrapper, *cmd], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss
    if TIME:
        lines = report.read_text().split()
        peak = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    return wall, usage.ru_utime + usage.ru_stime, peak, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, nargs="?")
    parser.add_argument("--synthetic", type=int, help="Generate a history of N commits.")
    parser.add_argument("--docs", type=int, default=300, help="Documents of --synthetic.")
    parser.add_argument("--root", type=Path, default=ROOT, help="The code to run.")
    parser.add_argument("--before", type=Path, help="Also time this checkout's verify.")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tail", type=int, default=100, help="Commits left for --quick.")
    parser.add_argument("--workers", default="", help="Comma-separated worker counts.")
    parser.add_argument(
        "--reextract", action="store_true", help="Run `archive reextract` first (metadata)."
    )
    parser.add_argument(
        "--rederive", action="store_true", help="Also time `archive verify --rederive`."
    )
    args = parser.parse_args()
    if (args.bundle is None) == (args.synthetic is None):
        parser.error("give a BUNDLE or --synthetic N")
    env = {**os.environ, "PYTHONPATH": str(args.root.resolve())}
    archive = [sys.executable, "-m", "archive"]
    for root in filter(None, (args.root, args.before)):
        compiled = [str(root / d) for d in ("archive", "ingest") if (root / d).is_dir()]
        subprocess.run([sys.executable, "-m", "compileall", "-q", *compiled], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        # run from tmp: `python -m` puts the working directory first on the path
        quiet = {"env": env, "check": True, "stdout": subprocess.DEVNULL, "cwd": tmp}
        repo, db = Path(tmp) / "repo.git", Path(tmp) / "archive.db"
        if args.synthetic:
            from span_bench import synthetic_repo  # bench/ is on the path of a bench script

            synthetic_repo(repo, args.synthetic, args.docs)
        else:
            subprocess.run(
                ["git", "clone", "-q", "--bare", str(args.bundle.resolve()), str(repo)],
                check=True,
            )
        ingest = [*archive, "ingest", "--git", str(repo), "--db", str(db)]
        subprocess.run([*ingest, "--ref", f"HEAD~{args.tail}"], **quiet)
        subprocess.run([*archive, "verify", "--db", str(db)], **quiet)
        subprocess.run(ingest, **quiet)
        if args.reextract:
            subprocess.run([*archive, "reextract", "--db", str(db)], **quiet)
        commands = {
            "git fsck --full": (["git", "-C", str(repo), "fsck", "--full"], env),
            "archive verify": ([*archive, "verify", "--db", str(db)], env),
            "archive verify --quick": ([*archive, "verify", "--quick", "--db", str(db)], env),
        }
        if args.rederive:
            commands["archive verify --rederive"] = (
                [*archive, "verify", "--rederive", "--db", str(db)],
                env,
            )
        if args.before is not None:
            before = {**env, "PYTHONPATH": str(args.before.resolve())}
            commands["before: archive verify"] = (commands["archive verify"][0], before)
            commands["before: archive verify --quick"] = (
                commands["archive verify --quick"][0],
                before,
            )
        for n in filter(None, args.workers.split(",")):
            commands[f"archive verify, {n} worker(s)"] = (
                commands["archive verify"][0],
                {**env, "ARCHIVE_VERIFY_WORKERS": n},
            )
        times: dict[str, list] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (cmd, cmd_env) in commands.items():
                if "--quick" in name:  # the tail is new again: forget the verify after it
                    subprocess.run(
                        ["sqlite3", str(db), "DELETE FROM verifications WHERE id > 1"],
                        stderr=subprocess.DEVNULL,
                    )
                times[name].append(timed(cmd, cmd_env, tmp))
    base = statistics.median(t[0] for t in times["git fsck --full"])
    what = f"{args.synthetic} generated commits" if args.synthetic else args.bundle.name
    print(f"{args.root} on {what}, median of {args.runs}, {os.cpu_count()} cores")
    print(f"{'command':34} {'wall s':>7} {'CPU s':>7} {'ratio':>6} {'peak MiB':>9}  exit")
    for name, runs in times.items():
        wall = statistics.median(t[0] for t in runs)
        cpu = statistics.median(t[1] for t in runs)
        peak = max(t[2] for t in runs) / 1024
        codes = sorted({t[3] for t in runs})
        print(f"{name:34} {wall:7.2f} {cpu:7.2f} {wall / base:5.1f}x {peak:9.0f}  {codes}")


if __name__ == "__main__":
    main()
