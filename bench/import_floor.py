"""The floor under `archive ingest --git`: what any import must do before it diffs or stores.

    python bench/import_floor.py samples/terms-sample.bundle [--runs 5]

Each step runs as a fresh process, median of --runs, next to the issue's peer
(`git log -p --word-diff=porcelain --first-parent`, on a bare clone made once):
  - start-up: Python starting and importing the `archive` command (`archive --help`);
  - read + hash, repository: every first-parent commit and every blob it adds, read through
    ingest.gitsource from the bare clone and hashed (BLAKE3 and SHA-256), nothing stored;
  - read + hash, bundle: the same from the .bundle, which must be cloned first.
If the floor is already near 2x the peer, no diff engine can bring the whole import there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_bench import GIT_ENV, ROOT, bare_repo, timed  # noqa: E402

READ_AND_HASH = """
import sys
from ingest.gitsource import GitSource
from ingest.hashing import digests
source = GitSource(sys.argv[1])
try:
    oids = [c.blob for commit in source.commits() for c in commit.changes if c.blob]
    for _oid, data in source.read_blobs(oids):
        digests(data)
finally:
    source.close()
"""


def median_wall(cmd: list[str], runs: int, **kw) -> float:
    return statistics.median(timed(cmd, **kw)[0] for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**GIT_ENV, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="import-floor-") as tmp:
        bare = bare_repo(args.bundle.resolve(), Path(tmp))
        peer = ["git", f"--git-dir={bare}", "log", "-p", "--word-diff=porcelain"]
        rows = {
            "git log -p --word-diff=porcelain (peer)": median_wall(
                peer + ["--first-parent", "HEAD"], args.runs, env=GIT_ENV
            ),
            "start-up: archive --help": median_wall(
                [sys.executable, "-m", "archive", "--help"], args.runs, env=env
            ),
            "read + hash, repository": median_wall(
                [sys.executable, "-c", READ_AND_HASH, str(bare)], args.runs, env=env
            ),
            "read + hash, bundle (clone first)": median_wall(
                [sys.executable, "-c", READ_AND_HASH, str(args.bundle.resolve())],
                args.runs,
                env=env,
            ),
        }
    peer_s = next(iter(rows.values()))
    for name, seconds in rows.items():
        print(f"{name:42} {seconds:6.2f} s  {seconds / peer_s:5.2f}x peer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
