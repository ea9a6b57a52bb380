"""`archive meta` and `archive reextract`: extracted metadata and provenance on the command line."""

from __future__ import annotations

import sys

import click

from archive.cli.common import db_option, emit_json, friendly, json_option, shown
from archive.record.metadata import reextract as run_reextract
from archive.record.metadata import version_metadata
from archive.refs import resolve_version
from archive.store import Store

# Items shown in the text output, in this order; `--json` has all of them.
_SHOWN = ("tag", "date", "comment", "quote", "heading", "time")


@click.command()
@click.argument("version")
@db_option
@json_option
@friendly
def meta(version: str, db: str, as_json: bool) -> None:
    """Show VERSION's (<document>[@n]) extracted fields, items and source provenance."""
    with Store(db, create=False) as store:
        ref = resolve_version(store, version)
        data = version_metadata(store, ref.version)
    doc = ref.document
    if as_json:
        emit_json({"document": f"{doc['source']}:{doc['path']}", "seq": ref.version["seq"], **data})
        return
    click.echo(
        shown(f"{doc['source']}:{doc['path']}@{ref.version['seq']}  blob {data['blob'] or '-'}")
    )
    if data["text_blob"]:
        click.echo(f"  text_blob: {data['text_blob']}")
    for key, value in (data["fields"] or {}).items():
        if key != "blake3" and value is not None:
            click.echo(shown(f"  {key}: {value}"))
    for wanted in _SHOWN:
        for item in (i for i in data["items"] if i["key"] == wanted):
            detail = f"  ({item['detail']})" if item["detail"] else ""
            click.echo(shown(f"  {wanted}[{item['ordinal']}]: {item['value']}{detail}"))
    for p in data["provenance"]:
        click.echo(shown(f"  provenance {p['origin']}: {p['key']} = {p['value']}"))
    if data["sidecar_blob"]:
        click.echo(f"  sidecar: {data['sidecar_blob']}")
    for c in data["sidecar_changes"]:
        click.echo(f"  sidecar changed in run {c['run_id']}: {c['blob'] or 'removed'}")


@click.command()
@db_option
@json_option
@click.option("--all", "everything", is_flag=True, help="Every blob, not only outdated ones.")
@friendly
def reextract(db: str, as_json: bool, everything: bool) -> None:
    """Recompute extracted metadata of contents whose metadata is missing or outdated.

    Only blob_metadata and blob_items change. Exit status 1 when extraction problems were met.
    """
    with Store(db, create=False) as store:
        summary = run_reextract(store, everything=everything)
    if as_json:
        emit_json(summary.as_dict())
    else:
        click.echo(
            f"{summary.blobs} blobs re-extracted (extractor {summary.extractor_version}), "
            f"{len(summary.problems)} problems"
        )
        for p in summary.problems:
            click.echo(shown(f"problem: {p['path'] or p['blob']}: {p['reason']}"), err=True)
    if summary.problems:
        sys.exit(1)
