"""A witness: cosign a log's checkpoint only when it extends what this witness cosigned.

Two newsrooms witnessing each other's archives is what makes a split view (one history
shown to a court, another to the public) detectable: a witness keeps, per log origin, the
last tree size and root it cosigned, and cosigns a new checkpoint only when the log's
signature verifies and a consistency proof leads from that tree to the new one
(C2SP tlog-cosignature). State lives in plain JSON files in a directory the witness owns.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from archive.ledger import merkle
from archive.ledger.signing import (
    CheckpointBody,
    Note,
    SignatureError,
    Signer,
    Verifier,
    cosign,
    open_note,
    parse_checkpoint,
    parse_note,
)


class WitnessError(ValueError):
    """The witness refuses: bad signature, no proof, or a split view."""


@dataclass(frozen=True)
class Seen:
    """The last tree this witness cosigned for one log."""

    origin: str
    size: int
    root: bytes
    time: int

    def as_dict(self) -> dict:
        root = base64.b64encode(self.root).decode("ascii")
        return {"origin": self.origin, "size": self.size, "root": root, "time": self.time}


def state_file(state_dir: Path, origin: str) -> Path:
    """One file per origin, named by its hash (an origin may hold '/' or worse)."""
    return Path(state_dir) / (hashlib.sha256(origin.encode("utf-8")).hexdigest() + ".json")


def load(state_dir: Path, origin: str) -> Seen | None:
    """What this witness last cosigned for `origin`, or None for a log it never saw."""
    path = state_file(state_dir, origin)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        seen = Seen(doc["origin"], doc["size"], base64.b64decode(doc["root"]), doc["time"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise WitnessError(f"witness state {path} is unreadable: {e}") from None
    if seen.origin != origin or not isinstance(seen.size, int) or len(seen.root) != 32:
        raise WitnessError(f"witness state {path} is damaged")
    return seen


def save(state_dir: Path, seen: Seen) -> None:
    """Write the new state atomically (a crash leaves the old state or the new one)."""
    path = state_file(state_dir, seen.origin)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(seen.as_dict(), f, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def bind_origin(state_dir: Path, log_key: Verifier, origin: str) -> None:
    """One log key, one origin: a log that signs a tree under a new origin (say, after
    rewriting its first leaf) would otherwise start a fresh history with this witness."""
    name = hashlib.sha256(f"key {log_key}".encode()).hexdigest() + ".origin"
    path = Path(state_dir) / name
    try:
        known = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        path.write_text(origin, encoding="utf-8")
        return
    if known != origin:
        raise WitnessError(
            f"split view: the key of {log_key.name} signed log {known!r} before, not {origin!r}"
        )


@contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """One cosigning at a time per state directory: two at once could each pass the check
    against the same old state and cosign two forks."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / ".lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def proof_hashes(doc: object, old_size: int, new_size: int) -> list[bytes]:
    """The hashes of a consistency proof JSON (`archive proof --consistency OLD NEW`),
    refused unless it is one from old_size to new_size. Its roots are not trusted: the
    witness checks the hashes against its own old root and the signed new one."""
    if not isinstance(doc, Mapping) or doc.get("type") != "consistency":
        raise WitnessError("the proof is not a consistency proof")
    if doc.get("hash") != "sha256":
        raise WitnessError("the proof is not over SHA-256")
    if (doc.get("old_size"), doc.get("new_size")) != (old_size, new_size):
        raise WitnessError(
            f"the proof is from size {doc.get('old_size')} to {doc.get('new_size')}, "
            f"but {old_size} to {new_size} is needed"
        )
    try:
        hashes = [bytes.fromhex(h) for h in doc["proof"]]
    except (KeyError, TypeError, ValueError):
        raise WitnessError("the proof's hashes are not hex") from None
    return hashes


def check_extends(seen: Seen | None, body: CheckpointBody, proof: Sequence[bytes] | None) -> None:
    """Refuse a checkpoint that does not extend the tree cosigned before (split view)."""
    if seen is None or seen.size == 0:
        return
    if body.size < seen.size:
        raise WitnessError(
            f"split view: size {body.size} is smaller than size {seen.size} already cosigned "
            f"for {body.origin}"
        )
    if body.size == seen.size:
        if body.root != seen.root:
            raise WitnessError(
                f"split view: a different root for size {body.size} of {body.origin} "
                "was already cosigned"
            )
        return
    if proof is None:
        raise WitnessError(
            f"a consistency proof from size {seen.size} to {body.size} is needed "
            f"(archive proof --consistency {seen.size} {body.size})"
        )
    if not merkle.verify_consistency(seen.size, body.size, seen.root, body.root, proof):
        raise WitnessError(
            f"split view: size {body.size} is not consistent with size {seen.size} "
            f"already cosigned for {body.origin}"
        )


def witness(
    note_text: str | bytes,
    log_keys: Sequence[Verifier],
    key: Signer,
    state_dir: Path,
    now: int,
    proof_doc: object | None = None,
) -> Note:
    """Check the log's signature and consistency with the last cosigned tree, record the
    new tree, and return the note with this witness's cosignature/v1 line added."""
    try:
        note = parse_note(note_text)
        signers = open_note(note, log_keys)
        body = parse_checkpoint(note.text)
    except SignatureError as e:
        raise WitnessError(str(e)) from None
    with locked(state_dir):
        for log_key in signers:
            bind_origin(state_dir, log_key, body.origin)
        seen = load(state_dir, body.origin)
        proof = None
        if proof_doc is not None and seen is not None and seen.size < body.size:
            proof = proof_hashes(proof_doc, seen.size, body.size)
        check_extends(seen, body, proof)
        signature = cosign(note.text, key, now)
        save(state_dir, Seen(body.origin, body.size, body.root, now))
    return note.add(signature)
