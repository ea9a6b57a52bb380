"""Start-up stays cheap: `archive --help` lists every command from SUMMARIES without importing
one, the summaries are the commands' own help, and nothing heavy is loaded before a command
needs it (timings: bench/startup_bench.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from archive.cli import COMMANDS, SUMMARIES, LazyGroup, cli
from tests.conftest import ROOT

# Libraries that cost tens of milliseconds each to import: no listing or help needs them.
HEAVY = (
    "datasette",
    "sqlite_utils",
    "prov",
    "selectolax",
    "pypdf",
    "httpx",
    "cryptography",
    "warcio",
    "wacz",
    "jinja2",
    "yaml",
    "rapidfuzz",
    "langid",
    "numpy",
)

PROBE = """
import json, sys
from archive.cli import cli
try:
    cli(sys.argv[1:], prog_name="archive")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by(*args: str) -> set[str]:
    """The modules a fresh `archive ARGS...` process has imported when it is done."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def fresh_lazy_group() -> LazyGroup:
    """A group like `archive`'s, with no command loaded yet."""
    return LazyGroup("archive", params=cli.params, callback=cli.callback, help=cli.help)


def eager_group() -> click.Group:
    """The same group with every command imported: click's own listing is the reference."""
    ctx = click.Context(cli)
    commands = {name: cli.get_command(ctx, name) for name in COMMANDS}
    return click.Group("archive", params=cli.params, commands=commands, help=cli.help)


def test_every_command_has_a_summary_equal_to_its_docstrings_first_sentence():
    assert set(SUMMARIES) == set(COMMANDS)
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and not command.hidden
        assert SUMMARIES[name] == command.get_short_help_str(limit=10**6), (
            f"SUMMARIES[{name!r}] drifted from the command's help: copy its first sentence"
        )


@pytest.mark.parametrize("width", [50, 80, 120])
def test_the_lazy_listing_is_clicks_own_listing(width):
    lazy = CliRunner().invoke(fresh_lazy_group(), ["--help"], terminal_width=width)
    eager = CliRunner().invoke(eager_group(), ["--help"], terminal_width=width)
    assert lazy.exit_code == 0 and eager.exit_code == 0
    assert lazy.output == eager.output
    assert all(f"  {name} " in lazy.output for name in COMMANDS)


def test_a_drifted_summary_changes_the_listing(monkeypatch):
    monkeypatch.setitem(SUMMARIES, "lookup", "Something else entirely.")
    lazy = CliRunner().invoke(fresh_lazy_group(), ["--help"], terminal_width=100)
    eager = CliRunner().invoke(eager_group(), ["--help"], terminal_width=100)
    assert "Something else entirely." in lazy.output
    assert lazy.output != eager.output


def test_help_imports_no_command_module_and_nothing_heavy():
    loaded = loaded_by("--help")
    assert not [m for m in loaded if m.startswith("archive.cli.") and m != "archive.cli.common"]
    assert "archive.cli.common" not in loaded
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]
    assert not [m for m in loaded if m.startswith(("archive.store", "archive.record"))]


@pytest.mark.parametrize("command", ["lookup", "verify", "export", "key", "capture", "serve"])
def test_a_commands_help_loads_only_its_module(command):
    loaded = loaded_by(command, "--help")
    assert not [m for m in loaded if m.split(".")[0] in HEAVY], command
    assert "archive.store" not in loaded, command


def test_lookup_loads_the_store_but_no_library_it_does_not_use(tmp_path):
    (tmp_path / "a.txt").write_text("hello\n")
    db = tmp_path / "a.db"
    CliRunner().invoke(cli, ["ingest", str(tmp_path), "--db", str(db)], catch_exceptions=False)
    loaded = loaded_by("lookup", "--db", str(db), str(tmp_path / "a.txt"))
    assert {"archive.store", "archive.lookup"} <= loaded
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]


def test_capture_help_names_the_default_web_source():
    from archive.record.web import DEFAULT_SOURCE

    result = CliRunner().invoke(cli, ["capture", "--help"], terminal_width=200)
    assert f"[{DEFAULT_SOURCE}]" in result.output
