"""The language model kept uncompressed in the user's cache: the library's answers, made once,
mapped after, and the library's own loading when no cache can be kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import py3langid
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.extract import language
from ingest.extract.language import (
    cached_model,
    detect_language,
    identifier,
    mapped_identifier,
    model_file,
)

TEXTS = [
    "Ceci est un texte en français, assez long pour que le modèle décide. " * 3,
    "Die Kanzlerin sagte am Montag, man werde die Energiewende gemeinsam schaffen.",
    "首相は記者会見で防災計画を早急に見直すと述べ、地域の安全を最優先にすると強調した。",
    "قال الوزير في المؤتمر الصحفي سنعمل معا من أجل السلام ثم غادر القاعة.",
    "Президент заявил, что сотрудничество очень продуктивно, и добавил детали.",
    "These terms govern your use of the service; by using it you accept them. " * 40,
    "",
]


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache folder of its own, and no model loaded yet in this process."""
    monkeypatch.setenv("ARCHIVE_CACHE_DIR", str(tmp_path / "cache"))
    identifier.cache_clear()
    language._classify.cache_clear()
    yield tmp_path / "cache"
    identifier.cache_clear()
    language._classify.cache_clear()


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> object:
    return mapped_identifier(cached_model_in(tmp_path_factory.mktemp("cache")))


def cached_model_in(folder: Path) -> Path:
    with pytest.MonkeyPatch.context() as m:
        m.setenv("ARCHIVE_CACHE_DIR", str(folder))
        return cached_model(model_file())


def test_the_mapped_model_gives_the_library_answers(mapped: object) -> None:
    for text in TEXTS:
        assert mapped.classify(text) == py3langid.classify(text)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_the_mapped_model_scores_any_text_as_the_library(mapped: object, text: str) -> None:
    assert mapped.classify(text) == py3langid.classify(text)


def test_the_cache_is_made_once_then_only_mapped(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = cached_model(model_file())
    assert folder.parent == fresh and sorted(p.name for p in folder.iterdir()) == sorted(
        f"{name}.npy" for name in language._ARRAYS
    )
    assert not [p for p in fresh.iterdir() if p.name.startswith(".")]  # nothing left aside

    def no_inflating(path: object) -> None:
        raise AssertionError("the model was inflated again")

    monkeypatch.setattr("py3langid.modelio.load_model", no_inflating)
    assert cached_model(model_file()) == folder
    assert detect_language(TEXTS[0]) == "fr"


def test_without_a_cache_the_library_loads_its_model(fresh: Path) -> None:
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_text("a file where the cache folder would go")
    assert detect_language(TEXTS[0]) == "fr"
    assert identifier() is py3langid.langid._get_identifier()
