"""The archive's public schema: exact columns, keys, indexes and version."""

from __future__ import annotations

import sqlite3

from archive.store import Store
from archive.store.schema import SCHEMA_VERSION

# The names a Datasette user, canned query or script reads: never renamed.
PUBLIC_COLUMNS = {
    "sources": ["id", "name", "kind", "location", "created_at"],
    "documents": [
        "id",
        "source_id",
        "path",
        "status",
        "first_seen",
        "last_seen",
        "current_version_id",
    ],
    "blobs": [
        "blake3",
        "sha256",
        "size",
        "media_type",
        "encoding",
        "is_text",
        "newline",
        "flags",
        "content",
    ],
    "versions": [
        "id",
        "document_id",
        "seq",
        "blob",
        "path",
        "kind",
        "run_id",
        "observed_at",
        "mtime",
        "previous_version_id",
        "old_path",
    ],
    "runs": [
        "id",
        "source_id",
        "started_at",
        "finished_at",
        "tool_version",
        "command",
        "files_seen",
        "new_versions",
        "unchanged",
        "problems",
    ],
    "problems": ["id", "run_id", "path", "reason"],
}


def columns(conn, table):
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def test_public_columns_exist_in_order(db):
    Store(db).close()
    conn = sqlite3.connect(db)
    for table, expected in PUBLIC_COLUMNS.items():
        assert columns(conn, table)[: len(expected)] == expected, table


def test_foreign_keys(db):
    Store(db).close()
    conn = sqlite3.connect(db)
    fks = {
        (table, r[3], r[2], r[4])
        for table in PUBLIC_COLUMNS
        for r in conn.execute(f"PRAGMA foreign_key_list({table})")
    }
    assert {
        ("documents", "source_id", "sources", "id"),
        ("documents", "current_version_id", "versions", "id"),
        ("versions", "document_id", "documents", "id"),
        ("versions", "blob", "blobs", "blake3"),
        ("versions", "run_id", "runs", "id"),
        ("versions", "previous_version_id", "versions", "id"),
        ("runs", "source_id", "sources", "id"),
        ("problems", "run_id", "runs", "id"),
    } <= fks


def test_filtered_columns_are_indexed(db):
    Store(db).close()
    conn = sqlite3.connect(db)
    indexed = set()
    for table in PUBLIC_COLUMNS:
        for index in conn.execute(f"PRAGMA index_list({table})"):
            cols = [r[2] for r in conn.execute(f"PRAGMA index_info('{index[1]}')")]
            indexed.add((table, cols[0]))
    for needed in [
        ("blobs", "sha256"),
        ("documents", "path"),
        ("documents", "source_id"),
        ("versions", "document_id"),
        ("versions", "blob"),
        ("versions", "run_id"),
        ("versions", "observed_at"),
        ("versions", "kind"),
        ("problems", "run_id"),
    ]:
        assert needed in indexed, needed


def test_schema_version_recorded_and_reopen_is_a_no_op(db):
    Store(db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    schema = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    conn.close()
    Store(db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema


def test_newer_archive_is_refused(db):
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    import pytest

    from archive.store import ArchiveError

    with pytest.raises(ArchiveError, match="newer than this tool"):
        Store(db)
