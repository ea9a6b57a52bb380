"""The `Store` facade: one archive file, its connection, its write lock and its core rows.

Every SQL statement of the archive lives in this package (the plugin's read queries aside).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from archive import __version__
from archive.errors import ArchiveError
from archive.store import content as chunks
from archive.store.content import iter_content, read_content, read_text
from archive.store.derived_rows import DerivedRows
from archive.store.groups import GroupReader, TextCache
from archive.store.ledger_rows import LedgerRows, TrustRows
from archive.store.metadata_rows import MetadataRows, WebRows
from archive.store.upgrade import SchemaError, migrate
from archive.store.upgrade import run as run_data_steps
from archive.store.version_rows import Change, DocState, VersionRows
from ingest.content import BlobInfo

# How long a writer waits for another; ARCHIVE_BUSY_TIMEOUT overrides (seconds).
BUSY_TIMEOUT_S = float(os.environ.get("ARCHIVE_BUSY_TIMEOUT", "30"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# Free pages (of all pages) past which an import's end compacts the file (`Store.compact`).
COMPACT_FREE = 0.1


def _busy(e: sqlite3.OperationalError) -> bool:
    return "locked" in str(e) or "busy" in str(e)


def _open(path: str) -> sqlite3.Connection:
    """A connection in WAL mode on a migrated archive (closed again if that fails)."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn, lambda steps: run_data_steps(conn, steps))
    except BaseException:
        conn.close()
        raise
    return conn


class SeenBlobs:
    """The contents a document has had, asked one at a time (`blob in seen`: an index search)
    rather than read whole for each commit that touches it: a long history's documents have
    hundreds of versions, and planning asks about one content."""

    __slots__ = ("conn", "document_id")

    def __init__(self, conn: sqlite3.Connection, document_id: int) -> None:
        self.conn = conn
        self.document_id = document_id

    def __contains__(self, blob: object) -> bool:
        return (
            self.conn.execute(
                "SELECT 1 FROM versions WHERE blob = ? AND +document_id = ? LIMIT 1",
                (blob, self.document_id),
            ).fetchone()
            is not None
        )


class Store(MetadataRows, LedgerRows, DerivedRows, WebRows, TrustRows, VersionRows):
    """One archive file. Writers take the lock with `write()`; readers never block them (WAL)."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True):
        self.path = os.fspath(path)
        if not create and not os.path.exists(self.path):
            raise ArchiveError(
                f"no archive at {os.path.abspath(self.path)}: give --db FILE (or set ARCHIVE_DB)"
                " to use another archive, or run `archive ingest DIR` to make one there"
            )
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                conn = _open(self.path)
                break
            except sqlite3.OperationalError as e:
                # a lock SQLite will not wait for (e.g. the switch to WAL racing another
                # process's first open): open again, within the same busy timeout
                if not _busy(e) or time.monotonic() >= deadline:
                    raise ArchiveError(f"{self.path} is not a usable archive: {e}") from None
                time.sleep(0.01)
            except sqlite3.DatabaseError as e:
                raise ArchiveError(f"{self.path} is not a usable archive: {e}") from None
            except SchemaError as e:
                raise ArchiveError(f"{self.path}: {e}") from None
        self.conn = conn
        self.texts: TextCache | None = None  # set by an ingest: texts it has just decoded
        self.on_wait: Callable[[float], None] | None = None  # see write()

    @classmethod
    def over(cls, conn: sqlite3.Connection) -> Store:
        """A Store on a connection opened elsewhere (Datasette's, read-only): no pragmas, no
        migration, so the store's queries serve the published snapshot too."""
        store = cls.__new__(cls)
        store.path, store.conn, store.texts, store.on_wait = "", conn, None, None
        return store

    @property
    def db(self):
        """A sqlite-utils view of the connection (imported on demand: it is slow to import)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def compact(self, min_free: float | None = None) -> bool:
        """Leave the file compact after an import: VACUUM when at least min_free of its pages
        are free (an import frees the pages of each text content it moves into passages,
        and leaves the pages around them half empty), then truncate the WAL. Rows, rowids
        and every stored byte stay as they are; only their pages move. Skipped (False) when
        another connection keeps the file busy: compaction is never worth failing for."""
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
        if not pages or free < (COMPACT_FREE if min_free is None else min_free) * pages:
            return False
        try:
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as e:
            if not _busy(e):
                raise
            return False
        return True

    def _begin(self, at_once: bool) -> None:
        """BEGIN IMMEDIATE, failing at once (at_once) or after the usual busy timeout."""
        if at_once:
            self.conn.execute("PRAGMA busy_timeout = 0")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        finally:
            if at_once:
                self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    @contextmanager
    def write(self) -> Iterator[None]:
        """One atomic batch: all of it lands or none of it does.

        When another writer holds the archive, `on_wait` (if set) is called once before
        waiting for it (up to BUSY_TIMEOUT_S), so a command can say why it pauses."""
        try:
            self._begin(self.on_wait is not None)
        except sqlite3.OperationalError as e:
            if not _busy(e):
                raise
            if self.on_wait is not None:
                self.on_wait(BUSY_TIMEOUT_S)
            try:
                self._begin(False)
            except sqlite3.OperationalError as again:
                if _busy(again):
                    raise ArchiveError(
                        f"{self.path} is busy: another ingest is writing it; "
                        "try again when it has finished"
                    ) from None
                raise
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def query_one(self, sql: str, params: Sequence | dict = ()) -> dict | None:
        """The first row, or None."""
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def query(self, sql: str, params: Sequence | dict = ()) -> list[dict]:
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # Sources and runs -------------------------------------------------------------------

    def source(self, kind: str, location: str, name: str | None = None) -> dict:
        """The source row for (kind, location), created on first use with a unique name."""
        rows = self.query("SELECT * FROM sources WHERE kind = ? AND location = ?", (kind, location))
        if rows:
            return rows[0]
        base = name or os.path.basename(location.rstrip("/")) or location
        taken = {r["name"] for r in self.query("SELECT name FROM sources")}
        unique, n = base, 2
        while unique in taken:
            unique, n = f"{base}-{n}", n + 1
        self.conn.execute(
            "INSERT INTO sources (name, kind, location, created_at) VALUES (?, ?, ?, ?)",
            (unique, kind, location, now_iso()),
        )
        return self.query("SELECT * FROM sources WHERE name = ?", (unique,))[0]

    def location_of(self, path: str) -> str:
        """How a source path is recorded: relative to the archive's folder when inside it.

        So the same folder is the same source whatever the working directory, and an
        archive built next to its corpus records the same rows on any machine.
        """
        real = os.path.realpath(path)
        base = os.path.dirname(os.path.realpath(self.path))
        rel = os.path.relpath(real, base)
        return real if rel == ".." or rel.startswith(".." + os.sep) else rel.replace(os.sep, "/")

    def root_of(self, source: dict) -> str:
        """The absolute path of a source's recorded location."""
        base = os.path.dirname(os.path.realpath(self.path))
        return os.path.normpath(os.path.join(base, source["location"]))

    def sources(self) -> list[dict]:
        return self.query("SELECT * FROM sources ORDER BY id")

    def start_run(self, source_id: int, command: str, started_at: str) -> int:
        cursor = self.conn.execute(
            "INSERT INTO runs (source_id, started_at, tool_version, command) VALUES (?, ?, ?, ?)",
            (source_id, started_at, __version__, command),
        )
        return cursor.lastrowid

    def finish_run(self, run_id: int, **counts: int) -> None:
        sets = ", ".join(f"{k} = :{k}" for k in counts)
        self.conn.execute(
            f"UPDATE runs SET finished_at = :finished_at, {sets} WHERE id = :id",
            {**counts, "finished_at": now_iso(), "id": run_id},
        )

    def add_problems(self, run_id: int, problems: Iterable[tuple[str, str]]) -> None:
        self.conn.executemany(
            "INSERT INTO problems (run_id, path, reason) VALUES (?, ?, ?)",
            [(run_id, path, reason) for path, reason in problems],
        )

    def run(self, run_id: int) -> dict:
        return self.query("SELECT * FROM runs WHERE id = ?", (run_id,))[0]

    # Blobs ------------------------------------------------------------------------------

    def known_blobs(self, hashes: Iterable[str]) -> set[str]:
        known: set[str] = set()
        hashes = list(dict.fromkeys(hashes))
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            known.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT blake3 FROM blobs WHERE blake3 IN ({marks})", chunk
                )
            )
        return known

    def insert_blob(self, info: BlobInfo, content: bytes | None) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO blobs (blake3, sha256, size, media_type, encoding, is_text,"
            " newline, flags, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                info.blake3,
                info.sha256,
                info.size,
                info.media_type,
                info.encoding,
                int(info.is_text),
                info.newline,
                ",".join(info.flags),
                content,
            ),
        )

    def put_chunks(self, pieces: Iterable) -> list[str]:
        """Store a stream's chunks as they come (see archive.store.content); their hashes."""
        return chunks.put_chunks(self.conn, pieces)

    def insert_chunked_blob(self, info: BlobInfo, order: list[str]) -> None:
        """A large content's blob row (content NULL) and its chunk list."""
        self.insert_blob(info, None)
        chunks.link_chunks(self.conn, info.blake3, order)

    def unused_chunks(self) -> list[str]:
        return chunks.unused_chunks(self.conn)

    def similarity_content(self, blake3: str) -> bytes | None:
        """A content for rename detection; None for a chunked (large) one, never read whole."""
        if chunks.is_chunked(self.conn, blake3):
            return None
        return self.read_content(blake3)

    def iter_content(self, blake3: str, reader: GroupReader | None = None) -> Iterator[bytes]:
        """The exact bytes of a blob in pieces: a chunked one never whole in memory."""
        return iter_content(self.conn, blake3, reader)

    def blob(self, blake3: str) -> dict | None:
        return self.query_one(
            "SELECT blake3, sha256, size, media_type, encoding, is_text, newline, flags"
            " FROM blobs WHERE blake3 = ?",
            (blake3,),
        )

    def read_content(self, blake3: str) -> bytes:
        """The exact bytes of a blob: the one way content leaves the store."""
        return read_content(self.conn, blake3)

    def read_text(self, blake3: str) -> str | None:
        """The text diffs and passages use (see the module-level `read_text`)."""
        return read_text(self.conn, blake3, self.texts)

    @contextmanager
    def caching_texts(self, max_chars: int = 1 << 25) -> Iterator[TextCache]:
        """Keep the texts an ingest decodes (packing) or reads, so its diffs and metadata
        reuse them instead of rebuilding each from passages. Texts are keyed by the hash
        of the bytes they decode, so the cache can never answer a wrong text."""
        self.texts = TextCache(max_chars)
        try:
            yield self.texts
        finally:
            self.texts = None

    def iter_blob_hashes(self) -> Iterator[str]:
        for (h,) in self.conn.execute("SELECT blake3 FROM blobs ORDER BY blake3"):
            yield h

    def find_blobs(self, prefix: str) -> list[dict]:
        """Blobs whose BLAKE3 or SHA-256 starts with prefix (hex, case-insensitive)."""
        prefix = prefix.lower()
        upper = prefix + "g"  # 'g' sorts after every hex digit
        return self.query(
            "SELECT blake3, sha256, size, media_type FROM blobs"
            " WHERE (blake3 >= :p AND blake3 < :u) OR (sha256 >= :p AND sha256 < :u)"
            " ORDER BY blake3",
            {"p": prefix, "u": upper},
        )

    # Documents and versions -------------------------------------------------------------

    def document_states(self, source_id: int, paths: Sequence[str] | None = None) -> list[DocState]:
        """Every document of a source, or (paths given) only those at these paths."""
        if paths is not None and len(paths) > 500:
            states = [
                s
                for i in range(0, len(paths), 500)
                for s in self.document_states(source_id, paths[i : i + 500])
            ]
            return sorted(states, key=lambda s: s.document_id)
        where, params = "d.source_id = ?", [source_id]
        if paths is not None:
            if not paths:
                return []
            where += f" AND d.path IN ({','.join('?' * len(paths))})"
            params += list(paths)
        return [
            DocState(
                r["id"],
                r["path"],
                r["status"] == "present",
                r["blob"],
                SeenBlobs(self.conn, r["id"]),
            )
            for r in self.query(
                "SELECT d.id, d.path, d.status, v.blob FROM documents d"
                " LEFT JOIN versions v ON v.id = d.current_version_id"
                f" WHERE {where} ORDER BY d.id",
                params,
            )
        ]

    def record_changes(
        self,
        source_id: int,
        run_id: int,
        changes: Sequence[Change],
        observed_at: str,
        commit: str | None = None,
    ) -> list[int]:
        """Write versions for planned changes (in order) and update their documents.

        commit is the oid of the git commit the changes come from (None for folder runs)."""
        ids = []
        for change in changes:
            doc_id = change.document_id
            if doc_id is None:
                doc_id = self.conn.execute(
                    "INSERT INTO documents (source_id, path, status, first_seen, last_seen)"
                    " VALUES (?, ?, 'present', ?, ?)",
                    (source_id, change.path, observed_at, observed_at),
                ).lastrowid
            # one statement: its number, its previous version and the content's latest
            # earlier version in the document (same_as), read from the rows it follows; each
            # an index search, not a scan of the document's versions (the blob index finds
            # a new content's none at once: `+` keeps the planner off the document's index)
            version_id = self.conn.execute(
                "INSERT INTO versions (document_id, seq, blob, path, kind, run_id, observed_at,"
                ' mtime, previous_version_id, old_path, "commit", same_as_version_id)'
                " SELECT d.id, COALESCE((SELECT seq FROM versions WHERE document_id = d.id"
                " ORDER BY seq DESC LIMIT 1), 0) + 1, ?, ?, ?, ?, ?, ?, d.current_version_id,"
                " ?, ?, (SELECT p.id FROM versions p WHERE p.blob = ? AND +p.document_id = d.id"
                " ORDER BY p.seq DESC LIMIT 1) FROM documents d WHERE d.id = ?",
                (
                    change.blob,
                    change.path,
                    change.kind,
                    run_id,
                    observed_at,
                    change.mtime,
                    change.old_path,
                    commit,
                    change.blob,
                    doc_id,
                ),
            ).lastrowid
            status = "deleted" if change.kind == "deleted" else "present"
            self.conn.execute(
                "UPDATE documents SET path = ?, status = ?, current_version_id = ?, last_seen = ?"
                " WHERE id = ?",
                (change.path, status, version_id, observed_at, doc_id),
            )
            ids.append(version_id)
        return ids

    # Git commits ------------------------------------------------------------------------

    def last_commit(self, source_id: int) -> dict | None:
        """The last imported commit of a git source (highest position), or None."""
        return self.query_one(
            "SELECT * FROM commits WHERE source_id = ? ORDER BY position DESC LIMIT 1",
            (source_id,),
        )

    def commits(self, source_id: int) -> list[dict]:
        return self.query(
            "SELECT * FROM commits WHERE source_id = ? ORDER BY position", (source_id,)
        )

    def update_run(self, run_id: int, **counts: int) -> None:
        """Counts of a run still in progress (a git import commits batch by batch)."""
        sets = ", ".join(f"{k} = :{k}" for k in counts)
        self.conn.execute(f"UPDATE runs SET {sets} WHERE id = :id", {**counts, "id": run_id})

    def touch_present(self, source_id: int, seen_at: str) -> None:
        """Every present document of a source was seen at seen_at (a git tree holds them all)."""
        self.conn.execute(
            "UPDATE documents SET last_seen = ? WHERE source_id = ? AND status = 'present'",
            (seen_at, source_id),
        )

    def touch_documents(self, source_id: int, paths: Iterable[str], seen_at: str) -> None:
        """Record that present documents were seen unchanged (last_seen only)."""
        self.conn.executemany(
            "UPDATE documents SET last_seen = ? WHERE source_id = ? AND path = ?"
            " AND status = 'present'",
            [(seen_at, source_id, p) for p in paths],
        )

    def documents_at(self, path: str) -> list[dict]:
        return self.query(
            "SELECT d.*, s.name AS source, s.location FROM documents d"
            " JOIN sources s ON s.id = d.source_id WHERE d.path = ? ORDER BY d.id",
            (path,),
        )

    def commit_count(self) -> int:
        """Git commits recorded, all sources (what an interrupted import kept)."""
        return self.conn.execute("SELECT count(*) FROM commits").fetchone()[0]

    def documents_once_at(self, path: str) -> list[dict]:
        """Documents that had `path` in some version (a name from before a rename)."""
        return self.query(
            "SELECT d.*, s.name AS source, s.location FROM documents d"
            " JOIN sources s ON s.id = d.source_id WHERE d.id IN ("
            " SELECT document_id FROM versions WHERE path = ? OR old_path = ?) ORDER BY d.id",
            (path, path),
        )

    def document_names(self) -> list[tuple[str, str]]:
        """(source, path) of every document, for close-match suggestions."""
        rows = self.conn.execute(
            "SELECT s.name, d.path FROM documents d JOIN sources s ON s.id = d.source_id"
        )
        return [(source, path) for source, path in rows]

    def list_documents(self, source: str | None = None, status: str | None = None) -> list[dict]:
        """Every document (of a source, with a status), by source and path, with its number of
        versions and its latest version's size."""
        where, params = [], []
        if source is not None:
            where.append("s.name = ?")
            params.append(source)
        if status is not None:
            where.append("d.status = ?")
            params.append(status)
        return self.query(
            "SELECT d.id, s.name AS source, d.path, d.status, d.first_seen, d.last_seen,"
            " d.current_version_id, (SELECT count(*) FROM versions v WHERE v.document_id = d.id)"
            " AS versions, b.size FROM documents d JOIN sources s ON s.id = d.source_id"
            " LEFT JOIN versions c ON c.id = d.current_version_id"
            " LEFT JOIN blobs b ON b.blake3 = c.blob"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY s.name, d.path, d.id",
            params,
        )

    def document(self, document_id: int) -> dict | None:
        return self.query_one(
            "SELECT d.*, s.name AS source, s.location FROM documents d"
            " JOIN sources s ON s.id = d.source_id WHERE d.id = ?",
            (document_id,),
        )

    def versions(self, document_id: int) -> list[dict]:
        return self.query(
            "SELECT v.*, b.sha256, b.size FROM versions v LEFT JOIN blobs b ON b.blake3 = v.blob"
            " WHERE v.document_id = ? ORDER BY v.seq",
            (document_id,),
        )

    def version(self, document_id: int, seq: int) -> dict | None:
        return self.query_one(
            "SELECT v.*, b.sha256, b.size FROM versions v LEFT JOIN blobs b ON b.blake3 = v.blob"
            " WHERE v.document_id = ? AND v.seq = ?",
            (document_id, seq),
        )

    def versions_with_blob(self, blake3: str) -> list[dict]:
        return self.query(
            "SELECT v.*, s.name AS source FROM versions v JOIN documents d ON d.id = v.document_id"
            " JOIN sources s ON s.id = d.source_id WHERE v.blob = ? ORDER BY v.id",
            (blake3,),
        )
