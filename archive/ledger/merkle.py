"""RFC 9162 (section 2.1) Merkle tree hashing, proofs and verification, byte-exact.

The log's value is that anyone can re-check it with any RFC 6962/9162 tool, so every
function here follows the RFC's definitions literally (SHA-256, 0x00/0x01 domain
separation, split at the largest power of two strictly below n, no padding).
Proof generation takes the full list of leaf hashes (or a `SubtreeRoots` built from them
once, for many proofs of one tree); verification needs only the proof, the sizes and the
roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """MTH of a one-leaf tree: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for i, h in enumerate(hashes):
        if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash {i} is not {HASH_SIZE} bytes")


def _range_root(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) bottom-up: pairing left to right and promoting a lone last node
    builds exactly the RFC's left-balanced tree, in O(n) without recursion."""
    if hi <= lo:
        return EMPTY_ROOT
    level = [bytes(h) for h in hashes[lo:hi]]
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash over already-hashed leaves; SHA-256("") for an empty tree."""
    _check_hashes(leaf_hashes)
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1, ordered from the leaf up."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} out of range for tree size {n}")
    _check_hashes(leaf_hashes)
    return _inclusion_path(index, n, lambda lo, hi: _range_root(leaf_hashes, lo, hi))


def _inclusion_path(index: int, n: int, range_root: Callable[[int, int], bytes]) -> list[bytes]:
    """PATH(m, D[n]) given MTH(D[lo:hi]) as range_root (from the leaves, or from subtree
    roots already known): the one walk both ways of proving take."""
    path: list[bytes] = []
    lo, hi, m = 0, n, index
    # Walk down from the root; siblings are collected top-down, so reverse at the end.
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(range_root(lo + k, hi))
            hi = lo + k
        else:
            path.append(range_root(lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()
    return path


class SubtreeRoots:
    """Every perfect subtree root of one tree (level h: the roots of leaves [j*2^h,
    (j+1)*2^h)), hashed once in O(n); then any inclusion proof in that tree costs O(log n)
    hashes. Why: a served archive that never changes proves versions again and again.

    The levels are kept as concatenated 32-byte hashes: about 2n * 32 bytes in all.
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        _check_hashes(leaf_hashes)
        self.size = len(leaf_hashes)
        level = b"".join(bytes(h) for h in leaf_hashes)
        self.levels = [level]
        while len(level) >= 2 * HASH_SIZE:
            pairs = len(level) // (2 * HASH_SIZE)
            level = b"".join(
                node_hash(level[i : i + HASH_SIZE], level[i + HASH_SIZE : i + 2 * HASH_SIZE])
                for i in range(0, pairs * 2 * HASH_SIZE, 2 * HASH_SIZE)
            )
            self.levels.append(level)

    def leaf(self, index: int) -> bytes:
        return self.levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE]

    def range_root(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) by the RFC's split; an aligned power-of-two range is read, not
        hashed, so the ranges a proof asks for cost O(log n) hashes."""
        n = hi - lo
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            h = n.bit_length() - 1
            j = lo >> h
            return self.levels[h][j * HASH_SIZE : (j + 1) * HASH_SIZE]
        k = _split(n)
        return node_hash(self.range_root(lo, lo + k), self.range_root(lo + k, hi))

    @property
    def root(self) -> bytes:
        return self.range_root(0, self.size)

    def inclusion_proof(self, index: int) -> list[bytes]:
        """PATH(m, D[n]): what `inclusion_proof(index, leaf_hashes)` gives, byte for byte."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf index {index} out of range for tree size {self.size}")
        return _inclusion_path(index, self.size, self.range_root)


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1; empty when old_size == n."""
    n = len(leaf_hashes)
    if not 0 < old_size <= n:
        raise ValueError(f"old size {old_size} must be in 1..{n}")
    _check_hashes(leaf_hashes)
    proof: list[bytes] = []
    lo, hi, m, complete = 0, n, old_size, True
    # SUBPROOF unrolled: each step appends one sibling; the recursion prepends, so reverse.
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_range_root(leaf_hashes, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(_range_root(leaf_hashes, lo, hi))
    proof.reverse()
    return proof


def _is_hash(h: object) -> bool:
    return isinstance(h, bytes | bytearray) and len(h) == HASH_SIZE


def root_from_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes | None:
    """RFC 9162 2.1.3.2: the root that `proof` leads leaf `index` (hashing to `leaf_hash`)
    up to in a tree of `size`, or None when the proof cannot fit that tree (O(log n))."""
    if not 0 <= index < size or not _is_hash(leaf_hash):
        return None
    fn, sn, r = index, size - 1, bytes(leaf_hash)
    for p in proof:
        if sn == 0 or not _is_hash(p):
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does `proof` show leaf `index` hashing to `leaf_hash` in `root`?"""
    if not _is_hash(root):
        return False
    return root_from_inclusion(index, size, leaf_hash, proof) == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, plus the equal-size case (empty proof, equal roots).

    A proof from the empty tree is rejected as meaningless, as the reference vectors do.
    """
    if old_size < 0 or new_size < old_size:
        return False
    if old_size == new_size:
        if proof or old_root != new_root:
            return False
        return old_size != 0 or old_root == EMPTY_ROOT
    if old_size == 0 or not proof or not all(_is_hash(p) for p in proof):
        return False
    path = [bytes(p) for p in proof]
    if old_size & (old_size - 1) == 0:  # exact power of two: the old root is a node
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class MerkleLog:
    """Append-only log keeping only the frontier (roots of its perfect subtrees).

    Appending is amortised O(1) hashes and the root costs O(log n), so a store can keep
    one in memory while ingesting and checkpoint after every run.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._size = 0
        self._frontier: list[tuple[int, bytes]] = []  # (height, hash), largest first
        for h in leaf_hashes:
            self.append(h)

    def append(self, leaf_hash: bytes) -> int:
        """Add an already-hashed leaf; returns its index."""
        if not _is_hash(leaf_hash):
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        index = self._size
        height, h = 0, bytes(leaf_hash)
        while self._frontier and self._frontier[-1][0] == height:
            _, left = self._frontier.pop()
            h = node_hash(left, h)
            height += 1
        self._frontier.append((height, h))
        self._size += 1
        return index

    @property
    def size(self) -> int:
        return self._size

    @property
    def root(self) -> bytes:
        if not self._frontier:
            return EMPTY_ROOT
        r = self._frontier[-1][1]
        for _, left in reversed(self._frontier[:-1]):
            r = node_hash(left, r)
        return r
