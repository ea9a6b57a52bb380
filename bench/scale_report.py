"""Every row of issue #18's table in one run: our figure, the peer's, the ratio, the target.

    python bench/scale_report.py [samples/terms-sample.bundle] [--runs 3] [--skip serve]

Runs the benchmark that owns each row as a subprocess, one after the other (so they do not
compete for the cores), shows its full output, then gathers the headline figures into one
table: the import against `git log --first-parent -p --word-diff=porcelain` (pool_bench.py),
the archive as imported against the `git gc` pack (size_bench.py), `verify` and `verify
--quick` against `git fsck --full` (verify_bench.py), start-up (startup_bench.py) and the
cold-page p99 at 32 connections (serve_bench.sh, when Debian's `wrk` is installed). A row
whose figure cannot be read says so rather than guessing. The checkout is byte-compiled
first, as an installed package is (where PYTHONDONTWRITEBYTECODE is set, every process would
otherwise compile the modules it imports from source: about 0.2 s each).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def run(cmd: list[str]) -> str:
    """One benchmark's output, echoed as it is read."""
    print("$", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    print(done.stdout + done.stderr, flush=True)
    return done.stdout


def found(pattern: str, text: str) -> tuple[str, ...] | None:
    """The groups of the first line matching pattern, or None."""
    match = re.search(pattern, text, re.MULTILINE)
    return match.groups() if match else None


def import_rows(bundle: Path, runs: int) -> list[tuple]:
    out = run([sys.executable, str(BENCH / "pool_bench.py"), str(bundle), "--runs", str(runs)])
    git = found(r"word-diff=porcelain: +([\d.]+) s", out)
    rows = []
    for workers in (1, 2):
        ours = found(rf"ARCHIVE_WORKERS={workers}: +([\d.]+) s wall", out)
        rows.append((f"import, {workers} worker(s)", ours, git, 5.0))
    same = "identical" if "digests: identical" in out else "DIFFER"
    rows.append(("import digests, 1 vs 2 workers", (same,), None, None))
    return rows


def size_rows(bundle: Path) -> list[tuple]:
    out = run([sys.executable, str(BENCH / "size_bench.py"), str(bundle)])
    ours = found(r"archive as imported: +([\d.]+) MiB", out)
    ratio = found(r"archive as imported: .*\(([\d.]+)x git pack\)", out)
    # the peer as the ratio gives it (the printed MiB are rounded to 0.1)
    pack = None if not (ours and ratio) else (str(float(ours[0]) / float(ratio[0])),)
    return [("size as imported (MiB)", ours, pack, 2.0)]


def verify_rows(bundle: Path, runs: int) -> list[tuple]:
    cmd = [sys.executable, str(BENCH / "verify_bench.py"), str(bundle), "--runs", str(runs)]
    out = run(cmd)
    git = found(r"^git fsck --full +([\d.]+)", out)
    full = found(r"^archive verify +([\d.]+)", out)
    quick = found(r"^archive verify --quick +([\d.]+)", out)
    return [("verify", full, git, 3.0), ("verify --quick", quick, git, None)]


def startup_rows(runs: int) -> list[tuple]:
    out = run([sys.executable, str(BENCH / "startup_bench.py"), "--runs", str(runs)])
    rows = []
    for name, target in (("archive --help", 150.0), ("archive lookup FILE", 250.0)):
        ms = found(rf"^{re.escape(name)} +([\d.]+)", out)
        rows.append((f"{name} (ms)", ms, None, target))
    return rows


def serve_rows(bundle: Path) -> list[tuple]:
    if not shutil.which("wrk"):
        return [("cold page p99 (ms), 32 connections", ("no wrk",), None, 100.0)]
    with tempfile.TemporaryDirectory(prefix="scale-report-") as tmp:
        repo, db = Path(tmp) / "repo.git", Path(tmp) / "archive.db"
        subprocess.run(["git", "clone", "-q", "--bare", str(bundle), str(repo)], check=True)
        ingest = [sys.executable, "-m", "archive", "ingest", "--git", str(repo), "--db", str(db)]
        subprocess.run(ingest, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        out = run(["bash", str(BENCH / "serve_bench.sh"), str(db)])
    p99 = found(r"^varied +\S+ +\S+ +([\d.]+)ms", out)
    return [("cold page p99 (ms), 32 connections", p99, None, 100.0)]


def line(name: str, ours: tuple | None, peer: tuple | None, target: float | None) -> str:
    """One row: figure, peer, ratio and whether the target holds."""
    if ours is None:
        return f"{name:38} {'(not read: see the output above)':>40}"
    if not ours[0].replace(".", "").isdigit():
        return f"{name:38} {ours[0]:>10}"
    value = float(ours[0])
    if peer is None:
        met = "" if target is None else ("met" if value <= target else f"target {target:g}")
        return f"{name:38} {value:10.2f} {'':>10} {'':>8}  {met}"
    ratio = value / float(peer[0])
    met = "" if target is None else ("met" if ratio <= target else f"target {target:g}x")
    return f"{name:38} {value:10.2f} {float(peer[0]):10.2f} {ratio:7.1f}x  {met}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "bundle", type=Path, nargs="?", default=ROOT / "samples/terms-sample.bundle"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], help="import size verify startup serve")
    args = parser.parse_args()
    bundle = args.bundle.resolve()
    packages = [str(ROOT / p) for p in ("archive", "ingest")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)
    parts = {
        "import": lambda: import_rows(bundle, args.runs),
        "size": lambda: size_rows(bundle),
        "verify": lambda: verify_rows(bundle, args.runs),
        "startup": lambda: startup_rows(max(args.runs, 11)),
        "serve": lambda: serve_rows(bundle),
    }
    rows = [row for name, part in parts.items() if name not in args.skip for row in part()]
    print(f"{'work':38} {'us':>10} {'peer':>10} {'ratio':>8}  target")
    for row in rows:
        print(line(*row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
