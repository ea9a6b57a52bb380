#!/usr/bin/env python3
"""Peak memory and time of `archive ingest` on a large file and on many small files.

Two cases, each in a fresh archive, each a separate `archive` process whose peak RSS is read
from the kernel (`ru_maxrss` of the waited-for child), so the figure is the whole process:
  large:  one file of --size (default 2 GiB) of text-like, mostly repetitive bytes (FastCDC
          has chunks to share; --random: incompressible bytes, every chunk new), then
          `archive show` of it back into /dev/null (streamed) and `archive verify`;
  many:   --files (default 20,000) small text files in 200 folders.
Prints seconds and peak MiB per step. The large file is written once to --work (default a
temporary folder; it needs --size free bytes, and the archive about as much again).

    python bench/hostile_bench.py [--size 2G] [--random] [--files 20000] [--work DIR]
                                  [--skip large|many]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = "the of and to in archive document policy terms service user data may we our".split()


def size_arg(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def run(args: list[str], stdout=subprocess.DEVNULL) -> tuple[float, float, int]:
    """(seconds, peak MiB, exit code) of one child process."""
    start = time.perf_counter()
    pid = subprocess.Popen(args, stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT).pid
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def write_large(path: Path, size: int, incompressible: bool, seed: int = 3) -> None:
    """Text-like bytes: lines of words, with a random block now and then (some chunks repeat,
    most do not), or random bytes; written in 8 MiB pieces."""
    rng = random.Random(seed)
    if incompressible:
        with open(path, "wb") as f:
            for at in range(0, size, 8 << 20):
                f.write(rng.randbytes(min(8 << 20, size - at)))
        return
    line = " ".join(rng.choice(WORDS) for _ in range(12)).encode() + b"\n"
    block = line * ((8 << 20) // len(line))
    with open(path, "wb") as f:
        written = 0
        while written < size:
            piece = bytearray(block[: min(len(block), size - written)])
            at = rng.randrange(0, max(1, len(piece) - 64))
            piece[at : at + 64] = rng.randbytes(min(64, len(piece) - at))
            f.write(piece)
            written += len(piece)


def write_many(folder: Path, files: int, seed: int = 5) -> None:
    rng = random.Random(seed)
    for i in range(files):
        sub = folder / f"d{i % 200:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 400)))
        (sub / f"f{i:05d}.txt").write_text(words + "\n")


def report(label: str, seconds: float, mib: float, code: int) -> None:
    print(f"{label:<34} {seconds:8.1f} s  {mib:8.0f} MiB peak  exit {code}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=size_arg, default=size_arg("2G"))
    ap.add_argument("--random", action="store_true", help="incompressible large file")
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--skip", choices=["large", "many"], default=None)
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="hostile-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    archive = [sys.executable, "-m", "archive"]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        if args.skip != "large":
            folder = work / "large"
            folder.mkdir(exist_ok=True)
            big = folder / ("big.bin" if args.random else "big.txt")
            for old in folder.iterdir():
                if old != big:
                    old.unlink()
            if not big.exists() or big.stat().st_size != args.size:
                write_large(big, args.size, args.random)
            db = work / "large.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            kind = "random" if args.random else "text-like"
            print(f"large: one {kind} file of {args.size / (1 << 20):,.0f} MiB", flush=True)
            report("  ingest", *run([*archive, "ingest", str(folder), "--db", str(db)]))
            report("  show (to /dev/null)", *run([*archive, "show", big.name, "--db", str(db)]))
            report("  verify", *run([*archive, "verify", "--db", str(db)]))
            print(f"  archive file: {db.stat().st_size / (1 << 20):,.0f} MiB", flush=True)
        if args.skip != "many":
            folder = work / "many"
            if not folder.exists():
                write_many(folder, args.files)
            db = work / "many.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            print(f"many: {args.files:,} small files", flush=True)
            report("  ingest", *run([*archive, "ingest", str(folder), "--db", str(db)]))
            report(
                "  ingest again (nothing new)",
                *run([*archive, "ingest", str(folder), "--db", str(db)]),
            )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
