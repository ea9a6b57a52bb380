"""The README's command list and command reference are generated from the click CLI by cog
(`cog -r README.md`): these tests fail when a command's help changes and the README does not."""

from __future__ import annotations

from pathlib import Path

from cogapp import Cog

from tests.conftest import ROOT

README = ROOT / "README.md"


def cog_check(path: Path) -> int:
    """cog's exit status for `cog --check path`: 0 when the generated parts are current."""
    return Cog().main(["cog", "--check", str(path)])


def test_readme_is_generated_from_the_cli():
    assert cog_check(README) == 0, "README.md is out of date: run `cog -r README.md`"


def test_a_readme_behind_the_cli_fails_the_check(tmp_path):
    text = README.read_text(encoding="utf-8")
    assert (
        "| `archive trace` |" in text
        and "Usage: archive ingest [OPTIONS] [FOLDER | FILE...]" in text
    )
    for old, new in (
        ("Usage: archive ingest [OPTIONS] [FOLDER | FILE...]", "Usage: archive ingest [OPTIONS]"),
        ("| `archive trace` |", "| `archive trace2` |"),
    ):
        stale = tmp_path / "README.md"
        stale.write_text(text.replace(old, new, 1), encoding="utf-8")
        assert cog_check(stale) != 0, old


def test_the_first_two_commands_stay_make_demo_and_make_test():
    block = README.read_text(encoding="utf-8").split("```")[1].strip().splitlines()
    assert [line.split("#")[0].strip() for line in block] == ["make demo", "make test"]
