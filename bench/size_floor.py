"""How small the archive could be: candidate store designs measured against the git pack.

    python bench/size_floor.py samples/terms-sample.bundle       # import it afresh, then measure
    python bench/size_floor.py ARCHIVE.db [--git-dir GIT_DIR]    # an existing archive

A measuring prototype (plain SQL and Python here; no product code changes): a scratch copy of
the archive is transformed step by step, cumulatively, into candidate designs, and each step
is measured after `VACUUM` (file size, and `dbstat` for the tables that changed) against the
history's git pack, both after plain `git gc` and after `git gc --aggressive`:

  a  secondary (non-unique) indexes dropped: built on read, in the served snapshot, like the FTS
     (given a repository, also which of them the import's and the CLI's queries use)
  b  integer content keys: `blobs.id`, BLAKE3 and SHA-256 as 32-byte BLOBs, every reference an int
  c  ledger leaf_hash as a 32-byte BLOB, subjects as (kind, id, n), content leaves packed binary
  d  commits: oid as 20 bytes, names interned, messages compressed (zstd dictionary, else zlib)
  e  set_items packed: one compressed row per item set
  f  diffs without their delta payload (recomputed on read from the two texts); or, instead
     (f', from e), the git way: each text stored only as the delta from its previous version
  h  passages as a key -> id map; passage lists as varints, compressed with a dictionary
  g  passage text recompressed, each variant from h: zstd primed with the bases, or blocks of
     N KiB (in id order, or ordered by document) with a trained zstd dictionary or lzma, with
     the median time to read one passage

zstandard is optional: without it the zstd variants say "skipped" and records use zlib.

Every step checks that it keeps the information: the rows it rewrote map back (through the new
keys) to exactly the rows of the step before; texts, passages and deltas are rebuilt from the
transformed copy and compared (hashes, bytes). Ends with a table: design, MiB, ratio to pack.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_bench import ROOT, bare_repo, git_dir_of  # noqa: E402
from size_bench import gc_pack, table_sizes  # noqa: E402

sys.path.insert(0, str(ROOT))
from size_floor_common import (  # noqa: E402
    DICTIONARIES,
    MIB,
    Bench,
    CheckFailed,
    Packer,
    check,
    columns,
    retype,
    same_rows,
    tables,
    vacuumed,
)
from size_floor_texts import git_way, step_groups, step_no_deltas, step_passage_rows  # noqa: E402

from archive.ledger.leaves import canonical_json  # noqa: E402

# ---------------------------------------------------------------------------- the steps


# `archive ...` in a process whose every SQLite connection writes the statements it runs (with
# their values bound) to argv[1]: what an import asks of its indexes.
TRACED = """
import runpy, sqlite3, sys
connect, seen, out = sqlite3.connect, set(), sys.argv.pop(1)
def traced(*a, **k):
    conn = connect(*a, **k)
    conn.set_trace_callback(seen.add)
    return conn
sqlite3.connect = traced
sys.argv[0] = "archive"
try:
    runpy.run_module("archive", run_name="__main__")
finally:
    with open(out, "w") as f:
        f.writelines(s.replace("\\n", " ") + "\\n" for s in seen)
"""


def indexes_used(db: Path, statements: Path) -> tuple[dict[str, int], int]:
    """Each index's number of statements (of those an import ran) whose query plan uses it
    (EXPLAIN QUERY PLAN on the finished archive), and the number of statements planned."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    used: dict[str, int] = {}
    planned = 0
    for line in statements.read_text().splitlines():
        try:
            plan = conn.execute(f"EXPLAIN QUERY PLAN {line}").fetchall()
        except sqlite3.Error:
            continue  # PRAGMA, BEGIN, a temp table gone since...
        planned += 1
        for name in {m for row in plan for m in re.findall(r"INDEX (\w+)", row[3])}:
            used[name] = used.get(name, 0) + 1
    conn.close()
    return used, planned


def read_commands(archive: Path) -> list[list[str]]:
    """The CLI's reads of one document (the one with most versions) and `verify`: what a user
    runs on the live file (pages read the served snapshot, where indexes can be built)."""
    conn = sqlite3.connect(f"file:{archive}?mode=ro", uri=True)
    row = conn.execute(
        "SELECT d.path, count(*), (SELECT b.sha256 FROM versions w JOIN blobs b ON b.blake3 ="
        " w.blob WHERE w.document_id = d.id ORDER BY w.seq DESC LIMIT 1) FROM versions v"
        " JOIN documents d ON d.id = v.document_id WHERE v.blob IS NOT NULL"
        " GROUP BY d.id ORDER BY 2 DESC, d.id LIMIT 1"
    ).fetchone()
    conn.close()
    if row is None:
        return [["ls"], ["verify"]]
    doc, n, sha256 = row
    one, two = f"{doc}@{max(1, n - 1)}", f"{doc}@{n}"
    return [
        ["ls"], ["log", doc], ["lookup", sha256], ["show", two], ["diff", one, two],
        ["meta", two], ["proof", two], ["blame", doc], ["verify"],
    ]  # fmt: skip


def traced_reads(archive: Path, tmp: Path) -> Path:
    """Run read_commands on a copy of archive (verify records its run), tracing statements."""
    copy = tmp / "reads.db"
    vacuumed(archive, copy)
    out = tmp / "read-statements.txt"
    lines: list[str] = []
    for n, args in enumerate(read_commands(copy)):
        part = tmp / f"read-{n}.txt"
        subprocess.run(
            [sys.executable, "-c", TRACED, str(part), args[0], "--db", str(copy), *args[1:]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        lines += part.read_text().splitlines() if part.exists() else []
    out.write_text("\n".join(lines) + "\n")
    return out


def step_indexes(b: Bench, statements: Path | None = None, reads: Path | None = None) -> None:
    """a: every index that enforces nothing (not UNIQUE, not a primary key) dropped. With the
    statements the import ran and those of the CLI's reads (`traced_reads`), says which of them
    their queries use (EXPLAIN QUERY PLAN), and which neither does."""
    conn = b.connect()
    sizes = {
        n: s
        for n, s in sqlite3.connect(b.prev).execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name"
        )
    }
    dropped = conn.execute(
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY tbl_name, name"
    ).fetchall()
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables(conn)}
    for name, _ in dropped:
        conn.execute(f"DROP INDEX {name}")
    after = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables(conn)}
    check(after == counts, "row counts changed")
    conn.close()
    big = sorted(dropped, key=lambda r: -sizes.get(r[0], 0))
    b.out("    dropped: " + ", ".join(f"{n} ({sizes.get(n, 0) / 1024:.0f} KiB)" for n, _ in big))
    needed: set[str] = set()
    for who, path in (("the import's", statements), ("the CLI's reads' (ls, log, ...)", reads)):
        if path is None:
            continue
        used, planned = indexes_used(b.prev, path)
        mine = [(n, used[n]) for n, _ in big if n in used]
        needed.update(n for n, _ in mine)
        b.out(
            f"    of these, {who} queries use ({planned} statements planned): "
            + (", ".join(f"{n} ({k} statements)" for n, k in mine) or "none")
        )
    if statements is not None and reads is not None:
        spare = [(n, sizes.get(n, 0)) for n, _ in big if n not in needed]
        b.out(
            f"    neither uses ({sum(k for _, k in spare) / 1024:.0f} KiB): "
            + ", ".join(f"{n} ({k / 1024:.0f} KiB)" for n, k in spare)
        )
    b.record("a  secondary indexes built on read")


BLOB_REFS = {  # table -> columns holding a blob's BLAKE3 hex (blobs.blake3 itself apart)
    "versions": ["blob", "sidecar_blob"],
    "diffs": ["from_blob", "to_blob"],
    "blob_passages": ["blob"],
    "blob_metadata": ["blake3"],
    "blob_item_sets": ["blob"],
    "blob_snapshots": ["blob", "base"],
    "captures": ["blob", "transferred_blob"],
    "blob_chunks": ["blob"],
    "sidecar_changes": ["blob"],
}
TO_ID = '(SELECT id FROM temp.bmap WHERE hex = o."{c}")'
TO_HEX = '(SELECT lower(hex(k.blake3)) FROM blobs k WHERE k.id = n."{c}")'


def step_int_keys(b: Bench) -> None:
    """b: one `blobs` row per content with an integer id; hashes as 32-byte BLOBs; every
    reference to a content an integer."""
    conn = b.connect()
    conn.execute("CREATE TEMP TABLE bmap (hex TEXT PRIMARY KEY, id INTEGER) WITHOUT ROWID")
    conn.execute("INSERT INTO temp.bmap SELECT blake3, rowid FROM blobs")
    ref = lambda c: ([(c, "INTEGER", TO_ID.format(c=c))], TO_HEX.format(c=c))  # noqa: E731
    inverses = {
        "blobs": retype(
            conn,
            "blobs",
            {
                "blake3": ([("blake3", "BLOB", "h2b(o.blake3)")], "lower(hex(n.blake3))"),
                "sha256": ([("sha256", "BLOB", "h2b(o.sha256)")], "lower(hex(n.sha256))"),
                "text_blob": ref("text_blob"),
            },
            add=[("id", "INTEGER", "o.rowid")],
            pk=["id"],
            unique=[("blake3",)],
        )
    }
    have = tables(conn)
    for table, cols in BLOB_REFS.items():
        if table in have:
            inverses[table] = retype(
                conn, table, {c: ref(c) for c in cols if c in columns(conn, table)}
            )
    for table, inverse in inverses.items():
        same_rows(conn, b.prev, table, inverse)
    conn.close()
    b.record("b  integer content keys, 32-byte hashes")


SUBJECT_KINDS = {"content": 1, "commit": 2, "run": 3}
CONTENT_LEAF = ("blake3", "format", "items", "metadata", "quotes", "text_blob")
CONTENT_FORMAT = "provenance-archive/content/v1"


def subject_part(subject: str | None, part: int):
    """(kind code, key, n) of a ledger subject 'content:<hex>:<n>', 'commit:<oid>', 'run:<id>'."""
    if subject is None:
        return None
    kind, _, rest = subject.partition(":")
    key, _, n = rest.partition(":")
    return [SUBJECT_KINDS.get(kind, 0), key, int(n) if n else None][part]


def pack_leaf(leaf: bytes | None) -> bytes | None:
    """A content leaf as its digests (1 + 32 x 4 or 5 bytes) when the JSON rebuilds exactly
    from them; any other leaf as its bytes behind a 0 byte."""
    if leaf is None:
        return None
    try:
        obj = json.loads(leaf)
        ok = (
            isinstance(obj, dict)
            and tuple(sorted(obj)) == CONTENT_LEAF
            and obj["format"] == CONTENT_FORMAT
            and canonical_json(obj) == leaf
        )
        digests = [bytes.fromhex(obj[k]) for k in ("blake3", "items", "metadata", "quotes")]
        tail = b"" if obj["text_blob"] is None else bytes.fromhex(obj["text_blob"])
        ok = ok and all(len(d) == 32 for d in [*digests, *([tail] if tail else [])])
    except (ValueError, TypeError, KeyError, AttributeError):
        ok = False
    return b"\x01" + b"".join(digests) + tail if ok else b"\x00" + leaf


def unpack_leaf(data: bytes | None) -> bytes | None:
    if data is None or data[0] == 0:
        return None if data is None else data[1:]
    d = [data[i : i + 32].hex() for i in range(1, len(data), 32)]
    obj = dict(zip(("blake3", "items", "metadata", "quotes"), d[:4], strict=True))
    obj.update(format=CONTENT_FORMAT, text_blob=d[4] if len(d) > 4 else None)
    return canonical_json(obj)


def step_ledger(b: Bench) -> None:
    """c: leaf hashes as 32 bytes, subjects as (kind, integer id, n), content leaves packed."""
    conn = b.connect()
    conn.create_function("subj", 2, subject_part, deterministic=True)
    conn.create_function("pack_leaf", 1, pack_leaf, deterministic=True)
    conn.create_function("unpack_leaf", 1, unpack_leaf, deterministic=True)
    kinds = {r[0] for r in conn.execute("SELECT DISTINCT subj(subject, 0) FROM ledger")}
    check(not kinds & {0}, "a ledger subject of an unknown kind")
    sid = (
        "CASE subj(o.subject, 0) WHEN 1 THEN (SELECT id FROM blobs WHERE blake3 ="
        " h2b(subj(o.subject, 1))) WHEN 2 THEN (SELECT rowid FROM commits WHERE oid ="
        " subj(o.subject, 1)) WHEN 3 THEN CAST(subj(o.subject, 1) AS INTEGER) END"
    )
    back = (
        "CASE n.skind WHEN 1 THEN 'content:' || (SELECT lower(hex(blake3)) FROM blobs"
        " WHERE id = n.sid) || ':' || n.sn WHEN 2 THEN 'commit:' || (SELECT oid FROM"
        " commits WHERE rowid = n.sid) WHEN 3 THEN 'run:' || n.sid END"
    )
    inverse = retype(
        conn,
        "ledger",
        {
            "leaf": ([("leaf", "BLOB", "pack_leaf(o.leaf)")], "unpack_leaf(n.leaf)"),
            "leaf_hash": ([("leaf_hash", "BLOB", "h2b(o.leaf_hash)")], "lower(hex(n.leaf_hash))"),
            "subject": (
                [
                    ("skind", "INTEGER", "subj(o.subject, 0)"),
                    ("sid", "INTEGER", sid),
                    ("sn", "INTEGER", "subj(o.subject, 2)"),
                ],
                back,
            ),
        },
        unique=[("skind", "sid", "sn")],
    )
    same_rows(conn, b.prev, "ledger", inverse)
    conn.close()
    b.record("c  ledger: 32-byte hashes, integer subjects")


def step_commits(b: Bench) -> None:
    """d: commits keyed by integer (oid 20 bytes), people interned, messages compressed."""
    conn = b.connect()
    if "commits" not in tables(conn) or not conn.execute("SELECT 1 FROM commits").fetchone():
        conn.close()
        b.out("    d: no commits (skipped)")
        return
    messages = [(m or "").encode() for (m,) in conn.execute("SELECT message FROM commits")]
    packer = Packer(messages)
    conn.create_function("zpack", 1, lambda m: None if m is None else packer.pack(m.encode()))
    conn.create_function("zunpack", 1, lambda d: None if d is None else packer.unpack(d).decode())
    conn.create_function(
        "oids", 1, lambda p: None if p is None else b"".join(bytes.fromhex(x) for x in p.split())
    )
    conn.create_function(
        "unoids",
        1,
        lambda d: (
            None if d is None else " ".join(d[i : i + 20].hex() for i in range(0, len(d), 20))
        ),
    )
    conn.execute(DICTIONARIES)
    conn.execute("INSERT INTO dictionaries VALUES ('commit messages', ?)", (packer.dict,))
    conn.execute(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, email TEXT, UNIQUE (name, email))"
    )
    conn.execute(
        "INSERT INTO people (name, email) SELECT DISTINCT * FROM (SELECT author_name,"
        " author_email FROM commits UNION SELECT committer_name, committer_email"
        " FROM commits) ORDER BY 1, 2"
    )
    who = "(SELECT id FROM people WHERE name IS o.{0}_name AND email IS o.{0}_email)"
    inverse = retype(
        conn,
        "commits",
        {
            "oid": ([("oid", "BLOB", "h2b(o.oid)")], "lower(hex(n.oid))"),
            "author_name": (
                [("author", "INTEGER", who.format("author"))],
                "(SELECT name FROM people WHERE id = n.author)",
            ),
            "author_email": ([], "(SELECT email FROM people WHERE id = n.author)"),
            "committer_name": (
                [("committer", "INTEGER", who.format("committer"))],
                "(SELECT name FROM people WHERE id = n.committer)",
            ),
            "committer_email": ([], "(SELECT email FROM people WHERE id = n.committer)"),
            "message": ([("message", "BLOB", "zpack(o.message)")], "zunpack(n.message)"),
            "parents": ([("parents", "BLOB", "oids(o.parents)")], "unoids(n.parents)"),
        },
        add=[("id", "INTEGER", "o.rowid")],
        pk=["id"],
        unique=[("oid",)],
    )
    version_inverse = retype(
        conn,
        "versions",
        {
            "commit": (
                [("commit", "INTEGER", '(SELECT id FROM commits WHERE oid = h2b(o."commit"))')],
                '(SELECT lower(hex(oid)) FROM commits WHERE id = n."commit")',
            )
        },
    )
    same_rows(conn, b.prev, "commits", inverse)
    same_rows(conn, b.prev, "versions", version_inverse)
    conn.close()
    what = f"zstd, {len(packer.dict) // 1024} KiB dictionary" if packer.dict else "zlib"
    b.record(f"d  commits: 20-byte oids, people interned, messages {what}")


def step_items(b: Bench) -> None:
    """e: each item set's items as one compressed row (JSON list in key, ordinal order)."""
    conn = b.connect()
    if "set_items" not in tables(conn):
        conn.close()
        return
    rows = conn.execute(
        "SELECT item_set, key, ordinal, value, detail FROM set_items"
        " ORDER BY item_set, key, ordinal"
    ).fetchall()
    sets: dict[int, list] = {}
    for s, *item in rows:
        sets.setdefault(s, []).append(item)
    blobs = {
        s: json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode()
        for s, items in sets.items()
    }
    packer = Packer(list(blobs.values()))
    conn.execute("ALTER TABLE item_sets ADD COLUMN items BLOB")
    conn.executemany(
        "UPDATE item_sets SET items = ? WHERE id = ?",
        [(packer.pack(v), s) for s, v in blobs.items()],
    )
    conn.execute(DICTIONARIES)
    conn.execute("INSERT INTO dictionaries VALUES ('item sets', ?)", (packer.dict,))
    conn.execute("DROP VIEW IF EXISTS blob_items")
    conn.execute("DROP TABLE set_items")
    back = []
    for s, data in conn.execute("SELECT id, items FROM item_sets WHERE items IS NOT NULL"):
        back += [(s, *item) for item in json.loads(packer.unpack(data))]
    conn.close()
    check(
        sorted(back, key=lambda r: r[:3]) == [tuple(r) for r in rows]
        and all(len(r) == 5 for r in back),
        "item sets do not unpack to their set_items rows",
    )
    b.record("e  set_items packed per item set")


# ---------------------------------------------------------------------------- driver


def run(
    archive: Path, packs: dict[str, int], tmp: Path, out=print, statements: Path | None = None
) -> Bench:
    """Every step on a copy of archive; prints as it goes and the final table."""
    b = Bench(archive, tmp, packs, out)
    size = sum(p.stat().st_size for p in archive.parent.glob(archive.name + "*") if p.is_file())
    out(f"archive as imported: {size / MIB:.2f} MiB{b.ratios(size)}")
    for name, n in packs.items():
        out(f"{name}: {n / MIB:.2f} MiB" if n else f"{name}: not measured")
    b.results.append(("archive as imported", size))
    b.steps = 0
    b.record("after VACUUM (no design change)")
    step_indexes(b, statements, traced_reads(archive, tmp) if statements else None)
    step_int_keys(b)
    step_ledger(b)
    step_commits(b)
    step_items(b)
    before_f = b.prev
    step_no_deltas(b)
    step_passage_rows(b)
    groups = step_groups(b)
    git_way(b, before_f)
    summary(b, groups)
    return b


def summary(b: Bench, groups: list[tuple[str, int, float]]) -> None:
    b.out("\ndesign -> MiB -> ratio to the git pack")
    for name, size in b.results:
        b.out(f"  {name:<62} {size / MIB:6.2f} MiB{b.ratios(size)}")
    pack = max(b.packs.values(), default=0)
    if not pack:
        return
    smallest = min(b.results, key=lambda r: r[1])
    hits = [(n, s) for n, s in b.results if s <= 2 * pack]
    if hits:
        b.out(f"within 2x the larger pack: {', '.join(n for n, _ in hits)}")
    else:
        b.out(
            f"no design reaches 2x: the smallest, {smallest[0]!r}, is "
            f"{smallest[1] / pack:.2f}x the larger pack ({2 * pack / MIB:.2f} MiB needed)"
        )
    fast = [g for g in groups if g[2] <= 5]
    if fast:
        best = min(fast, key=lambda g: g[1])
        b.out(
            f"smallest passage storage with a read under 5 ms: {best[0]} "
            f"({best[1] / MIB:.2f} MiB, {best[2]:.2f} ms)"
        )
    b.out(f"where the bytes are in the smallest design ({smallest[0].strip()}):")
    for table, n in table_sizes(b.files[smallest[0]])[:14]:
        b.out(f"  {table:<28} {n / MIB:6.2f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="an archive (.db) or a git repository/bundle")
    parser.add_argument("--git-dir", type=Path, help="the history of an archive given as .db")
    args = parser.parse_args()
    if not args.source.exists():
        parser.error(f"no such file: {args.source}")
    with tempfile.TemporaryDirectory(prefix="size-floor-") as tmpname:
        tmp = Path(tmpname)
        statements = None
        if args.source.suffix in (".db", ".sqlite", ".sqlite3"):
            archive, git_dir = args.source, args.git_dir
        else:
            repo = args.source.resolve()
            bare = bare_repo(repo, tmp)
            git_dir = bare if repo.is_file() else git_dir_of(bare)
            archive = tmp / "archive.db"
            statements = tmp / "statements.txt"
            cmd = [sys.executable, "-c", TRACED, str(statements), "ingest", "--git", str(repo)]
            subprocess.run(
                [*cmd, "--db", str(archive)],
                check=True,
                stdout=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        packs = {}
        if git_dir:
            packs["git gc pack"] = gc_pack(git_dir, tmp, aggressive=False)
            packs["git gc --aggressive pack"] = gc_pack(git_dir, tmp)
        try:
            run(archive, packs, tmp, statements=statements)
        except CheckFailed as e:
            print(f"check failed: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
