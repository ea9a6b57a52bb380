"""The evidence an export carries, so a partner can check it offline with no archive.

A bag of documents proves nothing by itself. Next to the payload go: the signed checkpoint
note (with the witnesses' cosignatures), the RFC 3161 token with the exact note it covers,
each exported version's inclusion proof in that checkpoint's tree, the PROV history, and a
README saying how to check them. Files are returned as bag-relative path -> bytes (tag
files, listed in the tag manifests), never written here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from archive.export import ExportVersion
from archive.ledger import evidence
from archive.ledger.checkpoints import inclusion_proof
from archive.store import ArchiveError, Store

DIR = "evidence"

README = """\
Evidence for this bag, checkable offline
========================================

checkpoint.note        the archive's latest checkpoint, a C2SP signed note: origin line,
                       tree size, base64 root, then one line per signature and witness
                       cosignature (Ed25519; cosignature/v1)
checkpoint.tsr         an RFC 3161 time-stamp token (when present), over the exact bytes
checkpoint-stamped.note  (the note as it was when stamped)
proofs/version-N.json  for each exported version N, its inclusion proof in that tree: the
                       leaf (the version's record as hashed), leaf hash, audit path, root
prov.json              the W3C PROV-JSON history of the exported versions

With the archive's published verifier key (NAME+KEYID+KEY) and the `archive` tool:

  archive verify-proof proofs/version-N.json --checkpoint checkpoint.note --key VERIFIER

checks the proof leads to the signed root and prints what the leaf claims (document path,
version, time, SHA-256 and BLAKE3 of the content: compare them with the payload file's
digests in manifest-sha256.txt and blake3sums.txt). The time-stamp, with the TSA's CA:

  openssl ts -verify -data checkpoint-stamped.note -in checkpoint.tsr -CAfile TSA-CA.pem

Any RFC 9162 tool can recompute a root from a leaf and its audit path, and any signed-note
verifier (Go's golang.org/x/mod/sumdb/note) can check the signatures.
"""


def evidence_files(
    store: Store, versions: Iterable[ExportVersion], prov: str | None = None
) -> dict[str, bytes]:
    """The evidence tag files for these exported versions (empty without a checkpoint)."""
    try:
        current = evidence.latest(store)
    except ArchiveError:
        return {}
    files = {f"{DIR}/README.txt": README.encode("utf-8")}
    files[f"{DIR}/checkpoint.note"] = str(current.note).encode("utf-8")
    token = evidence.latest_token(store)
    if token is not None:
        files[f"{DIR}/checkpoint-stamped.note"] = token["note"].encode("utf-8")
        files[f"{DIR}/checkpoint.tsr"] = bytes(token["token"])
    size = current.body.size
    memo = ("export", store.path, size, current.root_hex)  # the store is only read here
    for v in sorted({v.version_id: v for v in versions}.values(), key=lambda v: v.version_id):
        try:
            proof = inclusion_proof(store, v.version_id, size, immutable=memo)
        except ArchiveError:
            continue  # a version after the latest checkpoint: no proof yet
        files[f"{DIR}/proofs/version-{v.version_id}.json"] = _json(proof)
    if prov is not None:
        files[f"{DIR}/prov.json"] = prov.encode("utf-8")
    return files


def _json(doc: Mapping) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
