"""The archive's schema, created and migrated with sqlite-utils.

`PRAGMA user_version` holds the schema version; MIGRATIONS[i] brings a database from
version i to i + 1, so an archive made by any earlier release opens with the current code.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _v1(db: sqlite_utils.Database) -> None:
    """The first public schema: sources, documents, blobs, versions, runs, problems."""
    db["sources"].create(
        {"id": int, "name": str, "kind": str, "location": str, "created_at": str},
        pk="id",
        not_null={"name", "kind", "location"},
    )
    db["sources"].create_index(["name"], unique=True)
    db["sources"].create_index(["kind", "location"], unique=True)
    db["runs"].create(
        {
            "id": int,
            "source_id": int,
            "started_at": str,
            "finished_at": str,
            "tool_version": str,
            "command": str,
            "files_seen": int,
            "new_versions": int,
            "unchanged": int,
            "problems": int,
        },
        pk="id",
        foreign_keys=[("source_id", "sources", "id")],
    )
    db["blobs"].create(
        {
            "blake3": str,
            "sha256": str,
            "size": int,
            "media_type": str,
            "encoding": str,
            "is_text": int,
            "newline": str,
            "flags": str,
            "content": bytes,
        },
        pk="blake3",
        not_null={"sha256", "size", "is_text"},
    )
    db["documents"].create(
        {
            "id": int,
            "source_id": int,
            "path": str,
            "status": str,
            "first_seen": str,
            "last_seen": str,
            "current_version_id": int,
        },
        pk="id",
        foreign_keys=[("source_id", "sources", "id")],
        not_null={"source_id", "path", "status"},
    )
    db["versions"].create(
        {
            "id": int,
            "document_id": int,
            "seq": int,
            "blob": str,
            "path": str,
            "kind": str,
            "run_id": int,
            "observed_at": str,
            "mtime": str,
            "previous_version_id": int,
            "old_path": str,
        },
        pk="id",
        foreign_keys=[
            ("document_id", "documents", "id"),
            ("blob", "blobs", "blake3"),
            ("run_id", "runs", "id"),
            ("previous_version_id", "versions", "id"),
        ],
        not_null={"document_id", "seq", "path", "kind", "run_id", "observed_at"},
    )
    db["documents"].add_foreign_key("current_version_id", "versions", "id")
    db["problems"].create(
        {"id": int, "run_id": int, "path": str, "reason": str},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    for table, columns in [
        ("blobs", ["sha256"]),
        ("documents", ["source_id", "path"]),
        ("documents", ["path"]),
        ("documents", ["status"]),
        ("versions", ["blob"]),
        ("versions", ["run_id"]),
        ("versions", ["observed_at"]),
        ("versions", ["path"]),
        ("versions", ["kind"]),
        ("runs", ["source_id"]),
        ("problems", ["run_id"]),
    ]:
        db[table].create_index(columns)
    db["versions"].create_index(["document_id", "seq"], unique=True)


def _ledger(db: sqlite_utils.Database) -> None:
    """The append-only Merkle log of versions, and each run's checkpoint (tree head).

    Versions recorded before this migration get their leaves at the next run's checkpoint.
    """
    db["ledger"].create(
        {"leaf_index": int, "version_id": int, "leaf": bytes, "leaf_hash": str},
        pk="leaf_index",
        foreign_keys=[("version_id", "versions", "id")],
        not_null={"version_id", "leaf", "leaf_hash"},
    )
    db["ledger"].create_index(["version_id"], unique=True)
    db["runs"].add_column("tree_size", int)
    db["runs"].add_column("tree_root", str)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _ledger]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Apply pending migrations, each in its own transaction; returns the new version."""
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"archive schema version {version} is newer than this tool ({SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        db.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](db)
            version += 1
            db.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        if db.conn.in_transaction:
            db.execute("COMMIT")
    return version
