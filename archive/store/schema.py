"""The archive's schema, created and migrated with sqlite-utils.

`PRAGMA user_version` holds the schema version; MIGRATIONS[i] brings a database from
version i to i + 1, so an archive made by any earlier release opens with the current code
(applied, with their data steps, by archive/store/upgrade.py `migrate`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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


def _v2(db: sqlite_utils.Database) -> None:
    """Git provenance: a `commits` table, and `versions.commit` naming the commit of a version.

    The column is added with a plain ALTER TABLE (REFERENCES allowed since it defaults to
    NULL) rather than sqlite-utils' add_foreign_key, which would rebuild `versions`.
    """
    db["commits"].create(
        {
            "oid": str,
            "source_id": int,
            "position": int,
            "author_name": str,
            "author_email": str,
            "author_date": str,
            "committer_name": str,
            "committer_email": str,
            "committer_date": str,
            "message": str,
            "parents": str,
        },
        pk="oid",
        foreign_keys=[("source_id", "sources", "id")],
        not_null={"source_id", "position"},
    )
    db["commits"].create_index(["source_id", "position"], unique=True)
    db["commits"].create_index(["committer_date"])
    db["commits"].create_index(["author_email"])
    db.execute('ALTER TABLE versions ADD COLUMN "commit" TEXT REFERENCES "commits"("oid")')
    db["versions"].create_index(["commit"])


# ingest.extract.FIELDS as of this migration, frozen: a later field needs its own migration.
_METADATA_FIELDS = (
    "title", "dateline", "byline", "author", "language", "word_count", "char_count", "line_count",
    "line_endings", "media_type", "encoding", "canonical_url", "description", "published",
    "first_date", "corpus_number", "identifier", "comment_count",
)  # fmt: skip


def _metadata(db: sqlite_utils.Database) -> None:
    """Extracted metadata per content, readable-text links, and source provenance per version.

    Tidy tables rather than JSON so pages and SQL filter on them; see README "Metadata".
    """
    db["blobs"].add_column("text_blob", str, fk="blobs", fk_col="blake3")
    db["versions"].add_column("sidecar_blob", str, fk="blobs", fk_col="blake3")
    columns: dict[str, type] = {"blake3": str}
    for name in _METADATA_FIELDS:
        columns[name] = int if name.endswith("_count") else str
    columns["extractor_version"] = str
    db["blob_metadata"].create(
        columns,
        pk="blake3",
        foreign_keys=[("blake3", "blobs", "blake3")],
        not_null={"extractor_version"},
    )
    db["blob_items"].create(
        {"blob": str, "key": str, "ordinal": int, "value": str, "detail": str},
        pk=("blob", "key", "ordinal"),
        foreign_keys=[("blob", "blobs", "blake3")],
        not_null={"value"},
    )
    db["version_provenance"].create(
        {"version_id": int, "origin": str, "key": str, "value": str},
        pk=("version_id", "origin", "key"),
        foreign_keys=[("version_id", "versions", "id")],
    )
    db["sidecar_changes"].create(
        {"id": int, "document_id": int, "version_id": int, "run_id": int, "blob": str},
        pk="id",
        foreign_keys=[
            ("document_id", "documents", "id"),
            ("version_id", "versions", "id"),
            ("run_id", "runs", "id"),
            ("blob", "blobs", "blake3"),
        ],
        not_null={"document_id", "version_id", "run_id"},
    )
    for table, cols in [
        ("blobs", ["text_blob"]),
        ("versions", ["sidecar_blob"]),
        ("blob_metadata", ["title"]),
        ("blob_metadata", ["language"]),
        ("blob_metadata", ["media_type"]),
        ("blob_metadata", ["first_date"]),
        ("blob_metadata", ["extractor_version"]),
        ("blob_items", ["key", "value"]),
        ("version_provenance", ["key", "value"]),
        ("sidecar_changes", ["document_id"]),
        ("sidecar_changes", ["version_id"]),
        ("sidecar_changes", ["run_id"]),
    ]:
        db[table].create_index(cols)


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


def _passages(db: sqlite_utils.Database) -> None:
    """Text as passages (archive/store/passage_format.py): each distinct paragraph stored once.

    `passages.key` is the first 8 bytes of the passage's BLAKE3 (signed). The passages a
    version introduced get consecutive ids and are one `passage_groups` row whose `id` is the
    first of them: `sizes` packs their sizes in bytes (so a read finds any passage from its id
    and the group rows alone), `data` is raw deflate of their UTF-8 text end to end, primed
    with the text of the group's `bases` (packed passage ids, the passages they revise;
    `depth`: longest chain of groups behind it). A text blob becomes a `blob_passages` row
    (packed passage ids; `quotes`: packed ids of its quotations, kind 'quote', in order;
    `groups`: packed ids of the groups a read inflates, its passages' and their bases', so
    a read fetches them all in one query) and
    its `blobs.content` is set to NULL. `passages_fts` is a contentless FTS5 index without
    positions or sizes (rowid = passages.id). Existing text blobs are converted here (their
    reads are bounded later, by `_snapshots`, which makes the table that takes).
    """
    for sql in (
        "CREATE TABLE passage_groups (id INTEGER PRIMARY KEY, depth INTEGER NOT NULL,"
        " bases BLOB NOT NULL, sizes BLOB NOT NULL, data BLOB NOT NULL)",
        "CREATE TABLE passages (id INTEGER PRIMARY KEY, key INTEGER NOT NULL UNIQUE,"
        " kind TEXT NOT NULL, size INTEGER NOT NULL)",
        "CREATE TABLE blob_passages (blob TEXT PRIMARY KEY REFERENCES blobs(blake3),"
        " count INTEGER NOT NULL, ids BLOB NOT NULL, quotes BLOB NOT NULL,"
        " groups BLOB NOT NULL) WITHOUT ROWID",
        "CREATE VIRTUAL TABLE passages_fts USING fts5(text, content='', detail=none, columnsize=0)",
    ):
        db.execute(sql)
    # Converting the existing text blobs is a data step (archive/store/upgrade.py).


# The diff of a version: from the document's last version with content before it.
_VERSION_DIFFS_VIEW = """
CREATE VIEW version_diffs AS
SELECT v.id AS version_id, v.document_id, v.seq, v.kind, v.path, v.observed_at,
  p.id AS from_version_id, p.blob AS from_blob, v.blob AS to_blob, d.algorithm,
  d.change_class, d.coarse, d.chars_inserted, d.chars_deleted, d.words_inserted,
  d.words_deleted, d.words_inserted + d.words_deleted AS words_changed, d.similarity, d.hunks
FROM versions v
JOIN versions p ON p.id = (
  SELECT q.id FROM versions q WHERE q.document_id = v.document_id AND q.seq < v.seq
  AND q.blob IS NOT NULL ORDER BY q.seq DESC LIMIT 1)
JOIN diffs d ON d.rowid = (
  SELECT e.rowid FROM diffs e WHERE e.from_blob = p.blob AND e.to_blob = v.blob
  ORDER BY e.rowid DESC LIMIT 1)
WHERE v.blob IS NOT NULL
"""


def _diffs(db: sqlite_utils.Database) -> None:
    """Stored word diffs between contents, once per (from, to, algorithm), and a view that
    gives each version its diff (the newest algorithm's row: the last one inserted).

    Only the compressed delta is kept (`delta_codec` names how): the ops are derived from it
    and the old text, so storing them too would double the table for nothing."""
    db["diffs"].create(
        {
            "from_blob": str,
            "to_blob": str,
            "algorithm": str,
            "delta": bytes,
            "delta_codec": str,
            "chars_inserted": int,
            "chars_deleted": int,
            "words_inserted": int,
            "words_deleted": int,
            "similarity": float,
            "hunks": int,
            "change_class": str,
            "coarse": int,
        },
        pk=("from_blob", "to_blob", "algorithm"),
        foreign_keys=[("from_blob", "blobs", "blake3"), ("to_blob", "blobs", "blake3")],
        not_null={"delta", "delta_codec", "change_class", "coarse"},
    )
    db["diffs"].create_index(["to_blob"])
    db["diffs"].create_index(["change_class"])
    db.execute(_VERSION_DIFFS_VIEW)


def _delta_base(db: sqlite_utils.Database) -> None:
    """Stored deltas re-encoded in the codec primed with their old text (`delta_codec`
    'zlib-base', archive/store/delta_codec.py) where that is smaller: the same deltas, about a
    sixth smaller. A row that does not decompress, or whose old text is gone, is left as it
    is for `archive verify`."""
    # Re-encoding is a data step (archive/store/upgrade.py): this one changes no schema.


def _snapshots(db: sqlite_utils.Database) -> None:
    """Bounded reads: a text whose read would inflate more than MAX_GROUPS passage groups or
    join more than MAX_PIECES runs of passages (archive/store/passage_format.py) is read through a
    snapshot, as git bounds its delta chains (PassageStore.bound; a long history scatters a
    text's passages over many groups, and a read paid for every one).

    A `blob_snapshots` row either holds `data`, raw deflate of the blob's whole text (UTF-8,
    its passages end to end; the other columns empty), or copies it: `pieces` packs (source,
    start, end) triples (zlib of little-endian uint32), each a byte range of a source's
    text, source 0 being the snapshot of `base` (the blob the previous version reads
    through), any other the id of a passage group; `groups` packs the ids of the groups
    they name, all that read inflates, and `primers` packs (group, source, start, end): the
    byte ranges whose join is that group's dictionary (its bases' text), so no older group
    is inflated for it. The passages stay the truth (blame, trace and FTS use them); a read
    still checks the text against the blob's BLAKE3. Existing archives get the rows their
    blobs need here, oldest version first; run again, it leaves the rows there as they are.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS blob_snapshots (blob TEXT PRIMARY KEY REFERENCES blobs(blake3),"
        " data BLOB, base TEXT REFERENCES blobs(blake3), groups BLOB NOT NULL,"
        " pieces BLOB NOT NULL, primers BLOB NOT NULL)"
    )
    # Bounding existing reads is a data step (archive/store/upgrade.py).


def _captures(db: sqlite_utils.Database) -> None:
    """Web captures: one row per WARC response, resource or revisit record ingested.

    A capture names the version it made (NULL when its content was unchanged, a revisit, or
    a status that is no version), so re-reading a WARC adds nothing and pages list every
    capture. Its facts are fixed at capture time; the version's ledger leaf carries them.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS captures (id INTEGER PRIMARY KEY,"
        " run_id INTEGER NOT NULL REFERENCES runs(id),"
        " source_id INTEGER NOT NULL REFERENCES sources(id),"
        " record_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, target_uri TEXT NOT NULL,"
        " captured_at TEXT NOT NULL, warc_date TEXT NOT NULL, status INTEGER,"
        " mime TEXT, http TEXT, warc_headers TEXT NOT NULL, payload_digest TEXT,"
        " blob TEXT REFERENCES blobs(blake3), transferred_blob TEXT REFERENCES blobs(blake3),"
        " location TEXT, refers_to TEXT, request_id TEXT, metadata_id TEXT,"
        " warc_file TEXT NOT NULL, warc_member TEXT, warc_blake3 TEXT NOT NULL,"
        " warc_offset INTEGER NOT NULL, warc_length INTEGER NOT NULL,"
        " version_id INTEGER UNIQUE REFERENCES versions(id), outcome TEXT)"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS captures_uri ON captures (source_id, target_uri, captured_at)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS captures_run ON captures (run_id, outcome)")


def _chunks(db: sqlite_utils.Database) -> None:
    """Large contents as content-defined chunks (archive/store/content.py).

    A blob of at least 16 MiB has `content` NULL and one `blob_chunks` row per chunk, in
    order (`seq` from 0); each distinct chunk is one `chunks` row keyed by its BLAKE3, with
    its size and `codec` ('raw', or 'deflate' when that was smaller). Chunks are shared
    between blobs: the revisions of a large file share the chunks an edit did not touch.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS chunks (blake3 TEXT PRIMARY KEY, size INTEGER NOT NULL,"
        " codec TEXT NOT NULL, data BLOB NOT NULL)"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS blob_chunks (blob TEXT NOT NULL REFERENCES blobs(blake3),"
        " seq INTEGER NOT NULL, chunk TEXT NOT NULL REFERENCES chunks(blake3),"
        " PRIMARY KEY (blob, seq)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX IF NOT EXISTS blob_chunks_chunk ON blob_chunks (chunk)")


def _spans(db: sqlite_utils.Database) -> None:
    """Provenance below the paragraph (archive/store/derived_rows.py, archive/passages/spans.py).

    `span_fts`: every passage's token keys (NFKC, case-folded; CJK characters one token each)
    in a contentless positional FTS5 index, rowid = passage id: a span is a phrase query.
    `passage_documents`: each document that has held each passage (as paragraph or
    quotation), with the first version that did. `reuse_sentences`: the reuse key (BLAKE3 of
    a sentence's token keys) of every sentence of 6+ words of each passage;
    `reuse_documents`: for each key, each document's first version holding it; `reuse_texts`:
    the sentence, as written, of keys that at least two documents hold. `span_state`: how far
    the incremental indexing got.

    Versions: `same_as_version_id` names the document's latest earlier version with the same
    content (a revert, or a restore after deletion: filled here for existing rows, which keep
    their kind, so ledger leaves are unchanged); `copied_from_version_id` names the version of
    another document whose content a new document's first version was copied from.
    """
    for sql in (
        "CREATE VIRTUAL TABLE IF NOT EXISTS span_fts USING fts5(words, content='',"
        " detail=full, columnsize=0, tokenize='ascii')",
        "CREATE TABLE IF NOT EXISTS passage_documents (passage INTEGER NOT NULL,"
        " document_id INTEGER NOT NULL REFERENCES documents(id),"
        " version_id INTEGER NOT NULL REFERENCES versions(id),"
        " PRIMARY KEY (passage, document_id)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS span_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS reuse_sentences (passage INTEGER NOT NULL,"
        " key INTEGER NOT NULL, words INTEGER NOT NULL, PRIMARY KEY (passage, key))"
        " WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS reuse_documents (key INTEGER NOT NULL,"
        " document_id INTEGER NOT NULL REFERENCES documents(id),"
        " version_id INTEGER NOT NULL REFERENCES versions(id), observed_at TEXT NOT NULL,"
        " PRIMARY KEY (key, document_id)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS reuse_texts (key INTEGER PRIMARY KEY, text TEXT NOT NULL,"
        " words INTEGER NOT NULL)",
    ):
        db.execute(sql)
    columns = {c.name for c in db["versions"].columns}
    for column in ("same_as_version_id", "copied_from_version_id"):
        if column not in columns:  # run again (an older archive re-migrated): left as it is
            db.execute(f"ALTER TABLE versions ADD COLUMN {column} INTEGER REFERENCES versions(id)")
    db.execute(
        "UPDATE versions SET same_as_version_id = (SELECT p.id FROM versions p"
        " WHERE p.document_id = versions.document_id AND p.blob = versions.blob"
        " AND p.seq < versions.seq ORDER BY p.seq DESC LIMIT 1)"
        " WHERE blob IS NOT NULL AND same_as_version_id IS NULL"
    )
    # Existing passages are indexed by the next ingest or trace (archive/passages/indexing.py):
    # tokens are a later stage's code, which neither a migration nor the store may call.


def _evidence(db: sqlite_utils.Database) -> None:
    """Evidence about checkpoints an outsider can check, and leaves that are no version.

    `checkpoint_signatures`: each signature line kept for a checkpoint (kind 'log': a C2SP
    note signature; 'witness': a cosignature/v1, `cosigned_at` its time), with the verifier
    key string of its key (public: nothing secret is ever kept). `checkpoint_timestamps`:
    a TSA's RFC 3161 TimeStampResp DER (`token`) over the exact signed `note`. The ledger
    is rebuilt with `version_id` nullable and `subject` ('commit:<oid>', 'run:<id>') for
    commit and run leaves; every leaf's index, bytes and hash are copied unchanged.
    """
    for sql in (
        "CREATE TABLE IF NOT EXISTS checkpoint_signatures (id INTEGER PRIMARY KEY,"
        " origin TEXT NOT NULL, tree_size INTEGER NOT NULL, tree_root TEXT NOT NULL,"
        " kind TEXT NOT NULL, key_name TEXT NOT NULL, verifier TEXT NOT NULL,"
        " signature TEXT NOT NULL, cosigned_at INTEGER, added_at TEXT NOT NULL,"
        " UNIQUE (tree_size, tree_root, verifier, signature))",
        "CREATE TABLE IF NOT EXISTS checkpoint_timestamps (id INTEGER PRIMARY KEY,"
        " origin TEXT NOT NULL, tree_size INTEGER NOT NULL, tree_root TEXT NOT NULL,"
        " note TEXT NOT NULL, token BLOB NOT NULL, tsa_url TEXT, gen_time TEXT NOT NULL,"
        " tsa TEXT, added_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS idx_checkpoint_timestamps_tree ON checkpoint_timestamps"
        " (tree_size, tree_root)",
    ):
        db.execute(sql)
    if "subject" in db["ledger"].columns_dict:
        return  # run again over an archive that has it: leave it as it is
    for sql in (
        "CREATE TABLE ledger_v2 (leaf_index INTEGER PRIMARY KEY,"
        " version_id INTEGER REFERENCES versions(id), leaf BLOB NOT NULL,"
        " leaf_hash TEXT NOT NULL, subject TEXT)",
        "INSERT INTO ledger_v2 (leaf_index, version_id, leaf, leaf_hash)"
        " SELECT leaf_index, version_id, leaf, leaf_hash FROM ledger ORDER BY leaf_index",
        "DROP TABLE ledger",
        "ALTER TABLE ledger_v2 RENAME TO ledger",
        "CREATE UNIQUE INDEX idx_ledger_version_id ON ledger (version_id)",
        "CREATE UNIQUE INDEX idx_ledger_subject ON ledger (subject)",
    ):
        db.execute(sql)


def _verifications(db: sqlite_utils.Database) -> None:
    """`verifications`: one row per clean `archive verify` (mode 'full' or 'quick'): the
    ledger size and root it covered and the last passage id it checked, so `verify --quick`
    re-checks only what came after (and that the ledger still holds that tree)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS verifications (id INTEGER PRIMARY KEY,"
        " verified_at TEXT NOT NULL, mode TEXT NOT NULL, tree_size INTEGER NOT NULL,"
        " tree_root TEXT NOT NULL, passages_upto INTEGER NOT NULL)"
    )


_LEAN_ITEMS = (  # the old rows wait in blob_items_old for the data step `pack_items`
    "ALTER TABLE blob_items RENAME TO blob_items_old",
    "CREATE TABLE item_sets (id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE)",
    "CREATE TABLE set_items (item_set INTEGER NOT NULL REFERENCES item_sets(id), key TEXT NOT"
    " NULL, ordinal INTEGER NOT NULL, value TEXT NOT NULL, detail TEXT,"
    " PRIMARY KEY (item_set, key, ordinal)) WITHOUT ROWID",
    "CREATE TABLE blob_item_sets (blob TEXT PRIMARY KEY REFERENCES blobs(blake3),"
    " item_set INTEGER NOT NULL REFERENCES item_sets(id)) WITHOUT ROWID",
    "CREATE VIEW blob_items AS SELECT s.blob, i.key, i.ordinal, i.value, i.detail"
    " FROM blob_item_sets s JOIN set_items i ON i.item_set = s.item_set",
)
_LEAN_LEDGER = (
    "CREATE TABLE ledger_lean (leaf_index INTEGER PRIMARY KEY, version_id INTEGER REFERENCES"
    " versions(id), leaf BLOB, leaf_hash TEXT NOT NULL, subject TEXT,"
    " shape INTEGER REFERENCES leaf_shapes(id))",
    "INSERT INTO ledger_lean (leaf_index, version_id, leaf, leaf_hash, subject)"
    " SELECT leaf_index, version_id, leaf, leaf_hash, subject FROM ledger ORDER BY leaf_index",
    "DROP TABLE ledger",
    "ALTER TABLE ledger_lean RENAME TO ledger",
    "CREATE UNIQUE INDEX idx_ledger_version_id ON ledger (version_id)",
    "CREATE UNIQUE INDEX idx_ledger_subject ON ledger (subject)",
)


def _lean(db: sqlite_utils.Database) -> None:
    """Items kept once per distinct list, leaves kept as their hash (issue #18).

    A content's items (most unchanged between versions) are a shared `item_sets` row (`digest`:
    BLAKE3 of the list) whose items are `set_items` rows; `blob_item_sets` names each content's
    set, and `blob_items` is now a view of them. `leaf_shapes`: per schema, the columns of the
    tables leaves state, as JSON. The ledger gets a nullable `leaf` and a `shape`: a leaf made
    of rows is kept as NULL, its hash and shape, and rebuilt on read (ledger/compact.py).
    Existing leaves are copied unchanged; run again, it leaves both tables as they are."""
    if "blob_items" in db.table_names():  # still a table, not the view
        for sql in _LEAN_ITEMS:
            db.execute(sql)
    shapes = "leaf_shapes (id INTEGER PRIMARY KEY, columns TEXT NOT NULL UNIQUE)"
    db.execute(f"CREATE TABLE IF NOT EXISTS {shapes}")
    if "shape" not in db["ledger"].columns_dict:
        for sql in _LEAN_LEDGER:
            db.execute(sql)


def _search_on_read(db: sqlite_utils.Database) -> None:
    """Search indexes built where they are read (archive/passages/indexing.py), not by an
    import: `span_state` gains how far `passages_fts` ('text') and `passage_documents`
    ('documents', until now 'version', with the reuse tables) go in an existing archive."""
    db.execute(
        "INSERT OR IGNORE INTO span_state (name, value) SELECT 'text', COALESCE(MAX(id), 0)"
        " FROM passages UNION ALL SELECT 'documents', value FROM span_state WHERE name = 'version'"
    )


# Appended, never inserted: an archive's user_version counts the migrations it has run.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1,
    _v2,
    _metadata,
    _passages,
    _diffs,
    _ledger,
    _delta_base,
    _snapshots,
    _captures,
    _chunks,
    _spans,
    _evidence,
    _verifications,
    _lean,
    _search_on_read,
]
SCHEMA_VERSION = len(MIGRATIONS)

# Data a migration leaves to convert: MIGRATIONS index -> the data step (archive/store/upgrade.py)
# that brings existing rows to today's format once the schema is current. Migrations stay
# frozen DDL; converting rows needs today's code, which a migration must not call.
DATA_STEPS = {3: "pack_passages", 6: "repack_deltas", 7: "bound_passages"}
DATA_STEPS[MIGRATIONS.index(_lean)] = "pack_items"
