"""What a log leaf is, checkpoints, and printable proofs.

A leaf is the canonical JSON of one version row. Canonical means one byte string per
record on any machine, so anyone holding the rows can rebuild the log and compare roots.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archive.ledger import merkle

# Carried inside every leaf so a future format can be told apart from this one.
LEAF_FORMAT = "provenance-archive/leaf/v1"

VERSION_KEYS = (
    "version_id",
    "document_id",
    "seq",
    "kind",
    "path",
    "blob_blake3",
    "blob_sha256",
    "observed_at",
    "run_id",
    "source",
    "provenance",
)
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _check_json(obj: Any, where: str = "$") -> None:
    """Only plain JSON types, string keys and finite numbers: anything else could
    serialise differently elsewhere (or collide, like {1: x} and {"1": x})."""
    if obj is None or isinstance(obj, bool | int | str):
        return
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"non-finite float at {where}")
        return
    if isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _check_json(v, f"{where}[{i}]")
        return
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"non-string key {k!r} at {where}")
            _check_json(v, f"{where}.{k}")
        return
    raise TypeError(f"unsupported type {type(obj).__name__} at {where}")


_SCALARS = frozenset({str, int, bool, type(None)})
_NESTED = frozenset({dict, list, tuple})
_KINDS = _SCALARS | _NESTED | {float}
_KEYS = frozenset({str})


def _plain(obj: Any) -> bool:
    """Whether obj is made of exactly dict (string keys), list, tuple, str, int, bool, None
    and finite floats: the common case, checked a container at a time by the types its
    values have (in C) rather than value by value, and without `_check_json`'s paths
    (verify rebuilds thousands of leaves). False leaves the verdict to `_check_json`."""
    todo = [obj]
    while todo:
        o = todo.pop()
        kind = type(o)
        if kind is dict:
            if not set(map(type, o)) <= _KEYS:
                return False
            values: Any = o.values()
        elif kind is list or kind is tuple:
            values = o
        else:
            values = (o,)
        kinds = set(map(type, values))
        if kinds <= _SCALARS:
            continue
        if not kinds <= _KINDS:
            return False
        if float in kinds and not all(math.isfinite(v) for v in values if type(v) is float):
            return False
        if not kinds.isdisjoint(_NESTED):
            todo.extend(v for v in values if type(v) in _NESTED)
    return True


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (not \\u escapes); NaN/inf and odd types rejected."""
    if not _plain(obj):
        _check_json(obj)
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")  # lone surrogates raise UnicodeEncodeError (a ValueError)


def _want(record: Mapping, key: str, types: type | tuple[type, ...], nullable: bool = False):
    value = record[key]
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, types):
        raise TypeError(f"version record {key!r} has type {type(value).__name__}")
    return value


def version_leaf(record: Mapping) -> bytes:
    """Leaf bytes for one version row; exactly VERSION_KEYS, checked, plus the format tag."""
    missing = [k for k in VERSION_KEYS if k not in record]
    if missing:
        raise ValueError(f"version record missing keys: {', '.join(missing)}")
    extra = sorted(set(record) - set(VERSION_KEYS))
    if extra:
        raise ValueError(f"version record has unknown keys: {', '.join(map(str, extra))}")
    for key in ("version_id", "document_id", "seq", "run_id"):
        _want(record, key, int)
    for key in ("kind", "path", "observed_at", "source"):
        if not _want(record, key, str):
            raise ValueError(f"version record {key!r} is empty")
    for key in ("blob_blake3", "blob_sha256"):
        digest = _want(record, key, str, nullable=True)
        if digest is not None and not _HEX64.fullmatch(digest):
            raise ValueError(f"version record {key!r} is not 64 lowercase hex characters")
    _want(record, "provenance", Mapping, nullable=True)
    leaf = {k: record[k] for k in VERSION_KEYS}
    leaf["format"] = LEAF_FORMAT
    return canonical_json(leaf)


@dataclass(frozen=True)
class Checkpoint:
    """A published tree head: the log had `size` leaves and this root."""

    size: int
    root_hex: str

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"checkpoint size must be a non-negative int, got {self.size!r}")
        if not isinstance(self.root_hex, str) or not _HEX64.fullmatch(self.root_hex):
            raise ValueError("checkpoint root must be 64 lowercase hex characters")

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.root_hex)

    @classmethod
    def of(cls, log: merkle.MerkleLog) -> Checkpoint:
        return cls(log.size, log.root.hex())


def checkpoint_text(origin: str, cp: Checkpoint) -> str:
    """C2SP tlog-checkpoint body: origin line, decimal size, base64 root, each + newline."""
    if not origin or "\n" in origin or origin != origin.strip():
        raise ValueError("checkpoint origin must be a non-empty single line without edge spaces")
    return f"{origin}\n{cp.size}\n{base64.b64encode(cp.root).decode('ascii')}\n"


def parse_checkpoint_text(text: str) -> tuple[str, Checkpoint]:
    """Inverse of checkpoint_text; strict (no extension lines), ValueError when malformed."""
    if not text.endswith("\n"):
        raise ValueError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) != 3:
        raise ValueError(f"checkpoint must have 3 lines, got {len(lines)}")
    origin, size_s, root_b64 = lines
    if not origin or origin != origin.strip():
        raise ValueError("checkpoint origin line is empty or padded")
    if not re.fullmatch(r"0|[1-9][0-9]*", size_s):
        raise ValueError(f"checkpoint size is not a canonical decimal: {size_s!r}")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error as e:
        raise ValueError("checkpoint root is not valid base64") from e
    if len(root) != merkle.HASH_SIZE or base64.b64encode(root).decode() != root_b64:
        raise ValueError("checkpoint root is not a canonical base64 SHA-256 hash")
    return origin, Checkpoint(int(size_s), root.hex())


def inclusion_proof_json(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> dict:
    """JSON-ready inclusion proof with hex hashes (what `archive proof <version>` prints)."""
    return {
        "type": "inclusion",
        "hash": "sha256",
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": leaf_hash.hex(),
        "proof": [p.hex() for p in proof],
        "root": root.hex(),
    }


def consistency_proof_json(old: Checkpoint, new: Checkpoint, proof: Sequence[bytes]) -> dict:
    """JSON-ready consistency proof between two checkpoints, hex hashes."""
    return {
        "type": "consistency",
        "hash": "sha256",
        "old_size": old.size,
        "old_root": old.root_hex,
        "new_size": new.size,
        "new_root": new.root_hex,
        "proof": [p.hex() for p in proof],
    }


def verify_proof_json(doc: Mapping) -> bool:
    """Re-check a proof printed by the two helpers above; False on any malformed field."""
    try:
        proof = [bytes.fromhex(p) for p in doc["proof"]]
        if doc.get("hash") != "sha256":
            return False
        if doc["type"] == "inclusion":
            return merkle.verify_inclusion(
                int(doc["leaf_index"]),
                int(doc["tree_size"]),
                bytes.fromhex(doc["leaf_hash"]),
                proof,
                bytes.fromhex(doc["root"]),
            )
        if doc["type"] == "consistency":
            return merkle.verify_consistency(
                int(doc["old_size"]),
                int(doc["new_size"]),
                bytes.fromhex(doc["old_root"]),
                bytes.fromhex(doc["new_root"]),
                proof,
            )
    except (KeyError, TypeError, ValueError):
        return False
    return False
