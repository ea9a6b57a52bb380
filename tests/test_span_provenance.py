"""Provenance below the paragraph: spans traced to their first version, reworded reuse, word
blame, reverts and copies, on small real archives through the real CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3

from tests.conftest import CORPUS, run_cli, served

SEED_SENTENCE = "Putin praised cooperation with Iran as \u201cvery productive\u201d."
MID_000 = (
    "endorsed the remarks made by the Russian President concerning the necessity for "
    "expansion of cooperation between the two countries"
)


def ingest(db, folder):
    code, out, err = run_cli("ingest", str(folder), db=db)
    assert code == 0, err
    return out


def trace(db, *args):
    code, out, err = run_cli("trace", *args, "--json", db=db)
    return code, (json.loads(out) if out else None), err


def seeded(db, folder):
    for f in sorted(CORPUS.iterdir()):
        shutil.copy(f, folder / f.name)
    ingest(db, folder)


def test_seed_sentence_is_traced_to_004_not_to_the_later_paragraph(db, folder):
    seeded(db, folder)
    (folder / "later.txt").write_text(f"A later note.\n\n{SEED_SENTENCE}\n")
    ingest(db, folder)
    code, result, _ = trace(db, SEED_SENTENCE)
    assert code == 0
    assert result["first"]["path"].startswith("004_")
    assert result["first"]["seq"] == 1 and result["first"]["source"] == "docs"
    assert set(result["first"]) >= {"path", "seq", "version_id", "observed_at", "source"}
    paths = [a["path"] for a in result["appearances"]]
    assert paths[0].startswith("004_") and paths[1] == "later.txt" and len(paths) == 2
    assert result["truncated"] is False


def test_mid_paragraph_sentence_quoted_elsewhere_is_traced_to_000(db, folder):
    seeded(db, folder)
    (folder / "report.md").write_text(
        f"Commentary.\n\nThe Leader, it was said, {MID_000}, as agencies reported.\n"
    )
    ingest(db, folder)
    code, result, _ = trace(db, MID_000)
    assert code == 0 and result["match"] == "substring"
    assert result["first"]["path"].startswith("000_")
    assert sorted(a["path"][:4] for a in result["appearances"]) == ["000_", "repo"]


def test_appearances_give_version_ranges(db, folder):
    span = "this exact sentence comes and goes across the versions"
    doc = folder / "doc.md"
    for text in (f"A. {span}.\n", f"B. {span}.\n", "C. gone.\n", f"D. {span}!\n"):
        doc.write_text(text)
        ingest(db, folder)
    _, result, _ = trace(db, span)
    [appearance] = result["appearances"]
    assert [(r["from_seq"], r["to_seq"]) for r in appearance["ranges"]] == [(1, 2), (4, 4)]
    assert appearance["versions"] == 3


def test_reworded_sentence_is_found_with_fuzzy_only(db, folder):
    seeded(db, folder)
    reworded = (
        "Since the deal was reached in 2015, Khamenei had continued to publicly denounce"
        " the United States"
    )
    code, result, _ = trace(db, reworded)
    assert code == 1 and result["first"] is None
    code, result, _ = trace(db, reworded, "--fuzzy")
    assert code == 0
    best = result["fuzzy"][0]
    assert best["first"]["path"].startswith("004_")
    assert 70 <= best["score"] < 100
    assert "Khamenei has continued to denounce the United States" in best["aligned"]
    assert ["replace", "had", "has"] in best["ops"]


def test_japanese_trace_and_search(db, folder):
    (folder / "ja.txt").write_text("政府は新しい防災計画を来年から実施すると発表した。\n")
    ingest(db, folder)
    code, result, _ = trace(db, "防災計画")
    assert code == 0 and result["first"]["path"] == "ja.txt"
    code, result, _ = trace(db, "ぼうさい")
    assert code == 1


def test_german_normalised_trace_folds_sharp_s(db, folder):
    (folder / "de.txt").write_text("Die Straße wurde am Montag für den Verkehr gesperrt.\n")
    ingest(db, folder)
    code, result, _ = trace(db, "die STRASSE wurde am Montag für den Verkehr", "--normalize")
    assert code == 0 and result["first"]["path"] == "de.txt"


def test_word_blame_of_a_one_word_edit(db, folder):
    doc = folder / "doc.md"
    doc.write_text("The cat sat on the mat.\n\nSecond paragraph here.\n")
    ingest(db, folder)
    doc.write_text("The dog sat on the mat.\n\nSecond paragraph here.\n")
    ingest(db, folder)
    doc.write_text("The dog sat on the mat.\n\nSecond paragraph here.\n\nA new last one.\n")
    ingest(db, folder)
    code, out, _ = run_cli("blame", "doc.md", "--json", db=db)
    assert code == 0
    spans = json.loads(out)["spans"]
    assert [(s["text"], s["seq"]) for s in spans] == [
        ("The ", 1),
        ("dog", 2),
        (" sat on the mat.\n\nSecond paragraph here.\n", 1),
        ("\nA new last one.\n", 3),
    ]
    assert set(spans[0]) >= {"text", "seq", "version_id", "observed_at", "commit"}


def test_return_to_an_earlier_wording_is_reverted_not_restored(db, folder):
    doc = folder / "doc.md"
    for text in ("first wording\n", "second wording\n", "first wording\n"):
        doc.write_text(text)
        ingest(db, folder)
    doc.unlink()
    ingest(db, folder)
    doc.write_text("second wording\n")
    ingest(db, folder)
    code, out, _ = run_cli("log", "doc.md", "--json", db=db)
    versions = json.loads(out)["versions"]
    assert [v["kind"] for v in versions] == ["added", "modified", "reverted", "deleted", "restored"]
    assert versions[2]["same_as_version_id"] == versions[0]["id"]
    assert versions[4]["same_as_version_id"] == versions[1]["id"]
    code, out, _ = run_cli("log", "doc.md", db=db)
    assert "reverted to @1" in out


def test_copy_is_recorded_and_followed(db, folder):
    (folder / "a.md").write_text("Policy v1.\n\nShared clause one.\n\nShared clause two.\n")
    ingest(db, folder)
    (folder / "a.md").write_text("Policy v2.\n\nShared clause one.\n\nShared clause two.\n")
    ingest(db, folder)
    (folder / "b.md").write_text("Policy copy.\n\nShared clause one.\n\nShared clause two.\n")
    (folder / "c.md").write_text("Entirely unrelated text here.\n")
    ingest(db, folder)
    code, out, _ = run_cli("log", "b.md", "--json", "--follow", db=db)
    assert code == 0
    versions = json.loads(out)["versions"]
    assert [(v["document"]["path"], v["seq"]) for v in versions] == [
        ("a.md", 1),
        ("a.md", 2),
        ("b.md", 1),
    ]
    assert versions[2]["copied_from_version_id"] == versions[1]["id"]
    code, out, _ = run_cli("log", "c.md", "--json", "--follow", db=db)
    assert [v["seq"] for v in json.loads(out)["versions"]] == [1]
    code, out, _ = run_cli("log", "b.md", db=db)
    assert "copied from a.md@2" in out


def test_an_ingest_leaves_the_search_indexes_to_their_readers(db, folder):
    """The import keeps which documents hold each passage (copy detection) and leaves the
    search indexes behind; `archive index` brings them up to date."""
    (folder / "a.md").write_text("one two three four five six seven\n")
    ingest(db, folder)
    conn = sqlite3.connect(db)
    last = conn.execute("SELECT max(id) FROM passages").fetchone()[0]
    state = dict(conn.execute("SELECT name, value FROM span_state"))
    assert state.get("documents") == 1 and state.get("passage", 0) < last
    assert conn.execute("SELECT count(*) FROM passage_documents").fetchone()[0] == last
    assert conn.execute("SELECT count(*) FROM reuse_sentences").fetchone()[0] == 0
    code, out, _ = run_cli("index", db=db)
    assert code == 0 and out == f"indexed {last} passages, 1 versions\n"
    state = dict(conn.execute("SELECT name, value FROM span_state"))
    assert state["passage"] == state["text"] == last and state["version"] == 1
    assert conn.execute("SELECT count(*) FROM reuse_sentences").fetchone()[0] == 1
    conn.close()


def test_reuse_lists_shared_sentences_with_gaps_and_skips_boilerplate(db, folder):
    seeded(db, folder)
    nav = "Home page about us contact our team careers press"
    (folder / "later.txt").write_text(f"A later note.\n\n{SEED_SENTENCE}\n\n{nav}\n")
    (folder / "third.txt").write_text(f"Third.\n\n{nav}\n")
    (folder / "fourth.txt").write_text(f"{nav}\n\nFourth.\n")
    ingest(db, folder)
    code, out, err = run_cli("reuse", "--json", db=db)
    assert code == 0
    result = json.loads(out)
    texts = {c["text"]: c for c in result["clusters"]}
    cluster = texts[SEED_SENTENCE]
    paths = [a["path"] for a in cluster["appearances"]]
    assert paths[0].startswith("004_") and paths[1] == "later.txt"
    assert cluster["appearances"][0]["gap_days"] == 0 and cluster["words"] == 8
    assert nav in texts and result["boilerplate"] == 0
    code, out, _ = run_cli("reuse", "--json", "--cap", "2", "--min-words", "8", db=db)
    result = json.loads(out)
    assert [c["text"] for c in result["clusters"]] == [SEED_SENTENCE]
    assert result["boilerplate"] == 1  # the navigation line, in three documents
    code, out, err = run_cli("reuse", db=db)
    assert "very productive" in out and "boilerplate" in err


async def test_history_pages_say_reverted_and_copied_from(db, folder):
    from datasette.app import Datasette

    (folder / "a.md").write_text("first wording of the policy\n")
    ingest(db, folder)
    (folder / "a.md").write_text("second wording of the policy\n")
    ingest(db, folder)
    (folder / "a.md").write_text("first wording of the policy\n")
    (folder / "b.md").write_text("second wording of the policy\n")
    ingest(db, folder)
    ds = Datasette([str(db)])
    a = (await ds.client.get("/-/archive/document/1")).text
    assert "reverted to" in a and ">@1</a>" in a
    b = (await ds.client.get("/-/archive/document/2")).text
    assert "copied from" in b and "a.md@2" in b
    reverted = (await ds.client.get("/-/archive/version/3")).text
    assert 'reverted to <a href="/-/archive/version/1">@1</a>' in reverted
    copy = (await ds.client.get("/-/archive/version/4")).text
    assert 'copied from <a href="/-/archive/version/2"><bdi>a.md@2</bdi></a>' in copy


async def test_search_page_finds_japanese_words(db, folder):
    from datasette.app import Datasette

    (folder / "ja.txt").write_text("政府は新しい防災計画を来年から実施すると発表した。\n")
    (folder / "en.txt").write_text("Nothing in Japanese here.\n")
    ingest(db, folder)
    ds = Datasette([str(served(db))])
    html = (await ds.client.get("/-/archive/search?q=防災計画")).text
    assert "ja.txt" in html and "en.txt" not in html


def test_a_long_span_is_never_truncated_however_many_passages_hold_it(db, folder, monkeypatch):
    """Past the cap a short query says `truncated`; a span of 6+ words is checked in full."""
    from archive.passages import trace as trace_module
    from archive.store import Store

    common = "We may share your information with third parties"
    for i in range(12):
        (folder / f"doc{i:02}.md").write_text(f"Policy {i}.\n\nIn case {i}, {common} we trust.\n")
    ingest(db, folder)
    assert run_cli("index", db=db)[0] == 0
    monkeypatch.setattr(trace_module, "MATCH_CAP", 5)
    with Store(db) as store:
        result = trace_module.trace(store, common)
        assert not result["truncated"] and len(result["appearances"]) == 12
        assert result["first"]["path"] == "doc00.md"
        assert trace_module.trace(store, "share your")["truncated"]


def test_terminal_output_shows_control_characters_instead_of_obeying_them(db, folder):
    evil = "Hostile \x1b[31mred\x1b[0m text with a bell\x07 in the middle of it."
    (folder / "evil\x1b[2J.md").write_text(f"{evil}\n")
    (folder / "copy.md").write_text(f"Quoted: {evil}\n")
    ingest(db, folder)
    for args in (("trace", "text with a bell\x07 in the middle"), ("blame", "copy.md"), ("reuse",)):
        code, out, err = run_cli(*args, db=db)
        assert code == 0 and "\x1b" not in out + err and "\x07" not in out + err, args
    _, out, _ = run_cli("trace", "text with a bell\x07 in the middle", db=db)
    assert "evil\\e[2J.md" in out  # escaped as git and ls do (archive.cli.common.shown)
    _, out, _ = run_cli("blame", "copy.md", db=db)
    assert "\\e[31mred" in out and "\\x07" in out


def test_an_exact_copy_is_recorded_though_it_adds_no_new_content(db, folder):
    text = "Terms.\n\nClause one applies.\n"
    (folder / "a.md").write_text(text)
    ingest(db, folder)
    (folder / "b.md").write_text(text)  # git's C100
    ingest(db, folder)
    code, out, _ = run_cli("log", "b.md", "--json", "--follow", db=db)
    versions = json.loads(out)["versions"]
    assert [(v["document"]["path"], v["seq"]) for v in versions] == [("a.md", 1), ("b.md", 1)]


def test_word_blame_walks_at_most_max_chain_versions(db, folder, monkeypatch):
    from archive.passages import blame as blame_module

    doc = folder / "doc.md"
    for n in range(4):
        doc.write_text("kept words " + " ".join(f"w{i}" for i in range(n + 1)) + "\n")
        ingest(db, folder)
    monkeypatch.setattr(blame_module, "MAX_CHAIN", 2)
    code, out, _ = run_cli("blame", "doc.md", "--json", db=db)
    result = json.loads(out)
    assert result["bounded"] is True
    assert [(s["text"], s["seq"]) for s in result["spans"]] == [
        ("kept words w0 w1 w2", 3),  # at or before @3: the walk starts there
        (" w3\n", 4),  # whitespace alone joins the run before it
    ]


def test_russian_and_arabic_spans_are_traced_inside_paragraphs(db, folder):
    ru = "Президент заявил: «Сотрудничество с Ираном очень продуктивно», — и добавил детали."
    ar = "قال الوزير في المؤتمر الصحفي: «سنعمل معا من أجل السلام» ثم غادر القاعة."
    (folder / "ru.txt").write_text(f"Вступление.\n\n{ru}\n")
    (folder / "ar.txt").write_text(f"مقدمة.\n\n{ar}\n")
    ingest(db, folder)
    (folder / "later.txt").write_text("Цитата: сотрудничество с ИРАНОМ очень продуктивно.\n")
    ingest(db, folder)
    code, result, _ = trace(db, "Сотрудничество с Ираном очень продуктивно")
    assert code == 0 and [a["path"] for a in result["appearances"]] == ["ru.txt"]
    code, result, _ = trace(db, "сотрудничество с ираном очень продуктивно", "--normalize")
    assert [a["path"] for a in result["appearances"]] == ["ru.txt", "later.txt"]
    assert result["first"]["path"] == "ru.txt"
    code, result, _ = trace(db, "سنعمل معا من أجل السلام")
    assert code == 0 and result["first"]["path"] == "ar.txt"


async def test_shared_wording_query_lists_the_seed_sentence(db, folder):
    import yaml
    from datasette.app import Datasette

    from tests.conftest import ROOT

    seeded(db, folder)
    (folder / "later.txt").write_text(f"A later note.\n\n{SEED_SENTENCE}\n")
    ingest(db, folder)
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    ds = Datasette([str(served(db))], metadata=metadata)
    rows = (await ds.client.get("/archive/shared_wording.json?_shape=array")).json()
    assert [(r["text"], r["documents"]) for r in rows] == [(SEED_SENTENCE, 2)]
