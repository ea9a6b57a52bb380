"""`archive ingest --git`: replay a branch's first-parent history as document versions.

Each commit is planned exactly like a folder snapshot of its tree at the commit's time, but
only over the paths the commit touched (untouched paths cannot change), so a commit costs
what it changed, not the size of the tree. Commits land in batches, one transaction each
(commits rows included), so a killed import loses at most the open batch and a re-run
continues after the last imported commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice

from archive.diffs.pipeline import DiffQueue, Mapped, WorkerPool, worker_deaths
from archive.diffs.workers import TextKey, in_worker, keep_text
from archive.ledger.checkpoints import backfill, checkpoint_run
from archive.ledger.contents import append_contents
from archive.passages.indexing import catch_up_documents
from archive.record.large import is_large, store_large
from archive.record.metadata import Prepared, keep_unpacked, prepare_content, write_prepared
from archive.record.plan import Change, Observed, change_list, summarize
from archive.record.renames import plan_with_renames
from archive.record.versions import RunSummary, VersionBatch, failpoint
from archive.store import ArchiveError, Store, now_iso
from archive.store.groups import deferring_groups, flush_groups
from ingest.extract.language import load_model
from ingest.gitsource import Commit, GitError, GitSource

BATCH = 200  # commits per transaction
# Most bytes of small contents held at once while a batch's blobs are read (larger ones stream
# into chunks): a batch of a repetitive history never holds all its new blobs.
HELD_BYTES = 64 << 20

Progress = Callable[[int, int], None]  # (commits done, commits to do)


@dataclass
class GitRunSummary(RunSummary):
    commits: int = 0


@dataclass
class Tally:
    files_seen: int = 0
    new_versions: int = 0
    unchanged: int = 0
    commits: int = 0
    problems: list[dict] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(
            files_seen=self.files_seen,
            new_versions=self.new_versions,
            unchanged=self.unchanged,
            problems=len(self.problems),
        )


def utc_iso(date: str) -> str:
    """A git ISO 8601 date with offset as the archive's UTC timestamp (YYYY-MM-DDTHH:MM:SSZ)."""
    try:
        moment = datetime.fromisoformat(date)
    except ValueError:
        raise ArchiveError(f"unreadable commit date {date!r}") from None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def commit_row(commit: Commit, source_id: int, position: int) -> dict:
    """The `commits` row of a commit: its whole provenance, message included."""
    return dict(
        oid=commit.oid,
        source_id=source_id,
        position=position,
        author_name=commit.author_name,
        author_email=commit.author_email,
        author_date=commit.author_date,
        committer_name=commit.committer_name,
        committer_email=commit.committer_email,
        committer_date=commit.committer_date,
        message=commit.message,
        parents=" ".join(commit.parents),
    )


def touched_paths(commit: Commit) -> list[str]:
    return sorted({c.path for c in commit.changes})


def observations(commit: Commit, blake3_of: dict[str, str]) -> list[Observed]:
    """The touched paths that exist after the commit, with their content keys."""
    return sorted(
        (Observed(c.path, blake3_of[c.blob]) for c in commit.changes if c.blob is not None),
        key=lambda o: o.path,
    )


def unchanged_count(touched: list[str], changes: list[Change]) -> int:
    """Touched paths that made no version (a mode-only change, the old side of a rename)."""
    covered = {c.path for c in changes} | {c.old_path for c in changes if c.old_path}
    return sum(p not in covered for p in touched)


def batch_paths(batch: list[Commit]) -> list[str]:
    """Every path a batch's commits touch: the documents its planning reads."""
    return sorted({c.path for commit in batch for c in commit.changes})


def batch_blobs(batch: list[Commit], blake3_of: dict[str, str]) -> list[str]:
    """The content keys a batch's commits bring (their blobs stored first)."""
    return sorted({blake3_of[c.blob] for commit in batch for c in commit.changes if c.blob})


def batches(commits: Iterable[Commit], size: int) -> Iterator[list[Commit]]:
    it = iter(commits)
    while batch := list(islice(it, size)):
        yield batch


def new_blob_oids(batch: list[Commit], blake3_of: dict[str, str]) -> dict[str, str]:
    """Blob oids of a batch not read yet, in first-use order (each git blob is read once),
    each with the first path it appears at: the name its media type is sniffed by."""
    paths: dict[str, str] = {}
    for commit in batch:
        for c in commit.changes:
            if c.blob is not None and c.blob not in blake3_of:
                paths.setdefault(c.blob, c.path)
    return paths


def refusals(commit: Commit) -> list[dict]:
    """A commit's tree entries that cannot be documents, as run problems (path, reason)."""
    return [
        {"path": r.path, "reason": f"{r.reason} (commit {commit.oid[:12]})"} for r in commit.refused
    ]


@dataclass
class Ahead:
    """A batch's new small blobs, read and handed to the workers before the batch's turn."""

    paths: dict[str, str]
    held: list[tuple[str, bytes]]
    prepared: Mapped[Prepared]


def read_ahead(git: GitSource, paths: dict[str, str], pool: WorkerPool) -> Ahead | None:
    """Read a batch's new blobs and start preparing them on the workers, so they work on it
    while the main process records the batch before (reading from git writes nothing). None
    when the batch holds a large blob or more than HELD_BYTES: it is then read in its turn."""
    held: list[tuple[str, bytes]] = []
    size = 0
    blobs = git.stream_blobs(list(paths))
    try:
        for oid, length, stream in blobs:
            if is_large(length) or size + length > HELD_BYTES:
                return None
            held.append((oid, stream.read_all()))
            size += length
    finally:
        blobs.close()
    return Ahead(paths, held, _start_prepare(pool, held, paths))


def _start_prepare(
    pool: WorkerPool, held: list[tuple[str, bytes]], paths: dict[str, str]
) -> Mapped[Prepared]:
    """Prepare held blobs on the workers, each on its path's worker (a document's contents
    and diffs go to one worker: its texts are at hand there)."""
    items = [(paths[oid], data, True) for oid, data in held]
    keys = [(paths[oid], len(data)) for oid, data in held]
    return pool.start_map(_prepare, items, sum(k[1] for k in keys), keys=keys)


def _prepared(pool: WorkerPool, mapped: Mapped[Prepared]) -> list[Prepared]:
    """The results, each worker's kept text counted as kept (`text_kept`)."""
    prepared = mapped.results()
    for worker, done in zip(mapped.workers, prepared, strict=True):
        kept = text_kept(done) if worker is not None else None
        if kept is not None:
            pool.note_held(worker, *kept)
    return prepared


def store_blobs(
    store: Store,
    git: GitSource,
    paths: dict[str, str],
    blake3_of: dict[str, str],
    pool: WorkerPool,
    ahead: Ahead | None = None,
) -> list[tuple[str, str]]:
    """Store a batch's new blobs as a folder ingest stores its files (media type by name and
    content, readable text, metadata): read ahead (`read_ahead`), or read now, memory
    bounded: small ones in groups of at most HELD_BYTES (prepared on the pool's workers),
    large ones streamed from git into chunks. Either way the same rows in the same order.
    Returns the (path, reason) problems met in contents stored all the same."""
    if ahead is not None and ahead.paths == paths:
        return _write_held(store, ahead.held, paths, blake3_of, _prepared(pool, ahead.prepared))
    held: list[tuple[str, bytes]] = []
    size = 0
    problems: list[tuple[str, str]] = []
    for oid, length, stream in git.stream_blobs(list(paths)):
        if is_large(length):
            blake3_of[oid] = store_large(store, paths[oid], stream).blake3
            continue
        held.append((oid, stream.read_all()))
        size += length
        if size >= HELD_BYTES:
            problems += _store_held(store, held, paths, blake3_of, pool)
            held, size = [], 0
    return problems + _store_held(store, held, paths, blake3_of, pool)


def text_kept(prepared: Prepared) -> tuple[TextKey, int] | None:
    """The key (`Store.text_target`) and bytes of the text a worker keeps of a content it
    prepared, for its diffs: its readable text (HTML/PDF/DOCX), else its own text."""
    if prepared.text_blob is not None:
        return (prepared.text_blob[0].blake3, "utf-8"), prepared.text_blob[0].size
    info = prepared.info
    if info.is_text and info.encoding is not None and prepared.split is not None:
        return (info.blake3, info.encoding), info.size
    return None


def _prepare(item: tuple[str, bytes, bool]) -> Prepared:
    """Top-level so the pool can pickle it; item: (path, bytes, extract metadata). On a
    worker, the content's text stays there for its diffs (`text_kept`), decoded from the
    bytes its key hashes."""
    prepared = prepare_content(*item)
    kept = text_kept(prepared) if in_worker() else None
    if kept is not None:
        if prepared.text_blob is not None:
            text = prepared.text_blob[1].decode("utf-8")
        else:
            text = "".join(prepared.split[0])  # the bytes decoded (split_text checked)
        keep_text(kept[0], text, kept[1])
    return prepared


def _store_held(
    store: Store,
    held: list[tuple[str, bytes]],
    paths: dict[str, str],
    blake3_of: dict[str, str],
    pool: WorkerPool,
) -> list[tuple[str, str]]:
    prepared = _prepared(pool, _start_prepare(pool, held, paths))
    return _write_held(store, held, paths, blake3_of, prepared)


def _write_held(
    store: Store,
    held: list[tuple[str, bytes]],
    paths: dict[str, str],
    blake3_of: dict[str, str],
    prepared: list[Prepared],
) -> list[tuple[str, str]]:
    """Write prepared contents in order (their passages wait for packing: split once)."""
    known = store.known_blobs(p.info.blake3 for p in prepared)
    problems: list[tuple[str, str]] = []
    leaves: list = []
    for (oid, data), done in zip(held, prepared, strict=True):
        blake3 = done.info.blake3
        if blake3 not in known:
            write_prepared(store, done, data, packed_soon=True, leaves=leaves)  # in this batch
            known.add(blake3)
            problems += [(paths[oid], reason) for reason in done.problems]
        blake3_of[oid] = blake3
    append_contents(store, leaves)
    return problems


def import_git(
    store: Store,
    location: str,
    command: str,
    ref: str = "HEAD",
    progress: Progress | None = None,
    batch_size: int = BATCH,
) -> GitRunSummary:
    """Import the commits of `ref` not yet in the archive; one `runs` row per call."""
    if batch_size < 1:
        raise ArchiveError(f"batch size must be at least 1, not {batch_size}")
    try:
        with (
            worker_deaths(),
            GitSource(location) as git,
            store.caching_texts(),
            WorkerPool(warm=load_model) as pool,
            _deferring(store, pool),
        ):
            summary = _import(
                store, git, store.location_of(location), command, ref, progress, batch_size, pool
            )
    except GitError as e:
        raise ArchiveError(str(e)) from None
    store.compact()  # the pages freed as contents moved into passages
    return summary


@contextmanager
def _deferring(store: Store, pool: WorkerPool) -> Iterator[None]:
    """With workers, passage groups are deflated on them (the main process only decides each
    group: its passages, ids and base) and written at each batch's end (`flush_groups`)."""
    if not pool.parallel:
        yield
        return
    with deferring_groups(store.conn, pool.deflater()):
        yield


def _import(
    store: Store,
    git: GitSource,
    location: str,
    command: str,
    ref: str,
    progress: Progress | None,
    batch_size: int,
    pool: WorkerPool,
) -> GitRunSummary:
    with store.write():
        source = store.source("git", location)
        run_id = store.start_run(source["id"], command, now_iso())
        backfill(store)
        last = store.last_commit(source["id"])
    source_id = source["id"]
    after = last["oid"] if last else None
    position = last["position"] if last else 0
    total = git.count_commits(ref, after)
    if progress:
        progress(0, total)
    tally = Tally()
    kinds: dict[str, int] = {}
    changed: list[dict] = []
    blake3_of: dict[str, str] = {}
    todo = batches(git.commits(ref, after=after), batch_size)
    batch = next(todo, None)
    ahead: Ahead | None = None
    while batch is not None:
        paths = new_blob_oids(batch, blake3_of)
        following = next(todo, None)
        later: Ahead | None = None
        if pool.parallel:  # this batch's contents first, then the next one's, to the workers
            ahead = ahead or read_ahead(git, paths, pool)
            if following is not None:
                later = read_ahead(git, new_blob_oids(following, {**blake3_of, **paths}), pool)
        with store.write():
            now_last = store.last_commit(source_id)
            if (now_last["oid"] if now_last else None) != after:
                raise ArchiveError(
                    f"another import of {location} ran meanwhile: run this one again"
                )
            noted = store_blobs(store, git, paths, blake3_of, pool, ahead)
            tally.problems += [{"path": p, "reason": r} for p, r in noted]
            store.add_problems(run_id, noted)
            pending = DiffQueue(store, pool)  # diffs start on other cores as versions land
            recorded = VersionBatch(store, source_id, run_id)  # rows written at the end
            recorded.load(batch_paths(batch), batch_blobs(batch, blake3_of))
            refused: list[dict] = []
            for commit in batch:
                position += 1
                refused += refusals(commit)
                recorded.add_commit(commit_row(commit, source_id, position))
                changes = _record_commit(store, recorded, commit, blake3_of, tally, pending)
                for kind, n in summarize(changes).items():
                    kinds[kind] = kinds.get(kind, 0) + n
                changed += change_list(changes, commit.oid)
                failpoint("commit", tally.commits)
            tally.problems += refused
            store.add_problems(run_id, [(p["path"], p["reason"]) for p in refused])
            recorded.flush()
            keep_unpacked(store)  # none should be: every new content made a version
            pending.store_all()  # wait for the batch's diffs, check and insert them
            flush_groups(store.conn)  # and for its passage groups deflated on the workers
            catch_up_documents(store)  # the batch's new passages' documents, and copies
            store.touch_present(source_id, utc_iso(batch[-1].committer_date))
            store.update_run(run_id, **tally.counts())
        after = batch[-1].oid
        if progress:
            progress(tally.commits, total)
        batch, ahead = following, later
    with store.write():
        store.finish_run(run_id, **tally.counts())
        checkpoint_run(store, run_id)
    return GitRunSummary(
        run_id,
        source["name"],
        kinds=dict(sorted(kinds.items())),
        changed=changed,
        problem_list=list(tally.problems),
        commits=tally.commits,
        **tally.counts(),
    )


def _held(store: Store, blob: str) -> bytes | None:
    """A content for rename detection, also while only its split holds it (a new content
    written, not packed yet)."""
    held = store.texts.held_bytes(blob) if store.texts is not None else None
    return store.similarity_content(blob) if held is None else held


def _record_commit(
    store: Store,
    recorded: VersionBatch,
    commit: Commit,
    blake3_of: dict[str, str],
    tally: Tally,
    diffs: DiffQueue,
) -> list[Change]:
    """Plan one commit over the paths it touched and record its versions (in the batch's
    memory: `VersionBatch.flush` writes them)."""
    touched = touched_paths(commit)
    changes = plan_with_renames(
        recorded.states(touched),
        observations(commit, blake3_of),
        read=lambda blob: _held(store, blob),
    )
    ids, pairs = recorded.record(changes, utc_iso(commit.committer_date), commit=commit.oid)
    store.pack_passages(changes)
    recorded.add_provenance(ids, changes)
    diffs.extend(pairs)
    tally.commits += 1
    tally.files_seen += len(touched)
    tally.new_versions += len(changes)
    tally.unchanged += unchanged_count(touched, changes)
    return changes
