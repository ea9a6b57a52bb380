"""Publishing commands: serve a read-only snapshot in Datasette, or package it for replicas."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from archive.cli.common import db_option, emit_json, friendly, json_option, shown


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


@click.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@db_option
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Datasette metadata (default: the one `archive serve` uses).",
)
@click.option(
    "--no-sql", is_flag=True, help="Disallow free-form SQL (tables and canned queries only)."
)
@click.option(
    "--wheel",
    "wheels",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A wheel of this package (or another plugin) to install in the replicas; copied in.",
)
@click.option(
    "--install",
    "installs",
    multiple=True,
    metavar="SPEC",
    help="A pip requirement the replicas install (default, without --wheel: this package).",
)
@json_option
@friendly
def package(
    dest: Path,
    db: str,
    metadata: Path | None,
    no_sql: bool,
    wheels: tuple[Path, ...],
    installs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Write a deployable bundle of the archive's read side into the new directory DEST.

    DEST gets a public snapshot of the archive (immutable), the metadata, Datasette's inspect
    data, a requirements.txt, a Dockerfile (`docker build -t NAME DEST`, then run as many
    replicas as needed, with one DATASETTE_SECRET) and bundle.json: the snapshot's SHA-256
    and latest checkpoint, so replicas can be checked to serve the same tree.
    """
    from archive.publish.server.package import write_bundle
    from archive.publish.server.serve import default_metadata

    bundle = write_bundle(
        db, dest, metadata or default_metadata(), not no_sql, tuple(wheels), tuple(installs)
    )
    if as_json:
        emit_json({"dest": str(dest), **bundle.as_dict()})
        return
    tree = (
        f"tree {bundle.tree_size}, root {bundle.tree_root}" if bundle.tree_root else "no checkpoint"
    )
    click.echo(f"bundle written to {shown(str(dest))}: snapshot sha256 {bundle.sha256} ({tree})")
    click.echo(f"build: docker build -t NAME {shlex.quote(str(dest))}")
    click.echo("run:   docker run -p 8001:8001 -e DATASETTE_SECRET=... NAME  (one per replica)")
