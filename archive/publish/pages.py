"""Page data for the archive's Datasette pages: plain functions, rows in, plain dicts out.

Nothing here touches Datasette or SQL, so every page's content is testable on its own; HTML
escaping happens in the (autoescaping) templates, or in markupsafe (diff renderings, cells).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from markupsafe import Markup, escape

from archive.diffs import DiffResult
from archive.diffs.render import diff_lines, hunks, render_html, render_stat
from archive.store.passage_format import passage_digest

HEX64 = re.compile(r"^[0-9a-f]{64}$")
HISTORY_PAGE = 100  # versions per page of a document's history
BAR_MAX_PX = 120
DEFAULT_CONTEXT = 3  # unchanged lines shown around each change on a diff page
MAX_CONTEXT_DIGITS = 6
# Characters XML 1.0 cannot carry at all (C0 controls except tab/LF/CR, surrogates, FFFE/FFFF).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
ATOM_NS = "http://www.w3.org/2005/Atom"
EPOCH = "1970-01-01T00:00:00Z"


class BadRequest(ValueError):
    """A query-string value that cannot name anything (answered with 400)."""


def parse_id(value: str | None, name: str) -> int:
    """A positive integer id from a URL, or BadRequest with a one-line reason."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 18:
        raise BadRequest(f"{name} must be a positive integer id")
    return int(value)


def parse_hash(value: str | None, name: str) -> str:
    """A full 64-digit hex hash (any case) normalised to lower case, or BadRequest."""
    normal = (value or "").strip().lower()
    if not HEX64.match(normal):
        raise BadRequest(f"{name} must be 64 hexadecimal digits")
    return normal


def version_url(version_id: int) -> str:
    return f"/-/archive/version/{int(version_id)}"


def document_url(document_id: int) -> str:
    return f"/-/archive/document/{int(document_id)}"


def diff_url(from_id: int, to_id: int) -> str:
    return f"/-/archive/diff?from={int(from_id)}&to={int(to_id)}"


def blame_url(version_id: int) -> str:
    return f"/-/archive/version/{int(version_id)}/blame"


def trace_url(query: str, normalized: bool = False) -> str:
    """The trace page of a passage hash or a text (the text URL-encoded)."""
    return (
        f"/-/archive/trace?{urlencode({'q': query, **({'normalize': '1'} if normalized else {})})}"
    )


def passage_trace_url(passage_id: int) -> str:
    return f"/-/archive/trace?passage={int(passage_id)}"


def passage_cell(passage_id: object, key: object) -> Markup | None:
    """A passages row's key, linked to the passage's trace (who said it first, and where)."""
    if not isinstance(passage_id, int) or isinstance(passage_id, bool):
        return None
    return Markup('<a href="{}" title="trace this passage">{}</a>').format(
        passage_trace_url(passage_id), key
    )


def history_cell(document_id: object, path: object) -> Markup | None:
    """A documents row's path, linked to the document's history page."""
    if not isinstance(document_id, int) or isinstance(document_id, bool):
        return None
    if not isinstance(path, str):
        return None
    return Markup('<a href="{}" class="archive-history-link"><bdi>{}</bdi></a>').format(
        document_url(document_id), path
    )


def raw_url(blake3: str) -> str:
    return f"/-/archive/raw/{blake3}"


def verify_url(kind: str, value: str) -> str:
    return f"/-/archive/verify?{kind}={value}"


def size_delta(size: int | None, previous: int | None) -> int:
    """Bytes added (+) or removed (-) by a version; a deletion counts as size 0."""
    return (size or 0) - (previous or 0)


def bar_width(delta: int, largest: int) -> int:
    """Bar length in px, proportional to |delta|; any change gets at least 2 px."""
    if delta == 0 or largest <= 0:
        return 0
    return max(2, round(abs(delta) * BAR_MAX_PX / largest))


def words_bar_width(words: int | None, largest: int) -> int:
    """Bar length in px for words changed, proportional to the document's largest change."""
    if not words or largest <= 0:
        return 0
    return max(2, round(words * BAR_MAX_PX / largest))


def history_pager(document_id: int, shown: list[dict], total: int, limit: int) -> dict:
    """Links around a page of a document's versions (newest first): newer, older, the ends."""
    base = document_url(document_id)
    if not shown:
        return {"first": 0, "last": 0, "newer_url": None, "older_url": None}
    top, bottom = shown[0]["seq"], shown[-1]["seq"]
    newer = None
    if top < total:
        newer = base if top + limit >= total else f"{base}?before={top + limit + 1}"
    return {
        "first": top,
        "last": bottom,
        "newest_url": base,
        "newer_url": newer,
        "older_url": f"{base}?before={bottom}" if bottom > 1 else None,
        "oldest_url": f"{base}?before={limit + 1}",
    }


def history_view(
    document: dict, versions: list[dict], total: int | None = None, limit: int | None = None
) -> dict:
    """The timeline of a document, newest first, a page at a time: each version with its
    size change, its change class and words changed (from its stored diff), and links.

    versions: the page's rows, newest first, plus (when there is one) the next older row,
    which only supplies its size to the oldest row shown."""
    limit = limit or len(versions)
    total = len(versions) if total is None else total
    sizes = {v["id"]: v["size"] for v in versions}
    versions = versions[:limit]
    deltas = [size_delta(v["size"], sizes.get(v["previous_version_id"])) for v in versions]
    largest = max((abs(d) for d in deltas), default=0)
    words = [(v.get("words_inserted") or 0) + (v.get("words_deleted") or 0) for v in versions]
    most_words = max(words, default=0)
    rows = []
    for v, delta, changed in zip(versions, deltas, words, strict=True):
        prev = v.get("from_version_id") or v["previous_version_id"]
        rows.append(
            {
                **v,
                "delta": delta,
                "delta_label": f"{delta:+,}" if delta else "±0",
                "bar_px": bar_width(delta, largest),
                "bar_class": "grow" if delta > 0 else "shrink",
                "words_changed": changed if v.get("change_class") else None,
                "words_px": words_bar_width(changed, most_words),
                "words_label": (
                    f"+{v['words_inserted']} −{v['words_deleted']} words"
                    if v.get("change_class")
                    else ""
                ),
                "url": version_url(v["id"]),
                "diff_url": diff_url(prev, v["id"]) if prev is not None else None,
            }
        )
    return {
        "document": document,
        "versions": rows,
        "timeline": timeline_html(rows),
        "atom_url": document_url(document["id"]),
        "total": total,
        "pager": history_pager(document["id"], rows, total, limit),
    }


def web_link(uri: str) -> str | None:
    """A captured URI as a link target, only when it is http(s) (never javascript: & co)."""
    return uri if uri.lower().startswith(("http://", "https://")) else None


def captures_view(document: dict, captures: list[dict]) -> dict:
    """A web document's captures for its history page: each with its status and what it made."""
    rows = [
        {**c, "version_url": version_url(c["version_id"]) if c["version_id"] else None}
        for c in captures
    ]
    target = quote(document["path"], safe="/:?=&@%+~,;!$'()*#[]")
    return {
        "captures": rows,
        "web_url": web_link(document["path"]) if rows else None,
        "timemap_url": f"/-/archive/timemap/link/{target}",
        "timegate_url": f"/-/archive/timegate/{target}",
    }


def capture_view(capture: dict | None) -> dict | None:
    """A version's capture for its page: the WARC record's facts, HTTP headers in order."""
    if capture is None:
        return None
    http = json.loads(capture["http"]) if capture.get("http") else None
    return {
        **capture,
        "status_line": http["status_line"] if http else None,
        "headers": http["headers"] if http else [],
        "uri_link": web_link(capture["target_uri"]),
    }


def _e(value: object) -> str:
    return str(escape(value))


def timeline_row(v: dict) -> str:
    """One history row as HTML, every value escaped: built here rather than in the async
    Jinja template, where each of a long history's ~40 expressions per row costs awaits."""
    old_path = f' <span class="muted">(was <bdi>{_e(v["old_path"])}</bdi>)</span>'
    size = f"{v['size']:,}" if v["size"] is not None else "—"
    words = ""
    if v.get("change_class"):
        cls = _e(v["change_class"])
        words = (
            f'<a href="{_e(v["diff_url"])}" class="diff-class" title="{_e(v["words_label"])}">'
            f'<span class="change-class class-{cls}">{cls}</span> <span class="bar words"'
            f' style="width: {int(v["words_px"])}px"></span>'
            f' <span class="muted">{_e(v["words_changed"])}</span></a>'
        )
    blob = "—"
    if v["blob"]:
        blob = (
            f'<a href="/-/archive/verify?blake3={_e(v["blob"])}" title="{_e(v["blob"])}">'
            f"{_e(v['blob'][:12])}…</a>"
        )
    diff_link = f' · <a href="{_e(v["diff_url"])}" class="diff-link">diff</a>'
    notes = ""
    if v.get("same_as_seq") and v.get("previous_present"):
        back = _e(version_url(v["same_as_version_id"]))
        notes += (
            f' <span class="muted">reverted to <a href="{back}">@{_e(v["same_as_seq"])}</a></span>'
        )
    if v.get("copied_from_label"):
        notes += (
            f' <span class="muted">copied from <a href="'
            f'{_e(version_url(v["copied_from_version_id"]))}"><bdi>{_e(v["copied_from_label"])}'
            "</bdi></a></span>"
        )
    return (
        f'<tr class="kind-{_e(v["kind"])}">\n'
        f'  <td><a href="{_e(v["url"])}">{_e(v["seq"])}</a></td>\n'
        f'  <td><span class="kind">{_e(v["kind"])}</span></td>\n'
        f'  <td class="nowrap">{_e(v["observed_at"])}</td>\n'
        f'  <td><bdi class="path">{_e(v["path"])}</bdi>{old_path if v["old_path"] else ""}'
        f"{notes}</td>\n"
        f'  <td class="num">{size}</td>\n'
        f'  <td class="delta"><span class="bar {_e(v["bar_class"])}"'
        f' style="width: {int(v["bar_px"])}px"></span>'
        f' <span class="muted">{_e(v["delta_label"])}</span></td>\n'
        f'  <td class="words">{words}</td>\n'
        f'  <td class="hash">{blob}</td>\n'
        f'  <td class="nowrap"><a href="{_e(v["url"])}">version</a>'
        f"{diff_link if v['diff_url'] else ''}</td>\n</tr>"
    )


def timeline_html(rows: list[dict]) -> Markup:
    """The history table's body: one precomputed, escaped string for all rows."""
    return Markup("\n".join(timeline_row(v) for v in rows))


def version_view(
    version: dict, text: str | None, proof: dict | None = None, no_proof: str | None = None
) -> dict:
    """One version: text (or a download link), blob metadata, hashes, provenance and the
    ledger proof that its record is in the archive's tamper-evident log."""
    blob = version["blob"]
    return {
        "version": version,
        "proof": proof,
        "no_proof": no_proof,
        "proof_url": f"/-/archive/version/{version['id']}/proof.json",
        "blame_url": blame_url(version["id"]),
        "text": text,
        "is_binary": blob is not None and text is None,
        "raw_url": raw_url(blob) if blob else None,
        "flags": [f for f in (version.get("flags") or "").split(",") if f],
        "history_url": document_url(version["document_id"]),
        "diff_url": (
            diff_url(version["previous_version_id"], version["id"])
            if version["previous_version_id"] is not None
            else None
        ),
        "blake3_url": verify_url("blake3", blob) if blob else None,
    }


def blame_view(version: dict, result: dict | None, no_blame: str | None) -> dict:
    """Each passage of a version with the version that brought it in (and links to trace
    the passage across the archive), or why there is no blame (deleted, binary)."""
    rows = []
    for row in (result or {}).get("passages", []):
        digest = passage_digest(row["text"]).hex()
        rows.append(
            {
                **row,
                "version_url": version_url(row["version_id"]),
                "trace_url": trace_url(digest),
                "is_new": row["version_id"] == version["id"],
            }
        )
    runs = [
        {
            **span,
            "version_url": version_url(span["version_id"]),
            "diff_url": (
                diff_url(span["previous_version_id"], span["version_id"])
                if span["previous_version_id"] is not None
                else None
            ),
            "is_new": span["version_id"] == version["id"],
        }
        for span in (result or {}).get("spans", [])
    ]
    return {
        "version": version,
        "rows": rows,
        "runs": runs,
        "bounded": bool((result or {}).get("bounded")),
        "no_blame": no_blame,
        "version_url": version_url(version["id"]),
        "history_url": document_url(version["document_id"]),
    }


def diff_view(
    old: dict,
    new: dict,
    old_text: str | None,
    new_text: str | None,
    neighbours: tuple[int | None, int | None],
    result: DiffResult | None = None,
    algorithm: str | None = None,
    stored: bool = False,
    side_by_side: bool = False,
    context: int | None = DEFAULT_CONTEXT,
) -> dict:
    """A change: its word diff (inline or side by side, unchanged text beyond `context`
    lines folded; render_html escapes all text), its stats, both sides' provenance, and
    links to the document's neighbouring changes (in the same view and context).

    neighbours: the version with content before `old` and the one after `new` (or None).
    """
    same_doc = old["document_id"] == new["document_id"]
    prev_id, next_id = neighbours
    keep = diff_query(side_by_side, context)
    prev_change = diff_url(prev_id, old["id"]) + keep if same_doc and prev_id is not None else None
    next_change = diff_url(new["id"], next_id) + keep if same_doc and next_id is not None else None
    here = diff_url(old["id"], new["id"])
    diff = None
    if result is not None:
        lines = diff_lines(result.ops)  # split once: for the inline view and the hunk count
        n_hunks = len(hunks(lines))  # as the terminal diff and patch count them
        diff = {
            "html": render_html(result.ops, side_by_side, context, lines),
            "stats": result.stats,
            "change_class": result.change_class,
            "coarse": result.coarse,
            "algorithm": algorithm,
            "stored": stored,
            "stat_line": render_stat(result, n_hunks),
            "hunks": n_hunks,
        }
    return {
        "old": version_view(old, old_text),
        "new": version_view(new, new_text),
        "same_document": same_doc,
        "prev_change": prev_change,
        "next_change": next_change,
        "history_url": document_url(new["document_id"]),
        "diff": diff,
        "side_by_side": side_by_side,
        "context": context,
        "inline_url": here + diff_query(False, context),
        "side_url": here + diff_query(True, context),
        "whole_url": here + diff_query(side_by_side, None),
        "folded_url": here + diff_query(side_by_side, DEFAULT_CONTEXT),
        "keep_folds_open": True,  # see templates/_close_open_menus.html
    }


def diff_query(side_by_side: bool, context: int | None) -> str:
    """The query-string tail that keeps a diff page's view and context (defaults omitted,
    so the default page keeps its one URL)."""
    tail = "&view=side" if side_by_side else ""
    if context != DEFAULT_CONTEXT:
        tail += "&context=" + ("all" if context is None else str(context))
    return tail


def parse_context(value: str | None) -> int | None:
    """?context=N lines around each change (default 3), or ?context=all for the whole text."""
    if value in (None, ""):
        return DEFAULT_CONTEXT
    if value == "all":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > MAX_CONTEXT_DIGITS:
        raise BadRequest("context must be a number of lines or all")
    return int(value)


def parse_view(value: str | None) -> bool:
    """?view=side (two columns) or ?view=inline / absent (one column); anything else is 400."""
    if value in (None, "", "inline"):
        return False
    if value == "side":
        return True
    raise BadRequest("view must be inline or side")


def delta_cell(row: dict, versions: tuple[int, int] | None) -> Markup:
    """A `diffs.delta` cell: a short summary of the row's stats instead of compressed bytes,
    linked to the diff page of a version pair having that diff (when one is known)."""

    def num(key: str) -> str:
        value = row.get(key)
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else "?"

    cls = row.get("change_class")
    hunks = num("hunks")
    text = (
        f"+{num('words_inserted')} −{num('words_deleted')} words, {hunks} hunk"
        + ("" if hunks == "1" else "s")
        + (f", {cls}" if isinstance(cls, str) else "")
    )
    if versions is None:
        return Markup('<span class="diff-summary">{}</span>').format(text)
    return Markup('<a href="{}" class="diff-summary">{}</a>').format(diff_url(*versions), text)


def lookup_view(kind: str, value: str, rows: list[dict]) -> dict:
    """Where a content appeared: every version, each with its document, linked."""
    return {
        "query": {kind: value},
        "found": bool(rows),
        "matches": [
            {
                "version_id": r["version_id"],
                "seq": r["seq"],
                "document_id": r["document_id"],
                "path": r["path"],
                "document_path": r["document_path"],
                "source": r["source"],
                "kind": r["kind"],
                "observed_at": r["observed_at"],
                "blake3": r["blake3"],
                "sha256": r["sha256"],
                "size": r["size"],
                "version_url": version_url(r["version_id"]),
                "document_url": document_url(r["document_id"]),
            }
            for r in rows
        ],
    }


def xml_text(value: object) -> str:
    """Text XML 1.0 can carry: characters it forbids become U+FFFD (never silently dropped)."""
    return _XML_INVALID.sub("\ufffd", "" if value is None else str(value))


@dataclass(frozen=True)
class FeedEntry:
    id: str
    title: str
    updated: str
    link: str
    summary: str


def change_entry(change: dict, base_url: str) -> FeedEntry:
    """One Atom entry for a version row (from queries.RECENT_CHANGES / DOCUMENT_CHANGES)."""
    link = base_url + version_url(change["id"])
    what = f"{change['kind']}: {change['path']} (version {change['seq']})"
    summary = f"{change['source']}:{change['path']} {change['kind']} at {change['observed_at']}"
    if change.get("old_path"):
        summary += f" (was {change['old_path']})"
    if change.get("blob"):
        summary += f"; {change['size']} bytes, BLAKE3 {change['blob']}"
    return FeedEntry(link, what, change["observed_at"], link, summary)


def atom_feed(
    feed_id: str,
    title: str,
    self_url: str,
    alt_url: str,
    entries: list[FeedEntry],
    next_url: str | None = None,
) -> str:
    """Valid Atom 1.0: ElementTree escapes all text; xml_text replaces what XML cannot hold.
    next_url: the older entries' page (RFC 5005 paged feed), when there are more."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(
            parent, f"{{{ATOM_NS}}}{tag}", {k: xml_text(v) for k, v in attrs.items()}
        )
        if text is not None:
            el.text = xml_text(text)
        return el

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", feed_id)
    sub(feed, "title", title)
    sub(feed, "updated", max((e.updated for e in entries), default=EPOCH))
    sub(sub(feed, "author"), "name", "provenance-archive")
    sub(feed, "link", rel="self", href=self_url)
    sub(feed, "link", rel="alternate", href=alt_url)
    if next_url:
        sub(feed, "link", rel="next", href=next_url)
    for e in entries:
        entry = sub(feed, "entry")
        sub(entry, "id", e.id)
        sub(entry, "title", e.title)
        sub(entry, "updated", e.updated)
        sub(entry, "link", rel="alternate", href=e.link)
        sub(entry, "summary", e.summary)
    # ElementTree leaves CR raw, which XML parsers turn into LF: keep it as a reference.
    body = ET.tostring(feed, encoding="unicode").replace("\r", "&#13;")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n"


# What a version page shows of its document: extracted metadata and source provenance.
# Values are document text (hostile): the templates escape them; only http(s) values link.

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
