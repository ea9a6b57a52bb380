"""Quotations and word counts in German, Japanese, Arabic and Russian texts."""

from __future__ import annotations

import pytest

from ingest.extract import extract
from ingest.extract.counts import counts, word_count
from ingest.extract.quotes import OPENERS, find_quotes

GERMAN = (
    "Die Kanzlerin sagte am Montag: „Wir werden die Energiewende gemeinsam schaffen.“ "
    "Ein Sprecher ergänzte, man habe ‚keine Zeit zu verlieren‘ und verwies auf "
    "»die Beschlüsse des Kabinetts vom Mai«.\n"
)
JAPANESE = (
    "首相は記者会見で「防災計画を早急に見直す」と述べ、『地域の安全を最優先にする』と強調した。\n"
)
ARABIC = "قال الوزير في المؤتمر الصحفي: «سنعمل معا من أجل السلام» ثم غادر القاعة.\n"
RUSSIAN = "Президент заявил: «Сотрудничество с Ираном очень продуктивно», — и добавил детали.\n"


def quotes(text: str) -> list[tuple[str, str]]:
    return [(q.text, q.marks) for q in find_quotes(text)]


def test_german_low_high_single_and_reversed_guillemets():
    assert quotes(GERMAN) == [
        ("Wir werden die Energiewende gemeinsam schaffen.", "„“"),
        ("keine Zeit zu verlieren", "‚‘"),
        ("die Beschlüsse des Kabinetts vom Mai", "»«"),
    ]


def test_japanese_corner_brackets_count_characters_as_words():
    assert quotes(JAPANESE) == [
        ("防災計画を早急に見直す", "「」"),
        ("地域の安全を最優先にする", "『』"),
    ]
    # Under three characters is not a quotation, as under three words elsewhere.
    assert quotes("彼は「はい」と言った。") == []


def test_arabic_and_russian_guillemets():
    assert quotes(ARABIC) == [("سنعمل معا من أجل السلام", "«»")]
    assert quotes(RUSSIAN) == [("Сотрудничество с Ираном очень продуктивно", "«»")]


def test_apostrophes_still_never_close_a_low_single_quote():
    assert quotes("Er sagte ‚das geht’s nicht so‘ heute.") == [("das geht’s nicht so", "‚‘")]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (GERMAN, 29),
        (JAPANESE, 39),
        (ARABIC, 13),
        (RUSSIAN, 10),
        ("防災計画", 4),
        ("GDP成長率は2.5%", 6),  # GDP, 成, 長, 率, は, 2.5%
        ("a — b", 2),
    ],
)
def test_word_counts(text, words):
    assert word_count(text) == words
    assert counts(text)["word_count"] == words


def test_extract_records_japanese_quotes_and_count():
    result = extract(JAPANESE, media_type="text/plain", path="ja.txt", encoding="utf-8")
    assert result.fields["word_count"] == 39
    assert ("防災計画を早急に見直す", "「」") in [
        (v, d) for k, _, v, d in result.items if k == "quote"
    ]


def test_openers_cover_every_style():
    assert set('“«»„‚「『"') <= set(OPENERS)


def test_the_passage_store_prefilters_on_the_same_openers():
    from archive.store.passage_store import QUOTE_OPENERS, text_quotes

    assert set(QUOTE_OPENERS) == set(OPENERS)
    assert [q for q, _ in text_quotes(JAPANESE)] == [
        "防災計画を早急に見直す",
        "地域の安全を最優先にする",
    ]
