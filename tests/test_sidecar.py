"""Sidecars, front matter and file-name identifiers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.extract import extract
from ingest.sidecar import (
    SIDECAR_SUFFIXES,
    SidecarError,
    filename_identifiers,
    front_matter,
    is_sidecar,
    parse_sidecar,
)

FIX = Path(__file__).parent / "fixtures" / "extract"


def test_is_sidecar() -> None:
    assert SIDECAR_SUFFIXES == (".meta.yml", ".meta.yaml", ".meta.json")
    assert is_sidecar("dir/story.txt.meta.yml")
    assert is_sidecar("STORY.TXT.META.JSON")
    assert not is_sidecar("story.txt")
    assert not is_sidecar("meta.yml")


def test_yaml_sidecar_normalised() -> None:
    meta = parse_sidecar("story.txt.meta.yml", (FIX / "story.txt.meta.yml").read_bytes())
    assert meta == {
        "source_url": "https://example.org/story",
        "publisher": "Example Press",
        "retrieved_at": "2024-03-01T12:00:00",
        "author": "Jane Doe; John Roe",
        "licence": "CC-BY-4.0",
        "notes": "copied by hand",
        "section": "World",
    }


def test_json_sidecar_normalised() -> None:
    meta = parse_sidecar("story.txt.meta.json", (FIX / "story.txt.meta.json").read_bytes())
    assert meta["source_url"] == "https://example.org/story"
    assert meta["retrieved_at"] == "2024-03-01"
    assert meta["licence"] == "CC0-1.0"
    assert meta["page"] == 3


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bad.meta.yml", (FIX / "bad.meta.yml").read_bytes(), "malformed YAML"),
        ("bad.meta.json", b'{"url": ', "malformed JSON"),
        ("list.meta.yml", b"- a\n- b\n", "expected a mapping, got list"),
        ("s.meta.json", b'"just a string"', "expected a mapping, got str"),
        ("d.meta.yml", b"retrieved_at: last tuesday\n", "not an ISO 8601 date"),
        ("c.meta.yml", b"url: https://a\nsource_url: https://b\n", "conflicting"),
        ("b.meta.yml", b"\xff\xfe\x00junk", "not UTF-8"),
    ],
)
def test_malformed_sidecar(name: str, data: bytes, message: str) -> None:
    with pytest.raises(SidecarError, match=message) as info:
        parse_sidecar(name, data)
    assert "\n" not in str(info.value)


def test_yaml_alias_bomb_is_cheap() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 25):
        bomb += f"a{i}: &a{i} [*a{i - 1 if i > 1 else ''}, *a{i - 1 if i > 1 else ''}]\n".replace(
            "*a0", "*a"
        )
    with pytest.raises(SidecarError, match="too deep"):
        parse_sidecar("bomb.meta.yml", bomb.encode())


def test_front_matter_markdown() -> None:
    text = (FIX / "note.md").read_text(encoding="utf-8")
    meta, offset = front_matter(text)
    assert text[offset:].startswith("# Summit notes\n")
    assert meta["title"] == "Front matter title"
    assert meta["source_url"] == "https://example.org/note"
    assert meta["retrieved_at"] == "2024-03-01T12:00:00+00:00"
    assert meta["licence"] == "CC-BY-4.0"
    assert meta["tags"] == ["summit", "diplomacy"]


def test_front_matter_absent_and_crlf() -> None:
    assert front_matter("no front matter\n---\n") == ({}, 0)
    assert front_matter("") == ({}, 0)
    text = "---\r\ntitle: X\r\n---\r\nBody"
    meta, offset = front_matter(text)
    assert meta == {"title": "X"} and text[offset:] == "Body"


@pytest.mark.parametrize(
    "text",
    [(FIX / "broken_front.md").read_text(), "---\ntitle: x\nno closing fence\n", "---\n- a\n---\n"],
)
def test_front_matter_malformed(text: str) -> None:
    with pytest.raises(SidecarError, match="^front matter: "):
        front_matter(text)


def test_malformed_front_matter_is_a_problem_not_a_crash() -> None:
    text = (FIX / "broken_front.md").read_text()
    e = extract(text, media_type="text/markdown", path="broken_front.md", encoding="utf-8")
    assert len(e.problems) == 1 and e.problems[0].startswith("front_matter: SidecarError")
    assert e.fields["word_count"] == 3  # the other extractors still ran


def test_markdown_extraction_with_front_matter() -> None:
    text = (FIX / "note.md").read_text(encoding="utf-8")
    e = extract(text, media_type="text/markdown", path="note.md", encoding="utf-8")
    assert e.problems == []
    assert e.fields["title"] == "Summit notes"
    assert e.fields["fm_title"] == "Front matter title"
    assert e.fields["source_url"] == "https://example.org/note"
    assert e.fields["publisher"] == "Example Press"
    assert [(v, d) for k, _, v, d in e.items if k == "heading"] == [
        ("Summit notes", "h1"),
        ("Background", "h2"),
    ]
    assert [v for k, _, v, _ in e.items if k == "tag"] == ["summit", "diplomacy"]
    assert ("date", 0, "2018-09-07", "7 September 2018") in e.items


def test_filename_identifiers() -> None:
    assert filename_identifiers("corpus/000_7757f9e639917cb7.txt") == {
        "corpus_number": "000",
        "identifier": "7757f9e639917cb7",
    }
    assert filename_identifiers("004_2437b915e45a5cf0.html")["identifier"] == "2437b915e45a5cf0"
    for other in ("story.txt", "000_7757f9e639917cb.txt", "0000_7757f9e639917cb7.txt", "000_x.txt"):
        assert filename_identifiers(other) == {}


@given(st.text(max_size=300))
def test_front_matter_total(text: str) -> None:
    """Any text: either a (mapping, offset within the text) or a one-line SidecarError."""
    try:
        meta, offset = front_matter(text)
    except SidecarError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(meta, dict) and 0 <= offset <= len(text)
    if offset == 0:
        assert meta == {}
