"""Commands that put documents in and read them back: ingest, log, show."""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

import click

from archive.cli.common import db_option, emit_json, friendly, json_option, shown
from archive.cli.trust import read_signer, sign_option, sign_run
from archive.refs import history, resolve_document, resolve_version, version_label
from archive.store import ArchiveError, Store

if TYPE_CHECKING:
    from archive.record.versions import RunSummary


@click.command()
@click.argument("paths", metavar="[FOLDER | FILE...]", nargs=-1)
@click.option(
    "--warc",
    is_flag=True,
    help="The arguments are web captures (.warc, .warc.gz, .wacz), not a folder.",
)
@click.option(
    "--source",
    help="With --warc: the web source to record into [web] (one history per URI across runs).",
)
@click.option(
    "--git",
    "repo",
    metavar="REPO",
    help="Import the history of a git repository (or .bundle file) instead of a folder.",
)
@click.option("--ref", default=None, help="With --git: the branch or commit to import [HEAD].")
@click.option(
    "--batch",
    "batch_size",
    default=200,
    show_default=True,
    type=click.IntRange(1),
    help="With --git: commits per transaction (a kill loses at most one batch).",
)
@sign_option
@db_option
@json_option
@friendly
def ingest(
    paths: tuple[str, ...],
    warc: bool,
    source: str | None,
    repo: str | None,
    ref: str | None,
    batch_size: int,
    key_file: str | None,
    db: str,
    as_json: bool,
) -> None:
    """Ingest FOLDER (or --git REPO, or --warc FILE...): store new contents, record changes.

    With --git, each commit of the first-parent history of --ref (oldest first) is recorded
    as a snapshot at its committer date; a re-run imports only the commits not yet imported.
    With --warc, each response/resource record is a capture of the document named by its
    URI at its WARC-Date (WACZ files are read through their datapackage.json).
    Exit status: 0 on success, 1 when problems were recorded (they are listed) or the
    repository cannot be read, 2 on usage errors.
    """
    from archive.record.folder import ingest_folder  # the readers: loaded when a run starts
    from archive.record.git import import_git

    if warc:
        if repo is not None or ref is not None:
            raise click.UsageError("--warc takes capture files, not --git/--ref")
        from archive.cli.web import ingest_warc_files

        ingest_warc_files(db, paths, source, as_json, key_file)
        return
    if source is not None:
        raise click.UsageError("--source goes with --warc")
    if len(paths) > 1:
        raise click.UsageError("give one FOLDER (several files are for --warc)")
    folder = paths[0] if paths else None
    if (folder is None) == (repo is None):
        raise click.UsageError("give exactly one of FOLDER or --git REPO")
    if ref is not None and repo is None:
        raise click.UsageError("--ref needs --git REPO")
    if folder is not None and not os.path.isdir(folder):  # alike: both name no folder
        what = "is a file, not a folder" if os.path.exists(folder) else "does not exist"
        raise click.UsageError(f"{folder} {what}")
    command = " ".join(["archive", *sys.argv[1:]]) if sys.argv else "archive ingest"
    show_bar = sys.stderr.isatty() and not as_json
    signer = read_signer(key_file) if key_file else None  # a bad key fails before any work
    with Store(db) as store:
        store.on_wait = say_waiting
        kept_before = store.commit_count() if repo is not None else 0
        try:
            if repo is not None:
                bar = CommitBar() if show_bar else None
                try:
                    summary = import_git(store, repo, command, ref or "HEAD", bar, batch_size)
                finally:
                    if bar is not None:
                        bar.close()
            elif show_bar:
                with click.progressbar(length=0, label="Hashing", file=sys.stderr) as bar:
                    summary = ingest_folder(store, folder, command, lambda n: bar.update(n))
            else:
                summary = ingest_folder(store, folder, command)
        except KeyboardInterrupt:
            if repo is None:
                kept = "nothing was recorded (a folder run is all or nothing)"
            else:
                n = store.commit_count() - kept_before
                kept = (
                    f"the {n} commit{'' if n == 1 else 's'} of finished batches are kept"
                    "; run the same command again to import the rest"
                )
            click.echo(f"\nInterrupted: {kept}.", err=True)
            sys.exit(130)
        if signer is not None:
            sign_run(store, key_file, summary.run_id)
    report_run(summary, as_json)
    if summary.problems:
        sys.exit(1)


class CommitBar:
    """A progress bar over commits that shows the import rate (commits/s)."""

    def __init__(self) -> None:
        self.bar = None
        self.start = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(
                length=total, label="Importing", file=sys.stderr, item_show_func=lambda s: s
            )
            self.bar.__enter__()
        rate = done / max(time.monotonic() - self.start, 1e-6)
        self.bar.update(done - self.bar.pos, f"{rate:,.0f} commits/s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def report_run(summary: RunSummary, as_json: bool) -> None:
    from archive.record.git import GitRunSummary

    if as_json:
        emit_json(summary.as_dict())
        return
    kinds = ", ".join(f"{n} {k}" for k, n in summary.kinds.items())
    commits = f"{summary.commits} commits, " if isinstance(summary, GitRunSummary) else ""
    click.echo(
        f"Run {summary.run_id} ({shown(summary.source)}): {commits}{summary.files_seen} files"
        f" seen, {summary.new_versions} new versions{f' ({kinds})' if kinds else ''}, "
        f"{summary.unchanged} unchanged, {summary.problems} problems"
    )
    for line in change_lines(summary.changed, SHOW_CHANGES):
        click.echo(line)
    for p in summary.problem_list:
        click.echo(f"problem: {shown(p['path'])}: {shown(p['reason'])}", err=True)


SHOW_CHANGES = 20  # changed documents listed on a terminal (--json lists them all)


def change_lines(changed: list[dict], limit: int) -> list[str]:
    """The first `limit` changes, one per line (`  modified  path`), and how many more."""
    lines = []
    for c in changed[:limit]:
        was = f" (was {c['old_path']})" if c.get("old_path") else ""
        commit = f"  {c['commit'][:10]}" if c.get("commit") else ""
        lines.append(f"  {c['kind']:<9} {shown(c['path'])}{shown(was)}{commit}")
    if len(changed) > limit:
        lines.append(f"  ... and {len(changed) - limit:,} more (--json lists them all)")
    return lines


def say_waiting(timeout_s: float) -> None:
    """Said once when another writer holds the archive, before waiting for it."""
    click.echo(
        f"Waiting for another ingest to finish writing the archive (up to {timeout_s:g} s)...",
        err=True,
    )


@click.command()
@click.argument("document", required=False)
@click.option(
    "--follow", is_flag=True, help="Also list the versions of the documents it was copied from."
)
@db_option
@json_option
@friendly
def log(document: str | None, follow: bool, db: str, as_json: bool) -> None:
    """List the versions of DOCUMENT (a stored path, source:path, a path on disk, an old
    path, or its id); without DOCUMENT, the documents (as `archive ls`).

    A version back to an earlier content says "reverted to @n"; a document's first version
    copied from another document says "copied from PATH@n". With --follow, the versions of
    that document up to the one copied come first, as `git log --follow` lists them.
    """
    if document is None:
        from archive.cli.documents import ls

        click.get_current_context().invoke(ls, db=db, as_json=as_json)
        return
    with Store(db, create=False) as store:
        doc = resolve_document(store, document)
        versions = history(store, doc, follow)
        labels = {
            v["copied_from_version_id"]: version_label(store, v["copied_from_version_id"])
            for v in versions
            if v.get("copied_from_version_id")
        }
    if as_json:
        emit_json({"document": doc, "versions": versions})
        return
    click.echo(shown(f"{doc['source']}:{doc['path']} (#{doc['id']}, {doc['status']})"))
    seqs = {v["id"]: v["seq"] for v in versions}
    previous: dict[int, dict] = {}
    for v in versions:
        blob = (v["blob"] or "-")[:16]
        size = "-" if v["size"] is None else v["size"]
        notes = [f"from {v['old_path']}"] if v["old_path"] else []
        before = previous.get(v["document_id"])
        same = v.get("same_as_version_id")
        if same in seqs and before is not None and before["blob"] is not None:
            notes.append(f"reverted to @{seqs[same]}")
        if v.get("copied_from_version_id"):
            notes.append(f"copied from {shown(labels[v['copied_from_version_id']])}")
        previous[v["document_id"]] = v
        note = f" ({'; '.join(notes)})" if notes else ""
        where = shown(f"{v['document']['path']}@") if follow else "@"
        click.echo(
            f"{where}{v['seq']:<4} {v['kind']:<9} {v['observed_at']}  {blob:<16}  {size:>9}  "
            + shown(f"{v['path']}{note}")
        )


@click.command()
@click.argument("version")
@db_option
@friendly
def show(version: str, db: str) -> None:
    """Write the exact bytes of VERSION (<document>@<n>, default the latest) to stdout."""
    with Store(db, create=False) as store:
        ref = resolve_version(store, version)
        blob = ref.version["blob"]
        if blob is None:
            raise ArchiveError(
                f"{ref.document['path']}@{ref.version['seq']} is a deletion: it has no content"
            )
        for piece in store.iter_content(blob):  # a large content streams, chunk by chunk
            sys.stdout.buffer.write(piece)
    sys.stdout.buffer.flush()
