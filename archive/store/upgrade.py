"""Upgrades: pending migrations applied, then data steps bring old rows to today's format.

Why apart from the migrations: a migration is frozen DDL that must run the same in a year,
while converting rows (packing texts into passages, re-encoding deltas, bounding reads) needs
today's packer and codec. Migrations name the steps they leave (`schema.DATA_STEPS`); the
store runs them here, in migration order, inside the migrating transaction, so a step always
writes the current format and an interrupted upgrade leaves the archive as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from itertools import groupby
from operator import itemgetter

from archive.store.content import read_text
from archive.store.delta_codec import PLAIN_CODEC, repacked
from archive.store.metadata_rows import put_items
from archive.store.passage_store import PassageStore
from archive.store.schema import DATA_STEPS, MIGRATIONS, SCHEMA_VERSION


def pack_passages(conn: sqlite3.Connection) -> None:
    """Text blobs still held whole become passages (their reads bounded later)."""
    PassageStore(conn).pack_all(snapshots=False)


def repack_deltas(conn: sqlite3.Connection) -> None:
    """First-codec deltas re-encoded primed with their old text where that is smaller; a row
    that does not decompress, or whose old text is gone, is left for `archive verify`."""
    rows = conn.execute(
        "SELECT rowid, from_blob, delta, delta_codec FROM diffs WHERE delta_codec = ?"
        " ORDER BY rowid",
        (PLAIN_CODEC,),
    ).fetchall()
    texts: dict[str, str | None] = {}
    for rowid, blob, delta, codec in rows:
        if blob not in texts:
            texts = {blob: read_text(conn, blob)}  # the last old text only: memory stays flat
        old = texts[blob]
        packed = None if old is None else repacked({"delta": delta, "delta_codec": codec}, old)
        if packed is not None:
            conn.execute(
                "UPDATE diffs SET delta = ?, delta_codec = ? WHERE rowid = ?", (*packed, rowid)
            )


def bound_passages(conn: sqlite3.Connection) -> None:
    """Every text's read bounded by a snapshot where it needs one, oldest version first."""
    PassageStore(conn).bound_all()


def pack_items(conn: sqlite3.Connection) -> None:
    """Items of the table `_lean` renamed to blob_items_old become item sets (the
    `blob_items` view reads them the same), blob by blob in storage order; then it goes."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'blob_items_old'").fetchone():
        return
    rows = conn.execute(
        "SELECT blob, key, ordinal, value, detail FROM blob_items_old WHERE blob IS NOT NULL"
        " AND key IS NOT NULL AND ordinal IS NOT NULL AND value IS NOT NULL"
        " ORDER BY blob, key, ordinal"  # a NULL key part was never written: left out
    )
    for blob, group in groupby(rows, key=itemgetter(0)):
        items = {(k, n): (k, n, v, d) for _, k, n, v, d in group}  # one per (key, ordinal)
        put_items(conn, blob, items.values())
    conn.execute("DROP TABLE blob_items_old")


STEPS: dict[str, Callable[[sqlite3.Connection], None]] = {
    "pack_passages": pack_passages,
    "repack_deltas": repack_deltas,
    "bound_passages": bound_passages,
    "pack_items": pack_items,
}


def run(conn: sqlite3.Connection, names: list[str]) -> None:
    """Run the named data steps in order (each at most once)."""
    for name in dict.fromkeys(names):
        STEPS[name](conn)


class SchemaError(Exception):
    """The archive's schema cannot be used by this release."""


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, data_steps: Callable[[list[str]], None]) -> int:
    """Apply pending migrations and their data steps in one transaction; the new version.

    The write lock is taken before the version is read, so two processes opening an old
    archive at once both succeed: the second finds it migrated. data_steps runs the named
    steps (in migration order) after the last migration, inside the same transaction, so an
    interrupted upgrade leaves the archive as it was. sqlite-utils is imported only when
    there is something to migrate (it is slow to load).
    """
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"archive schema version {version} is newer than this tool ({SCHEMA_VERSION})"
        )
    if version == SCHEMA_VERSION:
        return version
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    db.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn)  # another process may have migrated meanwhile
        steps = [DATA_STEPS[i] for i in range(version, SCHEMA_VERSION) if i in DATA_STEPS]
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](db)
            version += 1
        if steps:
            data_steps(steps)
        db.execute(f"PRAGMA user_version = {version}")
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    if db.conn.in_transaction:
        db.execute("COMMIT")
    return version
