"""The `archive` command: a thin click layer; each command is loaded when it runs.

Commands live in modules by area (archive/cli/<area>.py). COMMANDS is the one place they are
registered: name -> "module:attribute", imported only when that command runs, so start-up
pays for the command in use, not for all of them (click's lazy group pattern). `archive
--help` lists them from SUMMARIES (each command's one-line help) without importing any:
tests/test_startup.py fails when a summary drifts from its command's docstring.
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
    "index": "archive.cli.passages:index",
    "ingest": "archive.cli.ingest:ingest",
    "key": "archive.cli.trust:key",
    "log": "archive.cli.ingest:log",
    "lookup": "archive.cli.integrity:lookup",
    "ls": "archive.cli.documents:ls",
    "meta": "archive.cli.metadata:meta",
    "package": "archive.cli.serve:package",
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

# The first sentence of each command's docstring, as click shortens it for `archive --help`.
SUMMARIES = {
    "blame": "Show which version brought each word of VERSION (<document>[@n]) into the document.",
    "capture": "Fetch URLS (or --urls FILE) into a new WARC, keep it, and ingest it.",
    "checkpoint": "Print the latest checkpoint as a signed note (C2SP) for publishing elsewhere.",
    "cosign": (
        "Witness a checkpoint NOTE: check the log's signature and that it extends the tree this"
        " witness cosigned before, then print the note with a cosignature/v1 line added."
    ),
    "diff": "Show how B differs from A; with A alone, version A against the one before it.",
    "export": "Export the archive in standard formats (manifests, BagIt, OCFL, W3C PROV, WACZ).",
    "index": "Bring the search indexes (text search, trace, reuse) up to date, ahead of use.",
    "ingest": (
        "Ingest FOLDER (or --git REPO, or --warc FILE...): store new contents, record changes."
    ),
    "key": "Signing keys (Ed25519, in the C2SP signed-note / Go sumdb/note formats).",
    "log": (
        "List the versions of DOCUMENT (a stored path, source:path, a path on disk, an old "
        "path, or its id); without DOCUMENT, the documents (as `archive ls`)."
    ),
    "lookup": (
        "Where did this exact content appear? FILE is hashed; HASH is a BLAKE3/SHA-256 prefix."
    ),
    "ls": (
        "List documents as `source:path` (names every command accepts), with their number of "
        "versions, status and size; PATTERN filters paths (shell-style: '*.md', 'terms/*')."
    ),
    "meta": "Show VERSION's (<document>[@n]) extracted fields, items and source provenance.",
    "package": "Write a deployable bundle of the archive's read side into the new directory DEST.",
    "proof": "Print an inclusion proof for VERSION, or a consistency proof, as JSON.",
    "reextract": "Recompute extracted metadata of contents whose metadata is missing or outdated.",
    "related": (
        "Documents related to DOCUMENT, most first: shared names, wording (MinHash), sentences "
        "and quotations (exact or reworded), each row with the reasons behind its score."
    ),
    "reuse": (
        "Wording shared by different documents: each sentence's first appearance, then each "
        "later document with the days since (clusters oldest first)."
    ),
    "serve": "Serve a read-only snapshot of the archive in Datasette.",
    "show": "Write the exact bytes of VERSION (<document>@<n>, default the latest) to stdout.",
    "sign": "Sign the latest checkpoint and print it as a signed note.",
    "timestamp": "Have a TSA time-stamp the latest signed checkpoint note; keep its token.",
    "trace": (
        "Where a text (any span of it) or a passage (its BLAKE3 hex) first appeared, and every "
        "document and range of versions that carries it."
    ),
    "verify": (
        "Check every hash, leaf and checkpoint, and re-derive what no leaf states; one line"
        " per failure."
    ),
    "verify-proof": "Check a proof JSON (from `archive proof`) offline; FILE may be - for stdin.",
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

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from SUMMARIES: stand-ins carry the help of unloaded commands."""
        stand_ins = {
            name: click.Command(name, help=SUMMARIES[name])
            for name in COMMANDS
            if name in SUMMARIES and name not in self.commands
        }
        listing = click.Group(self.name, commands={**stand_ins, **self.commands})
        for name in self.list_commands(ctx):
            if name not in listing.commands:  # no summary: load the command itself
                listing.add_command(self.get_command(ctx, name), name)
        listing.format_commands(ctx, formatter)


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
