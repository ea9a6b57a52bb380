"""Language of the text with py3langid (a maintained fork of langid.py: a fixed naive Bayes
model shipped in the package, no randomness, so the same text gives the same answer anywhere)."""

from __future__ import annotations

from .base import Context, Partial

_SAMPLE = 20_000  # characters: enough for a stable answer, cheap on huge documents
_MIN_LETTERS = 20


def detect_language(text: str) -> str | None:
    """ISO 639-1 code, or None when there are too few letters to tell."""
    sample = text[:_SAMPLE]
    if sum(1 for c in sample if c.isalpha()) < _MIN_LETTERS:
        return None
    import py3langid

    lang, _score = py3langid.classify(sample)
    return str(lang)


def extract_language(text: str, ctx: Context) -> Partial:
    return Partial({"language": detect_language(ctx.body)})
