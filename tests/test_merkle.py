"""archive.ledger.merkle against the RFC 9162 reference vectors and its own invariants."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.ledger import merkle
from archive.ledger.merkle import (
    MerkleLog,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

DATA = Path(__file__).parent / "data" / "rfc9162"
REFERENCE = json.loads((DATA / "reference.json").read_text())
LEAVES = [leaf_hash(bytes.fromhex(h)) for h in REFERENCE["leaf_inputs_hex"]]


def _b64(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


def _cases(kind: str) -> list[tuple[str, dict]]:
    files = sorted((DATA / "testdata" / kind).rglob("*.json"))
    assert files, f"no {kind} vectors found"
    return [(str(f.relative_to(DATA / "testdata")), json.loads(f.read_text())) for f in files]


INCLUSION = _cases("inclusion")
CONSISTENCY = _cases("consistency")


def _hashes(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_primitives_are_domain_separated() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    a, b = b"a" * 32, b"b" * 32
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert merkle.EMPTY_ROOT.hex() == REFERENCE["root_hex_by_tree_size"][0]


@pytest.mark.parametrize("n", range(len(REFERENCE["root_hex_by_tree_size"])))
def test_reference_roots(n: int) -> None:
    want = REFERENCE["root_hex_by_tree_size"][n]
    assert root(LEAVES[:n]).hex() == want
    assert MerkleLog(LEAVES[:n]).root.hex() == want
    assert MerkleLog(LEAVES[:n]).size == n


@pytest.mark.parametrize("name,case", INCLUSION, ids=[c[0] for c in INCLUSION])
def test_inclusion_vectors(name: str, case: dict) -> None:
    proof = [_b64(p) for p in case["proof"] or []]
    ok = verify_inclusion(
        case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), proof, _b64(case["root"])
    )
    assert ok is (not case["wantErr"]), case["desc"]


@pytest.mark.parametrize("name,case", CONSISTENCY, ids=[c[0] for c in CONSISTENCY])
def test_consistency_vectors(name: str, case: dict) -> None:
    proof = [_b64(p) for p in case["proof"] or []]
    ok = verify_consistency(
        case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]), proof
    )
    assert ok is (not case["wantErr"]), case["desc"]


def test_vector_counts() -> None:
    """Guards against silently skipping files: both good and broken cases are exercised."""
    assert len(INCLUSION) >= 90 and len(CONSISTENCY) >= 90
    for cases in (INCLUSION, CONSISTENCY):
        assert any(c["wantErr"] for _, c in cases) and any(not c["wantErr"] for _, c in cases)


def test_generated_proofs_equal_reference_happy_paths() -> None:
    """Happy paths over the reference leaves: our proofs are byte-identical to theirs."""
    checked = 0
    for _, case in INCLUSION:
        if case["wantErr"] or case["root"] != _b64_of_root(case["treeSize"]):
            continue
        got = inclusion_proof(case["leafIdx"], LEAVES[: case["treeSize"]])
        assert got == [_b64(p) for p in case["proof"] or []]
        checked += 1
    for _, case in CONSISTENCY:
        if case["wantErr"] or case["size1"] == 0:
            continue
        if case["root2"] != _b64_of_root(case["size2"]):
            continue
        got = consistency_proof(case["size1"], LEAVES[: case["size2"]])
        assert got == [_b64(p) for p in case["proof"] or []]
        checked += 1
    assert checked >= 8


def _b64_of_root(n: int) -> str | None:
    if n >= len(REFERENCE["root_hex_by_tree_size"]):
        return None
    return base64.b64encode(bytes.fromhex(REFERENCE["root_hex_by_tree_size"][n])).decode()


def _flip(proof: list[bytes], i: int, bit: int) -> list[bytes]:
    p = bytearray(proof[i])
    p[bit // 8] ^= 1 << (bit % 8)
    return proof[:i] + [bytes(p)] + proof[i + 1 :]


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))),
    st.integers(0, 255),
)
def test_inclusion_roundtrip_and_bitflip(nm: tuple[int, int], bit: int) -> None:
    n, m = nm
    hashes = _hashes(n)
    r = root(hashes)
    proof = inclusion_proof(m, hashes)
    assert verify_inclusion(m, n, hashes[m], proof, r)
    assert not verify_inclusion(m, n, hashes[(m + 1) % n], proof, r) or n == 1
    bad_root = bytes([r[0] ^ 1]) + r[1:]
    assert not verify_inclusion(m, n, hashes[m], proof, bad_root)
    if proof:
        assert not verify_inclusion(m, n, hashes[m], _flip(proof, bit % len(proof), bit), r)
        assert not verify_inclusion(m, n, hashes[m], proof[:-1], r)
    assert not verify_inclusion(m, n, hashes[m], [*proof, r], r)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))),
    st.integers(0, 255),
)
def test_consistency_roundtrip_and_bitflip(mn: tuple[int, int], bit: int) -> None:
    m, n = mn
    hashes = _hashes(n)
    old, new = root(hashes[:m]), root(hashes)
    proof = consistency_proof(m, hashes)
    assert verify_consistency(m, n, old, new, proof)
    if m < n:
        assert proof
        assert not verify_consistency(m, n, new, old, proof)
        assert not verify_consistency(m, n, old, new, _flip(proof, bit % len(proof), bit))
        assert not verify_consistency(m, n, old, new, proof[:-1])
        # A forked log (one old leaf changed) must not be provably consistent.
        forked = list(hashes)
        forked[bit % m] = leaf_hash(b"forged")
        assert not verify_consistency(m, n, root(forked[:m]), new, proof)
    else:
        assert proof == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=200))
def test_merklelog_matches_root(datas: list[bytes]) -> None:
    log = MerkleLog()
    hashes: list[bytes] = []
    for i, d in enumerate(datas):
        h = leaf_hash(d)
        assert log.append(h) == i
        hashes.append(h)
        if i % 17 == 0:
            assert log.root == root(hashes)
    assert log.size == len(hashes)
    assert log.root == root(hashes)


def test_matches_recursive_definition() -> None:
    """Independent check of the iterative root against the RFC's recursive MTH."""

    def mth(d: list[bytes]) -> bytes:
        if not d:
            return merkle.EMPTY_ROOT
        if len(d) == 1:
            return d[0]
        k = 1
        while k * 2 < len(d):
            k *= 2
        return node_hash(mth(d[:k]), mth(d[k:]))

    for n in range(70):
        assert root(_hashes(n)) == mth(_hashes(n))


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError):
        root([b"short"])
    with pytest.raises(ValueError):
        inclusion_proof(3, _hashes(3))
    with pytest.raises(ValueError):
        consistency_proof(0, _hashes(3))
    with pytest.raises(ValueError):
        consistency_proof(4, _hashes(3))
    with pytest.raises(ValueError):
        MerkleLog().append(b"x" * 31)
    assert not verify_inclusion(-1, 3, _hashes(1)[0], [], merkle.EMPTY_ROOT)


def test_large_tree_is_fast() -> None:
    hashes = _hashes(100_000)
    r = root(hashes)
    assert MerkleLog(hashes).root == r
    proof = inclusion_proof(77_777, hashes)
    assert len(proof) == 17 and verify_inclusion(77_777, 100_000, hashes[77_777], proof, r)
    cp = consistency_proof(65_537, hashes)
    assert verify_consistency(65_537, 100_000, root(hashes[:65_537]), r, cp)


@st.composite
def _tree_and_range(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.integers(1, 300))
    lo = draw(st.integers(0, n))
    return n, lo, draw(st.integers(lo, n))


@given(_tree_and_range())
def test_subtree_roots_give_the_leaf_computation_byte_for_byte(nlh: tuple[int, int, int]) -> None:
    """Proofs (and any range's root) from precomputed subtree roots are the ones computed
    from the leaves: the memo a served archive keeps must never change a proof."""
    n, lo, hi = nlh
    hashes = _hashes(n)
    tree = merkle.SubtreeRoots(hashes)
    assert tree.size == n and tree.root == root(hashes)
    assert tree.range_root(lo, hi) == merkle._range_root(hashes, lo, hi)
    index = min(lo, n - 1)
    assert tree.leaf(index) == hashes[index]
    assert tree.inclusion_proof(index) == inclusion_proof(index, hashes)


def test_subtree_roots_every_proof_of_small_trees_and_bad_index() -> None:
    for n in range(1, 40):
        hashes = _hashes(n)
        tree = merkle.SubtreeRoots(hashes)
        assert [tree.inclusion_proof(i) for i in range(n)] == [
            inclusion_proof(i, hashes) for i in range(n)
        ]
    with pytest.raises(ValueError):
        merkle.SubtreeRoots(_hashes(3)).inclusion_proof(3)
    with pytest.raises(ValueError):
        merkle.SubtreeRoots([b"short"])
