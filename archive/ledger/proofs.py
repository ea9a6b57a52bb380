"""Checking a proof an outsider was handed: against a signed checkpoint, saying why not.

A proof checked only against the root written inside it proves nothing: whoever made it
could have edited the leaf and recomputed the root. Here the root the path leads to is
compared with a checkpoint the checker trusts (a signed note, opened with the log's key),
what the leaf claims is spelled out, and a failure says which step failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from archive.ledger import merkle
from archive.ledger.signing import (
    CheckpointBody,
    SignatureError,
    Verifier,
    open_note,
    parse_checkpoint,
    parse_note,
)

INTERNAL_ONLY = (
    "only internal consistency was checked: the proof's root was not compared with a "
    "checkpoint you trust (give --checkpoint FILE --key VERIFIER)"
)


@dataclass
class ProofCheck:
    """The outcome: valid or not, why not, what the leaf claims, what it was checked against."""

    kind: str
    problems: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)
    against: str | None = None  # the trusted checkpoint, when there was one

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "valid": self.ok,
            "type": self.kind,
            "problems": self.problems,
            "claims": self.claims,
            "checked_against": self.against,
        }


def _hex(doc: Mapping, key: str) -> bytes:
    value = doc[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} is not hex")
    raw = bytes.fromhex(value)
    if len(raw) != merkle.HASH_SIZE:
        raise ValueError(f"{key} is not a SHA-256 hash")
    return raw


def _int(doc: Mapping, key: str) -> int:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} is not a non-negative integer")
    return value


def _path(doc: Mapping) -> list[bytes]:
    proof = doc["proof"]
    if not isinstance(proof, list):
        raise ValueError("proof is not a list of hashes")
    hashes = [bytes.fromhex(p) if isinstance(p, str) else b"" for p in proof]
    if any(len(h) != merkle.HASH_SIZE for h in hashes):
        raise ValueError("proof holds a value that is not a SHA-256 hash")
    return hashes


def leaf_claims(leaf: str) -> list[str]:
    """What a version leaf says, one `field: value` line each (terminal-safe)."""
    try:
        record = json.loads(leaf)
    except (json.JSONDecodeError, TypeError):
        return ["the leaf is not JSON"]
    if not isinstance(record, Mapping):
        return ["the leaf is not a JSON object"]
    flat: dict = {}
    for key, value in record.items():
        if isinstance(value, Mapping) and key in ("version", "blob", "source", "commit", "run"):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    lines = []
    for key in sorted(flat):
        value = flat[key]
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"{key}: {_safe(shown)}")
    return lines


def _safe(text: str) -> str:
    """No control characters reach the terminal from a hostile leaf."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _inclusion_root(doc: Mapping, check: ProofCheck) -> tuple[int, bytes] | None:
    """(tree size, root the path leads to), or None with the reason recorded."""
    try:
        index, size = _int(doc, "leaf_index"), _int(doc, "tree_size")
        leaf_hash, path = _hex(doc, "leaf_hash"), _path(doc)
    except (KeyError, ValueError) as e:
        check.problems.append(f"the proof is malformed: {e}")
        return None
    leaf = doc.get("leaf")
    if leaf is not None:
        if not isinstance(leaf, str):
            check.problems.append("the proof's leaf is not text")
            return None
        check.claims = leaf_claims(leaf)
        if merkle.leaf_hash(leaf.encode("utf-8", "surrogatepass")) != leaf_hash:
            check.problems.append("the leaf does not hash to leaf_hash: the leaf was altered")
            return None
    root = merkle.root_from_inclusion(index, size, leaf_hash, path)
    if root is None:
        check.problems.append(f"the path does not fit leaf {index} of a tree of size {size}")
        return None
    try:
        stated = _hex(doc, "root")
    except (KeyError, ValueError):
        stated = None
    if stated != root:
        check.problems.append("the path does not lead to the root the proof states")
        return None
    return size, root


def _consistency_root(doc: Mapping, check: ProofCheck) -> tuple[int, bytes] | None:
    try:
        old, new = _int(doc, "old_size"), _int(doc, "new_size")
        old_root, new_root, path = _hex(doc, "old_root"), _hex(doc, "new_root"), _path(doc)
    except (KeyError, ValueError) as e:
        check.problems.append(f"the proof is malformed: {e}")
        return None
    if old == 0:
        good = not path and old_root == merkle.EMPTY_ROOT
    else:
        good = merkle.verify_consistency(old, new, old_root, new_root, path)
    if not good:
        check.problems.append(f"the proof does not show size {old} is a prefix of size {new}")
        return None
    check.claims = [f"the tree of size {old} (root {old_root.hex()}) is a prefix of size {new}"]
    return new, new_root


def _trusted(checkpoint_text: str, keys: Sequence[Verifier], check: ProofCheck):
    """The checkpoint to compare with, opened with the keys (None with the reason)."""
    try:
        if "\n\n" in checkpoint_text:
            note = parse_note(checkpoint_text)
            signers = open_note(note, keys) if keys else []
            body = parse_checkpoint(note.text)
        else:
            signers, body = [], parse_checkpoint(checkpoint_text)
    except SignatureError as e:
        check.problems.append(f"the checkpoint does not check: {e}")
        return None
    if not keys:
        check.problems.append("the checkpoint's signature was not checked: give --key VERIFIER")
        return None
    if not signers:
        check.problems.append("the checkpoint is not signed")
        return None
    check.against = (
        f"{body.origin} size {body.size}, signed by {', '.join(v.name for v in signers)}"
    )
    return body


def _bridged(size: int, root: bytes, body: CheckpointBody, doc: object) -> str | None:
    """Why a consistency proof JSON does not lead from (size, root) to the checkpoint's
    tree, or None when it does (its stated roots are not trusted: ours are used)."""
    if not isinstance(doc, Mapping) or doc.get("type") != "consistency":
        return "the --consistency file is not a consistency proof"
    if (doc.get("old_size"), doc.get("new_size")) != (size, body.size):
        return f"the consistency proof is not from size {size} to size {body.size}"
    try:
        path = _path(doc)
    except (KeyError, ValueError) as e:
        return f"the consistency proof is malformed: {e}"
    if not merkle.verify_consistency(size, body.size, root, body.root, path):
        return "the consistency proof does not lead to the signed checkpoint: not in that log"
    return None


def check(
    doc: object,
    checkpoint_text: str | None = None,
    keys: Sequence[Verifier] = (),
    consistency: object | None = None,
) -> ProofCheck:
    """Check a proof JSON in itself, then (when given) against a trusted signed checkpoint:
    the same tree, or an older one with a consistency proof to the checkpoint's."""
    if not isinstance(doc, Mapping) or doc.get("type") not in ("inclusion", "consistency"):
        return ProofCheck("unknown", ["not an inclusion or consistency proof"])
    result = ProofCheck(doc["type"])
    if doc.get("hash") != "sha256":
        result.problems.append("the proof is not over SHA-256")
        return result
    tree = (_inclusion_root if result.kind == "inclusion" else _consistency_root)(doc, result)
    if tree is None or checkpoint_text is None:
        return result
    body: CheckpointBody | None = _trusted(checkpoint_text, keys, result)
    if body is None:
        return result
    size, root = tree
    if size < body.size and consistency is not None:
        why = _bridged(size, root, body, consistency)
        if why:
            result.problems.append(why)
        else:
            result.against += f" (through a consistency proof from size {size})"
    elif size != body.size:
        result.problems.append(
            f"the proof is for a tree of size {size}, the checkpoint is of size {body.size}: "
            f"ask for a proof at that size (archive proof VERSION --size {body.size}) or give "
            f"--consistency (archive proof --consistency {size} {body.size})"
        )
    elif root != body.root:
        result.problems.append(
            "the proof leads to another root than the signed checkpoint: not in that log"
        )
    return result
