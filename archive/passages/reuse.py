"""Wording shared across documents: sentences as reuse keys, clusters, named entities (pure).

Why: "where did this wording go" is asked of the whole archive, not of one query. The unit is
the sentence (at least REUSE_MIN_WORDS tokens): its key is the BLAKE3 of its token keys
(archive.passages.spans: NFKC, case-folded, quote style and spacing ignored), so the same
sentence inside different paragraphs, documents or quote styles has one key. A key held by
passages of two or more documents is a reuse cluster: its first appearance, then each later
document with the time since the first (the store keeps, per key, each document's first
version holding it: `reuse_documents`). A key in more than BOILERPLATE_CAP documents
(navigation, licence text) is counted as boilerplate and not listed.

Named entities (for related documents) are runs of capitalised words, folded, without the
function words that start sentences: a cheap signal that two reports are about the same people
and places, whatever their wording.
"""

from __future__ import annotations

import re

from blake3 import blake3

from archive.diffs import words
from archive.passages.spans import fold, keys, spaced_cjk

REUSE_MIN_WORDS = 6  # shortest sentence kept as a reuse key
BOILERPLATE_CAP = 20  # documents sharing a sentence beyond which it is boilerplate

# Where a sentence ends: . ! ? … (with closing marks) before a space, 。！？, a line break.
_KEY_SPLIT = re.compile(r"[.!?…][\"'”’»」』)\]]*\s|[。！？]|\n")


def sentences(text: str) -> list[str]:
    """The text's sentences as written (end marks kept), stripped, in order."""
    out: list[str] = []
    start = 0
    for m in _KEY_SPLIT.finditer(text):
        piece = text[start : m.end()].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def sentence_key(token_keys: list[str]) -> int:
    """A sentence's reuse key: signed 64-bit BLAKE3 of its token keys (an SQLite integer)."""
    digest = blake3(" ".join(token_keys).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def reuse_keys(text: str, min_words: int = REUSE_MIN_WORDS, folded: bool = False) -> list:
    """(key, words) of each sentence of at least min_words tokens, each key once.

    Sentences are cut in the folded text (one NFKC + case fold per passage, one split in C),
    so keys depend on the wording only. folded: text is already `fold`ed."""
    return passage_keys(text if folded else fold(text), min_words)[1]


def passage_keys(folded: str, min_words: int = REUSE_MIN_WORDS) -> tuple[list[str], list]:
    """(the token keys of a folded passage, its sentences' (reuse key, words)): one pass.

    The sentence ends hold no word character, so the sentences' keys joined are exactly the
    passage's keys (`spans.folded_keys`)."""
    out: dict[int, int] = {}
    every: list[str] = []
    for piece in _KEY_SPLIT.split(spaced_cjk(folded)):
        ks = words(piece)
        every.extend(ks)
        if len(ks) >= min_words:
            out.setdefault(sentence_key(ks), len(ks))
    return every, list(out.items())


def sentence_of(text: str, key: int) -> str | None:
    """The sentence of text, as written, whose reuse key is `key` (None if none is)."""
    for sentence in sentences(text):
        if sentence_key(keys(sentence)) == key:
            return sentence
    return None


_CAPITAL = re.compile(r"[A-ZÀ-ÞА-ЯЁΑ-Ω][\w’'\-.]*(?:\s+[A-ZÀ-ÞА-ЯЁΑ-Ω][\w’'\-.]*)*")
_FUNCTION = frozenset(
    (
        "a an and as at but by for from he her his i if in it its mr mrs ms no not of on or "
        "our she so that the their then there these they this those to we what when where "
        "which while who why will with you during since although however after before"
    ).split()
)


# What may stand between a sentence's start and its first word: spaces, quote marks, brackets,
# list and heading marks.
_LEAD = " \t\"'“”„«»‘’‚([{*#>•–—-"
_SENTENCE_START = ".!?:;\n\r"


def _starts_sentence(text: str, at: int) -> bool:
    """Whether the word at `at` opens a sentence, a line or a list item (its capital letter
    says nothing then)."""
    before = text[:at].rstrip(_LEAD)
    return not before or before[-1] in _SENTENCE_START or before[-1].isdigit()


def entities(text: str) -> set[str]:
    """Folded names: runs of capitalised words, each run and each of its words, less
    function words and one-letter tokens. The first word of a sentence is left out (every
    sentence's first word is capitalised); a name counts where it stands inside one."""
    out: set[str] = set()
    for m in _CAPITAL.finditer(text):
        words = [re.sub(r"[’']s$", "", w).strip(".’'-") for w in m.group().split()]
        if _starts_sentence(text, m.start()):
            words = words[1:]  # capitalised as a sentence's first word, not as a name
        words = [w for w in words if len(w) > 1 and fold(w) not in _FUNCTION]
        if not words:
            continue
        out.update(fold(w) for w in words)
        if len(words) > 1:
            out.add(fold(" ".join(words)))
    return out
