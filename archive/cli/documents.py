"""`archive ls`: the documents the archive holds, filtered by source, status or path pattern."""

from __future__ import annotations

import fnmatch

import click

from archive.cli.common import db_option, emit_json, friendly, json_option, shown
from archive.refs import RefError
from archive.store import Store


@click.command("ls")
@click.argument("pattern", required=False)
@click.option("--source", help="Only this source's documents (its name).")
@click.option(
    "--status", type=click.Choice(["present", "deleted"]), help="Only present or deleted ones."
)
@db_option
@json_option
@friendly
def ls(pattern: str | None, source: str | None, status: str | None, db: str, as_json: bool):
    """List documents as `source:path` (names every command accepts), with their number of
    versions, status and size; PATTERN filters paths (shell-style: '*.md', 'terms/*')."""
    with Store(db, create=False) as store:
        if source is not None and store.source_named(source) is None:
            names = ", ".join(s["name"] for s in store.sources()) or "none yet"
            raise RefError(f"no source named {source!r} (sources: {names})")
        rows = store.list_documents(source, status)
    if pattern is not None:
        rows = [r for r in rows if fnmatch.fnmatchcase(r["path"], pattern)]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        size = "-" if r["size"] is None else f"{r['size']:,}"
        n = r["versions"]
        click.echo(
            f"{shown(r['source'])}:{shown(r['path'])}"
            f"  {n} version{'' if n == 1 else 's'}  {r['status']}"
            f"  {size} bytes  #{r['id']}"
        )
