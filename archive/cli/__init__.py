"""The `archive` command: a thin click layer; each command is loaded when it runs.

Commands live in modules by area (archive/cli/<area>.py). COMMANDS is the one place they are
registered: name -> "module:attribute", imported only when that command is run or listed, so
start-up pays for the command in use, not for all of them (click's lazy group pattern).
"""

from __future__ import annotations

import importlib

import click

from archive import __version__

COMMANDS = {
    "blame": "archive.cli.passages:blame",
    "capture": "archive.cli.web:capture",
    "checkpoint": "archive.cli.integrity:checkpoint",
    "cosign": "archive.cli.trust:cosign",
    "diff": "archive.cli.diff:diff",
    "export": "archive.cli.integrity:export",
    "ingest": "archive.cli.ingest:ingest",
    "key": "archive.cli.trust:key",
    "log": "archive.cli.ingest:log",
    "lookup": "archive.cli.integrity:lookup",
    "ls": "archive.cli.documents:ls",
    "meta": "archive.cli.metadata:meta",
    "proof": "archive.cli.integrity:proof",
    "reextract": "archive.cli.metadata:reextract",
    "related": "archive.cli.passages:related",
    "reuse": "archive.cli.passages:reuse",
    "serve": "archive.cli.serve:serve",
    "show": "archive.cli.ingest:show",
    "sign": "archive.cli.trust:sign",
    "timestamp": "archive.cli.trust:timestamp",
    "trace": "archive.cli.passages:trace",
    "verify": "archive.cli.integrity:verify",
    "verify-proof": "archive.cli.integrity:verify_proof",
}


class LazyGroup(click.Group):
    """A group whose commands are imported from COMMANDS on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS and name not in self.commands:
            module, _, attr = COMMANDS[name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """`archive --version`: the release and the diff engine in use (compiled or pure)."""
    if not value or ctx.resilient_parsing:
        return
    from archive.diffs import engine_name

    click.echo(f"archive, version {__version__} (diff engine: {engine_name()})")
    ctx.exit()


@click.group(cls=LazyGroup)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_version,
    help="Show the version and the diff engine in use, then exit.",
)
@click.option(
    "--db",
    default=None,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="The archive file, for any command [$ARCHIVE_DB, else ./archive.db].",
)
def cli(db: str | None) -> None:
    """A document-diff and provenance archive: what a document said, when, and how it changed."""
