"""Language of the text with py3langid (a maintained fork of langid.py: a fixed naive Bayes
model shipped in the package, no randomness, so the same text gives the same answer anywhere)."""

from __future__ import annotations

import re
from functools import lru_cache

from .base import Context, Partial

# Characters classified: enough for a stable answer (the model's cost is linear in it).
_SAMPLE = 2_000
_MIN_LETTERS = 20
_LETTERS = re.compile(r"[^\W\d_]")


def _enough_letters(sample: str) -> bool:
    found = _LETTERS.finditer(sample)
    return all(next(found, None) is not None for _ in range(_MIN_LETTERS))


def detect_language(text: str) -> str | None:
    """ISO 639-1 code, or None when there are too few letters to tell."""
    return _classify(text[:_SAMPLE])


@lru_cache(maxsize=1024)
def _classify(sample: str) -> str | None:
    """Revisions of a document mostly keep its opening, so the sample classified repeats:
    cached (the model is deterministic; a few MB at most)."""
    if not _enough_letters(sample):
        return None
    import py3langid

    lang, _score = py3langid.classify(sample)
    return str(lang)


def load_model() -> None:
    """Load the model now rather than at the first text (~0.4 s of CPU, once per process):
    a process about to fork workers calls it, and they share its copy instead of each
    loading their own."""
    import py3langid

    py3langid.classify("")


def extract_language(text: str, ctx: Context) -> Partial:
    return Partial({"language": detect_language(ctx.body)})
