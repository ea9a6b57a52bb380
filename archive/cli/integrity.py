"""Integrity commands: checkpoint, proof, verify-proof, verify, lookup and export."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from archive import __version__
from archive.cli.common import db_option, emit_json, friendly, json_option, shown
from archive.export import by_document, exportable
from archive.export.bagit import export_bagit
from archive.export.manifest import manifest_bytes
from archive.export.ocfl import export_ocfl
from archive.export.versions import export_versions
from archive.ledger.checkpoints import (
    check_proof,
    consistency_proof,
    inclusion_proof,
    latest_checkpoint,
    resolve_size,
)
from archive.lookup import NotInArchive
from archive.lookup import lookup as lookup_content
from archive.refs import resolve_version
from archive.store import ArchiveError, Store
from archive.verify import verify as run_checks
from archive.verify import verify_corpus, verify_external_checkpoint
from ingest.paths import PathError, path_bytes


@click.command()
@db_option
@json_option
@friendly
def checkpoint(db: str, as_json: bool) -> None:
    """Print the latest checkpoint (C2SP checkpoint text) for publishing elsewhere.

    The checkpoint goes to stdout exactly as `archive verify --checkpoint FILE` reads it;
    the run it belongs to is named on stderr.
    """
    with Store(db, create=False) as store:
        latest = latest_checkpoint(store)
    if as_json:
        emit_json(latest.as_dict())
        return
    click.echo(latest.text, nl=False)
    click.echo(f"run {latest.run_id} at {latest.time}", err=True)


def _read_json(path: str) -> object:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArchiveError(f"cannot read a proof from {path}: {e}") from None


def _check_proof_file(path: str) -> None:
    doc = _read_json(path)
    if not check_proof(doc):
        click.echo(f"invalid proof: {path}")
        sys.exit(1)
    assert isinstance(doc, dict)
    if doc["type"] == "inclusion":
        click.echo(
            f"valid inclusion proof: leaf {doc['leaf_index']} in tree of size "
            f"{doc['tree_size']}, root {doc['root']}"
        )
    else:
        click.echo(
            f"valid consistency proof: size {doc['old_size']} -> {doc['new_size']}, "
            f"root {doc['new_root']}"
        )


@click.command()
@click.argument("version", required=False)
@click.option("--size", type=int, help="Prove against the tree of this size (default: latest).")
@click.option(
    "--consistency", nargs=2, metavar="OLD NEW", help="Tree sizes or run:<id> to prove between."
)
@click.option("--check", "check_file", metavar="FILE", help="Check a proof JSON offline.")
@db_option
@friendly
def proof(
    version: str | None,
    size: int | None,
    consistency: tuple[str, str] | None,
    check_file: str | None,
    db: str,
) -> None:
    """Print an inclusion proof for VERSION, or a consistency proof, as JSON."""
    if sum(x is not None for x in (version, consistency, check_file)) != 1:
        raise click.UsageError("give one of VERSION, --consistency OLD NEW or --check FILE")
    if check_file is not None:
        _check_proof_file(check_file)
        return
    with Store(db, create=False) as store:
        if consistency is not None:
            old, new = (resolve_size(store, ref) for ref in consistency)
            doc = consistency_proof(store, old, new)
        else:
            assert version is not None
            if size is not None and size < 1:
                raise click.UsageError("--size must be at least 1")
            ref = resolve_version(store, version)
            doc = inclusion_proof(store, ref.version["id"], size)
    emit_json(doc)


@click.command("verify-proof")
@click.argument("file")
@friendly
def verify_proof(file: str) -> None:
    """Check a proof JSON (from `archive proof`) offline; FILE may be - for stdin."""
    _check_proof_file(file)


@click.command()
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Also check consistency with a checkpoint kept elsewhere.",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False),
    help="Only compare this folder with its source's latest versions.",
)
@db_option
@json_option
@friendly
def verify(checkpoint_file: str | None, corpus: str | None, db: str, as_json: bool) -> None:
    """Re-derive everything that can be re-derived; one line per failure.

    Exit status: 0 when everything checks, 1 on any finding.
    """
    with Store(db, create=False) as store:
        if corpus is not None:
            findings = verify_corpus(store, corpus)
        else:
            findings = run_checks(store)
            if checkpoint_file is not None:
                text = Path(checkpoint_file).read_text(encoding="utf-8", errors="replace")
                findings += verify_external_checkpoint(store, text)
    if as_json:
        emit_json([f.as_dict() for f in findings])
    elif findings:
        for f in findings:
            click.echo(shown(f.line()))
    else:
        click.echo("ok: the folder matches the archive" if corpus else "ok: everything checks")
    if findings:
        sys.exit(1)


@click.command()
@click.argument("query", metavar="FILE|HASH")
@db_option
@json_option
@friendly
def lookup(query: str, db: str, as_json: bool) -> None:
    """Where did this exact content appear? FILE is hashed; HASH is a BLAKE3/SHA-256 prefix."""
    with Store(db, create=False) as store:
        try:
            result = lookup_content(store, query)
        except NotInArchive as e:
            if as_json:
                emit_json({"found": False, "message": str(e)})
            else:
                click.echo(shown(str(e)))
            sys.exit(1)
    if as_json:
        emit_json({"found": True, **result.as_dict()})
        return
    click.echo(f"blake3 {result.blake3}  sha256 {result.sha256}  {result.size} bytes")
    for a in result.appearances:
        click.echo(
            shown(
                f"{a.source}:{a.path}@{a.seq} (#{a.document_id}) {a.kind} {a.observed_at} "
                f"run {a.run_id}"
            )
        )


# Exports ---------------------------------------------------------------------------------


@click.group()
def export() -> None:
    """Export the archive in standard formats (manifests, BagIt, OCFL, W3C PROV, WACZ)."""


def _source_option(f: Callable) -> Callable:
    return click.option("--source", help="Only this source (by name).")(f)


def _versions(store: Store, source: str | None) -> list:
    if source is not None and store.source_named(source) is None:
        names = ", ".join(s["name"] for s in store.sources()) or "none"
        raise click.UsageError(f"no source named {source!r} (sources: {names})")
    return export_versions(store, source)


def _exporting(action: Callable[[], object]) -> object:
    """Exporters raise ValueError/OSError for bad destinations or data: one line each."""
    try:
        return action()
    except (ValueError, OSError) as e:
        raise ArchiveError(f"export failed: {e}") from None


def _on_disk(path: str) -> bytes:
    """A stored path's name bytes as on disk (ingest.paths); a path stored before names were
    escaped (a lone backslash) is taken as it reads."""
    try:
        return path_bytes(path)
    except PathError:
        return path.encode("utf-8", "surrogateescape")


def _is_utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _report_refused(refused: list[tuple[str, str]]) -> None:
    """Documents an export left out, one line each on stderr; exit 1 when there are any."""
    for path, reason in refused:
        click.echo(f"refused: {shown(path)}: {shown(reason)}", err=True)
    if refused:
        sys.exit(1)


@export.command()
@click.option(
    "--algorithm", type=click.Choice(["blake3", "sha256"]), default="blake3", show_default=True
)
@_source_option
@db_option
@friendly
def manifest(algorithm: str, source: str | None, db: str) -> None:
    """Checksums of the latest present versions, for `b3sum -c` / `sha256sum -c` in the
    source folder."""
    with Store(db, create=False) as store:
        if source is None:
            names = [s["name"] for s in store.sources()]
            if len(names) > 1:
                raise click.UsageError(f"several sources, choose one with --source: {names}")
        versions = _versions(store, source)
    versions, refused = exportable(versions, unique_latest=True)
    entries = []
    for vs in by_document(versions).values():
        last = vs[-1]
        if last.kind != "deleted" and last.blake3 is not None:
            digest = last.blake3 if algorithm == "blake3" else last.sha256
            name = _on_disk(last.path)
            if algorithm == "blake3" and not _is_utf8(name):
                refused.append((last.path, "not listed: b3sum reads only UTF-8 names"))
                continue
            entries.append((name, digest))
    data = _exporting(lambda: manifest_bytes((d, p) for p, d in sorted(entries)))
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    _report_refused(refused)


@export.command()
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--all-versions", is_flag=True, help="Also every earlier version.")
@_source_option
@db_option
@friendly
def bagit(dest: Path, all_versions: bool, source: str | None, db: str) -> None:
    """Write a BagIt bag of the latest present versions into the empty directory DEST."""
    with Store(db, create=False) as store:
        versions, refused = exportable(_versions(store, source), unique_latest=True)
        _exporting(lambda: export_bagit(dest, versions, store.iter_content, all_versions))
    click.echo(f"bag written to {shown(str(dest))}")
    _report_refused(refused)


@export.command()
@click.argument("dest", type=click.Path(path_type=Path))
@_source_option
@db_option
@friendly
def ocfl(dest: Path, source: str | None, db: str) -> None:
    """Write an OCFL 1.1 storage root (one object per document) into the empty DEST."""
    with Store(db, create=False) as store:
        versions, refused = exportable(_versions(store, source))
        _exporting(lambda: export_ocfl(dest, versions, store.iter_content))
    click.echo(f"OCFL storage root written to {shown(str(dest))}")
    _report_refused(refused)


@export.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@_source_option
@db_option
@friendly
def prov(file: str, source: str | None, db: str) -> None:
    """Write the history as W3C PROV-JSON to FILE (- for stdout); never overwrites."""
    with Store(db, create=False) as store:
        versions = _versions(store, source)
        run_ids = {v.run_id for v in versions}
        runs = [r for r in store.runs() if r["id"] in run_ids]
    from archive.export.prov import export_prov  # the prov library is slow to import

    text = str(_exporting(lambda: export_prov(versions, runs, __version__)))
    if file == "-":
        click.echo(text, nl=False)
        return
    try:
        with open(file, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise ArchiveError(f"{file} exists: PROV export never overwrites") from None
    except OSError as e:
        raise ArchiveError(f"cannot write {file}: {e.strerror}") from None


@export.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--source", help="Only this web source (by name).")
@db_option
@friendly
def wacz(file: str, source: str | None, db: str) -> None:
    """Write the web captures as a WACZ FILE (ReplayWeb.page opens it); never overwrites.

    Each capture is written as the record it was (its id, date, headers, and its payload as
    transferred), so every record's payload digest is the original capture's.
    """
    from archive.cli.web import export_captures_wacz

    export_captures_wacz(file, source, db)
