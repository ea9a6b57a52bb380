"""Every SQL statement the Datasette plugin runs, in one place, against the public schema.

Canned queries for Datasette users live in metadata.yml; these are the ones behind our pages.
Content is never read here: pages get it through `archive.store.read_content` / `read_text`
run on Datasette's connection, so how blobs are kept stays the store's business.
"""

from __future__ import annotations

HAS_VERSIONS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'versions'"
# A version with a previous one (else any): its pages warm a new server process up.
WARM_VERSION = (
    "SELECT id, document_id, previous_version_id FROM versions"
    " ORDER BY previous_version_id IS NULL, id DESC LIMIT 1"
)
DOCUMENT = (
    "SELECT d.id, d.source_id, d.path, d.status, d.first_seen, d.last_seen,"
    " d.current_version_id, s.name AS source, s.location"
    " FROM documents d JOIN sources s ON s.id = d.source_id WHERE d.id = :id"
)

# Joined to a version `v`: `p`, the document's previous version with content, and `d`, the
# newest stored diff from its content to v's (the version_diffs view's row, per version).
WITH_DIFF = (
    " LEFT JOIN versions p ON v.blob IS NOT NULL AND p.id = ("
    " SELECT q.id FROM versions q WHERE q.document_id = v.document_id AND q.seq < v.seq"
    " AND q.blob IS NOT NULL ORDER BY q.seq DESC LIMIT 1)"
    " LEFT JOIN diffs d ON d.rowid = ("
    " SELECT e.rowid FROM diffs e WHERE e.from_blob = p.blob AND e.to_blob = v.blob"
    " ORDER BY e.rowid DESC LIMIT 1)"
)

# A page of a document's versions (newest first, before seq :before) with their stored diffs,
# as the version_diffs view has them (the newest algorithm's
# diff from the previous version with content), but looked up per row: joining the view makes
# SQLite materialise it for every version of the archive.
DOCUMENT_VERSIONS = (
    "SELECT v.id, v.document_id, v.seq, v.blob, v.path, v.kind, v.run_id, v.observed_at,"
    " v.mtime, v.previous_version_id, v.old_path, b.sha256, b.size,"
    " CASE WHEN d.rowid IS NOT NULL THEN p.id END AS from_version_id, d.change_class,"
    " d.words_inserted, d.words_deleted, d.coarse, v.same_as_version_id,"
    " (SELECT s.seq FROM versions s WHERE s.id = v.same_as_version_id) AS same_as_seq,"
    " (SELECT pv.blob IS NOT NULL FROM versions pv WHERE pv.id = v.previous_version_id)"
    " AS previous_present, v.copied_from_version_id,"
    " (SELECT cd.path || '@' || cv.seq FROM versions cv JOIN documents cd"
    " ON cd.id = cv.document_id WHERE cv.id = v.copied_from_version_id) AS copied_from_label"
    " FROM versions v LEFT JOIN blobs b ON b.blake3 = v.blob"
    + WITH_DIFF
    + " WHERE v.document_id = :id AND v.seq < :before ORDER BY v.seq DESC LIMIT :limit"
)
VERSION_COUNT = "SELECT count(*) AS n FROM versions WHERE document_id = :id"

VERSION = (
    "SELECT v.id, v.document_id, v.seq, v.blob, v.path, v.kind, v.run_id, v.observed_at,"
    " v.mtime, v.previous_version_id, v.old_path,"
    " b.sha256, b.size, b.media_type, b.encoding, b.is_text, b.newline, b.flags,"
    " d.path AS document_path, d.status AS document_status,"
    " s.name AS source, s.kind AS source_kind, s.location,"
    " r.started_at AS run_started_at, r.tool_version, r.command, v.same_as_version_id,"
    " (SELECT sa.seq FROM versions sa WHERE sa.id = v.same_as_version_id) AS same_as_seq,"
    " (SELECT pv.blob IS NOT NULL FROM versions pv WHERE pv.id = v.previous_version_id)"
    " AS previous_present, v.copied_from_version_id,"
    " (SELECT cd.path || '@' || cv.seq FROM versions cv JOIN documents cd"
    " ON cd.id = cv.document_id WHERE cv.id = v.copied_from_version_id) AS copied_from_label"
    " FROM versions v JOIN documents d ON d.id = v.document_id"
    " JOIN sources s ON s.id = d.source_id JOIN runs r ON r.id = v.run_id"
    " LEFT JOIN blobs b ON b.blake3 = v.blob WHERE v.id = :id"
)

# Every capture of a web document's URI (revisits and unchanged ones included), oldest first.
DOCUMENT_CAPTURES = (
    "SELECT c.id, c.record_id, c.type, c.captured_at, c.status, c.mime, c.location,"
    " c.outcome, c.version_id, c.warc_file, c.warc_member"
    " FROM captures c JOIN documents d ON d.source_id = c.source_id AND d.path = c.target_uri"
    " WHERE d.id = :id ORDER BY c.captured_at, c.id"
)
VERSION_CAPTURE = (
    "SELECT record_id, type, target_uri, captured_at, warc_date, status, mime, http,"
    " payload_digest, location, request_id, metadata_id, warc_file, warc_member, warc_blake3,"
    " warc_offset, warc_length, transferred_blob FROM captures WHERE version_id = :id"
)

NEXT_VERSION = (
    "SELECT id FROM versions WHERE document_id = :document_id AND seq > :seq ORDER BY seq LIMIT 1"
)

NEXT_CONTENT_VERSION = (
    "SELECT id FROM versions WHERE document_id = :document_id AND seq > :seq"
    " AND blob IS NOT NULL ORDER BY seq LIMIT 1"
)

PREVIOUS_CONTENT_VERSION = (
    "SELECT id FROM versions WHERE document_id = :document_id AND seq < :seq"
    " AND blob IS NOT NULL ORDER BY seq DESC LIMIT 1"
)

# The newest stored diff of a pair (the last algorithm's row).
STORED_DIFF = (
    "SELECT algorithm, delta, delta_codec, chars_inserted, chars_deleted, words_inserted,"
    " words_deleted, similarity, hunks, change_class, coarse FROM diffs"
    " WHERE from_blob = :from_blob AND to_blob = :to_blob ORDER BY rowid DESC LIMIT 1"
)

# A version pair whose diff is this (from, to) content pair: the diffs table's cells link to it.
PAIR_VERSIONS = (
    "SELECT p.id AS from_id, v.id AS to_id FROM versions v JOIN versions p ON p.id = ("
    " SELECT q.id FROM versions q WHERE q.document_id = v.document_id AND q.seq < v.seq"
    " AND q.blob IS NOT NULL ORDER BY q.seq DESC LIMIT 1)"
    " WHERE v.blob = :to_blob AND p.blob = :from_blob ORDER BY v.id LIMIT 1"
)

_LOOKUP = (
    "SELECT v.id AS version_id, v.seq, v.document_id, v.path, v.kind, v.observed_at,"
    " d.path AS document_path, s.name AS source, b.blake3, b.sha256, b.size"
    " FROM blobs b JOIN versions v ON v.blob = b.blake3"
    " JOIN documents d ON d.id = v.document_id JOIN sources s ON s.id = d.source_id"
)
LOOKUP_SHA256 = _LOOKUP + " WHERE b.sha256 = :hash ORDER BY v.id"
LOOKUP_BLAKE3 = _LOOKUP + " WHERE b.blake3 = :hash ORDER BY v.id"

_CHANGES = (
    "SELECT v.id, v.document_id, v.seq, v.blob, v.path, v.kind, v.observed_at,"
    " v.previous_version_id, v.old_path, b.size, b.sha256, s.name AS source"
    " FROM versions v JOIN documents d ON d.id = v.document_id"
    " JOIN sources s ON s.id = d.source_id LEFT JOIN blobs b ON b.blake3 = v.blob"
)
# Newest first, before version id :before (a feed's older pages).
RECENT_CHANGES = _CHANGES + " WHERE v.id < :before ORDER BY v.id DESC LIMIT :limit"
DOCUMENT_CHANGES = (
    _CHANGES + " WHERE v.document_id = :id AND v.id < :before ORDER BY v.id DESC LIMIT :limit"
)

# Search by document path; text search goes through the passage store (archive.passages.trace).
SEARCH_PATHS = (
    "SELECT d.id AS document_id, d.path, d.status, s.name AS source, d.current_version_id,"
    " d.last_seen FROM documents d JOIN sources s ON s.id = d.source_id"
    " WHERE d.path LIKE :pattern ESCAPE '\\' ORDER BY d.path, d.id LIMIT :limit OFFSET :offset"
)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (%, _ and \\ escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# What a version page shows of its document (pages.metadata_rows, provenance_rows).
DOC_METADATA = "SELECT * FROM blob_metadata WHERE blake3 = :blob"
DOC_ITEMS = "SELECT key, value, detail FROM blob_items WHERE blob = :blob ORDER BY key, ordinal"
DOC_PROVENANCE = (
    "SELECT origin, key, value FROM version_provenance WHERE version_id = :id ORDER BY origin, key"
)

# The front door (archive/publish/front.py): the home page and the Changes page.
COUNTS = (
    "SELECT (SELECT count(*) FROM sources) AS sources,"
    " (SELECT count(*) FROM documents) AS documents,"
    " (SELECT count(*) FROM documents WHERE status = 'present') AS present,"
    " (SELECT count(*) FROM versions) AS versions,"
    " (SELECT count(*) FROM blobs) AS blobs,"
    " (SELECT coalesce(sum(size), 0) FROM blobs WHERE is_text = 1) AS text_bytes,"
    " (SELECT count(*) FROM runs) AS runs"
)

LATEST_CHECKPOINT = (
    "SELECT id AS run_id, tree_size, tree_root, coalesce(finished_at, started_at) AS at"
    " FROM runs WHERE tree_size IS NOT NULL ORDER BY id DESC LIMIT 1"
)

# Each version with its stored diff (the version_diffs view's row, looked up per version: joining
# the view would materialise it for the whole archive), newest first, before an id (paging).
CHANGES = (
    "SELECT v.id, v.document_id, v.seq, v.blob, v.path, v.kind, v.observed_at,"
    " v.previous_version_id, v.old_path, b.size, s.name AS source,"
    " CASE WHEN d.rowid IS NOT NULL THEN p.id END AS from_version_id, d.change_class,"
    " d.words_inserted, d.words_deleted"
    " FROM versions v JOIN documents doc ON doc.id = v.document_id"
    " JOIN sources s ON s.id = doc.source_id LEFT JOIN blobs b ON b.blake3 = v.blob"
    + WITH_DIFF
    + " WHERE v.id < :before ORDER BY v.id DESC LIMIT :limit"
)

MOST_CHANGED = (
    "SELECT d.id, d.path, d.status, s.name AS source, c.versions FROM ("
    " SELECT document_id, count(*) AS versions FROM versions GROUP BY document_id"
    " HAVING count(*) > 1 ORDER BY versions DESC, document_id LIMIT :limit) c"
    " JOIN documents d ON d.id = c.document_id JOIN sources s ON s.id = d.source_id"
    " ORDER BY c.versions DESC, d.id"
)
