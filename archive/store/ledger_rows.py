"""Store rows of the ledger: leaves, checkpoints, runs and export rows (a Store mixin)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

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
            "SELECT leaf_index, version_id, leaf, leaf_hash, subject FROM ledger"
            " ORDER BY leaf_index"
        )
        for index, version_id, leaf, leaf_hash, subject in cursor:
            yield {
                "leaf_index": index,
                "version_id": version_id,
                "leaf": leaf,
                "leaf_hash": leaf_hash,
                "subject": subject,
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
