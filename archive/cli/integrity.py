"""Integrity commands: checkpoint, proof, verify-proof, verify, lookup and export."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from archive import __version__
from archive.cli.common import db_option, emit_json, friendly, json_option, shown
from archive.errors import ArchiveError

if TYPE_CHECKING:
    from archive.store import Store


@click.command()
@click.option(
    "--tsr",
    "tsr_file",
    type=click.Path(dir_okay=False),
    help="Also write the time-stamp token (DER) of the printed note to this file.",
)
@click.option(
    "--import",
    "import_file",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="Keep the cosignatures of a witnessed note (checked with --witness keys).",
)
@click.option("--witness", "witness_keys", multiple=True, help="A witness's verifier key.")
@db_option
@json_option
@friendly
def checkpoint(
    tsr_file: str | None,
    import_file: str | None,
    witness_keys: tuple[str, ...],
    db: str,
    as_json: bool,
) -> None:
    """Print the latest checkpoint as a signed note (C2SP) for publishing elsewhere.

    The note (body, blank line, one `— NAME SIGNATURE` line per signature and cosignature
    kept) goes to stdout exactly as `archive verify --checkpoint FILE` reads it; the run it
    belongs to is named on stderr. With --tsr, the note printed is the one the latest
    time-stamp token covers, so `openssl ts -verify -data NOTE -in FILE` checks it.
    """
    from archive.cli.trust import read_text, verifiers
    from archive.ledger import evidence
    from archive.store import Store

    if import_file is not None:
        witnesses = verifiers(witness_keys, "witness")
        text = read_text(import_file, "the note")
        with Store(db, create=False) as store:
            with store.write():
                kept = evidence.import_cosignatures(store, text, witnesses)
        click.echo(f"kept cosignatures of {', '.join(kept)}")
        return
    with Store(db, create=False) as store:
        current = evidence.latest(store)
        token = evidence.latest_token(store) if tsr_file is not None else None
    text = str(current.note) if current.note.signatures else current.body.text()
    if tsr_file is not None:
        if token is None:
            raise ArchiveError("the latest checkpoint has no time-stamp: run `archive timestamp`")
        try:
            with open(tsr_file, "xb") as f:
                f.write(bytes(token["token"]))
        except FileExistsError:
            raise ArchiveError(f"{tsr_file} exists: never overwritten") from None
        except OSError as e:
            raise ArchiveError(f"cannot write {tsr_file}: {e.strerror}") from None
        text = token["note"]
    if as_json:
        emit_json(
            {
                "run_id": current.run_id,
                "time": current.time,
                "tree_size": current.body.size,
                "tree_root": current.root_hex,
                "origin": current.body.origin,
                "checkpoint": text,
                "signed": bool(current.note.signatures),
            }
        )
        return
    click.echo(text, nl=False)
    state = "signed" if current.note.signatures else "unsigned: `archive sign --key FILE`"
    click.echo(f"run {current.run_id} at {current.time} ({state})", err=True)


def _read_json(path: str) -> object:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArchiveError(f"cannot read a proof from {path}: {e}") from None


def _check_proof_file(
    path: str,
    checkpoint_file: str | None = None,
    keys: tuple[str, ...] = (),
    consistency_file: str | None = None,
) -> None:
    """Check a proof; say what it proves, against what, or why it fails (exit 1)."""
    from archive.cli.trust import read_text, verifiers
    from archive.ledger.checkpoints import check_proof
    from archive.ledger.proofs import INTERNAL_ONLY, check

    doc = _read_json(path)
    note = read_text(checkpoint_file, "the checkpoint") if checkpoint_file else None
    bridge = _read_json(consistency_file) if consistency_file else None
    result = check(doc, note, verifiers(keys), bridge)
    if result.ok and result.kind == "inclusion" and not check_proof(doc):
        result.problems.append("the proof does not check")  # belt and braces: the old check
    for line in result.claims:
        click.echo(f"  {line}")
    if not result.ok:
        for problem in result.problems:
            click.echo(f"invalid proof: {shown(path)}: {shown(problem)}")
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
    click.echo(f"checked against {shown(result.against)}" if result.against else INTERNAL_ONLY)


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
    """Print an inclusion proof for VERSION, or a consistency proof, as JSON.

    VERSION may be a file on disk: the proof is then of a version with exactly that file's
    bytes (the newest), or the command says they are not in the archive (exit 1).
    """
    from archive.ledger.checkpoints import consistency_proof, inclusion_proof, resolve_size
    from archive.store import Store

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
            doc = inclusion_proof(store, _version_to_prove(store, version), size)
    emit_json(doc)


def _version_to_prove(store: Store, ref: str) -> int:
    """The version id a proof is asked for: a file on disk proves its bytes, never silently
    the archived version at that path."""
    from archive.lookup import NotInArchive
    from archive.lookup import lookup as lookup_content
    from archive.refs import resolve_document, resolve_version

    if os.path.isfile(ref):
        try:
            result = lookup_content(store, ref)
        except NotInArchive:
            click.echo(f"{ref}: these bytes are not in the archive", err=True)
            sys.exit(1)
        if not result.appearances:
            click.echo(f"{ref}: these bytes are in no version", err=True)
            sys.exit(1)
        try:
            doc_id = resolve_document(store, ref)["id"]
        except ArchiveError:
            doc_id = None
        same_doc = [a for a in result.appearances if a.document_id == doc_id]
        chosen = (same_doc or list(result.appearances))[-1]
        return store.version(chosen.document_id, chosen.seq)["id"]
    return resolve_version(store, ref).version["id"]


@click.command("verify-proof")
@click.argument("file")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A signed checkpoint note you trust: the proof's root must be its root.",
)
@click.option("--key", "keys", multiple=True, help="The log's verifier key (for --checkpoint).")
@click.option(
    "--consistency",
    "consistency_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A consistency proof from the proof's tree to the (larger) checkpoint's.",
)
@friendly
def verify_proof(
    file: str, checkpoint_file: str | None, keys: tuple[str, ...], consistency_file: str | None
) -> None:
    """Check a proof JSON (from `archive proof`) offline; FILE may be - for stdin.

    Prints what the leaf claims. With --checkpoint and --key, the proof must lead to the
    root of that signed checkpoint; without, only the proof's internal consistency is
    checked, and the output says so.
    """
    if (keys or consistency_file) and checkpoint_file is None:
        raise click.UsageError("--key and --consistency need --checkpoint FILE")
    _check_proof_file(file, checkpoint_file, keys, consistency_file)


@click.command()
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A checkpoint kept elsewhere (signed note): the archive must contain its tree.",
)
@click.option(
    "--key",
    "keys",
    multiple=True,
    help="The log's verifier key: the latest checkpoint must be signed by it.",
)
@click.option(
    "--witness",
    "witness_keys",
    multiple=True,
    help="A witness's verifier key: the latest checkpoint must be cosigned by it.",
)
@click.option(
    "--tsa-ca",
    "ca_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Check every time-stamp token against this CA (PEM).",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False),
    help="Only compare this folder with its source's latest versions.",
)
@click.option(
    "--quick",
    is_flag=True,
    help="Only what is new since the last clean verify (and that the ledger still holds the"
    " tree it covered): a tamper in older content is found by a full verify only.",
)
@click.option(
    "--rederive",
    is_flag=True,
    help="Run the extractors again on every content and compare (slow): also checks the"
    " extractor, not only that the rows are those its content leaf committed.",
)
@db_option
@json_option
@friendly
def verify(
    checkpoint_files: tuple[str, ...],
    keys: tuple[str, ...],
    witness_keys: tuple[str, ...],
    ca_file: str | None,
    corpus: str | None,
    quick: bool,
    rederive: bool,
    db: str,
    as_json: bool,
) -> None:
    """Check every hash, leaf and checkpoint, and re-derive what no leaf states; one line per
    failure.

    With --key, every checkpoint's signature is checked and the latest must be signed by
    one of the keys; with --checkpoint, the archive must hold that tree (truncation,
    rewrite and fork are found); --witness and --tsa-ca check cosignatures and tokens.
    The content checks run on every core (ARCHIVE_VERIFY_WORKERS sets how many processes).
    What was derived from a content (metadata, readable-text link, quotations) is checked
    against the leaf that committed it when recorded; --rederive runs the extractors again.
    A clean run is recorded; --quick then re-hashes only the content of the leaves added
    since (routine runs), so a change to older content waits for the next full verify.
    Exit status: 0 when everything checks, 1 on any finding.
    """
    from archive.cli.trust import verifiers
    from archive.store import Store
    from archive.verify import Anchors
    from archive.verify_run import run as run_checks

    roots = _tsa_roots(ca_file) if ca_file else ()
    anchors = Anchors(
        keys=tuple(verifiers(keys)),
        witnesses=tuple(verifiers(witness_keys, "witness")),
        tsa_roots=roots,
        checkpoints=tuple(
            Path(f).read_text(encoding="utf-8", errors="replace") for f in checkpoint_files
        ),
    )
    if quick and corpus is not None:
        raise click.UsageError("--quick and --corpus do not go together")
    outcome = None
    with Store(db, create=False) as store:
        if corpus is not None:
            from archive.verify_corpus import verify_corpus  # reads a folder: its own imports

            findings = verify_corpus(store, corpus)
        else:
            outcome = run_checks(store, anchors, quick=quick, rederive=rederive)
            findings = outcome.findings
    if as_json:
        emit_json([f.as_dict() for f in findings])
    else:
        if outcome is not None:
            for note in outcome.notes:
                click.echo(f"note: {note}", err=True)
            if outcome.quick:
                click.echo(
                    f"quick check: {outcome.blobs} contents and {outcome.diffs} diffs of the"
                    f" leaves from {outcome.since} on, and every row check; run `archive verify`"
                    " for the older contents"
                )
        for f in findings:
            click.echo(shown(f.line()))
        if not findings:
            done = "everything new checks" if outcome and outcome.quick else "everything checks"
            click.echo("ok: the folder matches the archive" if corpus else f"ok: {done}")
    if findings:
        sys.exit(1)


def _tsa_roots(ca_file: str) -> tuple:
    """The CA certificates of --tsa-ca (X.509 loads only when they are given)."""
    from archive.ledger.timestamps import TimestampError, load_certificates

    try:
        return tuple(load_certificates(Path(ca_file).read_bytes()))
    except TimestampError as e:
        raise click.BadParameter(str(e), param_hint="--tsa-ca") from None


@click.command()
@click.argument("query", metavar="FILE|HASH")
@db_option
@json_option
@friendly
def lookup(query: str, db: str, as_json: bool) -> None:
    """Where did this exact content appear? FILE is hashed; HASH is a BLAKE3/SHA-256 prefix."""
    from archive.lookup import NotInArchive
    from archive.lookup import lookup as lookup_content
    from archive.store import Store

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
    from archive.export.versions import export_versions

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
    from ingest.paths import PathError, path_bytes

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
    from archive.export import by_document, export_path, exportable
    from archive.export.manifest import manifest_bytes
    from archive.store import Store

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
            mapped = str(export_path(last.path))  # a web document: where a bag puts it
            name = _on_disk(last.path) if mapped == last.path else mapped.encode()
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
    """Write a BagIt bag of the latest present versions into the empty directory DEST,
    with the evidence to check them offline under evidence/ (signed checkpoint, its
    time-stamp token, each version's inclusion proof, the PROV history, a README)."""
    from archive.export import exportable
    from archive.export.bagit import export_bagit
    from archive.store import Store

    with Store(db, create=False) as store:
        versions, refused = exportable(_versions(store, source), unique_latest=True)
        evidence = _evidence(store)
        _exporting(
            lambda: export_bagit(
                dest, versions, store.iter_content, all_versions, evidence=evidence
            )
        )
    click.echo(f"bag written to {shown(str(dest))}")
    _report_refused(refused)


def _evidence(store: Store) -> Callable[[list], dict[str, bytes]]:
    """What an export carries to be checked offline, for the versions it holds."""
    from archive.export.evidence import evidence_files
    from archive.export.prov import export_prov  # the prov library is slow to import

    runs = store.runs()

    def files(exported: list) -> dict[str, bytes]:
        run_ids = {v.run_id for v in exported}
        history = export_prov(exported, [r for r in runs if r["id"] in run_ids], __version__)
        return evidence_files(store, exported, history)

    return files


@export.command()
@click.argument("dest", type=click.Path(path_type=Path))
@_source_option
@db_option
@friendly
def ocfl(dest: Path, source: str | None, db: str) -> None:
    """Write an OCFL 1.1 storage root (one object per document) into the empty DEST; the
    evidence to check it offline goes under extensions/provenance-archive-evidence/."""
    from archive.export import exportable
    from archive.export.ocfl import export_ocfl
    from archive.store import Store

    with Store(db, create=False) as store:
        versions, refused = exportable(_versions(store, source))
        evidence = _evidence(store)
        _exporting(lambda: export_ocfl(dest, versions, store.iter_content, evidence))
    click.echo(f"OCFL storage root written to {shown(str(dest))}")
    _report_refused(refused)


@export.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@_source_option
@db_option
@friendly
def prov(file: str, source: str | None, db: str) -> None:
    """Write the history as W3C PROV-JSON to FILE (- for stdout); never overwrites."""
    from archive.store import Store

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
