"""Blame per passage, and tracing passages across documents."""

from __future__ import annotations

import json

from archive.passages.blame import blame_indexes
from archive.store.passage_format import digest_key, passage_digest
from tests.conftest import run_cli


def ingest(db, folder):
    code, _, err = run_cli("ingest", str(folder), db=db)
    assert code == 0, err


def test_blame_indexes_rule():
    lists = [[1, 2], None, [1, 2, 3], [1, 3, 4]]
    assert blame_indexes(lists, 3) == [2, 2, 3]  # the deletion at index 1 breaks the run
    assert blame_indexes(lists, 0) == [0, 0]


def test_blame_on_a_three_version_document(db, folder):
    doc = folder / "doc.md"
    doc.write_text("Intro stays.\n\nSecond para v1.\n")
    ingest(db, folder)
    doc.write_text("Intro stays.\n\nSecond para v1.\n\nAdded in v2.\n")
    ingest(db, folder)
    doc.write_text("Intro stays.\n\nSecond para v3.\n\nAdded in v2.\n")
    ingest(db, folder)
    code, out, _ = run_cli("blame", "doc.md", "--json", db=db)
    assert code == 0
    rows = json.loads(out)["passages"]
    assert [(r["text"], r["seq"]) for r in rows] == [
        ("Intro stays.\n\n", 1),
        ("Second para v3.\n\n", 3),
        ("Added in v2.\n", 2),
    ]
    code, out, _ = run_cli("blame", "doc.md@2", "--json", db=db)
    # v1 ended "Second para v1.\n"; in v2 it gained a blank line, so it is a new passage
    assert [r["seq"] for r in json.loads(out)["passages"]] == [1, 2, 2]
    code, out, _ = run_cli("blame", "doc.md@2", db=db)
    assert out.splitlines()[0].startswith("@1 ") and "Intro stays." in out


def test_passage_in_two_documents_is_traced_to_the_earlier(db, folder):
    shared = "The same sentence appears in both documents, word for word."
    (folder / "first.md").write_text(f"Only in first.\n\n{shared}\n\nThe end.\n")
    ingest(db, folder)
    (folder / "second.md").write_text(f"{shared}\n\nOnly in second, later.\n")
    ingest(db, folder)
    code, out, _ = run_cli("trace", shared, "--json", db=db)
    assert code == 0
    result = json.loads(out)
    assert result["match"] == "exact"
    [passage] = [p for p in result["passages"] if p["kind"] == "para"]
    assert passage["first"]["path"] == "first.md" and passage["first"]["seq"] == 1
    assert sorted(d["path"] for d in passage["documents"]) == ["first.md", "second.md"]
    # by hash, and by substring, and normalised
    code, out, _ = run_cli("trace", passage["blake3"], "--json", db=db)
    assert json.loads(out)["passages"][0]["first"]["path"] == "first.md"
    code, out, _ = run_cli("trace", "appears in both documents", "--json", db=db)
    assert json.loads(out)["match"] == "substring"
    code, out, _ = run_cli("trace", "THE SAME  sentence appears", "--normalize", "--json", db=db)
    found = json.loads(out)
    assert found["match"] == "normalized-substring"
    assert found["passages"][0]["first"]["path"] == "first.md"
    code, _, _ = run_cli("trace", "words nobody wrote anywhere", db=db)
    assert code == 1


def test_quote_is_traced_across_documents_with_different_paragraphs(db, folder):
    quote = "We will cooperate against every threat together"
    (folder / "a.md").write_text(f"He said: \u201c{quote}.\u201d Then he left.\n")
    ingest(db, folder)
    (folder / "b.md").write_text(f"Reports quote him: \u201c{quote}.\u201d\n")
    ingest(db, folder)
    code, out, _ = run_cli("trace", quote + ".", "--json", db=db)
    result = json.loads(out)
    [q] = [p for p in result["passages"] if p["kind"] == "quote"]
    assert q["first"]["path"] == "a.md"
    assert sorted(d["path"] for d in q["documents"]) == ["a.md", "b.md"]


def test_occurrences_are_every_version_holding_each_passage_oldest_first(db, folder):
    from archive.passages.trace import occurrences
    from archive.store import Store

    doc = folder / "doc.md"
    for n in range(3):
        doc.write_text(f"Kept paragraph.\n\nRevision {n}.\n")
        (folder / f"copy{n}.md").write_text("Kept paragraph.\n\nA copy.\n")
        ingest(db, folder)
    with Store(db) as store:
        passages = store.passages
        ids = passages.all_ids()
        found = occurrences(passages, ids)
        lists = {blob: set(p) | set(q) for blob, p, q in passages.lists()}
        versions = passages.versions_of_blobs(lists)
        for pid in ids:  # the naive answer: filter every version, in observed order
            assert found[pid] == [v for v in versions if pid in lists[v["blob"]]]
        kept = passages.by_keys([digest_key(passage_digest("Kept paragraph.\n\n"))])
        paths = [v["document_path"] for v in found[next(iter(kept.values()))]]
        assert paths.count("doc.md") == 3 and {"copy0.md", "copy2.md"} <= set(paths)


def common_word_archive(db, folder, n: int = 12) -> None:
    """n documents of paragraphs that all hold "common"; only two hold "rare phrase"."""
    for i in range(n):
        extra = f"A rare phrase number {i}.\n\n" if i in (3, 9) else ""
        (folder / f"doc{i:02}.md").write_text(
            f"The common word, paragraph {i}a.\n\n{extra}Another common one, {i}b.\n"
        )
    ingest(db, folder)
    assert run_cli("index", db=db)[0] == 0  # what a trace reads: the span index


def test_trace_checks_at_most_the_cap_and_says_so(db, folder, monkeypatch):
    """A word in every passage costs MATCH_CAP candidates, not all of them: only that many
    passage texts are read, and the result says it is truncated (CLI, JSON)."""
    from archive.passages import trace as trace_module
    from archive.store import PassageStore, Store

    common_word_archive(db, folder)
    monkeypatch.setattr(trace_module, "MATCH_CAP", 5)
    read = []
    texts = PassageStore.texts
    monkeypatch.setattr(
        PassageStore, "texts", lambda s, ids, *a: read.append(list(ids)) or texts(s, ids, *a)
    )
    with Store(db) as store:
        result = trace_module.trace(store, "common")
        assert result["truncated"] and result["match_cap"] == 5
        assert 0 < len(result["passages"]) <= 5
        assert read and max(len(ids) for ids in read) <= 5
        read.clear()
        found = trace_module.search_documents(store.passages, "common", 100)
        assert found["truncated"] and 0 < len(found["documents"]) <= 5
        assert max(len(ids) for ids in read) <= 5
        for normalized in (False, True):  # no words at all: the first passages, capped too
            assert trace_module.trace(store, ",", normalized=normalized)["truncated"]
    code, out, err = run_cli("trace", "common", "--json", db=db)
    assert code == 0 and json.loads(out)["truncated"] is True
    code, out, err = run_cli("trace", "common", db=db)
    assert code == 0 and "more than 5 passages hold these words" in err
    assert "refine the query" in err


def test_selective_traces_are_unchanged_by_the_cap(db, folder, monkeypatch):
    from archive.passages import trace as trace_module
    from archive.store import Store

    common_word_archive(db, folder)
    with Store(db) as store:
        queries = ["rare phrase", "rare phrase number 9", "RARE  phrase", "paragraph 3a"]
        uncapped = {}
        monkeypatch.setattr(trace_module, "MATCH_CAP", 10**9)
        for q in queries:
            for normalized in (False, True):
                uncapped[q, normalized] = trace_module.trace(store, q, normalized)
        uncapped_search = trace_module.search_documents(store.passages, "rare phrase", 100)
        monkeypatch.setattr(trace_module, "MATCH_CAP", 5)
        for (q, normalized), want in uncapped.items():
            got = trace_module.trace(store, q, normalized)
            assert not got["truncated"]
            assert got["passages"] == want["passages"] and got["match"] == want["match"]
        assert uncapped[("rare phrase", False)]["match"] == "substring"
        assert len(uncapped[("rare phrase", False)]["passages"]) == 2
        capped_search = trace_module.search_documents(store.passages, "rare phrase", 100)
        assert not capped_search["truncated"]
        assert capped_search["documents"] == uncapped_search["documents"]
        assert [d["document_path"] for d in capped_search["documents"]] == ["doc03.md", "doc09.md"]
