"""The `archive` command: a thin click layer over the store, ingest and publishing."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from archive import __version__
from archive.cli_common import db_option, emit_json, friendly, json_option
from archive.cli_metadata import meta, reextract
from archive.cli_passages import blame, related, trace
from archive.gitimport import GitRunSummary, import_git
from archive.record import RunSummary, ingest_folder
from archive.refs import resolve_document, resolve_version
from archive.store import ArchiveError, Store


@click.group()
@click.version_option(__version__, prog_name="archive")
def cli() -> None:
    """A document-diff and provenance archive: what a document said, when, and how it changed."""


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False), required=False)
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
@db_option
@json_option
@friendly
def ingest(
    folder: str | None,
    repo: str | None,
    ref: str | None,
    batch_size: int,
    db: str,
    as_json: bool,
) -> None:
    """Ingest FOLDER (or --git REPO): store new contents and record what changed.

    With --git, each commit of the first-parent history of --ref (oldest first) is recorded
    as a snapshot at its committer date; a re-run imports only the commits not yet imported.
    Exit status: 0 on success, 1 when problems were recorded (they are listed) or the
    repository cannot be read, 2 on usage errors.
    """
    if (folder is None) == (repo is None):
        raise click.UsageError("give exactly one of FOLDER or --git REPO")
    if ref is not None and repo is None:
        raise click.UsageError("--ref needs --git REPO")
    command = " ".join(["archive", *sys.argv[1:]]) if sys.argv else "archive ingest"
    show_bar = sys.stderr.isatty() and not as_json
    with Store(db) as store:
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
    if as_json:
        emit_json(summary.as_dict())
        return
    kinds = ", ".join(f"{n} {k}" for k, n in summary.kinds.items())
    commits = f"{summary.commits} commits, " if isinstance(summary, GitRunSummary) else ""
    click.echo(
        f"Run {summary.run_id} ({summary.source}): {commits}{summary.files_seen} files seen, "
        f"{summary.new_versions} new versions{f' ({kinds})' if kinds else ''}, "
        f"{summary.unchanged} unchanged, {summary.problems} problems"
    )
    for p in summary.problem_list:
        click.echo(f"problem: {p['path']}: {p['reason']}", err=True)


@cli.command()
@click.argument("document")
@db_option
@json_option
@friendly
def log(document: str, db: str, as_json: bool) -> None:
    """List the versions of DOCUMENT (a stored path, source:path, a path on disk, or #id)."""
    with Store(db, create=False) as store:
        doc = resolve_document(store, document)
        versions = store.versions(doc["id"])
    if as_json:
        emit_json({"document": doc, "versions": versions})
        return
    click.echo(f"{doc['source']}:{doc['path']} (#{doc['id']}, {doc['status']})")
    for v in versions:
        blob = (v["blob"] or "-")[:16]
        size = "-" if v["size"] is None else v["size"]
        moved = f" (from {v['old_path']})" if v["old_path"] else ""
        click.echo(
            f"@{v['seq']:<4} {v['kind']:<9} {v['observed_at']}  {blob:<16}  {size:>9}  "
            f"{v['path']}{moved}"
        )


@cli.command()
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
        data = store.read_content(blob)
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Datasette metadata (default: ./metadata.yml, else the project's).",
)
@click.option(
    "--no-sql", is_flag=True, help="Disallow free-form SQL (tables and canned queries only)."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Server processes on the one port (default: one per CPU).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Render every request (as ARCHIVE_SERVE_CACHE=0 does); pages are cached by default.",
)
@click.option("--access-log", is_flag=True, help="Log every request (off: it costs throughput).")
@friendly
def serve(
    db: str,
    host: str,
    port: int,
    metadata: Path | None,
    no_sql: bool,
    workers: int | None,
    no_cache: bool,
    access_log: bool,
) -> None:
    """Serve a read-only snapshot of the archive in Datasette."""
    from archive.serve import default_metadata
    from archive.serve import serve as run_server

    meta = metadata or default_metadata()
    sys.exit(run_server(db, meta, host, port, not no_sql, workers, not no_cache, access_log))


cli.add_command(meta)
cli.add_command(reextract)

from archive import cli_integrity  # noqa: E402

cli.add_command(cli_integrity.checkpoint)
cli.add_command(cli_integrity.proof)
cli.add_command(cli_integrity.verify_proof)
cli.add_command(cli_integrity.verify)
cli.add_command(cli_integrity.lookup)
cli.add_command(cli_integrity.export)

cli.add_command(blame)
cli.add_command(trace)
cli.add_command(related)

from archive import cli_diff  # noqa: E402

cli.add_command(cli_diff.diff)
