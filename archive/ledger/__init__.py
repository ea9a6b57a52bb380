"""The ledger: an RFC 9162 Merkle log of every version, its checkpoints and proofs."""
