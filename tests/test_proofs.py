"""archive.ledger.proofs: a proof checked against a signed checkpoint, and why it fails."""

from __future__ import annotations

import json

from archive.ledger import merkle, proofs
from archive.ledger.signing import CheckpointBody, generate, signed_checkpoint

LOG = generate("newsroom.example/archive")
LEAVES = [
    json.dumps({"format": "x", "path": f"doc{i}.md", "seq": i, "kind": "added"}, sort_keys=True)
    for i in range(6)
]
HASHES = [merkle.leaf_hash(leaf.encode()) for leaf in LEAVES]


def inclusion(index: int, leaves: list[str] = LEAVES) -> dict:
    hashes = [merkle.leaf_hash(leaf.encode()) for leaf in leaves]
    return {
        "type": "inclusion",
        "hash": "sha256",
        "leaf_index": index,
        "tree_size": len(hashes),
        "leaf_hash": hashes[index].hex(),
        "proof": [p.hex() for p in merkle.inclusion_proof(index, hashes)],
        "root": merkle.root(hashes).hex(),
        "leaf": leaves[index],
    }


def note(hashes: list[bytes] = HASHES, signer=LOG) -> str:
    body = CheckpointBody("newsroom.example/archive", len(hashes), merkle.root(hashes))
    return str(signed_checkpoint(body, [signer]))


def test_valid_against_signed_checkpoint_and_claims_spelled_out() -> None:
    result = proofs.check(inclusion(2), note(), [LOG.verifier])
    assert result.ok, result.problems
    assert "path: doc2.md" in result.claims and "seq: 2" in result.claims
    assert result.against == "newsroom.example/archive size 6, signed by newsroom.example/archive"


def test_internal_only_is_not_a_trusted_check() -> None:
    result = proofs.check(inclusion(2))
    assert result.ok and result.against is None


def test_edited_leaf_with_recomputed_root_is_refused_against_the_checkpoint() -> None:
    """The forgery of the issue: edit the leaf (kind, date), recompute every hash and the
    root. In itself the proof is consistent; against the signed checkpoint it is not."""
    forged_leaves = list(LEAVES)
    forged_leaves[2] = LEAVES[2].replace('"added"', '"deleted"')
    forged = inclusion(2, forged_leaves)
    assert proofs.check(forged).ok  # internally consistent: why a checkpoint is needed
    result = proofs.check(forged, note(), [LOG.verifier])
    assert not result.ok
    assert "another root than the signed checkpoint" in result.problems[0]
    assert "kind: deleted" in result.claims


def test_each_failure_says_why() -> None:
    doc = inclusion(2)
    altered = {**doc, "leaf": doc["leaf"].replace("doc2", "doc9")}
    assert "leaf was altered" in proofs.check(altered).problems[0]
    bad_path = {**doc, "proof": [("00" * 32)] + doc["proof"][1:]}
    assert "does not lead to the root" in proofs.check(bad_path).problems[0]
    wrong_size = {**doc, "tree_size": 3}
    assert "does not fit" in proofs.check(wrong_size).problems[0]
    assert "malformed" in proofs.check({**doc, "leaf_index": "x"}).problems[0]
    assert proofs.check([1, 2]).problems == ["not an inclusion or consistency proof"]


def test_checkpoint_of_another_key_or_size() -> None:
    other = generate("newsroom.example/archive")
    result = proofs.check(inclusion(1), note(signer=other), [LOG.verifier])
    assert "not signed by a trusted key" in result.problems[0]
    result = proofs.check(inclusion(1), note(HASHES + HASHES[:1]), [LOG.verifier])
    assert "size 6, the checkpoint is of size 7" in result.problems[0]
    result = proofs.check(inclusion(1), note(), [])
    assert "signature was not checked" in result.problems[0]
    tampered = note().replace("\n6\n", "\n5\n")
    assert "does not verify" in proofs.check(inclusion(1), tampered, [LOG.verifier]).problems[0]


def test_consistency_proof_against_checkpoint() -> None:
    doc = {
        "type": "consistency",
        "hash": "sha256",
        "old_size": 4,
        "old_root": merkle.root(HASHES[:4]).hex(),
        "new_size": 6,
        "new_root": merkle.root(HASHES).hex(),
        "proof": [p.hex() for p in merkle.consistency_proof(4, HASHES)],
    }
    assert proofs.check(doc, note(), [LOG.verifier]).ok
    fork = {**doc, "old_root": merkle.root(HASHES[1:5]).hex()}
    assert "not show size 4 is a prefix" in proofs.check(fork).problems[0]


def test_hostile_leaf_text_is_made_printable() -> None:
    leaves = list(LEAVES)
    leaves[0] = json.dumps({"path": "evil\x1b[2J\nname"})
    claims = proofs.check(inclusion(0, leaves)).claims
    assert claims == ["path: evil\\x1b[2J\\nname"]


def test_an_older_proof_reaches_the_checkpoint_through_a_consistency_proof() -> None:
    old = inclusion(1, LEAVES[:4])
    bridge = {
        "type": "consistency",
        "hash": "sha256",
        "old_size": 4,
        "new_size": 6,
        "old_root": merkle.root(HASHES[:4]).hex(),
        "new_root": merkle.root(HASHES).hex(),
        "proof": [p.hex() for p in merkle.consistency_proof(4, HASHES)],
    }
    result = proofs.check(old, note(), [LOG.verifier], bridge)
    assert result.ok and "through a consistency proof from size 4" in result.against
    assert (
        "size 4, the checkpoint is of size 6"
        in proofs.check(old, note(), [LOG.verifier]).problems[0]
    )
    fork = HASHES[:5] + [merkle.leaf_hash(b"other")]
    forged = {**bridge, "proof": [p.hex() for p in merkle.consistency_proof(4, fork)]}
    result = proofs.check(old, note(), [LOG.verifier], forged)
    assert "does not lead to the signed checkpoint" in result.problems[0]
    assert (
        "not from size 4"
        in proofs.check(old, note(), [LOG.verifier], {**bridge, "old_size": 3}).problems[0]
    )
