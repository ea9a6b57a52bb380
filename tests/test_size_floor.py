"""bench/size_floor.py's candidate designs keep the information they rewrite: on a small
history every step's own checks pass (rows mapped back through the new keys, texts, passages
and deltas rebuilt and compared), and those checks catch a row or a text that changed."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.ledger.leaves import canonical_json
from archive.record.git import import_git
from archive.store import Store
from tests.gitrepo import Repo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import size_floor  # noqa: E402
import size_floor_common  # noqa: E402
import size_floor_texts  # noqa: E402

PARAGRAPHS = [
    "The service may change these terms at any time without notice to the user.",
    "We collect \u201cpersonal data\u201d such as your name, email address and location.",
    'The company said "we never sell your data to third parties" in its statement.',
    "Disputes are settled by the courts of the place where the company is registered.",
    "You may delete your account at any time from the settings page of the app.",
]


def history(root: Path) -> Repo:
    """Two documents revised over eight commits: edits, an insertion, a quotation, a revert."""
    repo = Repo(root)
    a = PARAGRAPHS[:3]
    steps = [
        ("terms.md", a),
        ("terms.md", [*a, PARAGRAPHS[3]]),
        ("privacy.md", PARAGRAPHS[1:4]),
        ("terms.md", [a[0].replace("any time", "any moment"), *a[1:], PARAGRAPHS[3]]),
        ("privacy.md", [*PARAGRAPHS[1:4], PARAGRAPHS[4]]),
        ("terms.md", [*a, PARAGRAPHS[3]]),  # back to the second version
        ("privacy.md", [PARAGRAPHS[4], PARAGRAPHS[2]]),
        ("terms.md", [*a, PARAGRAPHS[3], PARAGRAPHS[4] + " Or by mail."]),
    ]
    for n, (name, paragraphs) in enumerate(steps):
        repo.write(name, ("# Title\n\n" + "\n\n".join(paragraphs) + "\n").encode())
        repo.commit(f"step {n}: {name}\n\nrecorded by the test")
    return repo


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("floor")
    repo = history(root / "repo")
    db = root / "archive.db"
    with Store(db) as store:
        import_git(store, str(repo.root), "t")
    return db, repo.root / ".git"


def test_every_design_keeps_the_information(archive, tmp_path: Path) -> None:
    db, git_dir = archive
    said: list[str] = []
    pack = size_floor.gc_pack(git_dir, tmp_path, aggressive=False)
    bench = size_floor.run(db, {"git gc pack": pack}, tmp_path, out=said.append)
    names = [n.split()[0] for n, _ in bench.results]
    for step in ("a", "b", "c", "d", "e", "f", "h", "g", "f'"):
        assert step in names, step
    assert len(bench.texts) >= 6 and len(bench.passages) >= 6
    assert any("quote" in str(k) for k in sqlite3.connect(db).execute("SELECT kind FROM passages"))
    text = "\n".join(said)
    assert "deltas recomputed exactly" in text and "every text rebuilt exactly" in text
    assert "design -> MiB -> ratio to the git pack" in text
    conn = sqlite3.connect(bench.files[bench.results[-1][0]])
    assert {"texts_full", "texts_delta"} <= {
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }


def test_a_row_that_does_not_map_back_is_caught(archive, tmp_path: Path) -> None:
    db, _ = archive
    work = tmp_path / "work.db"
    conn = sqlite3.connect(db)
    conn.execute("VACUUM INTO ?", (str(work),))
    conn.close()
    conn = sqlite3.connect(work, isolation_level=None)
    conn.create_function("h2b", 1, lambda h: None if h is None else bytes.fromhex(h))
    change = ([("leaf_hash", "BLOB", "h2b(o.leaf_hash)")], "lower(hex(n.leaf_hash))")
    inverse = size_floor_common.retype(conn, "ledger", {"leaf_hash": change})
    size_floor_common.same_rows(conn, db, "ledger", inverse)  # a faithful rewrite passes
    conn.execute("UPDATE ledger SET leaf_hash = zeroblob(32) WHERE leaf_index = 1")
    with pytest.raises(size_floor_common.CheckFailed, match="ledger: .* 1 lost, 1 new"):
        size_floor_common.same_rows(conn, db, "ledger", inverse)


def test_a_passage_that_changed_is_caught(archive, tmp_path: Path) -> None:
    db, _ = archive
    bench = size_floor_common.Bench(db, tmp_path, {}, out=lambda _: None)
    some = next(iter(bench.passages))
    truth = dict(bench.passages)  # as the product reads them (the whole run checks they pass)
    truth[some] = truth[some] + b" "
    with pytest.raises(size_floor_common.CheckFailed, match="passages differ"):
        size_floor_texts.passage_checks(bench, lambda: truth)


@given(st.lists(st.integers(min_value=-(2**40), max_value=2**40), max_size=50))
def test_passage_lists_survive_their_varints(values: list[int]) -> None:
    assert size_floor_texts.unvarints(size_floor_texts.varints(values)) == values


@given(
    st.lists(st.binary(min_size=32, max_size=32), min_size=4, max_size=4),
    st.one_of(st.none(), st.binary(min_size=32, max_size=32)),
)
def test_content_leaves_pack_to_their_digests_and_back(digests, text_blob) -> None:
    keys = ("blake3", "items", "metadata", "quotes")
    leaf = dict(zip(keys, (d.hex() for d in digests), strict=True))
    leaf.update(format=size_floor.CONTENT_FORMAT, text_blob=text_blob and text_blob.hex())
    data = canonical_json(leaf)
    packed = size_floor.pack_leaf(data)
    assert packed[0] == 1 and len(packed) == 1 + 32 * (5 if text_blob else 4)
    assert size_floor.unpack_leaf(packed) == data
    other = data.replace(b'"format"', b'"formats"')
    assert size_floor.unpack_leaf(size_floor.pack_leaf(other)) == other  # kept as bytes
