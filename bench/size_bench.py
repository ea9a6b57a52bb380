"""Where an archive's bytes are: each table's size (SQLite's dbstat) against git's packed size.

    python bench/size_bench.py REPO_OR_BUNDLE            # import it afresh, then measure
    python bench/size_bench.py --db ARCHIVE.db --git-dir GIT_DIR   # measure an existing one

Prints the archive file as the import leaves it (database + WAL, no manual VACUUM) and as it
is served (the snapshot `archive serve` / `archive package` take, the search indexes built in
it: `archive.passages.indexing.indexed_snapshot`, with the CPU seconds that took), the
imported file after `VACUUM` (what compaction could still win), the repository's pack after
`git gc --aggressive`, their ratios (target: within 2x), and each table with its indexes
folded into it, largest first, in MiB (payload and unused bytes included), in both files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_bench import GIT_ENV, ROOT, bare_repo, git_dir_of, packed_kib  # noqa: E402

sys.path.insert(0, str(ROOT))
from archive.passages.indexing import indexed_snapshot  # noqa: E402
from archive.store import Store  # noqa: E402

MIB = 2**20


def table_sizes(db: Path) -> list[tuple[str, int]]:
    """(table, bytes) with each index counted in its table, largest first (dbstat)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        owner = dict(
            conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table','index')")
        )
        sizes: dict[str, int] = {}
        for name, pgsize in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            sizes[table] = sizes.get(table, 0) + pgsize
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    if free:
        sizes["(free pages)"] = free * page
    return sorted(sizes.items(), key=lambda kv: -kv[1])


def file_size(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())


def gc_pack(git_dir: Path, tmp: Path, aggressive: bool = True) -> int:
    """Bytes of the history packed by `git gc --aggressive` (or plain `git gc`: its default
    window and depth) in a bare copy, the repo untouched."""
    copy = tmp / ("gc-aggressive.git" if aggressive else "gc.git")
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", "--no-local", str(git_dir), str(copy)],
        check=True,
        env=GIT_ENV,
    )
    subprocess.run(
        [
            "git",
            f"--git-dir={copy}",
            "gc",
            "--quiet",
            *(["--aggressive"] * aggressive),
            "--prune=now",
        ],
        check=True,
        env=GIT_ENV,
    )
    return packed_kib(copy) * 1024


def served(db: Path) -> tuple[Path, float]:
    """The snapshot `archive serve` takes of db (search indexes built in it), and the CPU
    seconds (this process: indexing is single-threaded) that took."""
    snapshot = db.parent / "served" / db.name
    snapshot.parent.mkdir()
    before = os.times()
    with Store(db, create=False) as store:
        indexed_snapshot(store, snapshot)
    after = os.times()
    return snapshot, (after.user - before.user) + (after.system - before.system)


def report(db: Path, packed: int) -> None:
    size = file_size(db)
    print(f"archive as imported: {size / MIB:8.1f} MiB  ({size / packed:.2f}x git pack)")
    snapshot, cpu = served(db)
    shown = file_size(snapshot)
    print(
        f"as served:           {shown / MIB:8.1f} MiB  ({shown / packed:.2f}x git pack;"
        f" the snapshot with its search indexes, built in {cpu:.2f} s CPU)"
    )
    vacuumed = db.parent / "vacuumed.db"
    conn = sqlite3.connect(db)
    conn.execute("VACUUM INTO ?", (str(vacuumed),))
    conn.close()
    after = vacuumed.stat().st_size
    print(f"after VACUUM:        {after / MIB:8.1f} MiB  ({after / packed:.2f}x git pack)")
    print(f"git pack (gc):       {packed / MIB:8.1f} MiB  (target: archive within 2x)")
    imported, snap = dict(table_sizes(db)), table_sizes(snapshot)
    print(f"  {'table':<28} {'imported':>12} {'served':>12}")
    for table, n in snap + [(t, 0) for t in imported if t not in dict(snap)]:
        mine = imported.get(table, 0)
        print(f"  {table:<28} {mine / MIB:8.2f} MiB {n / MIB:8.2f} MiB  {100 * n / shown:5.1f}%")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo", type=Path, nargs="?")
    parser.add_argument("--db", type=Path, help="an existing archive (with --git-dir)")
    parser.add_argument("--git-dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="size-bench-") as tmpname:
        tmp = Path(tmpname)
        if args.db:
            if not args.git_dir:
                parser.error("--db needs --git-dir")
            db = tmp / "archive.db"
            shutil.copy(args.db, db)
            report(db, gc_pack(args.git_dir, tmp))
            return 0
        if not args.repo:
            parser.error("give a repository or bundle, or --db and --git-dir")
        repo = args.repo.resolve()
        bare = bare_repo(repo, tmp)
        git_dir = bare if repo.is_file() else git_dir_of(bare)
        db = tmp / "archive.db"
        cmd = [sys.executable, "-m", "archive", "ingest", "--git", str(repo), "--db", str(db)]
        subprocess.run(
            cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)}
        )
        report(db, gc_pack(git_dir, tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
