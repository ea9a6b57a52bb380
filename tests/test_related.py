"""Related documents: the seed reports relate to each other more than to an unrelated text."""

from __future__ import annotations

import json
import shutil

from archive.passages.related import jaccard_estimate, shingles, sketch
from tests.conftest import CORPUS, run_cli

UNRELATED = (
    "Preheat the oven to two hundred degrees. Mix the flour, the butter and a pinch of salt\n\n"
    "until the dough is smooth, then rest it in the fridge for an hour before rolling it out.\n"
)


def test_sketch_is_deterministic_and_estimates_jaccard():
    a = shingles("the quick brown fox jumps over the lazy dog " * 3)
    assert shingles("The QUICK brown fox") == shingles("the quick brown fox")
    assert sketch(a) == sketch(set(a))
    assert jaccard_estimate(sketch(a), sketch(a)) == 1.0
    assert jaccard_estimate(sketch(a), sketch(shingles(UNRELATED))) == 0.0


def test_seed_reports_are_related_to_each_other_more_than_to_an_unrelated_document(db, folder):
    for path in CORPUS.iterdir():
        shutil.copy(path, folder / path.name)
    (folder / "recipe.txt").write_text(UNRELATED)
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    code, out, _ = run_cli("related", "000_7757f9e639917cb7.txt", "--json", db=db)
    assert code == 0
    rows = {r["path"]: r for r in json.loads(out)["related"]}
    assert rows["004_2437b915e45a5cf0.txt"]["score"] > 0
    unrelated = rows.get("recipe.txt", {"score": 0.0})["score"]
    assert rows["004_2437b915e45a5cf0.txt"]["score"] > unrelated
    code, out, _ = run_cli("related", "recipe.txt", "--json", db=db)
    assert all(
        r["score"] < rows["004_2437b915e45a5cf0.txt"]["score"] for r in json.loads(out)["related"]
    )


def test_seed_reports_rank_together_with_reasons(db, folder):
    """The two reports of one meeting share names, not wording: the score says so."""
    for path in CORPUS.iterdir():
        shutil.copy(path, folder / path.name)
    (folder / "recipe.txt").write_text(UNRELATED)
    (folder / "policy.txt").write_text(
        "Google Privacy Policy. When you use our services, Google collects information "
        "about you. Google Analytics and YouTube share data with partners in Europe.\n"
    )
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    code, out, _ = run_cli("related", "000_7757f9e639917cb7.txt", "--json", db=db)
    ranked = json.loads(out)["related"]
    top = ranked[0]
    assert top["path"] == "004_2437b915e45a5cf0.txt"
    assert top["score"] > 0.05  # the MinHash alone gave 0.004
    assert {"khamenei", "putin", "iran", "russia", "tehran"} <= set(top["shared_entities"])
    assert all(r["score"] < top["score"] / 3 for r in ranked[1:])
    code, out, _ = run_cli("related", "000_7757f9e639917cb7.txt", db=db)
    assert "names: america, americans" in out.splitlines()[0] and "iran" in out


def test_a_reworded_quotation_is_a_reason(db, folder):
    (folder / "a.txt").write_text(
        "He said: “We will never accept their bullying over the nuclear deal,” and left.\n"
    )
    (folder / "b.txt").write_text(
        "Reports quote him: «We shall never accept bullying over the nuclear deal».\n"
    )
    assert run_cli("ingest", str(folder), db=db)[0] == 0
    code, out, _ = run_cli("related", "a.txt", "--json", db=db)
    [row] = json.loads(out)["related"]
    [quote] = row["fuzzy_quotes"]
    assert quote["matched"] == "We shall never accept bullying over the nuclear deal"
    assert 70 <= quote["score"] < 100 and row["shared_quotes"] == 0
