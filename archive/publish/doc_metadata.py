"""What a version's page shows about its document: extracted metadata and source provenance.

Rows in (blob_metadata, blob_items, version_provenance), labelled rows out. Values are
document text (hostile): the templates escape them, and only http(s) values become links.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# blob_metadata columns worth showing, in order, with their labels (counts and encodings are
# on the page already, or are noise).
SHOWN = (
    ("title", "Title"),
    ("author", "Author"),
    ("byline", "Byline"),
    ("dateline", "Dateline"),
    ("published", "Published"),
    ("first_date", "First date in the text"),
    ("description", "Description"),
    ("language", "Language"),
    ("canonical_url", "Source URL"),
    ("identifier", "Identifier"),
    ("corpus_number", "Corpus number"),
    ("word_count", "Words"),
)
ITEM_LABELS = {"tag": "Tags", "keyword": "Keywords", "link": "Links", "author": "Authors"}

METADATA = "SELECT * FROM blob_metadata WHERE blake3 = :blob"
ITEMS = "SELECT key, value, detail FROM blob_items WHERE blob = :blob ORDER BY key, ordinal"
PROVENANCE = (
    "SELECT origin, key, value FROM version_provenance WHERE version_id = :id ORDER BY origin, key"
)


def web_url(value: object) -> str | None:
    """The value as a link target when it is an http(s) URL, else None (no javascript:)."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def metadata_rows(metadata: dict | None, items: list[dict]) -> list[dict]:
    """Labelled rows: the shown columns that have a value, then the items grouped by key."""
    rows = []
    for key, label in SHOWN:
        value = (metadata or {}).get(key)
        if value not in (None, ""):
            rows.append({"label": label, "value": value, "url": web_url(value)})
    grouped: dict[str, list[str]] = {}
    for item in items:
        grouped.setdefault(item["key"], []).append(item["value"])
    for key, values in grouped.items():
        label = ITEM_LABELS.get(key, key.replace("_", " ").capitalize())
        rows.append({"label": label, "value": ", ".join(values), "url": None})
    return rows


def provenance_rows(rows: list[dict]) -> list[dict]:
    return [{**r, "url": web_url(r["value"])} for r in rows]


def read_doc_metadata(conn, blob: str | None, version_id: int) -> tuple[list[dict], list[dict]]:
    """(metadata rows, provenance rows) of a version, read on the page's connection."""

    def fetch(sql: str, params: dict) -> list[dict]:
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    meta = fetch(METADATA, {"blob": blob}) if blob else []
    items = fetch(ITEMS, {"blob": blob}) if blob else []
    return (
        metadata_rows(meta[0] if meta else None, items),
        provenance_rows(fetch(PROVENANCE, {"id": version_id})),
    )
