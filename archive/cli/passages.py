"""`archive blame`, `archive trace`, `archive related`: the passage store on the command line."""

from __future__ import annotations

import click

from archive.cli.common import db_option, emit_json, friendly, json_option, shown
from archive.refs import resolve_document, resolve_version
from archive.store import ArchiveError, Store


def _preview(text: str, width: int = 72) -> str:
    flat = shown(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"


_BEHIND = (
    "the search indexes are behind and the archive is read-only: results may miss the latest"
    " versions (`archive serve` and `archive package` build them in their snapshot)"
)


def _indexing(passages: int) -> None:
    """Say why a search pauses: the indexes an import leaves behind are being built."""
    click.echo(f"indexing {passages:,} passages...", err=True)


def _where(row: dict, path: str = "path") -> str:
    """source:path of a row, safe for a terminal."""
    return shown(f"{row['source']}:{row[path]}")


@click.command()
@click.argument("version")
@db_option
@json_option
@friendly
def blame(version: str, db: str, as_json: bool) -> None:
    """Show which version brought each word of VERSION (<document>[@n]) into the document.

    Runs of consecutive words from one version, carried through the stored word diffs as git
    blame carries lines (a deletion or a non-text version breaks the run). --json also gives
    each passage (paragraph) with the earliest version of the unbroken run that holds it.
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
    for row in result["spans"]:
        where = row["commit"][:12] if row["commit"] else f"run {row['run_id']}"
        click.echo(
            shown(f"@{row['seq']:<4} {row['observed_at']}  {where:<12}  {_preview(row['text'])}")
        )
    if result["bounded"]:
        click.echo("(history longer than the blame walks: the oldest run may be older)", err=True)


@click.command()
@click.argument("query")
@click.option("--normalize", "normalized", is_flag=True, help="Ignore case, spacing, quote style.")
@click.option("--text", "as_text", is_flag=True, help="Take QUERY as text even if it looks hex.")
@click.option(
    "--fuzzy", is_flag=True, help="Also find reworded reuse (words changed, quotes, spacing)."
)
@click.option(
    "--min-score",
    type=click.FloatRange(0, 100),
    default=70.0,
    show_default=True,
    help="With --fuzzy: the lowest similarity (0-100) shown.",
)
@db_option
@json_option
@friendly
def trace(
    query: str,
    normalized: bool,
    as_text: bool,
    fuzzy: bool,
    min_score: float,
    db: str,
    as_json: bool,
) -> None:
    """Where a text (any span of it) or a passage (its BLAKE3 hex) first appeared, and every
    document and range of versions that carries it.

    A span of 6 or more words is found wherever it sits inside a passage, completely; a
    shorter one is checked against at most 1,000 passages holding its words in order (a note
    says when more do: refine the query). With --fuzzy, passages holding a near-verbatim form
    are listed too, each with a similarity score and the aligned text. Exit status 1 when
    nothing matches.
    """
    from archive.passages.indexing import ensure_current
    from archive.passages.trace import trace as run_trace

    with Store(db, create=False) as store:
        current = ensure_current(store, _indexing)
        result = run_trace(
            store, query, normalized=normalized, as_text=as_text, fuzzy=fuzzy, min_score=min_score
        )
    if as_json:
        emit_json(result)
    else:
        first = result["first"]
        if first:
            click.echo(
                shown(
                    f"first: {first['source']}:{first['path']}@{first['seq']}"
                    f" {first['observed_at']}"
                )
            )
        for a in result["appearances"]:
            ranges = ", ".join(
                f"@{r['from_seq']}" + (f"-@{r['to_seq']}" if r["to_seq"] != r["from_seq"] else "")
                for r in a["ranges"]
            )
            click.echo(
                shown(
                    f"  in {a['source']}:{a['path']} {ranges}"
                    f" ({a['versions']} version{'' if a['versions'] == 1 else 's'})"
                )
            )
        for m in result.get("fuzzy", []):
            f = m["first"]
            click.echo(
                shown(
                    f"~{m['score']:5.1f} {f['source']}:{f['path']}@{f['seq']} {f['observed_at']}"
                    f"  {_preview(m['aligned'])}"
                )
            )
    if not current:
        click.echo(_BEHIND, err=True)
    if result["truncated"]:
        click.echo(
            f"more than {result['match_cap']:,} passages hold these words: only the first"
            f" {result['match_cap']:,} were checked; refine the query",
            err=True,
        )
    if not result["passages"] and not result.get("fuzzy"):
        raise ArchiveError(f"no passage matches {query!r}")


@click.command()
@click.argument("document")
@click.option("--limit", type=int, default=None, help="Show at most this many.")
@db_option
@json_option
@friendly
def related(document: str, limit: int | None, db: str, as_json: bool) -> None:
    """Documents related to DOCUMENT, most first: shared names, wording (MinHash), sentences
    and quotations (exact or reworded), each row with the reasons behind its score."""
    from archive.passages.indexing import ensure_current
    from archive.passages.related import related as run_related

    with Store(db, create=False) as store:
        doc = resolve_document(store, document)
        current = ensure_current(store, _indexing)
        rows = run_related(store, doc["id"], limit)
    if not current:
        click.echo(_BEHIND, err=True)
    if as_json:
        emit_json({"document": {k: doc[k] for k in ("id", "source", "path")}, "related": rows})
        return
    for r in rows:
        names = shown(", ".join(r["shared_entities"][:6]))
        click.echo(
            shown(
                f"{r['score']:.4f}  {r['source']}:{r['path']}  names: {names or '-'};"
                f" wording {r['wording']:.3f}; {len(r['shared_sentences'])} sentences,"
                f" {r['shared_quotes'] + len(r['fuzzy_quotes'])} quotes"
            )
        )


@click.command()
@click.option(
    "--min-words",
    type=click.IntRange(6),
    default=6,
    show_default=True,
    help="Shortest shared sentence listed (in words; CJK characters count one each).",
)
@click.option(
    "--cap",
    type=click.IntRange(2),
    default=20,
    show_default=True,
    help="A sentence shared by more documents than this is boilerplate: counted, not listed.",
)
@db_option
@json_option
@friendly
def reuse(min_words: int, cap: int, db: str, as_json: bool) -> None:
    """Wording shared by different documents: each sentence's first appearance, then each
    later document with the days since (clusters oldest first).

    Sentences are compared by their words (case, quote style and spacing aside); each
    document counts at the first version that held the sentence. Indexed when first asked
    (or ahead, by `archive index`).
    """
    from archive.passages.indexing import ensure_current

    with Store(db, create=False) as store:
        current = ensure_current(store, _indexing)
        result = store.spans.reuse(min_words, cap)
    result["min_words"] = min_words
    if as_json:
        emit_json(result)
    else:
        for c in result["clusters"]:
            first, *later = c["appearances"]
            click.echo(f"{_preview(c['text'])}")
            click.echo(f"  first {_where(first)}@{first['seq']} {first['observed_at']}")
            for a in later:
                click.echo(f"  +{a['gap_days']:g}d {_where(a)}@{a['seq']} {a['observed_at']}")
        click.echo(
            f"{len(result['clusters'])} shared sentences; {result['boilerplate']} shared by more"
            f" than {cap} documents (boilerplate, not listed)",
            err=True,
        )
    if not current:
        click.echo(_BEHIND, err=True)


@click.command()
@db_option
@json_option
@friendly
def index(db: str, as_json: bool) -> None:
    """Bring the search indexes (text search, trace, reuse) up to date, ahead of use.

    An ingest leaves them behind (they are derived from the passages, and larger than the
    text); `archive trace`, `reuse` and `related` bring them up to date on the archive first,
    and `archive serve` / `package` in their snapshot. This does it now, from where they
    stand: only what was stored since the last time is indexed.
    """
    import sqlite3

    from archive.passages.indexing import catch_up, read_only

    try:
        with Store(db, create=False) as store, store.write():
            counts = catch_up(store)
    except sqlite3.OperationalError as e:
        if not read_only(e):
            raise
        raise ArchiveError(
            f"{db} is read-only: its search indexes cannot be written here (`archive serve`"
            " and `archive package` build them in their snapshot)"
        ) from None
    if as_json:
        emit_json(counts)
    else:
        click.echo(f"indexed {counts['passages']:,} passages, {counts['versions']:,} versions")
