"""Version rows: the plain data planning takes and gives, and a batch's rows written at once.

Planning (archive/record/plan.py) turns observations and document states (`DocState`,
`Observed`) into changes (`Change`); the store reads the states and writes the changes, so
their shapes live here, below both. A git import records up to a few hundred commits per
transaction: rather than a handful of statements per version (insert, update its document,
read it back for its leaf), the recording side keeps the batch's document states in memory
and hands the finished rows here: documents, commits, versions and provenance each go in
with one executemany.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field

from archive.errors import ArchiveError


@dataclass(frozen=True)
class DocState:
    document_id: int
    path: str
    present: bool
    blob: str | None  # current content (None when deleted)
    seen_blobs: Container[str] = field(default_factory=frozenset)  # every content it had


@dataclass(frozen=True)
class Observed:
    path: str
    blob: str
    mtime: str | None = None


@dataclass(frozen=True)
class Change:
    kind: str  # added, modified, renamed, deleted, restored (after deletion), reverted
    document_id: int | None  # None: a new document
    path: str
    blob: str | None
    previous_blob: str | None  # the document's content before this change
    mtime: str | None = None
    old_path: str | None = None


VERSION_COLUMNS = (
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
    "commit",
    "sidecar_blob",
    "same_as_version_id",
)
COMMIT_COLUMNS = (
    "oid",
    "source_id",
    "position",
    "author_name",
    "author_email",
    "author_date",
    "committer_name",
    "committer_email",
    "committer_date",
    "message",
    "parents",
)
CHUNK = 500  # bound parameters per IN (...) list


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class VersionRows:
    """Batch reads and writes of documents, versions and commits; mixed into `Store`."""

    conn: sqlite3.Connection
    query_one: Callable[..., dict | None]

    def next_row_ids(self) -> tuple[int, int]:
        """The ids the next document and the next version would get (max rowid + 1: neither
        table is AUTOINCREMENT), so rows written together can be numbered beforehand."""
        (doc,) = self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM documents").fetchone()
        (ver,) = self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM versions").fetchone()
        return doc, ver

    def version_columns(self) -> tuple[str, ...]:
        """The `versions` table's columns now (a migration may have added some)."""
        return tuple(r[1] for r in self.conn.execute('PRAGMA table_info("versions")'))

    def document_rows_at(self, source_id: int, paths: Sequence[str]) -> list[tuple]:
        """(id, path, status, current_version_id, current blob, last seq, last blob with
        content) of a source's documents at these paths, by id: what planning and numbering
        the next versions of each needs."""
        rows: list[tuple] = []
        for part in _chunks(sorted(set(paths))):
            rows += self.conn.execute(
                "SELECT d.id, d.path, d.status, d.current_version_id, v.blob,"
                " (SELECT MAX(seq) FROM versions WHERE document_id = d.id),"
                " (SELECT p.blob FROM versions p WHERE p.document_id = d.id"
                " AND p.blob IS NOT NULL ORDER BY p.seq DESC LIMIT 1)"
                " FROM documents d LEFT JOIN versions v ON v.id = d.current_version_id"
                f" WHERE d.source_id = ? AND d.path IN ({','.join('?' * len(part))})",
                [source_id, *part],
            ).fetchall()
        return sorted(rows)

    def latest_versions_with(
        self, document_ids: Iterable[int], blobs: Iterable[str]
    ) -> dict[tuple[int, str], int]:
        """{(document, blob): its latest version with that content} for these documents and
        contents: which contents a document had (reverts) and its `same_as` version."""
        docs = set(document_ids)
        keys = sorted(set(blobs))
        found: dict[tuple[int, str], tuple[int, int]] = {}
        if not docs:
            return {}
        for part in _chunks(keys):
            for doc, blob, seq, vid in self.conn.execute(
                "SELECT document_id, blob, seq, id FROM versions"
                f" WHERE blob IN ({','.join('?' * len(part))})",
                list(part),
            ):
                if doc in docs and ((doc, blob) not in found or found[(doc, blob)][0] < seq):
                    found[(doc, blob)] = (seq, vid)
        return {key: vid for key, (_, vid) in found.items()}

    def blob_facts(self, blobs: Iterable[str]) -> dict[str, dict]:
        """{blake3: sha256, size, media_type, is_text} of these contents."""
        keys = sorted(set(blobs))
        out: dict[str, dict] = {}
        for part in _chunks(keys):
            for row in self.conn.execute(
                "SELECT blake3, sha256, size, media_type, is_text FROM blobs"
                f" WHERE blake3 IN ({','.join('?' * len(part))})",
                list(part),
            ):
                out[row[0]] = {
                    "sha256": row[1],
                    "size": row[2],
                    "media_type": row[3],
                    "is_text": row[4],
                }
        return out

    def source_row(self, source_id: int) -> dict | None:
        return self.query_one("SELECT * FROM sources WHERE id = ?", (source_id,))

    def insert_commits(self, rows: Sequence[dict]) -> None:
        """Imported commits (columns of `commits`); an oid imported before is refused, named
        (the first of the batch in the archive already: looked for before any is written)."""
        oids = [r["oid"] for r in rows]
        there: dict[str, str] = {}
        for part in _chunks(oids):
            there.update(
                self.conn.execute(
                    "SELECT c.oid, s.name FROM commits c JOIN sources s ON s.id = c.source_id"
                    f" WHERE c.oid IN ({','.join('?' * len(part))})",
                    list(part),
                ).fetchall()
            )
        oid = next((o for o in oids if o in there), None)
        if oid is None and len(set(oids)) < len(oids):  # twice in the batch itself
            oid = next(o for i, o in enumerate(oids) if o in oids[:i])
        if oid is not None:
            where = f" from source {there[oid]}" if oid in there else ""
            raise ArchiveError(f"commit {oid} is already in the archive{where}")
        self.conn.executemany(
            f"INSERT INTO commits ({', '.join(COMMIT_COLUMNS)})"
            f" VALUES ({', '.join(':' + c for c in COMMIT_COLUMNS)})",
            rows,
        )

    def write_versions(
        self,
        new_documents: Sequence[tuple],
        versions: Sequence[dict],
        documents: Sequence[tuple],
        provenance: Sequence[tuple],
    ) -> None:
        """A batch's rows, ids given: new documents (id, source_id, path, status, first_seen,
        last_seen), versions (VERSION_COLUMNS), each touched document's state after the batch
        (path, status, current_version_id, last_seen, id) and (version_id, origin, key,
        value) provenance rows."""
        self.conn.executemany(
            "INSERT INTO documents (id, source_id, path, status, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            new_documents,
        )
        quoted = ", ".join(f'"{c}"' for c in VERSION_COLUMNS)
        self.conn.executemany(
            f"INSERT INTO versions ({quoted}) VALUES ({', '.join('?' * len(VERSION_COLUMNS))})",
            [tuple(v[c] for c in VERSION_COLUMNS) for v in versions],
        )
        self.conn.executemany(
            "UPDATE documents SET path = ?, status = ?, current_version_id = ?, last_seen = ?"
            " WHERE id = ?",
            documents,
        )
        self.conn.executemany(
            "INSERT OR REPLACE INTO version_provenance (version_id, origin, key, value)"
            " VALUES (?, ?, ?, ?)",
            provenance,
        )
