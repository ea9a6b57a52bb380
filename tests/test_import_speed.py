"""The faster git import stores exactly what the straightforward one stores.

The pipelined path (diffs in a pool while the batch is recorded, texts and passages reused
from the ingest's cache) is compared with the straightforward one: no cache, every diff
computed serially in the main process.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from diff_match_patch import diff_match_patch
from hypothesis import given, settings
from hypothesis import strategies as st

from archive import diffs
from archive.diffs import algorithm, core, lines
from archive.diffs import pipeline as diff_queue
from archive.diffs.stored import DiffIntegrityError
from archive.record.git import import_git
from archive.store import ArchiveError, Store, TextCache, read_text
from tests.conftest import TIMES
from tests.gitrepo import Repo

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()


def paragraph(seed: int, n: int = 40) -> str:
    return " ".join(WORDS[(seed * 7 + i * i) % len(WORDS)] for i in range(n)) + ".\n\n"


def build(repo: Repo) -> None:
    """Three documents revised paragraph by paragraph, one renamed, one deleted, quotes."""
    docs = {f"doc{d}.md": [paragraph(d * 10 + p) for p in range(6)] for d in range(3)}
    for i in range(12):
        name = f"doc{i % 3}.md"
        if name in docs:
            docs[name][i % 6] = paragraph(100 + i) + f'He said "{WORDS[i]} and more words".\n\n'
            repo.write(name, "".join(docs[name]).encode())
        if i == 7:
            repo.remove("doc2.md")
            del docs["doc2.md"]
        if i == 9:
            (repo.root / "doc1.md").rename(repo.root / "renamed.md")
            docs["renamed.md"] = docs.pop("doc1.md")
        repo.commit(f"commit {i}")


def every_table(db: Path) -> dict[str, list[tuple]]:
    """All rows of all tables (FTS shadow tables too), in rowid/key order, times aside."""
    conn = sqlite3.connect(db)
    out = {}
    for (table,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
    ):
        info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
        cols = [r[1] for r in info if r[1] not in TIMES]
        pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        order = ", ".join(f'"{c}"' for c in pk) or "rowid"
        select = ", ".join(f'"{c}"' for c in cols)
        out[table] = conn.execute(f'SELECT {select} FROM "{table}" ORDER BY {order}').fetchall()
    conn.close()
    return out


def tables_per_worker_count(
    tmp_path: Path, repo: Path, batch_size: int, monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, list[tuple]]]:
    """`every_table` of the same git import with ARCHIVE_WORKERS 1, 2 and 3."""
    tables = []
    for workers in ("1", "2", "3"):
        monkeypatch.setenv("ARCHIVE_WORKERS", workers)
        with Store(tmp_path / f"w{workers}.db") as store:
            import_git(store, str(repo), "t", batch_size=batch_size)
        tables.append(every_table(tmp_path / f"w{workers}.db"))
    return tables


@contextmanager
def no_cache(self: Store):
    yield None


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "repo")
    build(repo)
    return repo


@pytest.mark.usefixtures("frozen_clock")  # two imports compared whole, run leaves too
def test_pipelined_import_equals_batch_end_import(
    tmp_path: Path, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        m.setenv("ARCHIVE_DIFF_WORKERS", "1")  # serial: no pool
        m.setattr(Store, "caching_texts", no_cache)
        with Store(tmp_path / "plain.db") as store:
            import_git(store, str(repo.root), "t", batch_size=5)
    submitted = []
    submit = diff_queue.DiffPool.submit_jobs

    def counting_submit(self, job, items, worker=None):
        submitted.extend(items)
        return submit(self, job, items, worker)

    monkeypatch.setattr(diff_queue, "POOL_MIN_PAIRS", 1)  # a pool even for this small history
    monkeypatch.setattr(diff_queue, "POOL_MIN_CHARS", 0)
    monkeypatch.setattr(diff_queue.DiffPool, "submit_jobs", counting_submit)
    monkeypatch.setenv("ARCHIVE_DIFF_WORKERS", "2")
    with Store(tmp_path / "fast.db") as store:
        import_git(store, str(repo.root), "t", batch_size=5)
    plain, fast = every_table(tmp_path / "plain.db"), every_table(tmp_path / "fast.db")
    assert len(plain["diffs"]) >= 5 and plain["passage_groups"] and plain["ledger"]
    assert len(submitted) == len(plain["diffs"])  # every diff went through the pool
    assert fast == plain


def test_a_bad_delta_from_the_queue_rolls_the_batch_back(
    tmp_path: Path, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = diffs.diff_texts

    def wrong(old: str, new: str) -> diffs.DiffResult:
        r = real(old, new)
        return diffs.DiffResult(r.ops, r.delta + "\t+x", r.stats, r.change_class, r.coarse)

    monkeypatch.setattr(diffs, "diff_texts", wrong)
    monkeypatch.setenv("ARCHIVE_DIFF_WORKERS", "1")
    with Store(tmp_path / "a.db") as store, pytest.raises(DiffIntegrityError):
        import_git(store, str(repo.root), "t", batch_size=50)
    assert every_table(tmp_path / "a.db")["commits"] == []
    assert isinstance(DiffIntegrityError("x"), ArchiveError)


def test_text_cache_reads_equal_plain_reads(tmp_path: Path, repo: Repo) -> None:
    with Store(tmp_path / "a.db") as store:
        import_git(store, str(repo.root), "t")
        blobs = [r["blake3"] for r in store.query("SELECT blake3 FROM blobs ORDER BY blake3")]
        with store.caching_texts() as cache:
            first = [store.read_text(b) for b in blobs]
            assert len(cache.items) == len(blobs)  # each read went in
            again = [store.read_text(b) for b in blobs]  # and now comes out of the cache
        assert first == again == [read_text(store.conn, b) for b in blobs]
        assert store.texts is None


def test_text_cache_drops_least_recent_and_keeps_encodings_apart() -> None:
    """Held passages weigh too: their text again and 140 a passage with its id and key
    (a: 2 * 4 + 140)."""
    cache = TextCache(max_chars=160)
    cache.put("a", "utf-8", "aaaa", passages=([1], ["aaaa"], [7]))
    cache.put("b", "utf-8", "bbbb")
    assert cache.chars == 152
    assert cache.get("a", "utf-8") == "aaaa"  # now the most recent
    assert cache.get("a", "latin-1") is None
    cache.put("c", "utf-8", "c" * 10)  # 162: b, the least recent, goes
    assert cache.get("b", "utf-8") is None and cache.chars == 158
    cache.put("a", "utf-8", "aaaa")  # a read of a packed blob keeps its passages
    assert cache.passages("a") == ([1], ["aaaa"], [7]) and cache.chars == 158
    cache.put("big", "utf-8", "x" * 161)  # larger than the cache: not kept
    assert cache.get("big", "utf-8") is None and cache.get("c", "utf-8") == "c" * 10


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="abcde \u0100\u0101", max_size=40),
    st.text(alphabet="abcdf \u0100"),
    st.sets(st.sampled_from("abcdef \u0100\u0101")),
)
def test_word_counts_equal_translate_then_counter(a: str, b: str, dropped: set[str]) -> None:
    """_unrelated's counts are those of the filtered strings, whichever way it drops."""
    drop = {ord(c): None for c in dropped}
    wa, wb = a.translate(drop), b.translate(drop)
    (ca, na), (cb, nb) = lines.kept_counts(a, drop), lines.kept_counts(b, drop)
    assert (ca, na, cb, nb) == (Counter(wa), len(wa), Counter(wb), len(wb))
    assert lines.common_count(ca, cb) == sum((Counter(wa) & Counter(wb)).values())


def test_too_many_only_counts_when_it_could_overflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "MAX_SYMBOLS", 3)
    assert not lines.too_many(["a", "b"], ["a"])
    assert not lines.too_many(["a", "b"], ["a", "b", "a"])  # 5 items, 2 distinct
    assert lines.too_many(["a", "b"], ["c", "d"])


# Letters, digits, marks (BMP and astral), astral letters, spaces, line breaks, punctuation.
TOKEN_ALPHABET = (
    "aZé9_\u0301\u093f\u0915\U0001d165\U00010400\U0001f600 \t\n\r\u00a0.,-'\u2019\u3000"
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=TOKEN_ALPHABET, max_size=30) | st.text(max_size=30))
def test_plain_text_shortcut_finds_what_the_full_patterns_find(text: str) -> None:
    assert diffs.tokens(text) == diffs.TOKEN_RE.findall(text)
    assert diffs.words(text) == diffs.WORD_RE.findall(text)


PLACEHOLDER_TOKENS = ["a", " ", "bb", ".", "\n", "\n\n", "c", "  ", ","]
_SYMBOLS = "".join(lines.index_char(i) for i in range(len(PLACEHOLDER_TOKENS)))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([-1, 0, 1]), st.text(alphabet=_SYMBOLS, min_size=1)),
        max_size=14,
    )
)
def test_token_cleanup_semantic_is_dmps(ops: list[tuple[int, str]]) -> None:
    """The local-names rewrite of diff_cleanupSemantic gives the stock method's result."""
    ours, stock = list(ops), list(ops)
    algorithm._TokenDmp(PLACEHOLDER_TOKENS, 0).diff_cleanupSemantic(ours)
    diff_match_patch.diff_cleanupSemantic(algorithm._TokenDmp(PLACEHOLDER_TOKENS, 0), stock)
    assert ours == stock
