"""The store: every SQL statement of the archive lives here.

Content is read through `read_content` / `read_text` only (module functions over any
connection, also behind the `Store` methods), because how blobs are kept (whole, compressed,
as passages) is the store's business and will change.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import sqlite3
from bisect import bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, partial
from itertools import accumulate, repeat
from operator import add, attrgetter, getitem, le

from archive import __version__
from archive.changes import Change, DocState
from archive.passages import (
    MAX_DEPTH,
    MAX_GROUPS,
    MAX_PIECES,
    WINDOW,
    PassageError,
    compress_group,
    decompress_group,
    digest_key,
    pack_ids,
    pack_pieces,
    pack_sizes,
    passage_digest,
    quote_segments,
    revised,
    run_bounds,
    split_passages,
    unpack_ids,
    unpack_pieces,
    unpack_sizes,
    zdict_of,
)
from archive.schema import SchemaError, migrate
from ingest.content import BlobInfo
from ingest.hashing import blake3_hex

# How long a writer waits for another; ARCHIVE_BUSY_TIMEOUT overrides (seconds).
BUSY_TIMEOUT_S = float(os.environ.get("ARCHIVE_BUSY_TIMEOUT", "30"))


class ArchiveError(Exception):
    """A user-facing failure: printed as one line, never as a traceback."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Store:
    """One archive file. Writers take the lock with `write()`; readers never block them (WAL)."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True):
        self.path = os.fspath(path)
        if not create and not os.path.exists(self.path):
            raise ArchiveError(f"no archive at {self.path}: run `archive ingest DIR` first")
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute("PRAGMA foreign_keys = ON")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn)
        except sqlite3.DatabaseError as e:
            raise ArchiveError(f"{self.path} is not a usable archive: {e}") from None
        except SchemaError as e:
            raise ArchiveError(f"{self.path}: {e}") from None
        self.conn = conn
        self.texts: TextCache | None = None  # set by an ingest: texts it has just decoded

    @classmethod
    def over(cls, conn: sqlite3.Connection) -> Store:
        """A Store on a connection opened elsewhere (Datasette's, read-only): no pragmas, no
        migration, so the store's queries serve the published snapshot too."""
        store = cls.__new__(cls)
        store.path, store.conn, store.texts = "", conn, None
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

    @contextmanager
    def write(self) -> Iterator[None]:
        """One atomic batch: all of it lands or none of it does."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
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

    def insert_blob(self, info: BlobInfo, content: bytes) -> None:
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
        seen: dict[int, set[str]] = {}
        for doc_id, blob in self.conn.execute(
            "SELECT v.document_id, v.blob FROM versions v JOIN documents d"
            f" ON d.id = v.document_id WHERE {where} AND v.blob IS NOT NULL",
            params,
        ):
            seen.setdefault(doc_id, set()).add(blob)
        return [
            DocState(
                r["id"],
                r["path"],
                r["status"] == "present",
                r["blob"],
                frozenset(seen.get(r["id"], ())),
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
            prev_id, prev_seq = self.conn.execute(
                "SELECT current_version_id, (SELECT COALESCE(MAX(seq), 0) FROM versions"
                " WHERE document_id = :d) FROM documents WHERE id = :d",
                {"d": doc_id},
            ).fetchone()
            version_id = self.conn.execute(
                "INSERT INTO versions (document_id, seq, blob, path, kind, run_id, observed_at,"
                ' mtime, previous_version_id, old_path, "commit")'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc_id,
                    prev_seq + 1,
                    change.blob,
                    change.path,
                    change.kind,
                    run_id,
                    observed_at,
                    change.mtime,
                    prev_id,
                    change.old_path,
                    commit,
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

    def insert_commit(self, row: dict) -> None:
        """One imported commit (columns of `commits`); an oid imported twice is refused."""
        try:
            self.conn.execute(
                "INSERT INTO commits (oid, source_id, position, author_name, author_email,"
                " author_date, committer_name, committer_email, committer_date, message, parents)"
                " VALUES (:oid, :source_id, :position, :author_name, :author_email, :author_date,"
                " :committer_name, :committer_email, :committer_date, :message, :parents)",
                row,
            )
        except sqlite3.IntegrityError:
            other = self.query(
                "SELECT s.name FROM commits c JOIN sources s ON s.id = c.source_id WHERE c.oid = ?",
                (row["oid"],),
            )
            where = f" from source {other[0]['name']}" if other else ""
            raise ArchiveError(f"commit {row['oid']} is already in the archive{where}") from None

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

    # Metadata ---------------------------------------------------------------------------

    def link_text_blob(self, blake3: str, text_blake3: str) -> None:
        """Point a raw blob at the blob holding its readable text."""
        self.conn.execute("UPDATE blobs SET text_blob = ? WHERE blake3 = ?", (text_blake3, blake3))

    def text_blob_of(self, blake3: str) -> str | None:
        row = self.conn.execute(
            "SELECT text_blob FROM blobs WHERE blake3 = ?", (blake3,)
        ).fetchone()
        return row[0] if row else None

    def put_metadata(
        self, blake3: str, fields: dict, items: Sequence[tuple[str, int, str, str | None]]
    ) -> None:
        """Replace a blob's extracted metadata: its blob_metadata row and all its items."""
        row = {"blake3": blake3, **{c: fields.get(c) for c in self.metadata_columns()}}
        self.conn.execute("DELETE FROM blob_items WHERE blob = ?", (blake3,))
        self.conn.execute(
            f"INSERT OR REPLACE INTO blob_metadata ({', '.join(row)})"
            f" VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
        self.conn.executemany(
            "INSERT INTO blob_items (blob, key, ordinal, value, detail) VALUES (?, ?, ?, ?, ?)",
            [(blake3, k, n, v, d) for k, n, v, d in items],
        )

    def metadata_columns(self) -> list[str]:
        return [c.name for c in self.db["blob_metadata"].columns if c.name != "blake3"]

    def metadata(self, blake3: str) -> dict | None:
        return self.query_one("SELECT * FROM blob_metadata WHERE blake3 = ?", (blake3,))

    def metadata_items(self, blake3: str) -> list[dict]:
        return self.query(
            "SELECT key, ordinal, value, detail FROM blob_items WHERE blob = ?"
            " ORDER BY key, ordinal",
            (blake3,),
        )

    def blobs_to_extract(self, version: str, everything: bool) -> list[dict]:
        """Document contents (blobs some version points at) whose metadata is missing or was
        made by another extractor version (all of them when everything), with the path of
        the first version that stored each, since names carry identifiers."""
        return self.query(
            "SELECT b.blake3, b.media_type, b.encoding, b.is_text, b.text_blob,"
            " (SELECT v.path FROM versions v WHERE v.blob = b.blake3 ORDER BY v.id LIMIT 1)"
            " AS path FROM blobs b LEFT JOIN blob_metadata m ON m.blake3 = b.blake3"
            " WHERE b.blake3 IN (SELECT blob FROM versions WHERE blob IS NOT NULL)"
            " AND (:all OR m.blake3 IS NULL OR m.extractor_version IS NOT :version)"
            " ORDER BY b.blake3",
            {"all": int(everything), "version": version},
        )

    def set_version_sidecar(self, version_id: int, blob: str) -> None:
        """Record the sidecar content that applied to a version (set as it is recorded)."""
        self.conn.execute("UPDATE versions SET sidecar_blob = ? WHERE id = ?", (blob, version_id))

    def add_provenance(self, version_id: int, rows: Iterable[tuple[str, str, str | None]]) -> None:
        """(origin, key, value) rows for a version: sidecar, front-matter or filename."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO version_provenance (version_id, origin, key, value)"
            " VALUES (?, ?, ?, ?)",
            [(version_id, origin, key, value) for origin, key, value in rows],
        )

    def provenance(self, version_id: int) -> list[dict]:
        return self.query(
            "SELECT origin, key, value FROM version_provenance WHERE version_id = ?"
            " ORDER BY origin, key",
            (version_id,),
        )

    def current_sidecars(self, source_id: int) -> dict[str, dict]:
        """Per present document path: its current version and the sidecar content now in
        force (the latest sidecar-only change of that version, else the version's own)."""
        rows = self.query(
            "SELECT d.id AS document_id, d.path, v.id AS version_id, COALESCE("
            " (SELECT c.id FROM sidecar_changes c WHERE c.version_id = v.id"
            "  ORDER BY c.id DESC LIMIT 1), 0) AS change_id, v.sidecar_blob"
            " FROM documents d JOIN versions v ON v.id = d.current_version_id"
            " WHERE d.source_id = ? AND d.status = 'present'",
            (source_id,),
        )
        out = {}
        for r in rows:
            blob = r["sidecar_blob"]
            if r["change_id"]:
                (blob,) = self.conn.execute(
                    "SELECT blob FROM sidecar_changes WHERE id = ?", (r["change_id"],)
                ).fetchone()
            out[r["path"]] = {**r, "sidecar_blob": blob}
        return out

    def add_sidecar_change(
        self, document_id: int, version_id: int, run_id: int, blob: str | None
    ) -> None:
        self.conn.execute(
            "INSERT INTO sidecar_changes (document_id, version_id, run_id, blob)"
            " VALUES (?, ?, ?, ?)",
            (document_id, version_id, run_id, blob),
        )

    def sidecar_changes(self, version_id: int) -> list[dict]:
        return self.query(
            "SELECT id, document_id, version_id, run_id, blob FROM sidecar_changes"
            " WHERE version_id = ? ORDER BY id",
            (version_id,),
        )

    # Ledger -----------------------------------------------------------------------------

    def leaf_source_rows(self, version_ids: Iterable[int] | None = None) -> list[dict]:
        """What a version's ledger leaf is built from, by version id (all when None)."""
        sql = (
            "SELECT v.id AS version_id, v.document_id, v.seq, v.kind, v.path,"
            " v.blob AS blob_blake3, b.sha256 AS blob_sha256, v.observed_at, v.run_id,"
            " s.name AS source, s.kind AS source_kind, v.sidecar_blob,"
            ' v."commit", c.author_name, c.author_email, c.author_date, c.committer_date'
            " FROM versions v LEFT JOIN blobs b ON b.blake3 = v.blob"
            " LEFT JOIN documents d ON d.id = v.document_id"
            " LEFT JOIN sources s ON s.id = d.source_id"
            ' LEFT JOIN commits c ON c.oid = v."commit"'
        )
        if version_ids is None:
            return self.query(sql + " ORDER BY v.id")
        ids = list(version_ids)
        rows: list[dict] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows += self.query(sql + f" WHERE v.id IN ({marks})", chunk)
        order = {v: n for n, v in enumerate(ids)}
        return sorted(rows, key=lambda r: order[r["version_id"]])

    def ledger_size(self) -> int:
        """Leaves in the log: one more than the last index (indexes are 0-based, dense)."""
        return self.conn.execute("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM ledger").fetchone()[
            0
        ]

    def append_leaves(self, leaves: Iterable[tuple[int, int, bytes, str]]) -> None:
        """Insert (leaf_index, version_id, leaf bytes, leaf hash hex) rows."""
        self.conn.executemany(
            "INSERT INTO ledger (leaf_index, version_id, leaf, leaf_hash) VALUES (?, ?, ?, ?)",
            list(leaves),
        )

    def unledgered_version_ids(self) -> list[int]:
        """Versions without a leaf (recorded before the ledger existed, or tampered in)."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT v.id FROM versions v LEFT JOIN ledger l ON l.version_id = v.id"
                " WHERE l.version_id IS NULL ORDER BY v.id"
            )
        ]

    def leaf_hashes(self, size: int | None = None) -> list[bytes]:
        """Stored leaf hashes in log order (the first `size` of them)."""
        sql = "SELECT leaf_hash FROM ledger ORDER BY leaf_index"
        params: tuple = ()
        if size is not None:
            sql += " LIMIT ?"
            params = (size,)
        try:
            return [bytes.fromhex(h) for (h,) in self.conn.execute(sql, params)]
        except (TypeError, ValueError):
            raise ArchiveError(
                "the ledger holds a malformed leaf hash: run `archive verify`"
            ) from None

    def iter_ledger(self) -> Iterator[dict]:
        """Every ledger row in log order, leaf bytes included."""
        cursor = self.conn.execute(
            "SELECT leaf_index, version_id, leaf, leaf_hash FROM ledger ORDER BY leaf_index"
        )
        for index, version_id, leaf, leaf_hash in cursor:
            yield {
                "leaf_index": index,
                "version_id": version_id,
                "leaf": leaf,
                "leaf_hash": leaf_hash,
            }

    def ledger_entry(self, version_id: int) -> dict | None:
        return self.query_one(
            "SELECT leaf_index, version_id, leaf, leaf_hash FROM ledger WHERE version_id = ?",
            (version_id,),
        )

    def set_checkpoint(self, run_id: int, size: int, root_hex: str) -> None:
        self.conn.execute(
            "UPDATE runs SET tree_size = ?, tree_root = ? WHERE id = ?", (size, root_hex, run_id)
        )

    def runs(self) -> list[dict]:
        """Every run in id order, checkpoints included."""
        return self.query("SELECT * FROM runs ORDER BY id")

    def latest_checkpoint(self) -> dict | None:
        return self.query_one(
            "SELECT * FROM runs WHERE tree_size IS NOT NULL ORDER BY id DESC LIMIT 1"
        )

    def export_rows(self, source: str | None = None) -> list[dict]:
        """Every version with what exports need (document path, digests, size, source)."""
        where, params = ("WHERE s.name = ?", (source,)) if source is not None else ("", ())
        return self.query(
            "SELECT v.id AS version_id, v.document_id, d.path AS document_path, v.seq, v.kind,"
            " v.path, v.blob AS blake3, b.sha256, b.size, v.observed_at, v.run_id,"
            " s.name AS source, s.kind AS source_kind"
            " FROM versions v JOIN documents d ON d.id = v.document_id"
            " JOIN sources s ON s.id = d.source_id LEFT JOIN blobs b ON b.blake3 = v.blob"
            f" {where} ORDER BY v.document_id, v.seq",
            params,
        )

    def source_named(self, name: str) -> dict | None:
        return self.query_one("SELECT * FROM sources WHERE name = ?", (name,))

    # Passages -------------------------------------------------------------------------

    @property
    def passages(self) -> PassageStore:
        return PassageStore(self.conn)

    def pack_passages(self, changes: Sequence[Change]) -> None:
        """Keep the text blobs of new versions as passages, each revision deltaed on the last."""
        passages = self.passages
        for change in changes:
            if change.blob is not None:
                passages.pack_blob(change.blob, change.previous_blob, self.texts)

    # Diffs ------------------------------------------------------------------------------

    def diff_bases(self, version_ids: Sequence[int]) -> list[tuple[str, str]]:
        """(from_blob, to_blob) for each of these versions that changed content: the
        document's last version with content before it, against it (deletions, additions
        and unchanged contents give none)."""
        pairs = []
        for vid in version_ids:
            row = self.conn.execute(
                "SELECT (SELECT p.blob FROM versions p WHERE p.document_id = v.document_id"
                " AND p.seq < v.seq AND p.blob IS NOT NULL ORDER BY p.seq DESC LIMIT 1), v.blob"
                " FROM versions v WHERE v.id = ?",
                (vid,),
            ).fetchone()
            if row and row[0] is not None and row[1] is not None and row[0] != row[1]:
                pairs.append((row[0], row[1]))
        return pairs

    def diff_exists(self, from_blob: str, to_blob: str, algorithm: str) -> bool:
        return (
            self.conn.execute(
                "SELECT 1 FROM diffs WHERE from_blob = ? AND to_blob = ? AND algorithm = ?",
                (from_blob, to_blob, algorithm),
            ).fetchone()
            is not None
        )

    def insert_diffs(self, rows: Iterable[dict]) -> None:
        """Stored diffs (columns of `diffs`, delta compressed: `stored_diffs.diff_row`); a pair
        already stored is left as it is."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO diffs (from_blob, to_blob, algorithm, delta, delta_codec,"
            " chars_inserted, chars_deleted, words_inserted, words_deleted, similarity, hunks,"
            " change_class, coarse) VALUES (:from_blob, :to_blob, :algorithm, :delta,"
            " :delta_codec, :chars_inserted, :chars_deleted, :words_inserted, :words_deleted,"
            " :similarity, :hunks, :change_class, :coarse)",
            list(rows),
        )

    def stored_diff(self, from_blob: str, to_blob: str) -> dict | None:
        """The newest stored diff of a pair (the last algorithm's row), or None."""
        return self.query_one(
            "SELECT * FROM diffs WHERE from_blob = ? AND to_blob = ? ORDER BY rowid DESC LIMIT 1",
            (from_blob, to_blob),
        )

    def iter_diffs(self) -> Iterator[dict]:
        """Every stored diff in key order."""
        cursor = self.conn.execute("SELECT * FROM diffs ORDER BY from_blob, to_blob, algorithm")
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def text_target(self, blake3: str) -> tuple[str, str] | None:
        """(key, encoding) a blob's readable text must hash to when encoded."""
        return text_source(self.conn, blake3)

    # Snapshots --------------------------------------------------------------------------

    def snapshot(self, dest: str | os.PathLike[str]) -> None:
        """A consistent single-file copy (WAL folded in) for serving immutably."""
        target = sqlite3.connect(os.fspath(dest))
        try:
            self.conn.backup(target)
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()


# Passages ---------------------------------------------------------------------------


# Quotation marks that can open a quote (ingest.extract.quotes): a segment without any has none.
_OPENERS = '\u201c\u00ab\u201e"'
_OPENER = re.compile(f"[{_OPENERS}]")


@lru_cache(maxsize=16384)
def _segment_quotes(segment: str) -> tuple[tuple[str, int], ...]:
    """(text, offset) of a segment's quotations; revisions repeat most segments, so cached."""
    from ingest.extract.quotes import find_quotes  # lazy: the extract package is slow to load

    return tuple((q.text, q.start) for q in find_quotes(segment))


@lru_cache(maxsize=1 << 16)
def _passage_key(text: str) -> int:
    """A passage's key; revisions repeat most passages, so cached."""
    return digest_key(passage_digest(text))


def text_quotes(text: str) -> list[tuple[str, int]]:
    """(text, offset) of every quotation in text, as `find_quotes(text)` finds them."""
    out: list[tuple[str, int]] = []
    for offset, segment in quote_segments(text):
        if _OPENER.search(segment):
            out.extend((q, offset + start) for q, start in _segment_quotes(segment))
    return out


def _extend(pieces: list[list[int]], piece: list[int]) -> bool:
    """Append a copy instruction (..., source, start, end), or lengthen the last one when it
    ends where this one starts; False past MAX_PIECES."""
    last = pieces[-1] if pieces else None
    if last and last[:-1] == piece[:-2] and last[-1] == piece[-2]:
        last[-1] = piece[-1]
    elif len(pieces) < MAX_PIECES:
        pieces.append(piece)
    else:
        return False
    return True


def _utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


class PassageStore:
    """The passage tables' SQL; used by `Store` and by the `_passages` migration.

    A text blob is a row of `blob_passages` (its packed list of passage ids) instead of bytes
    in `blobs.content`; each passage is stored once, in the group of passages its version
    introduced (one deflate stream, primed with the passages they revise).
    """

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def ids(self, blob: str) -> list[int] | None:
        """The blob's passage ids in order, or None when it is not kept as passages."""
        row = self.conn.execute("SELECT ids FROM blob_passages WHERE blob = ?", (blob,)).fetchone()
        return None if row is None else unpack_ids(row[0])

    def reader(self) -> GroupReader:
        """A cache of located and inflated groups for one read (or one trace)."""
        return GroupReader(self.conn)

    def raw(self, ids: Iterable[int], reader: GroupReader | None = None) -> dict[int, bytes]:
        """The UTF-8 bytes of each passage id; reader caches inflated groups across calls."""
        return (reader or self.reader()).read(ids)

    def texts(self, ids: Iterable[int], reader: GroupReader | None = None) -> dict[int, str]:
        """The text of each passage id."""
        try:
            return {i: b.decode("utf-8") for i, b in self.raw(ids, reader).items()}
        except UnicodeDecodeError as e:
            raise PassageError(f"corrupt passage text: {e}") from None

    def rebuild(self, blob: str, encoding: str | None) -> bytes:
        """A text blob's bytes from its passages (or its snapshot), checked against its BLAKE3.

        One query gives the blob's passage and group lists and, when its read is bounded by a
        snapshot (`bound`), the snapshot or the copy instructions and the snapshot they use.
        """
        try:
            row = self.conn.execute(
                "SELECT p.ids, p.groups, s.data, s.groups, s.pieces, s.primers, b.data"
                " FROM blob_passages p"
                " LEFT JOIN blob_snapshots s ON s.blob = p.blob"
                " LEFT JOIN blob_snapshots b ON b.blob = s.base WHERE p.blob = ?",
                (blob,),
            ).fetchone()
        except sqlite3.OperationalError as e:  # migrations before `_snapshots` read too
            if "no such table" not in str(e):
                raise
            row = self.conn.execute(
                "SELECT ids, groups, NULL, NULL, NULL, NULL, NULL FROM blob_passages"
                " WHERE blob = ?",
                (blob,),
            ).fetchone()
        if row is None or encoding is None:
            raise ArchiveError(f"blob {blob} has neither content nor passages")
        ids, groups, snapshot, copied, pieces, primers, base = row
        reader = GroupReader(self.conn)
        if snapshot is not None:
            data = decompress_group(snapshot)
        elif pieces is not None:
            data = reader.copy(base, reader.prefetch(unpack_ids(copied)), pieces, primers)
        else:
            data = reader.assemble(unpack_ids(ids), reader.prefetch(unpack_ids(groups)))
        if not _utf8(encoding):
            try:
                data = data.decode("utf-8").encode(encoding)
            except (UnicodeError, LookupError):
                raise ArchiveError(f"blob {blob} does not rebuild from its passages") from None
        if blake3_hex(data) != blob:
            raise ArchiveError(f"blob {blob} does not rebuild from its passages")
        return data

    def rows(self, ids: Iterable[int]) -> dict[int, dict]:
        """id, key, kind, size and group of passages (not their text)."""
        cursor = self.conn.execute(
            "SELECT p.id, p.key, p.kind, p.size FROM json_each(?) j"
            " JOIN passages p ON p.id = j.value",
            (json.dumps(sorted(set(ids))),),
        )
        return {r[0]: dict(zip(("id", "key", "kind", "size"), r, strict=True)) for r in cursor}

    def by_keys(self, keys: Iterable[int]) -> dict[int, int]:
        """key -> id for the keys that are stored."""
        cursor = self.conn.execute(
            "SELECT p.key, p.id FROM json_each(?) j JOIN passages p ON p.key = j.value",
            (json.dumps(sorted(set(keys))),),
        )
        return dict(cursor.fetchall())

    @staticmethod
    def _bases(
        old_ids: list[int], old: dict[int, bytes], picks: list[int], reader: GroupReader
    ) -> list[int]:
        """The old passages to prime a new group with: the revised ones whose groups are not
        too deep, as many as the deflate window holds (the last ones win)."""
        chosen: list[int] = []
        room = WINDOW
        for pid in reversed(list(dict.fromkeys(old_ids[i] for i in picks))):
            if room <= 0:
                break
            if reader.group_of(pid).depth < MAX_DEPTH:
                chosen.append(pid)
                room -= len(old[pid])
        return chosen[::-1]

    def pack_blob(
        self,
        blob: str,
        previous: str | None = None,
        cache: TextCache | None = None,
        snapshots: bool = True,
    ) -> bool:
        """Move a text blob's content into passages (previous: the blob it revises, if any).

        Its new passages become one group. The split is checked by re-encoding and re-hashing
        before anything is written, and the group by inflating it in memory; a mismatch raises
        (the caller's transaction then rolls back). Returns False when there was nothing to do.
        cache: an ingest's texts and group rows, read and filled (see `Store.caching_texts`).
        snapshots: bound its read (`bound`); False only before `blob_snapshots` exists.
        """
        row = self.conn.execute(
            "SELECT is_text, encoding, content FROM blobs WHERE blake3 = ?", (blob,)
        ).fetchone()
        if row is None or not row[0] or row[2] is None or row[1] is None:
            return False
        encoding, text = row[1], bytes(row[2]).decode(row[1])
        parts = split_passages(text)
        if blake3_hex("".join(parts).encode(encoding)) != blob:
            raise PassageError(f"blob {blob}: passages do not rebuild its bytes")
        quotes = text_quotes(text)
        keys = list(map(_passage_key, parts))
        quote_keys = [_passage_key(q) for q, _ in quotes]
        known = self.by_keys(keys + quote_keys)
        new: dict[int, tuple[str, str]] = {}  # key -> (kind, text), in order of first use
        for key, part in zip(keys, parts, strict=True):
            if key not in known:
                new.setdefault(key, ("para", part))
        for key, (q, _) in zip(quote_keys, quotes, strict=True):
            if key not in known:
                new.setdefault(key, ("quote", q))
        if new:
            known.update(self._add_group(new, keys, known, previous, cache))
        ids = [known[k] for k in keys]
        if cache is not None:
            cache.put(blob, encoding, text, passages=(ids, parts))
        reader = cache.reader(self.conn) if cache is not None else GroupReader(self.conn)
        groups = sorted(reader.closure(reader.locate(sorted(set(ids)))))
        self.conn.execute(
            "INSERT INTO blob_passages (blob, count, ids, quotes, groups) VALUES (?, ?, ?, ?, ?)",
            (
                blob,
                len(ids),
                pack_ids(ids),
                pack_ids([known[k] for k in quote_keys]),
                pack_ids(groups),
            ),
        )
        if snapshots:
            self.bound(blob, previous, ids, groups, reader, lambda: text.encode("utf-8"))
        self.conn.execute("UPDATE blobs SET content = NULL WHERE blake3 = ?", (blob,))
        return True

    def bound(
        self,
        blob: str,
        previous: str | None,
        ids: Sequence[int],
        groups: Sequence[int],
        reader: GroupReader,
        utf8: Callable[[], bytes],
    ) -> None:
        """Keep the blob's read within MAX_GROUPS groups and MAX_PIECES pieces, as git bounds
        its delta chains: past either (a long history scatters a text over many groups), the
        read copies from the snapshot its previous version reads through, when that stays
        within them, else from a snapshot of its own. More bytes, but only for such texts.

        groups: the groups its passages need (with their bases'); utf8: its text, on demand.
        """
        if len(groups) <= MAX_GROUPS and len(run_bounds(ids, set(groups))) <= MAX_PIECES + 1:
            return
        base = self._snapshot_of(previous) if previous else None
        plan = self._plan(base, ids, reader) if base else None
        if plan is None:
            row = (blob, compress_group([utf8()]), None, pack_ids([]), *[pack_pieces([])] * 2)
        else:
            row = (blob, None, base, pack_ids(plan[0]), pack_pieces(plan[1]), pack_pieces(plan[2]))
        self.conn.execute(
            "INSERT INTO blob_snapshots (blob, data, base, groups, pieces, primers)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            row,
        )

    def _snapshot_of(self, blob: str) -> str | None:
        """The blob whose snapshot a read of this blob uses (itself or its base), if any."""
        row = self.conn.execute(
            "SELECT CASE WHEN data IS NULL THEN base ELSE blob END FROM blob_snapshots"
            " WHERE blob = ?",
            (blob,),
        ).fetchone()
        return None if row is None else row[0]

    def _plan(self, base: str, ids: Sequence[int], reader: GroupReader) -> tuple | None:
        """(groups, pieces, primers) copying the passages ids from base's snapshot (source 0)
        where it has them, else from their groups, whose dictionaries (their bases' text) are
        copied the same way: so a copy inflates the snapshot and the groups new since, never
        a chain of older groups. None when that is not within the bounds either. A passage
        the snapshot has more than once is copied from where it continues the last piece."""
        first: dict[int, tuple[int, int]] = {}  # passage id -> its first bytes in the snapshot
        at: dict[int, int] = {}  # offset in the snapshot -> the passage starting there
        end = 0
        for pid in self.ids(base) or []:
            start, end = end, end + reader.size(pid)
            first.setdefault(pid, (start, end))
            at[start] = pid
        used: dict[int, Group] = {}

        def where(pid: int) -> list[int]:
            if pid in first:
                return [0, *first[pid]]
            group = reader.group_of(pid)
            used[group.first] = group
            j = pid - group.first
            return [group.first, group.offsets[j], group.offsets[j + 1]]

        pieces: list[list[int]] = []
        for pid in ids:
            last = pieces[-1] if pieces else None
            if last and last[0] == 0 and at.get(last[2]) == pid:
                last[2] += first[pid][1] - first[pid][0]
            elif not _extend(pieces, where(pid)):
                return None
        primers: list[list[int]] = []
        done: set[int] = set()
        while len(done) < len(used) < MAX_GROUPS:  # bases sit in earlier groups: it ends
            group = used[min(used.keys() - done)]
            done.add(group.first)
            for pid in group.bases:
                _extend(primers, [group.first, *where(pid)])
        if len(used) >= MAX_GROUPS:
            return None
        return sorted(used), pieces, primers

    def _add_group(
        self,
        new: dict[int, tuple[str, str]],
        keys: list[int],
        known: dict,
        previous: str | None,
        cache: TextCache | None = None,
    ) -> dict[int, int]:
        """Store new passages as one group primed with what they revise; key -> id.

        The passages get consecutive ids and the group the first of them as its id."""
        packed = cache.passages(previous) if cache is not None and previous else None
        old_ids = packed[0] if packed else (self.ids(previous) if previous else None) or []
        bases: list[int] = []
        zdict = b""
        depth = 0
        if old_ids:
            reader = cache.reader(self.conn) if cache is not None else self.reader()
            if packed:  # the text just split here: no inflating
                old = {pid: part.encode("utf-8") for pid, part in zip(*packed, strict=True)}
            else:
                old = self.raw(old_ids, reader)
            picks = revised(old_ids, [known.get(k, ("new", k)) for k in keys])
            bases = self._bases(old_ids, old, picks, reader) if picks else []
            zdict = zdict_of([old[b] for b in bases])
            depth = 1 + max((reader.group_of(b).depth for b in bases), default=-1)
        texts = [t.encode("utf-8") for _, t in new.values()]
        data = compress_group(texts, zdict)
        if decompress_group(data, zdict) != b"".join(texts):
            raise PassageError("a passage group does not inflate to its passages")
        # the ids SQLite would give one at a time (max + 1), given at once: consecutive
        first = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM passages").fetchone()[0]
        out = {key: first + i for i, key in enumerate(new)}
        self.conn.executemany(
            "INSERT INTO passages (id, key, kind, size) VALUES (?, ?, ?, ?)",
            [
                (out[key], key, kind, len(raw))
                for (key, (kind, _)), raw in zip(new.items(), texts, strict=True)
            ],
        )
        self.conn.executemany(
            "INSERT INTO passages_fts (rowid, text) VALUES (?, ?)",
            [(out[key], text) for key, (_, text) in new.items()],
        )
        self.conn.execute(
            "INSERT INTO passage_groups (id, depth, bases, sizes, data) VALUES (?, ?, ?, ?, ?)",
            (first, depth, pack_ids(bases), pack_sizes([len(t) for t in texts]), data),
        )
        return out

    def pack_all(self, snapshots: bool = True) -> int:
        """Move every text blob still held whole into passages, oldest version first."""
        done = 0
        for blob, previous in self.conn.execute(
            "SELECT v.blob, pv.blob FROM versions v JOIN blobs b ON b.blake3 = v.blob"
            " LEFT JOIN versions pv ON pv.id = v.previous_version_id"
            " WHERE b.is_text = 1 AND b.content IS NOT NULL ORDER BY v.id"
        ).fetchall():
            done += self.pack_blob(blob, previous, snapshots=snapshots)
        for (blob,) in self.conn.execute(
            "SELECT blake3 FROM blobs WHERE is_text = 1 AND content IS NOT NULL ORDER BY blake3"
        ).fetchall():
            done += self.pack_blob(blob, snapshots=snapshots)
        return done

    def bound_all(self) -> int:
        """`bound` every blob kept as passages, oldest version first (so a revision can copy
        from the snapshot its previous version reads through), but those bounded already;
        returns how many rows `blob_snapshots` has."""
        pairs = self.conn.execute(
            "SELECT v.blob, pv.blob FROM versions v JOIN blob_passages p ON p.blob = v.blob"
            " LEFT JOIN versions pv ON pv.id = v.previous_version_id ORDER BY v.id"
        ).fetchall()
        pairs += self.conn.execute("SELECT blob, NULL FROM blob_passages ORDER BY blob").fetchall()
        seen = {b for (b,) in self.conn.execute("SELECT blob FROM blob_snapshots")}
        for blob, previous in pairs:
            if blob in seen:
                continue
            seen.add(blob)
            ids, groups = map(
                unpack_ids,
                self.conn.execute(
                    "SELECT ids, groups FROM blob_passages WHERE blob = ?", (blob,)
                ).fetchone(),
            )
            reader = GroupReader(self.conn)  # one per blob: memory stays flat
            self.bound(blob, previous, ids, groups, reader, partial(reader.join, ids))
        return self.conn.execute("SELECT count(*) FROM blob_snapshots").fetchone()[0]

    def lists(self) -> Iterator[tuple[str, list[int], list[int]]]:
        """Every (blob, passage ids, quote ids): a scan, for tracing where passages occur."""
        for blob, ids, quotes in self.conn.execute(
            "SELECT blob, ids, quotes FROM blob_passages ORDER BY blob"
        ):
            yield blob, unpack_ids(ids), unpack_ids(quotes)

    def quote_ids(self, blob: str) -> list[int]:
        """The passage ids of a blob's quotations, in document order."""
        row = self.conn.execute(
            "SELECT quotes FROM blob_passages WHERE blob = ?", (blob,)
        ).fetchone()
        return [] if row is None else unpack_ids(row[0])

    def key_chunks(self, size: int = 4096) -> Iterator[list[tuple[int, int]]]:
        """Every passage's (id, key), in id order, a chunk at a time (for `archive verify`)."""
        cursor = self.conn.execute("SELECT id, key FROM passages ORDER BY id")
        while chunk := cursor.fetchmany(size):
            yield chunk

    def snapshot_blobs(self) -> list[str]:
        """The blobs whose reads go through a snapshot, not through their passages."""
        return [r[0] for r in self.conn.execute("SELECT blob FROM blob_snapshots ORDER BY blob")]

    def first_ids(self, fts_query: str | None, limit: int) -> list[int]:
        """The first `limit` passage ids (by id) whose text matches an FTS5 query, or of all
        passages for None: what a trace checks, so its work stays bounded however many match."""
        if fts_query is None:
            sql, params = "SELECT id FROM passages ORDER BY id LIMIT ?", (limit,)
        else:
            sql = "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? ORDER BY rowid LIMIT ?"
            params = (fts_query, limit)
        return [r[0] for r in self.conn.execute(sql, params)]

    def document_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM documents ORDER BY id")]

    def all_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM passages ORDER BY id")]

    def versions_of_blobs(self, blobs: Iterable[str]) -> list[dict]:
        """Versions holding any of the blobs, with document path and source, oldest first."""
        cursor = self.conn.execute(
            "SELECT v.*, d.path AS document_path, s.name AS source FROM json_each(?) j"
            " JOIN versions v ON v.blob = j.value JOIN documents d ON d.id = v.document_id"
            " JOIN sources s ON s.id = d.source_id ORDER BY v.observed_at, v.id",
            (json.dumps(sorted(set(blobs))),),
        )
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor]


@dataclass(frozen=True)
class Group:
    """A `passage_groups` row: passages first .. first + len(offsets) - 2, packed."""

    first: int
    end: int  # one past its last passage id
    depth: int
    bases: list[int]
    offsets: list[int]  # where each passage starts in the inflated text, then its length
    data: bytes


class GroupReader:
    """Finds passages from their ids through the group rows alone, inflating each group once.

    A group's id is its first passage's, so the group of passage i is the one with the
    largest id <= i: one indexed lookup per group, none per passage. A text is joined one
    slice per run of consecutive ids (`run_bounds`), so a read costs per run, not per passage.
    """

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.firsts: list[int] = []  # sorted ids of the groups located so far
        self.groups: dict[int, Group] = {}
        self.inflated: dict[int, bytes] = {}

    def _find(self, pid: int) -> Group | None:
        k = bisect_right(self.firsts, pid) - 1
        if k < 0:
            return None
        group = self.groups[self.firsts[k]]
        return group if pid < group.end else None

    def _add(self, row: tuple) -> Group:
        group = self.groups.get(row[0])
        if group is None:
            offsets = list(accumulate(unpack_sizes(row[3]), initial=0))
            end = row[0] + len(offsets) - 1
            group = Group(row[0], end, row[1], unpack_ids(row[2]), offsets, bytes(row[4]))
            insort(self.firsts, group.first)
            self.groups[group.first] = group
        return group

    def _fetch(self, pid: int) -> Group:
        row = self.conn.execute(
            "SELECT id, depth, bases, sizes, data FROM passage_groups WHERE id <= ?"
            " ORDER BY id DESC LIMIT 1",
            (pid,),
        ).fetchone()
        group = None if row is None else self._add(row)
        if group is None or pid >= group.end:
            raise ArchiveError(f"missing passage {pid}")
        return group

    def prefetch(self, groups: Sequence[int]) -> list[Group]:
        """These groups (a blob's, listed in `blob_passages.groups`), fetched in one query;
        a listed id without a row is left out (a read then looks its passages up)."""
        want = [g for g in groups if g not in self.groups]
        if want:
            for row in self.conn.execute(
                "SELECT id, depth, bases, sizes, data FROM passage_groups"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(want),),
            ):
                self._add(row)
        return [self.groups[g] for g in groups if g in self.groups]

    def group_of(self, pid: int) -> Group:
        return self._find(pid) or self._fetch(pid)

    def locate(self, ids: Iterable[int]) -> list[Group]:
        """The groups holding these passage ids (sorted ids make it one lookup per group)."""
        out: dict[int, Group] = {}
        group = None
        for pid in ids:
            if group is None or not group.first <= pid < group.end:
                group = self.group_of(pid)
                out[group.first] = group
        return list(out.values())

    def closure(self, groups: Iterable[Group], skip: Iterable[int] = ()) -> dict[int, Group]:
        """These groups and every group their bases (and theirs, ...) sit in: what a read
        inflates. Groups in skip (already inflated) and their bases are left out."""
        skip = set(skip)
        pending = {g.first: g for g in groups if g.first not in skip}
        todo: dict[int, Group] = {}
        while pending:
            todo.update(pending)
            bases = sorted({b for g in pending.values() for b in g.bases})
            pending = {
                g.first: g
                for g in self.locate(bases)
                if g.first not in skip and g.first not in todo
            }
        return todo

    def size(self, pid: int) -> int:
        """A passage's size in bytes, from its group row."""
        group = self.group_of(pid)
        return group.offsets[pid - group.first + 1] - group.offsets[pid - group.first]

    def text(self, group: Group) -> bytes:
        """A group's passages end to end, inflated once (after the groups of its bases)."""
        text = self.inflated.get(group.first)
        if text is None:
            zdict = zdict_of([self.join(group.bases)]) if group.bases else b""
            text = decompress_group(group.data, zdict)
            if len(text) != group.offsets[-1]:
                raise PassageError(f"corrupt passage group {group.first}: wrong length")
            self.inflated[group.first] = text
        return text

    def read(self, ids: Iterable[int]) -> dict[int, bytes]:
        """Each passage's bytes, locating and inflating what it needs (sorted: no lookup per id)."""
        out: dict[int, bytes] = {}
        first = end = 0
        text = b""
        offsets: list[int] = []
        for pid in sorted(set(ids)):
            if not first <= pid < end:
                group = self.group_of(pid)
                first, end, offsets = group.first, group.end, group.offsets
                text = self.text(group)
            j = pid - first
            out[pid] = text[offsets[j] : offsets[j + 1]]
        return out

    def join(self, ids: Iterable[int]) -> bytes:
        """The passages end to end (a few: a group's bases): consecutive ids of one group are
        one slice."""
        pieces: list[bytes] = []
        text = b""
        offsets: list[int] = []
        first = end = start = stop = 0
        for pid in ids:
            if pid == stop and pid < end:
                stop += 1
                continue
            if stop > start:
                pieces.append(text[offsets[start - first] : offsets[stop - first]])
            if not first <= pid < end:
                group = self.group_of(pid)
                first, end, offsets = group.first, group.end, group.offsets
                text = self.text(group)
            start, stop = pid, pid + 1
        if stop > start:
            pieces.append(text[offsets[start - first] : offsets[stop - first]])
        return b"".join(pieces)

    def copy(
        self, snapshot: bytes | None, groups: Sequence[Group], pieces: bytes, primers: bytes
    ) -> bytes:
        """A text from copy instructions (`PassageStore.bound`): each piece a slice of the
        snapshot (source 0, raw deflate) or of a group's text (source: the group's id); each
        group inflated with the dictionary its primers copy, not through its bases' groups."""
        if snapshot is None:
            raise PassageError("copy instructions without their snapshot")
        sources = {0: decompress_group(snapshot)}
        targets, kinds, starts, ends = unpack_pieces(primers, 4)
        primed: dict[int, list[int]] = {}
        for k, target in enumerate(targets):
            primed.setdefault(target, []).append(k)
        try:
            for group in sorted(groups, key=attrgetter("first")):  # primers copy earlier ones
                ks = primed.get(group.first, ())
                zdict = zdict_of([sources[kinds[k]][starts[k] : ends[k]] for k in ks])
                text = decompress_group(group.data, zdict)
                if len(text) != group.offsets[-1]:
                    raise PassageError(f"corrupt passage group {group.first}: wrong length")
                sources[group.first] = text
            kinds, starts, ends = unpack_pieces(pieces)
            return b"".join(map(getitem, map(sources.__getitem__, kinds), map(slice, starts, ends)))
        except KeyError as e:
            raise PassageError(f"copy instructions name group {e}, not listed") from None

    def assemble(self, ids: Sequence[int], groups: Sequence[Group]) -> bytes:
        """A whole text from these groups (a blob's), iterating in C over its runs: no
        Python work per run or per passage. Falls back to `join` when the groups do not
        hold every run (a stale group list)."""
        groups = sorted(groups, key=attrgetter("first"))
        texts = [b"", *map(self.text, groups)]  # k = bisect_right(firsts, pid): group k - 1
        firsts = [g.first for g in groups]
        ends, shifts, flat = [-1], [0], []  # flat: every group's offsets, end to end
        for group in groups:
            ends.append(group.end)
            shifts.append(len(flat) - group.first)
            flat.extend(group.offsets)
        bounds = run_bounds(ids, set(firsts))
        starts = list(map(ids.__getitem__, bounds[:-1]))
        stops = list(map((1).__add__, map(ids.__getitem__, map((-1).__add__, bounds[1:]))))
        ks = list(map(bisect_right, repeat(firsts), starts))
        if not all(map(le, stops, map(ends.__getitem__, ks))):
            return self.join(ids)
        shift = list(map(shifts.__getitem__, ks))
        cuts = map(
            slice,
            map(flat.__getitem__, map(add, starts, shift)),
            map(flat.__getitem__, map(add, stops, shift)),
        )
        return b"".join(map(getitem, map(texts.__getitem__, ks), cuts))


def read_content(conn: sqlite3.Connection, blake3: str) -> bytes:
    """The exact bytes of a blob, on any connection (the Datasette plugin reads through here).

    Text blobs are kept as passages (their `content` is NULL) and rebuilt, hash-checked.
    """
    row = conn.execute("SELECT content, encoding FROM blobs WHERE blake3 = ?", (blake3,)).fetchone()
    if row is None:
        raise ArchiveError(f"no blob {blake3}")
    if row[0] is None:
        return PassageStore(conn).rebuild(blake3, row[1])
    return bytes(row[0])


def diffs_in_codec(conn: sqlite3.Connection, codec: str) -> list[dict]:
    """rowid, from_blob, delta and delta_codec of the stored diffs kept in a codec (for
    re-encoding them in a migration; on any connection: no `Store` exists yet)."""
    cursor = conn.execute(
        "SELECT rowid, from_blob, delta, delta_codec FROM diffs WHERE delta_codec = ?"
        " ORDER BY rowid",
        (codec,),
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def set_delta(conn: sqlite3.Connection, rowid: int, delta: bytes, codec: str) -> None:
    """Replace a stored diff's delta by the same delta in another codec."""
    conn.execute(
        "UPDATE diffs SET delta = ?, delta_codec = ? WHERE rowid = ?", (delta, codec, rowid)
    )


def text_source(conn: sqlite3.Connection, blake3: str) -> tuple[str, str] | None:
    """(blob, encoding) holding a blob's readable text: its text blob and UTF-8 for
    HTML/PDF/DOCX, else itself and its own encoding; None for binary or unknown."""
    row = conn.execute(
        "SELECT text_blob, is_text, encoding FROM blobs WHERE blake3 = ?", (blake3,)
    ).fetchone()
    if row is None:
        return None
    text_blob, is_text, encoding = row
    if text_blob is not None and text_blob != blake3:
        return text_blob, "utf-8"
    return (blake3, encoding) if is_text else None


def read_text(conn: sqlite3.Connection, blake3: str, cache: TextCache | None = None) -> str | None:
    """The text diffs and passages use: a blob's readable-text blob (HTML/PDF/DOCX) when it
    has one, else a text blob's text (decoded losslessly with its encoding), else None.

    cache: texts already decoded (by key and encoding), consulted and filled."""
    source = text_source(conn, blake3)
    if source is None:
        return None
    key, encoding = source
    text = cache.get(key, encoding) if cache is not None else None
    if text is None:
        text = read_content(conn, key).decode(encoding)
        if cache is not None:
            cache.put(key, encoding, text)
    return text


class TextCache:
    """Decoded texts by blob hash, least recently used dropped past max_chars, and one
    GroupReader for an ingest's packing (group rows never change once written).

    Only texts decoded from bytes whose hash is the key go in (a packed blob, a read), so
    a hit is exactly what reading the blob again would give.
    """

    MAX_GROUPS = 4096  # group rows held by the reader before it starts afresh

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.chars = 0
        # key -> (encoding, text, (passage ids, passages) when this process packed it)
        self.items: OrderedDict[str, tuple[str, str, tuple | None]] = OrderedDict()
        self._reader: GroupReader | None = None

    def get(self, key: str, encoding: str) -> str | None:
        """The text of blob key decoded with encoding, if held."""
        item = self.items.get(key)
        if item is None or item[0] != encoding:
            return None
        self.items.move_to_end(key)
        return item[1]

    def passages(self, key: str) -> tuple[list[int], list[str]] | None:
        """(passage ids, passage texts) of a blob this process packed, if held."""
        item = self.items.get(key)
        return None if item is None else item[2]

    def put(self, key: str, encoding: str, text: str, passages: tuple | None = None) -> None:
        old = self.items.pop(key, None)
        if old is not None:
            self.chars -= len(old[1])
            if passages is None and old[0] == encoding:
                passages = old[2]
        if len(text) > self.max_chars:
            return
        self.items[key] = (encoding, text, passages)
        self.chars += len(text)
        while self.chars > self.max_chars:
            _, dropped = self.items.popitem(last=False)
            self.chars -= len(dropped[1])

    def reader(self, conn: sqlite3.Connection) -> GroupReader:
        """The ingest's GroupReader (a fresh one once it holds MAX_GROUPS groups)."""
        if self._reader is None or len(self._reader.groups) > self.MAX_GROUPS:
            self._reader = GroupReader(conn)
        return self._reader


def table_counts(conn: sqlite3.Connection) -> dict[str, int | None]:
    """Rows per table (Datasette's inspect data, counted once for a served snapshot); None
    for a table SQLite cannot scan (the contentless passages_fts index has no row list)."""
    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    counts: dict[str, int | None] = {}
    for (name,) in names.fetchall():
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            counts[name] = conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0]
        except sqlite3.DatabaseError:
            counts[name] = None
    return counts
