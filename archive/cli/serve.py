"""The serve command: a read-only snapshot of the archive in Datasette."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.cli.common import db_option, friendly


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Datasette metadata (default: the metadata.yml shipped with the package; never the"
    " working directory's).",
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
    from archive.publish.server.serve import default_metadata
    from archive.publish.server.serve import serve as run_server

    meta = metadata or default_metadata()
    sys.exit(run_server(db, meta, host, port, not no_sql, workers, not no_cache, access_log))
