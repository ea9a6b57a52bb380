"""archive.ledger.witness: cosign only what extends the last cosigned tree; refuse split views."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.ledger import merkle
from archive.ledger.signing import (
    CheckpointBody,
    cosignatures,
    generate,
    open_note,
    parse_note,
    signed_checkpoint,
)
from archive.ledger.witness import WitnessError, load, witness

ORIGIN = "newsroom.example/archive"
LOG = generate(ORIGIN)
WITNESS = generate("rival.example/witness")


def leaves(tag: str, n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"{tag}{i}".encode()) for i in range(n)]


def note_for(hashes: list[bytes], signer=LOG) -> str:
    body = CheckpointBody(ORIGIN, len(hashes), merkle.root(hashes))
    return str(signed_checkpoint(body, [signer]))


def proof_doc(hashes: list[bytes], old: int) -> dict:
    """What `archive proof --consistency OLD NEW` prints (the fields the witness reads)."""
    return {
        "type": "consistency",
        "hash": "sha256",
        "old_size": old,
        "new_size": len(hashes),
        "proof": [p.hex() for p in merkle.consistency_proof(old, hashes)],
    }


def cosign(text: str, state: Path, now: int = 1_700_000_000, proof: dict | None = None) -> str:
    return str(witness(text, [LOG.verifier], WITNESS, state, now, proof))


def test_first_cosignature_is_valid_and_keeps_the_log_signature(tmp_path: Path) -> None:
    hashes = leaves("a", 3)
    out = parse_note(cosign(note_for(hashes), tmp_path))
    assert open_note(out, [LOG.verifier]) == [LOG.verifier]
    assert cosignatures(out, [WITNESS.verifier]) == {str(WITNESS.verifier): 1_700_000_000}
    seen = load(tmp_path, ORIGIN)
    assert seen is not None and (seen.size, seen.root) == (3, merkle.root(hashes))


def test_growth_needs_a_consistency_proof(tmp_path: Path) -> None:
    history = leaves("a", 7)
    cosign(note_for(history[:3]), tmp_path)
    with pytest.raises(WitnessError, match="consistency proof from size 3 to 7 is needed"):
        cosign(note_for(history), tmp_path)
    with pytest.raises(WitnessError, match="from size 2 to 7"):
        cosign(note_for(history), tmp_path, proof=proof_doc(history, 2))
    cosign(note_for(history), tmp_path, proof=proof_doc(history, 3))
    assert load(tmp_path, ORIGIN).size == 7
    # The same tree again is fine (no proof needed), the older one is not.
    cosign(note_for(history), tmp_path)
    with pytest.raises(WitnessError, match="split view: size 3 is smaller"):
        cosign(note_for(history[:3]), tmp_path)


def test_split_view_is_refused_and_state_kept(tmp_path: Path) -> None:
    public = leaves("a", 5)
    cosign(note_for(public[:3]), tmp_path)
    # The same log signs a fork: leaf 1 differs; its own proof is internally fine.
    fork = public[:1] + [merkle.leaf_hash(b"rewritten")] + public[2:]
    with pytest.raises(WitnessError, match="split view: size 5 is not consistent"):
        cosign(note_for(fork), tmp_path, proof=proof_doc(fork, 3))
    with pytest.raises(WitnessError, match="split view: a different root for size 3"):
        cosign(note_for(fork[:3]), tmp_path)
    seen = load(tmp_path, ORIGIN)
    assert (seen.size, seen.root) == (3, merkle.root(public[:3]))
    cosign(note_for(public), tmp_path, proof=proof_doc(public, 3))


def test_log_signature_is_required(tmp_path: Path) -> None:
    hashes = leaves("a", 2)
    with pytest.raises(WitnessError, match="not signed by a trusted key"):
        cosign(note_for(hashes, signer=generate(ORIGIN)), tmp_path)
    forged = note_for(hashes).replace("\n2\n", "\n3\n", 1)
    with pytest.raises(WitnessError, match="does not verify"):
        cosign(forged, tmp_path)
    with pytest.raises(WitnessError):
        cosign("not a note", tmp_path)
    assert load(tmp_path, ORIGIN) is None


def test_damaged_state_is_refused_not_reset(tmp_path: Path) -> None:
    hashes = leaves("a", 2)
    cosign(note_for(hashes), tmp_path)
    for f in tmp_path.glob("*.json"):
        f.write_text("{")
    with pytest.raises(WitnessError, match="unreadable"):
        cosign(note_for(hashes), tmp_path)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    old=st.integers(1, 20),
    extra=st.integers(1, 20),
    changed=st.integers(0, 39),
)
def test_any_fork_is_refused_any_extension_accepted(
    tmp_path_factory: pytest.TempPathFactory, old: int, extra: int, changed: int
) -> None:
    state = tmp_path_factory.mktemp("w")
    history = leaves("h", old + extra)
    cosign(note_for(history[:old]), state)
    index = changed % (old + extra)
    fork = list(history)
    fork[index] = hashlib.sha256(b"x").digest()
    if index < old:  # a change inside the cosigned prefix: a fork
        with pytest.raises(WitnessError, match="split view"):
            cosign(note_for(fork), state, proof=proof_doc(fork, old))
    cosign(note_for(history), state, proof=proof_doc(history, old))
