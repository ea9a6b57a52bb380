"""Oracle for speed work: one digest per table of an archive, so "same bytes stored" is checked.

    python bench/archive_digest.py DB                       # digest an existing archive
    python bench/archive_digest.py --ingest DB -- ARGS...   # `archive ingest ARGS --db DB`
                                                            # with a frozen clock, then digest

Every table in sqlite_master (FTS shadow tables and sqlite_sequence included) is dumped in
primary-key order and hashed, column names and types included. Wall-clock columns (run
start/end, source creation, document first/last seen) are left out; with --ingest the clock
is frozen as well, so a folder's observed_at and the ledger leaves holding it compare too.
Print and compare the output before and after a change: any differing line is a regression.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Wall-clock columns: differ between any two runs, whatever the code.
CLOCK_COLUMNS = {
    ("runs", "started_at"),
    ("runs", "finished_at"),
    ("sources", "created_at"),
    ("documents", "first_seen"),
    ("documents", "last_seen"),
}
FROZEN = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


def _order(conn: sqlite3.Connection, table: str) -> str:
    """ORDER BY clause: the primary key, else rowid."""
    info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    pk = sorted((row[5], row[1]) for row in info if row[5])
    if pk:
        return ", ".join(f'"{name}"' for _, name in pk)
    return "rowid"


def table_digests(db: str) -> dict[str, tuple[int, str]]:
    """{table: (rows, sha256 of its rows)} for every table of the archive."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE "
            "'CREATE VIRTUAL%' ORDER BY name"
        )
    ]
    out = {}
    for table in tables:
        columns = [
            r[1]
            for r in conn.execute(f'PRAGMA table_info("{table}")')
            if (table, r[1]) not in CLOCK_COLUMNS
        ]
        cols = ", ".join(f'"{c}"' for c in columns)
        h = hashlib.sha256(repr(columns).encode())
        n = 0
        for row in conn.execute(f'SELECT {cols} FROM "{table}" ORDER BY {_order(conn, table)}'):
            h.update(repr(row).encode())
            n += 1
        out[table] = (n, h.hexdigest()[:16])
    conn.close()
    return out


def frozen_ingest(db: str, args: list[str]) -> None:
    """Run `archive ingest ARGS --db DB` in this process with the store's clock frozen."""
    import archive.store.database as store_module
    from archive.cli import cli

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206 - datetime's signature
            return FROZEN if tz is None else FROZEN.astimezone(tz)

    store_module.datetime = Frozen  # type: ignore[misc]
    sys.argv = ["archive", "ingest", *args, "--db", db]
    try:
        cli.main(args=sys.argv[1:], prog_name="archive", standalone_mode=False)
    finally:
        store_module.datetime = datetime  # type: ignore[misc]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("db")
    parser.add_argument("--ingest", action="store_true", help="ingest first (frozen clock)")
    parser.add_argument("args", nargs="*", help="arguments of `archive ingest` (after --)")
    opts = parser.parse_args()
    if opts.ingest:
        if Path(opts.db).exists():
            parser.error(f"{opts.db} exists: --ingest starts from an empty archive")
        frozen_ingest(opts.db, opts.args)
    for table, (n, digest) in table_digests(opts.db).items():
        print(f"{table:28} {n:8} {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
