"""Oracle for diff-engine work: a digest of diff_texts' whole result for every real pair.

    python bench/diff_oracle.py [DB] > after.txt     # then: diff before.txt after.txt

Pairs are those of bench/diff_real.py (every version and its predecessor in DB, built from
the sample bundle when DB does not exist), plus each pair swapped, so deletions are covered as
much as insertions. One line per pair: its index and a hash of ops, delta, stats, change class
and coarse flag; the last line hashes them all. Any differing line means changed output.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diff_real import DEFAULT_DB, build_db, load_pairs  # noqa: E402

from archive.diffs import ALGORITHM, diff_texts  # noqa: E402


def result_digest(old: str, new: str) -> str:
    r = diff_texts(old, new)
    blob = repr((r.ops, r.delta, sorted(r.stats.items()), r.change_class, r.coarse))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def main(argv: list[str]) -> int:
    db = Path(argv[0]) if argv else DEFAULT_DB
    with tempfile.TemporaryDirectory() as d:
        if not db.exists():
            db = Path(d) / "terms-archive.db"
            build_db(db)
        pairs = load_pairs(db)
    pairs += [(new, old) for old, new in pairs]
    total = hashlib.sha256(ALGORITHM.encode())
    for i, (old, new) in enumerate(pairs):
        line = f"{i} {result_digest(old, new)}"
        total.update(line.encode())
        print(line)
    print(f"all {len(pairs)} {total.hexdigest()[:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
