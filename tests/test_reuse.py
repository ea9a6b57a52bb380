"""Reuse keys (sentences, any quote style or case), clusters with time gaps, named entities."""

from __future__ import annotations

from archive.passages.reuse import (
    entities,
    reuse_keys,
    sentence_of,
    sentences,
)

TEXT = (
    "Since the deal was reached in 2015, Khamenei has continued to denounce the United States "
    "publicly. Putin praised cooperation with Iran as “very productive”. Short one."
)


def test_sentences_keep_their_marks_and_split_cjk():
    assert sentences("He said “this is it.” Then he left!\nNext") == [
        "He said “this is it.”",
        "Then he left!",
        "Next",
    ]
    assert sentences("東京は晴れ。大阪は雨！") == ["東京は晴れ。", "大阪は雨！"]


def test_reuse_keys_ignore_case_quotes_and_spacing_and_short_sentences():
    found = dict(reuse_keys(TEXT))
    assert len(found) == 2  # "Short one." is under six words
    other = dict(reuse_keys('PUTIN praised  cooperation with Iran as "very productive"!'))
    assert set(other) <= set(found)
    key = next(iter(other))
    assert sentence_of(TEXT, key) == "Putin praised cooperation with Iran as “very productive”."
    assert found[key] == 8


def test_entities_are_folded_names_without_sentence_openers():
    found = entities("The Russian President Vladimir Putin met Khamenei. During Putin’s visit.")
    assert {"putin", "khamenei", "vladimir", "russian president vladimir putin"} <= found
    assert "the" not in found and "during" not in found and "putin’s" not in found


def test_one_pass_gives_the_index_keys_and_the_sentence_keys():
    from archive.passages.reuse import passage_keys
    from archive.passages.spans import fold, keys

    for text in (TEXT, "東京は晴れ。大阪は雨！ Mixed text, with „quotes“.\nNext line here"):
        every, keyed = passage_keys(fold(text))
        assert every == keys(text)
        assert keyed == reuse_keys(text)


def test_a_lone_capital_opening_a_sentence_is_no_name():
    found = entities("Additionally, we share data. Accounts close.\n- Cookies help.\nAsk Google.")
    assert found == {"google"}
    assert entities("Putin spoke. Then Putin left.") == {"putin"}
