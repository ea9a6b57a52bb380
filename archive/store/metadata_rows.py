"""Store rows of extracted metadata, items, source provenance, sidecars, web captures (mixins)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter

from blake3 import blake3 as blake3_hash

from archive.store.passage_format import unpack_ids


def put_items(
    conn: sqlite3.Connection, blake3: str, items: Iterable[tuple[str, int, str, str | None]]
) -> None:
    """Replace a blob's items (the `blob_items` view): point it at the item set of this list,
    stored the first time it is seen. Why sets: most versions of a document keep the items
    of the one before, so each distinct list is stored once. A set no blob points at any
    more is dropped, so re-extraction leaves no orphans."""
    rows = _sorted_items(items)
    (old,) = conn.execute(
        "SELECT (SELECT item_set FROM blob_item_sets WHERE blob = ?)", (blake3,)
    ).fetchone()
    new = _item_set(conn, rows) if rows else None
    if new is None:
        conn.execute("DELETE FROM blob_item_sets WHERE blob = ?", (blake3,))
    elif new != old:
        conn.execute(
            "INSERT OR REPLACE INTO blob_item_sets (blob, item_set) VALUES (?, ?)", (blake3, new)
        )
    if old is not None and old != new:
        in_use = conn.execute(
            "SELECT 1 FROM blob_item_sets WHERE item_set = ? LIMIT 1", (old,)
        ).fetchone()
        if in_use is None:
            conn.execute("DELETE FROM set_items WHERE item_set = ?", (old,))
            conn.execute("DELETE FROM item_sets WHERE id = ?", (old,))


def _sorted_items(items: Iterable[tuple[str, int, str, str | None]]) -> list[tuple]:
    return sorted(((k, n, v, d) for k, n, v, d in items), key=itemgetter(0, 1))


def _set_digest(rows: list[tuple]) -> bytes:
    """An item list's `item_sets.digest`: BLAKE3 of its rows as compact JSON."""
    return blake3_hash(json.dumps(rows, separators=(",", ":")).encode("ascii")).digest()


def _item_set(conn: sqlite3.Connection, rows: list[tuple]) -> int:
    """The id of the item set holding exactly these (key, ordinal, value, detail) rows."""
    digest = _set_digest(rows)
    found = conn.execute("SELECT id FROM item_sets WHERE digest = ?", (digest,)).fetchone()
    if found is not None:
        return found[0]
    set_id = conn.execute("INSERT INTO item_sets (digest) VALUES (?)", (digest,)).lastrowid
    conn.executemany(
        "INSERT INTO set_items (item_set, key, ordinal, value, detail) VALUES (?, ?, ?, ?, ?)",
        [(set_id, *r) for r in rows],
    )
    return set_id


class MetadataRows:
    """Metadata, provenance and sidecar rows; mixed into `Store` (uses its `conn`, `query`)."""

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
        self.conn.execute(
            f"INSERT OR REPLACE INTO blob_metadata ({', '.join(row)})"
            f" VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
        put_items(self.conn, blake3, items)

    def put_metadata_many(
        self, rows: Sequence[tuple[str, dict, Sequence[tuple[str, int, str, str | None]]]]
    ) -> None:
        """`put_metadata` of each (blake3, fields, items), in order, with one statement per
        table: the same rows and item set ids as a call each. Contents that have items
        already (re-extraction: their old set may be left unused) go one at a time."""
        blobs = [b for b, _, _ in rows]
        if not rows:
            return
        if len(set(blobs)) < len(blobs) or self._have_items(blobs):
            for row in rows:
                self.put_metadata(*row)
            return
        columns = self.metadata_columns()
        self.conn.executemany(
            f"INSERT OR REPLACE INTO blob_metadata (blake3, {', '.join(columns)})"
            f" VALUES ({', '.join('?' * (len(columns) + 1))})",
            [[b, *(fields.get(c) for c in columns)] for b, fields, _ in rows],
        )
        lists = [(b, _sorted_items(items)) for b, _, items in rows]
        digests = {b: _set_digest(items) for b, items in lists if items}
        known = self._item_set_ids(list(set(digests.values())))
        (next_id,) = self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM item_sets").fetchone()
        new_sets: list[tuple[int, bytes]] = []
        set_rows: list[tuple] = []
        links: list[tuple[str, int]] = []
        for blob, items in lists:
            if not items:
                continue  # a new content without items: nothing to point at
            set_id = known.get(digests[blob])
            if set_id is None:  # a list met for the first time: stored once
                set_id = known[digests[blob]] = next_id
                next_id += 1
                new_sets.append((set_id, digests[blob]))
                set_rows += [(set_id, *r) for r in items]
            links.append((blob, set_id))
        self.conn.executemany("INSERT INTO item_sets (id, digest) VALUES (?, ?)", new_sets)
        self.conn.executemany(
            "INSERT INTO set_items (item_set, key, ordinal, value, detail) VALUES (?, ?, ?, ?, ?)",
            set_rows,
        )
        self.conn.executemany(
            "INSERT OR REPLACE INTO blob_item_sets (blob, item_set) VALUES (?, ?)", links
        )

    def _have_items(self, blobs: Sequence[str]) -> bool:
        return any(
            self.conn.execute(
                "SELECT 1 FROM blob_item_sets WHERE blob IN (SELECT value FROM json_each(?))"
                " LIMIT 1",
                (json.dumps(list(blobs[i : i + 500])),),
            ).fetchone()
            for i in range(0, len(blobs), 500)
        )

    def _item_set_ids(self, digests: Sequence[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = {}
        for i in range(0, len(digests), 500):
            part = digests[i : i + 500]
            found.update(
                self.conn.execute(
                    "SELECT digest, id FROM item_sets"
                    f" WHERE digest IN ({','.join('?' * len(part))})",
                    part,
                )
            )
        return found

    def metadata_columns(self) -> list[str]:
        """The extracted fields' columns, read once per store (an import asks per content;
        migrations, the only schema change, run when the store opens)."""
        known = self.__dict__.get("_metadata_columns")
        if known is None:
            rows = self.conn.execute("PRAGMA table_info(blob_metadata)").fetchall()
            known = self.__dict__["_metadata_columns"] = [r[1] for r in rows if r[1] != "blake3"]
        return list(known)

    def metadata(self, blake3: str) -> dict | None:
        return self.query_one("SELECT * FROM blob_metadata WHERE blake3 = ?", (blake3,))

    def metadata_items(self, blake3: str) -> list[dict]:
        return self.query(
            "SELECT key, ordinal, value, detail FROM blob_items WHERE blob = ?"
            " ORDER BY key, ordinal",
            (blake3,),
        )

    # Content leaves (archive.ledger.contents) -------------------------------------------

    def content_facts(self, blobs: Sequence[str]) -> dict[str, dict]:
        """What a content leaf states, per blob given that exists: `text_blob`, `metadata`
        (its row, else None), `items` and `quote_keys` (its quotations' passage keys in text
        order; None without a passage list), and `item_set`: the id of its item set (None
        without items), whose rows `items` is (one list per set, shared by its blobs: read
        only). Bulk reads: one query per table, each set's items read once."""
        wanted = json.dumps(list(blobs))
        where = "IN (SELECT value FROM json_each(?))"
        facts = {
            b: {"text_blob": t, "metadata": None, "items": [], "item_set": None, "quote_keys": None}
            for b, t in self.conn.execute(
                f"SELECT blake3, text_blob FROM blobs WHERE blake3 {where}", (wanted,)
            )
        }
        for row in self.query(f"SELECT * FROM blob_metadata WHERE blake3 {where}", (wanted,)):
            facts[row["blake3"]]["metadata"] = row
        sets = dict(
            self.conn.execute(
                f"SELECT blob, item_set FROM blob_item_sets WHERE blob {where}", (wanted,)
            )
        )
        lists: dict[int, list[dict]] = {}
        for set_id, key, ordinal, value, detail in self.conn.execute(
            f"SELECT item_set, key, ordinal, value, detail FROM set_items WHERE item_set {where}",
            (json.dumps(sorted(set(sets.values()))),),
        ):
            row = {"key": key, "ordinal": ordinal, "value": value, "detail": detail}
            lists.setdefault(set_id, []).append(row)
        for blob, set_id in sets.items():
            if blob in facts:
                facts[blob]["items"], facts[blob]["item_set"] = lists.get(set_id, []), set_id
        quotes = {
            b: unpack_ids(q)
            for b, q in self.conn.execute(
                f"SELECT blob, quotes FROM blob_passages WHERE blob {where}", (wanted,)
            )
        }
        ids = sorted({i for q in quotes.values() for i in q})
        keys = dict(
            self.conn.execute(f"SELECT id, key FROM passages WHERE id {where}", (json.dumps(ids),))
        )
        for blob, quote_ids in quotes.items():
            if blob in facts:
                facts[blob]["quote_keys"] = [keys.get(i) for i in quote_ids]
        return facts

    def content_leaf_subjects(self) -> list[tuple[int, str]]:
        """(leaf index, subject) of every content leaf, in log order."""
        return self.conn.execute(
            "SELECT leaf_index, subject FROM ledger WHERE subject >= 'content:'"
            " AND subject < 'content;' ORDER BY leaf_index"
        ).fetchall()

    def content_leaves(self, subjects: Sequence[str]) -> dict[str, bytes]:
        """subject -> leaf bytes of these content leaves (kept as bytes, never rebuilt)."""
        return {
            subject: bytes(leaf)
            for subject, leaf in self.conn.execute(
                "SELECT subject, leaf FROM ledger"
                " WHERE subject IN (SELECT value FROM json_each(?))",
                (json.dumps(list(subjects)),),
            )
        }

    def blobs_to_extract(self, version: str, everything: bool) -> list[dict]:
        """Document contents (blobs some version points at) whose metadata is missing or was
        made by another extractor version (all of them when everything), with the path of
        the first version that stored each, since names carry identifiers. Large contents
        (kept in chunks) are never extracted: they are not read whole."""
        return self.query(
            "SELECT b.blake3, b.media_type, b.encoding, b.is_text, b.text_blob,"
            " (SELECT v.path FROM versions v WHERE v.blob = b.blake3 ORDER BY v.id LIMIT 1)"
            " AS path FROM blobs b LEFT JOIN blob_metadata m ON m.blake3 = b.blake3"
            " WHERE b.blake3 IN (SELECT blob FROM versions WHERE blob IS NOT NULL)"
            " AND b.blake3 NOT IN (SELECT blob FROM blob_chunks)"
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


# Web captures: one row per WARC response, resource or revisit record ingested.
CAPTURE_COLUMNS = (
    "run_id",
    "source_id",
    "record_id",
    "type",
    "target_uri",
    "captured_at",
    "warc_date",
    "status",
    "mime",
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
