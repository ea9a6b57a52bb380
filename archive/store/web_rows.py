"""Store rows of web captures: one row per WARC response, resource or revisit record (a mixin)."""

from __future__ import annotations

from collections.abc import Mapping

CAPTURE_COLUMNS = (
    "run_id",
    "source_id",
    "record_id",
    "type",
    "target_uri",
    "captured_at",
    "warc_date",
    "status",
    "content_type",
    "http",
    "warc_headers",
    "payload_digest",
    "blob",
    "transferred_blob",
    "location",
    "refers_to",
    "warc_file",
    "warc_member",
    "warc_blake3",
    "warc_offset",
    "warc_length",
    "outcome",
)


class WebRows:
    """Capture rows; mixed into `Store` (uses its `conn`, `query`, `query_one`)."""

    def capture_known(self, record_id: str) -> bool:
        """Whether a WARC record was ingested before (record ids are globally unique)."""
        return (
            self.conn.execute("SELECT 1 FROM captures WHERE record_id = ?", (record_id,)).fetchone()
            is not None
        )

    def add_capture(self, row: Mapping[str, object]) -> int:
        marks = ", ".join(f":{c}" for c in CAPTURE_COLUMNS)
        cursor = self.conn.execute(
            f"INSERT INTO captures ({', '.join(CAPTURE_COLUMNS)}) VALUES ({marks})",
            {c: row.get(c) for c in CAPTURE_COLUMNS},
        )
        return cursor.lastrowid

    def link_capture_records(
        self, run_id: int, requests: Mapping[str, str], metadata: Mapping[str, str]
    ) -> None:
        """Name each capture's request and metadata records (by WARC-Record-ID)."""
        for column, links in (("request_id", requests), ("metadata_id", metadata)):
            self.conn.executemany(
                f"UPDATE captures SET {column} = ? WHERE run_id = ? AND record_id = ?",
                [(linked, run_id, record) for record, linked in links.items()],
            )

    def run_captures(self, run_id: int) -> list[dict]:
        """A run's captures still to plan, in capture time order (file order for ties)."""
        return self.query(
            "SELECT * FROM captures WHERE run_id = ? AND outcome IS NULL ORDER BY captured_at, id",
            (run_id,),
        )

    def set_capture_outcome(self, capture_id: int, outcome: str) -> None:
        self.conn.execute("UPDATE captures SET outcome = ? WHERE id = ?", (outcome, capture_id))

    def set_capture_version(self, capture_id: int, version_id: int) -> None:
        self.conn.execute(
            "UPDATE captures SET version_id = ? WHERE id = ?", (version_id, capture_id)
        )

    def latest_observed(self, source_id: int, path: str) -> str | None:
        """When the newest version of the document at path (in a source) was observed."""
        row = self.conn.execute(
            "SELECT MAX(v.observed_at) FROM versions v JOIN documents d ON d.id = v.document_id"
            " WHERE d.source_id = ? AND d.path = ?",
            (source_id, path),
        ).fetchone()
        return row[0] if row else None

    def capture_of_version(self, version_id: int) -> dict | None:
        return self.query_one("SELECT * FROM captures WHERE version_id = ?", (version_id,))

    def document_captures(self, document_id: int) -> list[dict]:
        """Every capture of a web document's URI, in time order (revisits included)."""
        return self.query(
            "SELECT c.* FROM captures c JOIN documents d"
            " ON d.source_id = c.source_id AND d.path = c.target_uri"
            " WHERE d.id = ? ORDER BY c.captured_at, c.id",
            (document_id,),
        )

    def export_captures(self, source: str | None = None) -> list[dict]:
        """Captures with a stored payload (responses, resources), for a WARC/WACZ export."""
        sql = (
            "SELECT c.* FROM captures c JOIN sources s ON s.id = c.source_id"
            " WHERE c.blob IS NOT NULL"
        )
        params: tuple = ()
        if source is not None:
            sql += " AND s.name = ?"
            params = (source,)
        return self.query(sql + " ORDER BY c.captured_at, c.id", params)
