"""`archive blame`, `archive trace`, `archive related`: the passage store on the command line."""

from __future__ import annotations

import click

from archive.cli.common import db_option, emit_json, friendly, json_option, shown
from archive.refs import resolve_document, resolve_version
from archive.store import ArchiveError, Store


def _preview(text: str, width: int = 72) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@click.command()
@click.argument("version")
@db_option
@json_option
@friendly
def blame(version: str, db: str, as_json: bool) -> None:
    """Show which version brought each passage of VERSION (<document>[@n]) into the document.

    A passage is blamed on the earliest version of an unbroken run of versions, up to n, that
    all contain it (a deletion or a non-text version breaks the run).
    """
    from archive.passages.blame import blame as run_blame

    with Store(db, create=False) as store:
        ref = resolve_version(store, version)
        try:
            result = run_blame(store, ref.document, ref.version["seq"])
        except ValueError as e:
            raise ArchiveError(str(e)) from None
    if as_json:
        emit_json(result)
        return
    for row in result["passages"]:
        where = row["commit"][:12] if row["commit"] else f"run {row['run_id']}"
        click.echo(
            shown(f"@{row['seq']:<4} {row['observed_at']}  {where:<12}  {_preview(row['text'])}")
        )


@click.command()
@click.argument("query")
@click.option("--normalize", "normalized", is_flag=True, help="Ignore case, spacing, quote style.")
@click.option("--text", "as_text", is_flag=True, help="Take QUERY as text even if it looks hex.")
@db_option
@json_option
@friendly
def trace(query: str, normalized: bool, as_text: bool, db: str, as_json: bool) -> None:
    """Where a passage (its text, or its BLAKE3 hex) first appeared, and every document with it.

    A text is checked against at most 1,000 passages holding its words (a note says when
    more do: refine the query). Exit status 1 when nothing matches.
    """
    from archive.passages.trace import trace as run_trace

    with Store(db, create=False) as store:
        result = run_trace(store, query, normalized=normalized, as_text=as_text)
    if as_json:
        emit_json(result)
    else:
        for p in result["passages"]:
            click.echo(shown(f"{p['blake3'][:16]} {p['kind']}: {_preview(p['text'])}"))
            first = p["first"]
            if first:
                click.echo(
                    shown(
                        f"  first: {first['source']}:{first['path']}@{first['seq']}"
                        f" {first['observed_at']}"
                    )
                )
            for d in p["documents"]:
                click.echo(
                    shown(
                        f"  in {d['source']}:{d['path']} from @{d['first_seq']}"
                        f" ({d['versions']} version{'' if d['versions'] == 1 else 's'})"
                    )
                )
    if result["truncated"]:
        click.echo(
            f"more than {result['match_cap']:,} passages hold these words: only the first"
            f" {result['match_cap']:,} were checked; refine the query",
            err=True,
        )
    if not result["passages"]:
        raise ArchiveError(f"no passage matches {query!r}")


@click.command()
@click.argument("document")
@click.option("--limit", type=int, default=None, help="Show at most this many.")
@db_option
@json_option
@friendly
def related(document: str, limit: int | None, db: str, as_json: bool) -> None:
    """Documents related to DOCUMENT: MinHash score of their wording, shared passages and quotes."""
    from archive.passages.related import related as run_related

    with Store(db, create=False) as store:
        doc = resolve_document(store, document)
        rows = run_related(store, doc["id"], limit)
    if as_json:
        emit_json({"document": {k: doc[k] for k in ("id", "source", "path")}, "related": rows})
        return
    for r in rows:
        click.echo(
            f"{r['score']:.4f}  {r['shared_passages']:>4} passages  {r['shared_quotes']:>3} quotes"
            + shown(f"  {r['source']}:{r['path']}")
        )
