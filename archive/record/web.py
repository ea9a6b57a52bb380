"""Record web captures (WARC/WACZ records) as versions of the documents their URIs name.

Each `response` or `resource` record is an observation of the document at its
`WARC-Target-URI`, made at its `WARC-Date`: a new content is a version (its provenance is the
capture's: record id, status, headers, payload digest, WARC file and offset), an unchanged
one adds none, a 404/410 marks the document deleted and a later 200 restores it. Every
capture is kept as a `captures` row whether or not it made a version, so re-reading the same
WARC adds nothing and the pages can list each capture. Records are streamed and stored as
they are read; versions are recorded afterwards in capture-time order, one run, one batch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from archive.diffs.pipeline import DiffPool, DiffQueue, worker_deaths
from archive.ledger.checkpoints import backfill, checkpoint_run
from archive.passages.indexing import catch_up_documents
from archive.record.metadata import store_content
from archive.record.plan import Change, Observed, plan
from archive.record.versions import RunSummary, record_versions
from archive.store import ArchiveError, Store, now_iso
from ingest.content import describe
from ingest.hashing import blake3_hex
from ingest.warc import WarcProblem, WebRecord, read_capture

SOURCE_KIND = "web"
DEFAULT_SOURCE = "web"
GONE = frozenset({404, 410})
CONTENT_TYPES = {"response", "resource"}
# What a capture made: a version kind (added, modified, deleted, restored, reverted) or one of
# these.
UNCHANGED, OLDER, NOT_A_VERSION, REVISIT = "unchanged", "older", "not-a-version", "revisit"
# Extensions that let the content sniffer read a URI without one as the type it was served as.
SERVED_AS = {
    "text/html": ".html",
    "application/xhtml+xml": ".xhtml",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/markdown": ".md",
}

Progress = Callable[[int], None]  # records read so far


@dataclass
class WebRunSummary(RunSummary):
    records: int = 0
    captures: int = 0
    revisits: int = 0
    requests: int = 0
    metadata: int = 0
    duplicates: int = 0
    warc_files: list[dict] = field(default_factory=list)


@dataclass
class _Links:
    """Request and metadata records found, by the record they belong to (linked at the end)."""

    requests: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


def sniff_name(uri: str, content_type: str | None) -> str:
    """A name for the content sniffer: the URI's path, given the served type's extension."""
    path = urlsplit(uri).path or "/"
    name = path.rsplit("/", 1)[-1]
    if os.path.splitext(name)[1]:
        return name
    media = (content_type or "").split(";")[0].strip().lower()
    return (name or "index") + SERVED_AS.get(media, "")


def outcome_of(status: int | None) -> str:
    """What a response's HTTP status makes of it: content, gone, or not a version at all."""
    if status is None or 200 <= status < 400:
        return "content"  # 2xx, a resource record, or a redirect (kept with its target)
    if status in GONE:
        return "gone"
    return NOT_A_VERSION


def http_block(record: WebRecord) -> str | None:
    """The HTTP status line and headers of a record as JSON (kept verbatim, in order)."""
    if record.status_line is None:
        return None
    block = {
        "protocol": record.http_protocol,
        "status_line": record.status_line,
        "headers": record.http_headers,
    }
    return json.dumps(block, ensure_ascii=False)


def ingest_warcs(
    store: Store,
    paths: Iterable[str],
    command: str,
    source_name: str | None = None,
    progress: Progress | None = None,
    *,
    keep_files: bool = False,
) -> WebRunSummary:
    """Read each capture file and record its captures in one run of the web source.

    keep_files: also store each file's bytes as a blob (`archive capture` keeps its WARCs in
    the archive, as the raw evidence of the capture; the captures name it by BLAKE3).
    """
    paths = list(paths)
    if not paths:
        raise ArchiveError("no WARC or WACZ file given")
    name = source_name or DEFAULT_SOURCE
    started = now_iso()
    problems: list[tuple[str, str]] = []
    links = _Links()
    summary = WebRunSummary(0, name, 0, 0, 0, 0)
    with worker_deaths(), DiffPool() as pool, store.write(), store.caching_texts():
        named = store.source_named(name)
        if named is not None and named["kind"] != SOURCE_KIND:
            raise ArchiveError(f"source {name!r} is a {named['kind']} source, not a web one")
        source = store.source(SOURCE_KIND, name, name)
        run_id = store.start_run(source["id"], command, started)
        summary.run_id, summary.source = run_id, source["name"]
        backfill(store)
        files: dict[tuple[str, str | None], dict] = {}
        for path in paths:
            if keep_files:
                _keep(store, path)
            for item in read_capture(path):
                if isinstance(item, WarcProblem):
                    where = item.file if item.offset is None else f"{item.file}@{item.offset}"
                    problems.append((where, item.reason))
                    continue
                summary.records += 1
                key = (item.file.path, item.file.member)
                files.setdefault(key, _file_row(store, item))
                _take(store, source["id"], run_id, item, links, summary)
                if progress:
                    progress(summary.records)
        summary.warc_files = list(files.values())
        store.link_capture_records(run_id, links.requests, links.metadata)
        diffs = DiffQueue(store, pool)
        kinds = _record_captures(store, source["id"], run_id, diffs, problems)
        diffs.store_all()
        catch_up_documents(store)  # the run's new passages' documents, and copies
        summary.kinds = dict(sorted(kinds.items()))
        summary.new_versions = sum(n for k, n in kinds.items() if k in _VERSION_KINDS)
        summary.unchanged = kinds.get(UNCHANGED, 0)
        summary.files_seen = summary.captures
        summary.problems = len(problems)
        store.add_problems(run_id, problems)
        store.finish_run(
            run_id,
            files_seen=summary.files_seen,
            new_versions=summary.new_versions,
            unchanged=summary.unchanged,
            problems=summary.problems,
        )
        checkpoint_run(store, run_id)
    summary.problem_list = [{"path": p, "reason": r} for p, r in problems]
    return summary


_VERSION_KINDS = frozenset({"added", "modified", "deleted", "restored", "reverted", "renamed"})


def _keep(store: Store, path: str) -> None:
    with open(path, "rb") as f:
        data = f.read()
    info, _ = describe(os.path.basename(path), data)
    store.insert_blob(info, data)


def _file_row(store: Store, record: WebRecord) -> dict:
    return {
        "path": store.location_of(record.file.path),
        "member": record.file.member,
        "blake3": record.file.blake3,
        "size": record.file.size,
    }


def _take(
    store: Store,
    source_id: int,
    run_id: int,
    record: WebRecord,
    links: _Links,
    summary: WebRunSummary,
) -> None:
    """Store one record's content and capture row (requests and metadata: remember links)."""
    if record.type == "request":
        summary.requests += 1
        for target in record.concurrent_to:
            links.requests.setdefault(target, record.record_id)
        return
    if record.type == "metadata":
        summary.metadata += 1
        for target in (record.refers_to, *record.concurrent_to):
            if target:
                links.metadata.setdefault(target, record.record_id)
        return
    if record.type not in CONTENT_TYPES and record.type != "revisit":
        return
    if not record.target_uri or record.digest_ok is False:
        return  # reported by the reader (a digest mismatch) or nothing names a document
    if store.capture_known(record.record_id):
        summary.duplicates += 1
        return
    blob = transferred = None
    if record.type == "revisit":
        summary.revisits += 1
    else:
        summary.captures += 1
        blob = _store_payload(store, record)
        if record.transferred is not None:
            info, _ = describe("", record.transferred)
            store.insert_blob(info, record.transferred)
            transferred = info.blake3
    for target in record.concurrent_to:  # a response pointing at its request
        links.requests.setdefault(record.record_id, target)
    store.add_capture(
        {
            "run_id": run_id,
            "source_id": source_id,
            "record_id": record.record_id,
            "type": record.type,
            "target_uri": record.target_uri,
            "captured_at": record.date,
            "warc_date": record.warc_date,
            "status": record.status,
            "mime": record.content_type,
            "http": http_block(record),
            "warc_headers": json.dumps(record.warc_headers, ensure_ascii=False),
            "payload_digest": record.payload_digest,
            "blob": blob,
            "transferred_blob": transferred,
            "location": record.location,
            "refers_to": record.refers_to,
            "warc_file": store.location_of(record.file.path),
            "warc_member": record.file.member,
            "warc_blake3": record.file.blake3,
            "warc_offset": record.offset,
            "warc_length": record.length,
            "outcome": REVISIT if record.type == "revisit" else None,
        }
    )


def _store_payload(store: Store, record: WebRecord) -> str:
    blake3 = blake3_hex(record.payload)
    if not store.known_blobs([blake3]):
        name = sniff_name(record.target_uri or "", record.content_type)
        return store_content(store, name, record.payload).info.blake3
    return blake3


def _record_captures(
    store: Store,
    source_id: int,
    run_id: int,
    diffs: DiffQueue,
    problems: list[tuple[str, str]],
) -> dict[str, int]:
    """The run's captures in time order, each planned against its document as it stands."""
    kinds: dict[str, int] = {}
    for capture in store.run_captures(run_id):
        kind = _record_one(store, source_id, run_id, capture, diffs, problems)
        store.set_capture_outcome(capture["id"], kind)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def _record_one(
    store: Store,
    source_id: int,
    run_id: int,
    capture: dict,
    diffs: DiffQueue,
    problems: list[tuple[str, str]],
) -> str:
    uri, when = capture["target_uri"], capture["captured_at"]
    outcome = outcome_of(capture["status"])
    if outcome == NOT_A_VERSION:
        return f"http-{capture['status']}"
    states = store.document_states(source_id, [uri])
    latest = store.latest_observed(source_id, uri)
    if latest is not None and when < latest:
        problems.append(
            (
                uri,
                f"capture of {when} (record {capture['record_id']}) is older than the"
                f" archive's latest version of this URI ({latest}): kept as a capture only",
            )
        )
        return OLDER
    if outcome == "gone":
        present = [s for s in states if s.present]
        changes = [Change("deleted", s.document_id, s.path, None, s.blob) for s in present]
    else:
        changes = plan(states, [Observed(uri, capture["blob"])])
    if not changes:
        return UNCHANGED

    def link(version_ids: list[int]) -> None:
        # the capture row as its version's leaf holds it: outcome and version set first
        store.set_capture_outcome(capture["id"], changes[0].kind)
        store.set_capture_version(capture["id"], version_ids[0])
        store.add_provenance(version_ids[0], capture_provenance(capture))

    record_versions(store, source_id, run_id, changes, when, diffs, before_ledger=link)
    return changes[0].kind


def capture_provenance(capture: dict) -> list[tuple[str, str, str | None]]:
    """The capture's facts as (origin, key, value) provenance rows of its version."""
    keys = (
        "record_id",
        "target_uri",
        "warc_date",
        "status",
        "mime",
        "payload_digest",
        "location",
        "warc_file",
        "warc_member",
        "warc_blake3",
        "warc_offset",
        "request_id",
        "metadata_id",
        "transferred_blob",
    )
    rows = [
        ("warc", key, None if capture.get(key) is None else str(capture[key]))
        for key in keys
        if capture.get(key) is not None
    ]
    if capture.get("http"):
        rows.append(("warc", "http_headers", json.dumps(json.loads(capture["http"])["headers"])))
    return rows
