"""Web commands: `archive ingest --warc` (its body), `archive capture`, `archive export wacz`."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from archive import __version__
from archive.cli.common import db_option, emit_json, friendly, json_option, shown
from archive.cli.trust import read_signer, sign_option, sign_run
from archive.errors import ArchiveError

if TYPE_CHECKING:
    from archive.record.web import WebRunSummary


def command_line(default: str) -> str:
    return " ".join(["archive", *sys.argv[1:]]) if sys.argv else default


def ingest_warc_files(
    db: str, files: tuple[str, ...], source: str | None, as_json: bool, key_file: str | None
) -> None:
    """The body of `archive ingest --warc FILE...`: read, record, sign (with a key), report,
    exit 1 on problems."""
    from archive.record.web import ingest_warcs
    from archive.store import Store

    if not files:
        raise click.UsageError("--warc needs at least one .warc, .warc.gz or .wacz file")
    if key_file:
        read_signer(key_file)  # a bad key fails before any work
    with Store(db) as store:
        summary = ingest_warcs(store, files, command_line("archive ingest --warc"), source)
        sign_run(store, key_file, summary.run_id)
    report_web_run(summary, as_json)
    if summary.problems:
        sys.exit(1)


def report_web_run(summary: WebRunSummary, as_json: bool, extra: dict | None = None) -> None:
    if as_json:
        emit_json({**summary.as_dict(), **(extra or {})})
        return
    kinds = ", ".join(f"{n} {k}" for k, n in summary.kinds.items())
    click.echo(
        f"Run {summary.run_id} ({summary.source}): {summary.records} records, "
        f"{summary.captures} captures, {summary.new_versions} new versions"
        f"{f' ({kinds})' if kinds else ''}, {summary.unchanged} unchanged, "
        f"{summary.revisits} revisits, {summary.duplicates} already ingested, "
        f"{summary.problems} problems"
    )
    for p in summary.problem_list:
        click.echo(f"problem: {shown(p['path'])}: {shown(p['reason'])}", err=True)


def read_url_list(path: str) -> list[str]:
    """URLs one per line; blank lines and `#` comments skipped."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as e:
        raise click.UsageError(f"cannot read --urls {path}: {e}") from None
    return [line for line in lines if line and not line.startswith("#")]


@click.command()
@click.argument("urls", nargs=-1)
@click.option("--urls", "url_file", type=click.Path(dir_okay=False), help="A file of URLs.")
@click.option("--source", help="The web source to record into [web].")
@click.option(
    "--warc-dir",
    type=click.Path(file_okay=False),
    help="Where to keep the WARC files [a `captures` folder beside the archive].",
)
@click.option(
    "--delay",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds between requests to one host.",
)
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds to connect and per read.",
)
@click.option(
    "--max-bytes",
    default=50 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(1),
    help="Largest body kept.",
)
@click.option("--ignore-robots", is_flag=True, help="Fetch what robots.txt disallows.")
@sign_option
@db_option
@json_option
@friendly
def capture(
    urls: tuple[str, ...],
    url_file: str | None,
    source: str | None,
    warc_dir: str | None,
    delay: float,
    timeout: float,
    max_bytes: int,
    ignore_robots: bool,
    key_file: str | None,
    db: str,
    as_json: bool,
) -> None:
    """Fetch URLS (or --urls FILE) into a new WARC, keep it, and ingest it.

    Every request and response is written to the WARC (warcio), which is kept on disk and
    in the archive (hashed) as the raw evidence of the capture, then recorded as
    `archive ingest --warc` would. Run it again (cron) to watch pages. Exit status: 0 on
    success, 1 when a URL could not be captured or problems were recorded, 2 on usage errors.
    """
    from archive.record.web import ingest_warcs
    from archive.store import Store
    from ingest.capture import CaptureOptions  # httpx: imported when a capture runs
    from ingest.capture import capture as fetch

    wanted = list(urls) + (read_url_list(url_file) if url_file else [])
    if not wanted:
        raise click.UsageError("give URLs, or --urls FILE")
    if key_file:
        read_signer(key_file)  # a bad key fails before any fetch
    folder = warc_dir or os.path.join(os.path.dirname(os.path.abspath(db)), "captures")
    os.makedirs(folder, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    warc = os.path.join(folder, f"capture-{stamp}.warc.gz")
    options = CaptureOptions(
        timeout=timeout, max_bytes=max_bytes, delay=delay, robots=not ignore_robots
    )
    exchanges = fetch(wanted, warc, options)
    failed = [e for e in exchanges if e.problem]
    for e in failed:
        click.echo(f"not captured: {shown(e.url)}: {shown(e.problem or '')}", err=True)
    with Store(db) as store:
        command = command_line("archive capture")
        summary = ingest_warcs(store, [warc], command, source, keep_files=True)
        sign_run(store, key_file, summary.run_id)
    fetched = [{"url": e.url, "status": e.status, "problem": e.problem} for e in exchanges]
    report_web_run(summary, as_json, {"warc": warc, "exchanges": fetched})
    if summary.problems or failed:
        sys.exit(1)


def export_captures_wacz(file: str, source: str | None, db: str) -> None:
    """The body of `archive export wacz FILE`."""
    from archive.export.wacz import export_wacz
    from archive.store import Store

    if os.path.lexists(file):
        raise ArchiveError(f"{file} exists: exports never overwrite")
    with Store(db, create=False) as store:
        if source is not None and store.source_named(source) is None:
            raise click.UsageError(f"no source named {source!r}")
        captures = store.export_captures(source)
        try:
            software = f"provenance-archive {__version__}"
            count = export_wacz(captures, store.read_content, file, software)
        except (ValueError, OSError) as e:
            raise ArchiveError(f"export failed: {e}") from None
    click.echo(f"{count} captures written to {shown(file)}")
