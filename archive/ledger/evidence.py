"""Evidence an outsider can check: signed checkpoints, witness cosignatures, trusted time.

A bare checkpoint proves nothing against whoever holds the file: they can rewrite the log
and its checkpoints together. Here the archive's checkpoints become C2SP signed notes
(`archive.ledger.signing`), witnesses' cosignatures are imported after checking, and RFC
3161 tokens (`archive.ledger.timestamps`) say when a note existed. The checks `archive
verify` runs on this evidence live here too; each returns (table, key, problem) tuples.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from archive.ledger import timestamps
from archive.ledger.checkpoints import latest_checkpoint, origin, roots_at
from archive.ledger.signing import (
    CheckpointBody,
    Note,
    NoteSignature,
    SignatureError,
    Signer,
    Verifier,
    check_cosignature,
    check_key_name,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_verifier,
    sign_note,
)
from archive.ledger.timestamps import TimestampError, TokenInfo
from archive.store import ArchiveError, Store, now_iso

LOG, WITNESS = "log", "witness"
Problem = tuple[str, str, str]  # (table, key, what is wrong)
Fetch = Callable[[str, bytes], bytes]

if TYPE_CHECKING:
    from cryptography import x509


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _line(row: Mapping) -> NoteSignature:
    """A kept signature row as the note line it came from (SignatureError when malformed)."""
    blob = base64.b64decode(row["signature"], validate=True)
    return NoteSignature(check_key_name(row["key_name"]), blob[:4], blob[4:])


def body_of(origin_line: str, size: int, root_hex: str) -> CheckpointBody:
    return CheckpointBody(origin_line, size, bytes.fromhex(root_hex))


@dataclass(frozen=True)
class Latest:
    """The newest checkpoint as a note with every signature kept for it."""

    run_id: int
    time: str | None
    body: CheckpointBody
    note: Note

    @property
    def root_hex(self) -> str:
        return self.body.root.hex()


def note_of(store: Store, body: CheckpointBody) -> Note:
    """The checkpoint note with the kept signatures of that tree: the log's, then witnesses'."""
    rows = store.signatures(body.size, body.root.hex())
    rows = [r for r in rows if r["origin"] == body.origin]
    ordered = [r for r in rows if r["kind"] == LOG] + [r for r in rows if r["kind"] == WITNESS]
    note = Note(body.text())
    for row in ordered:
        try:
            note = note.add(_line(row))
        except (SignatureError, ValueError, TypeError):
            continue  # a malformed row is never printed; `archive verify` reports it
    return note


def latest(store: Store) -> Latest:
    """The newest run's checkpoint as a signed note (ArchiveError when there is none)."""
    run = latest_checkpoint(store)
    body = body_of(origin(store), run.checkpoint.size, run.checkpoint.root_hex)
    return Latest(run.run_id, run.time, body, note_of(store, body))


def _signed_trees(store: Store) -> dict[int, set[str]]:
    trees: dict[int, set[str]] = {}
    for row in store.signatures():
        trees.setdefault(row["tree_size"], set()).add(row["tree_root"])
    return trees


def refuse_fork(store: Store, size: int) -> None:
    """A log must never sign a tree inconsistent with one it signed before: every signed
    tree up to `size` must still be a prefix of the stored leaves."""
    trees = _signed_trees(store)
    hashes = store.leaf_hashes(size)
    roots = roots_at(hashes, [s for s in trees if s <= len(hashes)])
    for tree_size, signed_roots in sorted(trees.items()):
        if tree_size > len(hashes):
            if tree_size > store.ledger_size():
                raise ArchiveError(
                    f"a checkpoint of size {tree_size} was signed but the ledger has only "
                    f"{store.ledger_size()} leaves: refusing to sign (run `archive verify`)"
                )
            continue
        if any(r != roots[tree_size].hex() for r in signed_roots):
            raise ArchiveError(
                f"the ledger no longer matches the checkpoint of size {tree_size} signed "
                "before: refusing to sign a fork (run `archive verify`)"
            )


def sign(store: Store, signer: Signer, body: CheckpointBody) -> NoteSignature:
    """Sign one checkpoint of this archive and keep the signature (not the key). An empty
    tree is not signed: the log is named by its first leaf, which it does not have yet."""
    if body.size == 0:
        raise ArchiveError("the log is empty: nothing to sign yet")
    refuse_fork(store, body.size)
    signature = sign_note(body.text(), signer)
    store.add_signature(
        body.origin,
        body.size,
        body.root.hex(),
        LOG,
        signer.name,
        str(signer.verifier),
        _b64(signature.key_id + signature.signature),
        now_iso(),
    )
    return signature


def sign_latest(store: Store, signer: Signer) -> Latest:
    """`archive sign`: sign the newest checkpoint; the note with the new signature."""
    body = latest(store).body
    sign(store, signer, body)
    return latest(store)


# Trusted time ------------------------------------------------------------------------------


def timestamp_latest(
    store: Store,
    url: str,
    roots: Sequence[x509.Certificate] = (),
    fetch: Fetch = timestamps.fetch,
) -> TokenInfo:
    """Ask a TSA for a token over the newest signed checkpoint note and keep it (checked
    against `roots` first when given)."""
    current = latest(store)
    if not any(r["kind"] == LOG for r in _rows_of(store, current.body)):
        raise ArchiveError("the latest checkpoint is not signed: run `archive sign --key FILE`")
    text = str(current.note)
    data = text.encode("utf-8")
    try:
        reply = fetch(url, data)
        info = timestamps.verify(reply, data, roots) if roots else timestamps.describe(reply)
    except TimestampError as e:
        raise ArchiveError(str(e)) from None
    store.add_timestamp(
        current.body.origin,
        current.body.size,
        current.root_hex,
        text,
        reply,
        url,
        info.time,
        info.tsa,
        now_iso(),
    )
    return info


def _rows_of(store: Store, body: CheckpointBody) -> list[dict]:
    return [r for r in store.signatures(body.size, body.root.hex()) if r["origin"] == body.origin]


def latest_token(store: Store) -> dict | None:
    """The newest token kept for the newest checkpoint whose note is a well-formed signed
    note (so it may be printed as is), or None."""
    current = latest(store)
    for row in reversed(store.timestamps(current.body.size, current.root_hex)):
        try:
            if row["origin"] == current.body.origin and row["token"] is not None:
                parse_note(row["note"])
                return row
        except (SignatureError, TypeError):
            continue
    return None


# Witnesses ---------------------------------------------------------------------------------


def _tree_roots(store: Store, sizes: Iterable[int]) -> dict[int, bytes]:
    hashes = store.leaf_hashes()
    return roots_at(hashes, [s for s in sizes if 0 <= s <= len(hashes)])


def import_cosignatures(store: Store, text: str, witnesses: Sequence[Verifier]) -> list[str]:
    """`archive checkpoint --import`: keep the witnesses' cosignatures on a note of one of
    this archive's trees, each checked first; returns the witness names kept. A line from a
    key not given is not kept (it could not be checked)."""
    try:
        note = parse_note(text)
        body = parse_checkpoint(note.text)
    except SignatureError as e:
        raise ArchiveError(f"not a checkpoint note: {e}") from None
    if body.origin != origin(store):
        raise ArchiveError(f"the note is for log {body.origin!r}, not {origin(store)!r}")
    root = _tree_roots(store, [body.size]).get(body.size)
    if root != body.root:
        raise ArchiveError(f"the note's tree of size {body.size} is not this archive's")
    if not witnesses:
        raise ArchiveError("give the witnesses' keys (--witness VERIFIER) to check their lines")
    kept: list[str] = []
    for witness in witnesses:
        for sig in note.signatures:
            when = check_cosignature(note.text, sig, witness)
            if when is None:
                if (sig.name, sig.key_id) == (witness.name, witness.cosignature_key_id):
                    raise ArchiveError(f"the cosignature of {witness.name} does not verify")
                continue
            store.add_signature(
                body.origin,
                body.size,
                body.root.hex(),
                WITNESS,
                witness.name,
                str(witness),
                _b64(sig.key_id + sig.signature),
                now_iso(),
                cosigned_at=when,
            )
            kept.append(witness.name)
    if not kept:
        raise ArchiveError("the note has no cosignature from the witnesses given")
    return kept


# Checks for `archive verify` ---------------------------------------------------------------


def _verifier_of(row: Mapping) -> Verifier | None:
    try:
        verifier = parse_verifier(row["verifier"])
    except (SignatureError, TypeError, AttributeError):
        return None
    return verifier if verifier.name == row["key_name"] else None


def _row_valid(row: Mapping, roots: Mapping[int, bytes]) -> str | None:
    """Why a kept signature row is bad, or None: its signature over the checkpoint text
    rebuilt from the row, and its tree one of this ledger's."""
    verifier = _verifier_of(row)
    if verifier is None:
        return "its verifier key is malformed or names another key"
    try:
        body = body_of(row["origin"], row["tree_size"], row["tree_root"])
        line = _line(row)
    except (SignatureError, ValueError, TypeError):
        return "the signed checkpoint is malformed"
    if row["kind"] == LOG:
        good = line.key_id == verifier.note_key_id and verifier.check(
            body.text().encode("utf-8"), line.signature
        )
    elif row["kind"] == WITNESS:
        good = check_cosignature(body.text(), line, verifier) == row["cosigned_at"]
    else:
        return f"unknown signature kind {row['kind']!r}"
    if not good:
        return f"the signature of {row['key_name']} does not verify"
    if roots.get(row["tree_size"]) != body.root:
        return f"the signed tree of size {row['tree_size']} is not this ledger's"
    return None


def check_signatures(
    store: Store,
    leaves: Sequence[bytes],
    keys: Sequence[Verifier] = (),
    witnesses: Sequence[Verifier] = (),
) -> list[Problem]:
    """Every kept signature verifies over a tree of these leaves; with `keys`, the newest
    checkpoint is signed by one of them; with `witnesses`, each cosigned it."""
    rows = store.signatures()
    roots = roots_at(leaves, [r["tree_size"] for r in rows if 0 <= r["tree_size"] <= len(leaves)])
    found: list[Problem] = []
    good: list[Mapping] = []
    for row in rows:
        why = _row_valid(row, roots)
        if why is None:
            good.append(row)
        else:
            found.append(("checkpoint_signatures", f"id {row['id']}", why))
    if not keys and not witnesses:
        return found
    run = store.latest_checkpoint()
    if run is None:
        return found + [("runs", "latest", "the archive has no checkpoint to be signed")]
    tree = (run["tree_size"], run["tree_root"])
    mine = [r for r in good if (r["tree_size"], r["tree_root"]) == tree]
    key = f"id {run['id']}"
    if keys:
        wanted = {v.public for v in keys}
        if not any(r["kind"] == LOG and _verifier_of(r).public in wanted for r in mine):
            names = ", ".join(sorted({v.name for v in keys}))
            found.append(("runs", key, f"the latest checkpoint is not signed by {names}"))
    for witness in witnesses:
        if not any(r["kind"] == WITNESS and _verifier_of(r).public == witness.public for r in mine):
            found.append(
                ("runs", key, f"the latest checkpoint has no cosignature of {witness.name}")
            )
    return found


def check_timestamps(
    store: Store, leaves: Sequence[bytes], roots_pem: Sequence[x509.Certificate] = ()
) -> list[Problem]:
    """Every kept token is over its note (SHA-256 imprint), the note is a checkpoint of
    these leaves, and with CA certificates given, the token verifies (signature, chain)."""
    rows = store.timestamps()
    roots = roots_at(leaves, [r["tree_size"] for r in rows if 0 <= r["tree_size"] <= len(leaves)])
    found: list[Problem] = []
    for row in rows:
        key = f"id {row['id']}"
        note_text = row["note"] if isinstance(row["note"], str) else ""
        data = note_text.encode("utf-8", "surrogatepass")
        try:
            body = parse_checkpoint(parse_note(note_text).text)
        except SignatureError as e:
            found.append(("checkpoint_timestamps", key, f"the stamped note is malformed: {e}"))
            continue
        if (body.size, body.root.hex()) != (row["tree_size"], row["tree_root"]):
            found.append(("checkpoint_timestamps", key, "the stamped note is of another tree"))
        elif roots.get(body.size) != body.root:
            found.append(("checkpoint_timestamps", key, "the stamped tree is not this ledger's"))
        token = bytes(row["token"]) if row["token"] is not None else b""
        try:
            if roots_pem:
                info = timestamps.verify(token, data, roots_pem)
            else:
                info = timestamps.describe(token)
                if info.digest != hashlib.sha256(data).hexdigest():
                    raise TimestampError("the token is over other data than its note")
        except TimestampError as e:
            found.append(("checkpoint_timestamps", key, str(e)))
            continue
        if info.time != row["gen_time"]:
            found.append(("checkpoint_timestamps", key, "gen_time differs from the token's"))
    return found


def check_external(
    leaves: Sequence[bytes], text: str, keys: Sequence[Verifier] = (), log: str | None = None
) -> list[Problem]:
    """Does this ledger contain the tree of a checkpoint kept elsewhere? A signed note is
    opened with `keys` first (its signature must verify); a bare body is taken as is."""
    try:
        note = parse_note(text) if "\n\n" in text else None
        body = parse_checkpoint(note.text if note is not None else text)
    except SignatureError as e:
        raise ArchiveError(f"not a checkpoint: {e}") from None
    try:
        if keys and note is None:
            raise SignatureError("the checkpoint is not signed")
        if keys and note is not None:
            open_note(note, keys)
    except SignatureError as e:
        return [("ledger", f"size {body.size}", f"the checkpoint given does not check: {e}")]
    key = f"size {body.size}"
    if body.size > len(leaves):
        return [("ledger", key, f"the ledger has only {len(leaves)} leaves: truncated or behind")]
    root = roots_at(leaves, [body.size])[body.size]
    if root != body.root:
        return [("ledger", key, "root differs: history was rewritten")]
    if log is not None and body.origin != log:
        return [("ledger", key, f"the checkpoint is of log {body.origin!r}, not {log!r}")]
    return []


def sign_run(store: Store, signer: Signer, run_id: int) -> NoteSignature:
    """`archive ingest --sign`: sign the checkpoint the run just made."""
    run = store.run(run_id)
    if run["tree_size"] is None:
        raise ArchiveError(f"run {run_id} has no checkpoint to sign")
    return sign(store, signer, body_of(origin(store), run["tree_size"], run["tree_root"]))


def tree_evidence(store: Store, size: int, root_hex: str) -> dict:
    """What vouches for one tree, each item checked: who signed it, which witnesses
    cosigned it (and when), and the trusted times of tokens over its notes (for pages)."""
    try:
        root = bytes.fromhex(root_hex)
        rows = store.signatures(size, root_hex)
        tokens = store.timestamps(size, root_hex)
    except (ValueError, sqlite3.OperationalError):  # an archive from before these tables
        return {"signed_by": [], "witnesses": [], "times": []}
    good = [r for r in rows if _row_valid(r, {size: root}) is None]
    times = []
    for row in tokens:
        try:
            info = timestamps.describe(bytes(row["token"]))
        except TimestampError:
            continue
        if info.digest == hashlib.sha256(row["note"].encode("utf-8")).hexdigest():
            times.append({"time": info.time, "tsa": info.tsa})
    return {
        "signed_by": sorted({r["key_name"] for r in good if r["kind"] == LOG}),
        "witnesses": [
            {"name": r["key_name"], "time": _unix_iso(r["cosigned_at"])}
            for r in good
            if r["kind"] == WITNESS
        ],
        "times": times,
    }


def _unix_iso(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
