"""Language of the text with py3langid (a maintained fork of langid.py: a fixed naive Bayes
model shipped in the package, no randomness, so the same text gives the same answer anywhere).

The model ships LZMA-compressed: inflating it costs ~0.4 s of CPU in every process that
classifies. So the first process to need it keeps the library's own arrays, as loaded,
uncompressed in the user's cache (`model_cache_dir`), and every later process maps them
(a few ms, and the pages are shared between an import's workers). The arrays are the
model's, untouched: the answers are the library's own (a test holds them to it).

Revisions of a document change a few lines of the sample classified, so the model's walk over
its bytes (a deterministic automaton, in Python: most of a classification's cost) is done
line by line and kept: the features a line emits and the state it leaves depend only on the
state it starts in and its bytes. The features joined are the walk's over the whole sample,
in the same order, so the scores are the library's, bit for bit.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from .base import Context, Partial

# Characters classified: enough for a stable answer (the model's cost is linear in it).
_SAMPLE = 2_000
_MIN_LETTERS = 20
_LETTERS = re.compile(r"[^\W\d_]")
# The arrays of py3langid's model (modelio.load_model's tuple, in its order), one .npy each.
_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")
# Lines of samples whose walk is kept, per process (a line of ~100 bytes: a few MB at most).
_WALKS = 1 << 14
_LINES = re.compile(rb"[^\n]*\n|[^\n]+")


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
    lang, _score = identifier().classify(sample)
    return str(lang)


def model_cache_dir() -> Path:
    """Where the uncompressed model is kept: ARCHIVE_CACHE_DIR, else the user's cache
    ($XDG_CACHE_HOME or ~/.cache) under provenance-archive/."""
    if explicit := os.environ.get("ARCHIVE_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "provenance-archive"


def model_file() -> Path:
    from py3langid import langid

    return langid.MODEL_DIR / langid.MODEL_FILE


def cached_model(model: Path) -> Path:
    """The folder holding this model file's arrays uncompressed (named by the file's BLAKE3,
    so a new py3langid release gets its own), made on first use: written aside, then
    renamed into place, so a reader never sees it half-written."""
    from blake3 import blake3

    key = blake3(model.read_bytes()).hexdigest()[:32]
    folder = model_cache_dir() / f"py3langid-{key}"
    if folder.is_dir():
        return folder
    import numpy as np
    from py3langid.modelio import load_model as inflate

    folder.parent.mkdir(parents=True, exist_ok=True)
    arrays = inflate(model)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".langid-") as tmp:
        for name, values in zip(_ARRAYS, arrays, strict=True):
            np.save(Path(tmp) / f"{name}.npy", np.asarray(values), allow_pickle=False)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process put it there first: theirs is the same
            if not folder.is_dir():
                raise
        else:
            os.mkdir(tmp)  # for TemporaryDirectory's cleanup
    return folder


def _walk(nextmove: Any, rowbase: list[int], output: list[int], state: int, data: bytes):
    """py3langid's `visit_counts` loop from a given state: (features, state it ends in)."""
    found: list[int] = []
    append = found.append
    for letter in data:
        state = nextmove[rowbase[state] + letter]
        feature = output[state]
        if feature >= 0:
            append(feature)
    return tuple(found), state


def line_visits(identifier: Any, data: bytes, walks: dict) -> Counter | None:
    """`visit_counts` of the bytes (feature -> count, in order of first visit, or None),
    walked line by line from the state the line before left, each (state, line) once:
    `walks` keeps them."""
    nextmove, rowbase, output = identifier.tk_nextmove, identifier._rowbase, identifier.tk_output
    state = 0
    found: list[int] = []
    for line in _LINES.findall(data):
        walked = walks.get((state, line))
        if walked is None:
            walked = _walk(nextmove, rowbase, output, state, line)
            if len(walks) >= _WALKS:
                del walks[next(iter(walks))]
            walks[state, line] = walked
        found += walked[0]
        state = walked[1]
    return Counter(found) if found else None


@lru_cache(maxsize=1)
def _line_walking() -> type:
    """py3langid's LanguageIdentifier, its byte walk done by `line_visits` (the scores are
    then computed by the library itself, from the same counts)."""
    from py3langid.langid import LanguageIdentifier

    class LineWalking(LanguageIdentifier):
        __slots__ = ("walks",)

        def _raw_score(self, text: bytes) -> Any:
            visits = line_visits(self, text, self.walks)
            if visits is None:  # no feature: the library's own answer for that
                return super()._raw_score(text)
            return self._sparse_score(visits, self.nb_ptc)

    return LineWalking


def mapped_identifier(folder: Path) -> Any:
    """py3langid's LanguageIdentifier over the cached arrays, mapped, not read: its DFA
    walks a memoryview of them exactly as it walks the arrays modelio makes."""
    import numpy as np

    loaded = {
        name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _ARRAYS
    }
    nextmove = memoryview(loaded["nextmove"])
    if nextmove.format not in ("I", "L") or nextmove.itemsize != 4:
        raise ValueError("cached model: transitions are not native uint32")
    model = _line_walking()(
        loaded["ptc"],
        np.asarray(loaded["pc"]),
        loaded["classes"].tolist(),
        nextmove,
        loaded["out_feat"].tolist(),
        tk_row=loaded["nextmove_row"].tolist(),
    )
    model.walks = {}
    return model


@lru_cache(maxsize=1)
def identifier() -> Any:
    """The model, loaded once per process, the first time a text needs it: from the
    uncompressed cache when it can be kept, else as py3langid loads it itself."""
    try:
        return mapped_identifier(cached_model(model_file()))
    except (OSError, ValueError):
        from py3langid.langid import _get_identifier

        return _get_identifier()


def load_model() -> None:
    """Load the model now rather than at the first text (e.g. before timing a loop)."""
    identifier()


def extract_language(text: str, ctx: Context) -> Partial:
    return Partial({"language": detect_language(ctx.body)})
