"""Store rows of the ledger (leaves, checkpoints, runs, export rows) and of the evidence about
checkpoints (signatures, cosignatures, time-stamp tokens: public material only); Store mixins."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from archive.errors import ArchiveError


class LedgerRows:
    """Ledger and checkpoint rows; mixed into `Store` (uses its `conn`, `query`)."""

    # Ledger -----------------------------------------------------------------------------

    def leaf_source_rows(self, version_ids: Iterable[int] | None = None) -> list[dict]:
        """What a version's ledger leaf is built from, by version id (all when None)."""
        sql = (
            "SELECT v.id AS version_id, v.document_id, v.seq, v.kind, v.path,"
            " v.blob AS blob_blake3, b.sha256 AS blob_sha256, v.observed_at, v.run_id,"
            " s.name AS source, s.kind AS source_kind, v.sidecar_blob,"
            ' v."commit", c.author_name, c.author_email, c.author_date, c.committer_date,'
            " w.record_id AS capture_record_id, w.target_uri AS capture_target_uri,"
            " w.warc_date AS capture_warc_date, w.status AS capture_status,"
            " w.mime AS capture_mime, w.http AS capture_http,"
            " w.payload_digest AS capture_payload_digest, w.location AS capture_location,"
            " w.warc_blake3 AS capture_warc_blake3, w.warc_member AS capture_warc_member,"
            " w.warc_offset AS capture_warc_offset"
            " FROM versions v LEFT JOIN blobs b ON b.blake3 = v.blob"
            " LEFT JOIN documents d ON d.id = v.document_id"
            " LEFT JOIN sources s ON s.id = d.source_id"
            ' LEFT JOIN commits c ON c.oid = v."commit"'
            " LEFT JOIN captures w ON w.version_id = v.id"
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

    def append_leaves(
        self, leaves: Iterable[tuple[int, int, bytes | None, str, int | None]]
    ) -> None:
        """Insert (leaf_index, version_id, leaf bytes, leaf hash hex, shape) rows; a leaf
        rebuilt from its rows on read is None with the id of its rows' shape."""
        self.conn.executemany(
            "INSERT INTO ledger (leaf_index, version_id, leaf, leaf_hash, shape)"
            " VALUES (?, ?, ?, ?, ?)",
            list(leaves),
        )

    def leaf_shape_id(self, tables: tuple[str, ...]) -> int:
        """The `leaf_shapes` id of these tables' columns now (added the first time seen).
        Remembered per schema version (an import asks once per commit), and checked to be
        still there (a rolled-back run may have taken the row it named with it)."""
        (version,) = self.conn.execute("PRAGMA schema_version").fetchone()
        known = getattr(self, "_leaf_shape", None)
        if known is not None and known[0] == (version, tables):
            row = self.conn.execute(
                "SELECT columns FROM leaf_shapes WHERE id = ?", (known[1],)
            ).fetchone()
            if row is not None and row[0] == known[2]:
                return known[1]
        shape = {t: [r[1] for r in self.conn.execute(f'PRAGMA table_info("{t}")')] for t in tables}
        text = json.dumps(shape, sort_keys=True, separators=(",", ":"))
        self.conn.execute("INSERT OR IGNORE INTO leaf_shapes (columns) VALUES (?)", (text,))
        (shape_id,) = self.conn.execute(
            "SELECT id FROM leaf_shapes WHERE columns = ?", (text,)
        ).fetchone()
        self._leaf_shape = ((version, tables), shape_id, text)
        return shape_id

    def leaf_shapes(self) -> dict[int, dict]:
        """Every kept shape by id: {table: [column, ...]} (an unreadable one is {})."""
        shapes = {}
        for shape_id, text in self.conn.execute("SELECT id, columns FROM leaf_shapes"):
            try:
                shape = json.loads(text)
            except (TypeError, ValueError):
                shape = {}
            shapes[shape_id] = shape if isinstance(shape, dict) else {}
        return shapes

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
        """Every ledger row in log order, leaf bytes as stored (None: rebuilt from rows,
        `archive.ledger.compact`) and shape included."""
        cursor = self.conn.execute(
            "SELECT leaf_index, version_id, leaf, leaf_hash, subject, shape FROM ledger"
            " ORDER BY leaf_index"
        )
        for index, version_id, leaf, leaf_hash, subject, shape in cursor:
            yield {
                "leaf_index": index,
                "version_id": version_id,
                "leaf": leaf,
                "leaf_hash": leaf_hash,
                "subject": subject,
                "shape": shape,
            }

    def ledger_entry(self, version_id: int) -> dict | None:
        return self.query_one(
            "SELECT leaf_index, version_id, leaf, leaf_hash, subject, shape FROM ledger"
            " WHERE version_id = ?",
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


class TrustRows:
    """Signature and timestamp rows; mixed into `Store` (uses its `conn`, `query`)."""

    def add_signature(
        self,
        origin: str,
        size: int,
        root_hex: str,
        kind: str,
        key_name: str,
        verifier: str,
        signature: str,
        added_at: str,
        cosigned_at: int | None = None,
    ) -> bool:
        """Keep one signature line of a checkpoint (kind 'log' or 'witness'); False when
        that exact signature is already kept."""
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO checkpoint_signatures (origin, tree_size, tree_root, kind,"
            " key_name, verifier, signature, cosigned_at, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (origin, size, root_hex, kind, key_name, verifier, signature, cosigned_at, added_at),
        )
        return cursor.rowcount > 0

    def signatures(self, size: int | None = None, root_hex: str | None = None) -> list[dict]:
        """Kept signatures in the order they were added (of one tree when size is given)."""
        if size is None:
            return self.query("SELECT * FROM checkpoint_signatures ORDER BY id")
        return self.query(
            "SELECT * FROM checkpoint_signatures WHERE tree_size = ? AND tree_root = ? ORDER BY id",
            (size, root_hex),
        )

    def add_timestamp(
        self,
        origin: str,
        size: int,
        root_hex: str,
        note: str,
        token: bytes,
        tsa_url: str | None,
        gen_time: str,
        tsa: str,
        added_at: str,
    ) -> None:
        """Keep a TSA's TimeStampResp (DER, as received) over the exact note text."""
        self.conn.execute(
            "INSERT INTO checkpoint_timestamps (origin, tree_size, tree_root, note, token,"
            " tsa_url, gen_time, tsa, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (origin, size, root_hex, note, token, tsa_url, gen_time, tsa, added_at),
        )

    def timestamps(self, size: int | None = None, root_hex: str | None = None) -> list[dict]:
        """Kept tokens, oldest first (of one tree when size is given)."""
        if size is None:
            return self.query("SELECT * FROM checkpoint_timestamps ORDER BY id")
        return self.query(
            "SELECT * FROM checkpoint_timestamps WHERE tree_size = ? AND tree_root = ? ORDER BY id",
            (size, root_hex),
        )

    def first_leaf_hash(self) -> str | None:
        """The hash of leaf 0: what names the log for good (it can never change)."""
        row = self.conn.execute("SELECT leaf_hash FROM ledger WHERE leaf_index = 0").fetchone()
        return None if row is None else row[0]

    # Leaves beyond v1 version leaves (archive/ledger/records.py) -------------------------

    def _in_chunks(self, sql: str, ids: list) -> list[dict]:
        rows: list[dict] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows += self.query(sql.format(marks=",".join("?" * len(chunk))), chunk)
        return rows

    def leaf_facts(self, version_ids: Iterable[int] | None = None) -> list[dict]:
        """What a v2 version leaf holds, per version (in the order of the ids given, else by
        id): `version` (its whole row), `blob` (sha256, size; None for a deletion),
        `source` (its document's source row) and `provenance` (its version_provenance rows)."""
        if version_ids is None:
            versions = self.query("SELECT * FROM versions ORDER BY id")
            provenance = self.query("SELECT * FROM version_provenance")
        else:
            ids = list(version_ids)
            versions = self._in_chunks("SELECT * FROM versions WHERE id IN ({marks})", ids)
            order = {v: n for n, v in enumerate(ids)}
            versions.sort(key=lambda r: order[r["id"]])
            provenance = self._in_chunks(
                "SELECT * FROM version_provenance WHERE version_id IN ({marks})", ids
            )
        blob_keys = sorted({v["blob"] for v in versions if v["blob"] is not None})
        blobs = {
            r["blake3"]: r
            for r in self._in_chunks(
                "SELECT blake3, sha256, size FROM blobs WHERE blake3 IN ({marks})", blob_keys
            )
        }
        doc_ids = sorted({v["document_id"] for v in versions})
        source_of = {
            r["id"]: r["source_id"]
            for r in self._in_chunks(
                "SELECT id, source_id FROM documents WHERE id IN ({marks})", doc_ids
            )
        }
        sources = {r["id"]: r for r in self.query("SELECT * FROM sources")}
        prov: dict[int, list[dict]] = {}
        for row in provenance:
            prov.setdefault(row["version_id"], []).append(row)
        vids = [v["id"] for v in versions]
        captures = {
            r["version_id"]: r
            for r in self._in_chunks("SELECT * FROM captures WHERE version_id IN ({marks})", vids)
        }
        return [
            {
                "version": v,
                "blob": blobs.get(v["blob"]) if v["blob"] is not None else None,
                "source": sources.get(source_of.get(v["document_id"])),
                "provenance": prov.get(v["id"], []),
                "capture": captures.get(v["id"]),
            }
            for v in versions
        ]

    def append_subject_leaves(
        self, leaves: Iterable[tuple[int, str, bytes | None, str, int | None]]
    ) -> None:
        """Insert (leaf_index, subject, leaf bytes, leaf hash hex, shape) rows: leaves of
        commits ('commit:<oid>') and runs ('run:<id>'), which are no version."""
        self.conn.executemany(
            "INSERT INTO ledger (leaf_index, subject, leaf, leaf_hash, shape)"
            " VALUES (?, ?, ?, ?, ?)",
            list(leaves),
        )

    def has_subject_leaves(self) -> bool:
        """Whether this archive writes commit and run leaves already (made or run since)."""
        return (
            self.conn.execute("SELECT 1 FROM ledger WHERE subject IS NOT NULL LIMIT 1").fetchone()
            is not None
        )

    def unledgered_commits(self) -> list[dict]:
        """Commit rows without a leaf, in import order."""
        return self.query(
            "SELECT c.* FROM commits c LEFT JOIN ledger l ON l.subject = 'commit:' || c.oid"
            " WHERE l.leaf_index IS NULL ORDER BY c.source_id, c.position"
        )

    def unledgered_runs(self) -> list[dict]:
        """Run rows without a leaf, in id order."""
        return self.query(
            "SELECT r.* FROM runs r LEFT JOIN ledger l ON l.subject = 'run:' || r.id"
            " WHERE l.leaf_index IS NULL ORDER BY r.id"
        )

    def commit_rows(self, oids: Iterable[str] | None = None) -> dict[str, dict]:
        """Commit rows by oid (all when None)."""
        if oids is None:
            return {r["oid"]: r for r in self.query("SELECT * FROM commits")}
        rows = self._in_chunks("SELECT * FROM commits WHERE oid IN ({marks})", list(oids))
        return {r["oid"]: r for r in rows}

    def run_facts(self, run_ids: Iterable[int] | None = None) -> dict[int, dict]:
        """Per run: `run` (its row), `source`, `problems` and `sidecar_changes` rows."""
        if run_ids is None:
            runs = self.query("SELECT * FROM runs ORDER BY id")
        else:
            runs = self._in_chunks("SELECT * FROM runs WHERE id IN ({marks})", list(run_ids))
        ids = [r["id"] for r in runs]
        problems: dict[int, list[dict]] = {}
        for row in self._in_chunks("SELECT * FROM problems WHERE run_id IN ({marks})", ids):
            problems.setdefault(row["run_id"], []).append(row)
        edits: dict[int, list[dict]] = {}
        for row in self._in_chunks("SELECT * FROM sidecar_changes WHERE run_id IN ({marks})", ids):
            edits.setdefault(row["run_id"], []).append(row)
        captures: dict[int, list[dict]] = {}  # those that made no version (the rest: theirs)
        sql = "SELECT * FROM captures WHERE version_id IS NULL AND run_id IN ({marks})"
        for row in self._in_chunks(sql, ids):
            captures.setdefault(row["run_id"], []).append(row)
        sources = {r["id"]: r for r in self.query("SELECT * FROM sources")}
        return {
            r["id"]: {
                "run": r,
                "source": sources.get(r["source_id"]),
                "problems": problems.get(r["id"], []),
                "sidecar_changes": edits.get(r["id"], []),
                "captures": captures.get(r["id"], []),
            }
            for r in runs
        }

    def document_drift(self) -> list[tuple[int, str]]:
        """Documents whose path, status, current version or first sighting is not what their
        versions say: the newest version's path, 'deleted' when it is a deletion (else
        'present'), its id; the first version's time."""
        rows = self.query(
            "SELECT d.id, d.path, d.status, d.current_version_id, v.id AS vid, v.path AS vpath,"
            " v.kind, d.first_seen, f.observed_at AS first_at FROM documents d"
            " LEFT JOIN versions v ON v.id = (SELECT w.id FROM versions w"
            " WHERE w.document_id = d.id ORDER BY w.seq DESC LIMIT 1)"
            " LEFT JOIN versions f ON f.document_id = d.id AND f.seq = 1 ORDER BY d.id"
        )
        found = []
        for r in rows:
            if r["vid"] is None:
                found.append((r["id"], "document has no version"))
                continue
            status = "deleted" if r["kind"] == "deleted" else "present"
            if r["path"] != r["vpath"]:
                found.append((r["id"], "path is not its newest version's path"))
            if r["status"] != status:
                found.append((r["id"], f"status is {r['status']!r}, its versions say {status!r}"))
            if r["current_version_id"] != r["vid"]:
                found.append((r["id"], "current version is not its newest version"))
            if r["first_seen"] != r["first_at"]:
                found.append((r["id"], "first_seen is not its first version's time"))
        return found

    def text_links(self) -> list[dict]:
        """Blobs with a readable-text blob: (blake3, media_type, text_blob)."""
        return self.query(
            "SELECT blake3, media_type, text_blob FROM blobs WHERE text_blob IS NOT NULL"
            " ORDER BY blake3"
        )


# `archive verify`: what it plans its work units with (lists of blob and diff keys, so a
# worker process on its own read-only connection reads exactly its share), and its record
# of clean runs (`verifications`: the ledger size and root covered, for `verify --quick`).

DiffKey = tuple[str, str, str]


def open_read_only(path: str) -> sqlite3.Connection:
    """A connection that cannot write: what each verify worker reads through."""
    return sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, check_same_thread=False)


def blob_keys(conn: sqlite3.Connection) -> list[str]:
    """Every blob key in storage order (revisions of a file near each other)."""
    return [r[0] for r in conn.execute("SELECT blake3 FROM blobs ORDER BY rowid")]


def diff_keys(conn: sqlite3.Connection) -> list[DiffKey]:
    """Every diff's (from_blob, to_blob, algorithm), in storage order."""
    return [tuple(r) for r in conn.execute("SELECT from_blob, to_blob, algorithm FROM diffs")]


def diff_rows(conn: sqlite3.Connection, keys: Iterable[DiffKey]) -> Iterator[dict]:
    """The full diff rows of keys, in the order given (a key gone meanwhile is skipped)."""
    cursor = conn.execute("SELECT * FROM diffs LIMIT 0")
    names = [d[0] for d in cursor.description]
    for key in keys:
        row = conn.execute(
            "SELECT * FROM diffs WHERE from_blob IS ? AND to_blob IS ? AND algorithm IS ?", key
        ).fetchone()
        if row is not None:
            yield dict(zip(names, row, strict=True))


def leaf_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM ledger").fetchone()[0]


def max_passage_id(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT coalesce(max(id), 0) FROM passages").fetchone()[0]


def passage_keys_between(conn: sqlite3.Connection, after: int, upto: int) -> list[tuple[int, int]]:
    """(id, key) of the passages with after < id <= upto, in id order."""
    return conn.execute(
        "SELECT id, key FROM passages WHERE id > ? AND id <= ? ORDER BY id", (after, upto)
    ).fetchall()


def blobs_since(conn: sqlite3.Connection, leaf_index: int) -> list[str]:
    """Blobs the versions of leaves from leaf_index on point at (content, sidecar) and their
    readable-text blobs, in storage order: what is new since a ledger size."""
    rows = conn.execute(
        "WITH v AS (SELECT v.blob, v.sidecar_blob FROM ledger l"
        " JOIN versions v ON v.id = l.version_id WHERE l.leaf_index >= ?),"
        " k(blake3) AS (SELECT blob FROM v UNION SELECT sidecar_blob FROM v),"
        " t(blake3) AS (SELECT b.text_blob FROM blobs b JOIN k USING (blake3))"
        " SELECT b.blake3 FROM blobs b WHERE b.blake3 IN (SELECT blake3 FROM k)"
        " OR b.blake3 IN (SELECT blake3 FROM t) ORDER BY b.rowid",
        (leaf_index,),
    )
    return [r[0] for r in rows]


def last_verified(conn: sqlite3.Connection) -> dict | None:
    """The latest clean verification (full or quick), or None."""
    cursor = conn.execute("SELECT * FROM verifications ORDER BY id DESC LIMIT 1")
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def record_verified(conn: sqlite3.Connection, row: dict) -> None:
    """Keep a clean verification (the caller holds the write lock)."""
    conn.execute(
        "INSERT INTO verifications (verified_at, mode, tree_size, tree_root, passages_upto)"
        " VALUES (:verified_at, :mode, :tree_size, :tree_root, :passages_upto)",
        row,
    )
