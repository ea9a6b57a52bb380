"""Trust commands: key generate, sign, timestamp, cosign (checkpoints outsiders can check)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from archive.cli.common import db_option, emit_json, friendly, json_option
from archive.errors import ArchiveError

if TYPE_CHECKING:
    from archive.ledger.signing import Signer, Verifier
    from archive.store import Store

KEY_ENV = "ARCHIVE_SIGNING_KEY"


def read_signer(path: str) -> Signer:
    """A private key file written by `archive key generate` (or Go's note package)."""
    from archive.ledger.signing import SignatureError, parse_signer

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ArchiveError(f"cannot read the key {path}: {getattr(e, 'strerror', e)}") from None
    try:
        return parse_signer(text)
    except SignatureError as e:
        raise ArchiveError(f"{path}: {e}") from None


def sign_option(f):
    """--sign FILE (or $ARCHIVE_SIGNING_KEY): every command that records a run signs it."""
    return click.option(
        "--sign",
        "key_file",
        envvar=KEY_ENV,
        metavar="FILE",
        help=f"Sign the run's checkpoint with this private key [${KEY_ENV}].",
    )(f)


def sign_run(store: Store, key_file: str | None, run_id: int) -> None:
    """Sign the checkpoint a run made, when a key was given."""
    if key_file:
        from archive.ledger import evidence

        signer = read_signer(key_file)
        with store.write():
            evidence.sign_run(store, signer, run_id)


def verifiers(values: tuple[str, ...] | list[str], what: str = "key") -> list[Verifier]:
    """Verifier keys given on the command line (the string itself, or a file holding it)."""
    from archive.ledger.signing import SignatureError, parse_verifier

    found = []
    for value in values:
        text = value
        if "+" not in value and os.path.isfile(value):
            text = Path(value).read_text(encoding="utf-8", errors="replace")
        try:
            found.append(parse_verifier(text))
        except SignatureError as e:
            raise click.BadParameter(f"{value!r}: {e}", param_hint=f"--{what}") from None
    return found


def read_text(path: str, what: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ArchiveError(f"cannot read {what} {path}: {getattr(e, 'strerror', e)}") from None


@click.group()
def key() -> None:
    """Signing keys (Ed25519, in the C2SP signed-note / Go sumdb/note formats)."""


@key.command("generate")
@click.argument("name")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Private key file.")
@click.option("--witness", is_flag=True, help="A witness key (cosignature/v1, type 0x04).")
@friendly
def generate_key(name: str, out: str, witness: bool) -> None:
    """Write a new private key for NAME to --out (mode 0600, never overwritten) and print
    its verifier key, NAME+<key hash>+<public key>, to give to whoever checks."""
    from archive.ledger.signing import COSIGNATURE_V1, ED25519, SignatureError, generate

    try:
        signer = generate(name, COSIGNATURE_V1 if witness else ED25519)
    except SignatureError as e:
        raise click.BadParameter(str(e), param_hint="NAME") from None
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ArchiveError(f"{out} exists: a key is never overwritten") from None
    except OSError as e:
        raise ArchiveError(f"cannot write {out}: {e.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(signer.private_text())
    click.echo(str(signer.verifier))


@click.command()
@click.option(
    "--key", "key_file", required=True, envvar=KEY_ENV, help=f"Private key file [${KEY_ENV}]."
)
@db_option
@friendly
def sign(key_file: str, db: str) -> None:
    """Sign the latest checkpoint and print it as a signed note."""
    from archive.ledger import evidence
    from archive.store import Store

    signer = read_signer(key_file)
    with Store(db, create=False) as store:
        with store.write():
            current = evidence.sign_latest(store, signer)
    click.echo(str(current.note), nl=False)


@click.command()
@click.option("--tsa", "url", required=True, help="The time-stamp authority's URL (RFC 3161).")
@click.option(
    "--tsa-ca",
    "ca_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Check the token against this CA (PEM) before keeping it.",
)
@db_option
@json_option
@friendly
def timestamp(url: str, ca_file: str | None, db: str, as_json: bool) -> None:
    """Have a TSA time-stamp the latest signed checkpoint note; keep its token."""
    from archive.ledger import evidence
    from archive.ledger.timestamps import TimestampError, load_certificates
    from archive.store import Store

    try:
        roots = load_certificates(Path(ca_file).read_bytes()) if ca_file else []
    except TimestampError as e:
        raise click.BadParameter(str(e), param_hint="--tsa-ca") from None
    with Store(db, create=False) as store:
        with store.write():
            info = evidence.timestamp_latest(store, url, roots)
    if as_json:
        emit_json(info.as_dict())
    else:
        tsa = "".join(ch if ch.isprintable() else "?" for ch in info.tsa)  # a hostile CA
        click.echo(f"time-stamped at {info.time} by {tsa}")


@click.command()
@click.argument("note_file", metavar="NOTE")
@click.option("--log-key", "log_keys", multiple=True, required=True, help="The log's verifier key.")
@click.option("--key", "key_file", required=True, help="This witness's private key file.")
@click.option(
    "--state",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory where this witness keeps what it cosigned.",
)
@click.option(
    "--proof",
    "proof_file",
    help="Consistency proof JSON (archive proof --consistency OLD NEW) from the last tree.",
)
@friendly
def cosign(
    note_file: str, log_keys: tuple[str, ...], key_file: str, state: str, proof_file: str | None
) -> None:
    """Witness a checkpoint NOTE: check the log's signature and that it extends the tree this
    witness cosigned before, then print the note with a cosignature/v1 line added.

    Exit status 1, with one line, when the checkpoint is refused (for instance a split view).
    """
    from archive.ledger.witness import WitnessError, witness

    keys = verifiers(log_keys, "log-key")
    signer = read_signer(key_file)
    text = read_text(note_file, "the note")
    proof = None
    if proof_file is not None:
        try:
            proof = json.loads(read_text(proof_file, "the proof"))
        except json.JSONDecodeError as e:
            raise ArchiveError(f"{proof_file} is not a proof JSON: {e}") from None
    try:
        note = witness(text, keys, signer, Path(state), int(time.time()), proof)
    except WitnessError as e:
        raise ArchiveError(f"refused: {e}") from None
    click.echo(str(note), nl=False)
