"""Store rows of the evidence about checkpoints: signatures, cosignatures, time-stamp tokens.

Only public material is kept: each signature with the verifier string of its key, each
token as the TSA's reply bytes with the exact note it covers. Nothing secret ever enters
the archive. A Store mixin: the one place this SQL lives.
"""

from __future__ import annotations


class TrustRows:
    """Signature and timestamp rows; mixed into `Store` (uses its `conn`, `query`)."""

    def add_signature(
        self,
        origin: str,
        size: int,
        root_hex: str,
        kind: str,
        key_name: str,
        verifier: str,
        signature: str,
        added_at: str,
        cosigned_at: int | None = None,
    ) -> bool:
        """Keep one signature line of a checkpoint (kind 'log' or 'witness'); False when
        that exact signature is already kept."""
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO checkpoint_signatures (origin, tree_size, tree_root, kind,"
            " key_name, verifier, signature, cosigned_at, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (origin, size, root_hex, kind, key_name, verifier, signature, cosigned_at, added_at),
        )
        return cursor.rowcount > 0

    def signatures(self, size: int | None = None, root_hex: str | None = None) -> list[dict]:
        """Kept signatures in the order they were added (of one tree when size is given)."""
        if size is None:
            return self.query("SELECT * FROM checkpoint_signatures ORDER BY id")
        return self.query(
            "SELECT * FROM checkpoint_signatures WHERE tree_size = ? AND tree_root = ? ORDER BY id",
            (size, root_hex),
        )

    def add_timestamp(
        self,
        origin: str,
        size: int,
        root_hex: str,
        note: str,
        token: bytes,
        tsa_url: str | None,
        gen_time: str,
        tsa: str,
        added_at: str,
    ) -> None:
        """Keep a TSA's TimeStampResp (DER, as received) over the exact note text."""
        self.conn.execute(
            "INSERT INTO checkpoint_timestamps (origin, tree_size, tree_root, note, token,"
            " tsa_url, gen_time, tsa, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (origin, size, root_hex, note, token, tsa_url, gen_time, tsa, added_at),
        )

    def timestamps(self, size: int | None = None, root_hex: str | None = None) -> list[dict]:
        """Kept tokens, oldest first (of one tree when size is given)."""
        if size is None:
            return self.query("SELECT * FROM checkpoint_timestamps ORDER BY id")
        return self.query(
            "SELECT * FROM checkpoint_timestamps WHERE tree_size = ? AND tree_root = ? ORDER BY id",
            (size, root_hex),
        )

    def first_leaf_hash(self) -> str | None:
        """The hash of leaf 0: what names the log for good (it can never change)."""
        row = self.conn.execute("SELECT leaf_hash FROM ledger WHERE leaf_index = 0").fetchone()
        return None if row is None else row[0]
