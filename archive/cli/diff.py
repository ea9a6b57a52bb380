"""`archive diff`: the word diff between two versions, contents or files, on demand.

Either side is a version (`<document>@<n>`), a BLAKE3/SHA-256 prefix, or a file on disk, so
any two versions (even of different documents) and any two files can be compared. A pair
the archive already holds a diff for uses the stored one; anything else is computed.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import click

from archive import diffs
from archive.cli.common import db_option, emit_json, friendly, shown
from archive.diffs import DiffResult
from archive.diffs.render import render_html, render_patch, render_stat, render_terminal
from archive.diffs.stored import result_of
from archive.refs import HEX, RefError, resolve_blob, resolve_version
from archive.store import ArchiveError, Store
from ingest.decode import decode

FORMATS = ("terminal", "json", "html", "patch", "stat")


@dataclass(frozen=True)
class Side:
    """One side of a diff: what the user named, its content key (None for a file), its text."""

    label: str
    blake3: str | None
    text: str


def _blob_side(store: Store, label: str, blake3: str) -> Side:
    text = store.read_text(blake3)
    if text is None:
        raise ArchiveError(f"{label} is binary: there is no text to diff")
    return Side(label, blake3, text)


def _version_side(store: Store, ref: str) -> Side:
    found = resolve_version(store, ref)
    label = f"{found.document['path']}@{found.version['seq']}"
    if found.version["blob"] is None:
        raise ArchiveError(f"{label} is a deletion: it has no content")
    return _blob_side(store, label, found.version["blob"])


def _file_side(path: str) -> Side:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ArchiveError(f"cannot read {path}: {e.strerror}") from None
    decoded = decode(data)
    if not decoded.is_text or decoded.text is None:
        raise ArchiveError(f"{path} is binary: there is no text to diff")
    return Side(path, None, decoded.text)


def resolve_side(store: Store, ref: str) -> Side:
    """A version reference, else a hash prefix, else a file on disk (else the version error).

    `name@n` is always a version; a name without `@` that is a file on disk is that file.
    """
    if "@" in ref and not os.path.isfile(ref):
        return _version_side(store, ref)
    if os.path.isfile(ref):
        return _file_side(ref)
    if HEX.match(ref):
        blob = resolve_blob(store, ref)
        return _blob_side(store, blob["blake3"][:12], blob["blake3"])
    return _version_side(store, ref)


def previous_side(store: Store, ref: str) -> tuple[Side, Side]:
    """A version and the document's last version with content before it."""
    found = resolve_version(store, ref)
    seq = found.version["seq"]
    earlier = [
        v for v in store.versions(found.document["id"]) if v["seq"] < seq and v["blob"] is not None
    ]
    if not earlier:
        raise RefError(f"{found.document['path']}@{seq} has no earlier version with content")
    before = f"{found.document['path']}@{earlier[-1]['seq']}"
    return _version_side(store, before), _version_side(store, f"{found.document['path']}@{seq}")


def diff_sides(store: Store, old: Side, new: Side) -> tuple[DiffResult, str]:
    """The diff of two sides and its algorithm: the stored one when the archive has it."""
    if old.blake3 and new.blake3:
        row = store.stored_diff(old.blake3, new.blake3)
        if row is not None:
            return result_of(row, old.text), row["algorithm"]
    return diffs.diff_texts(old.text, new.text), diffs.ALGORITHM


def as_json(old: Side, new: Side, result: DiffResult, algorithm: str) -> dict:
    return {
        "from": {"ref": old.label, "blake3": old.blake3},
        "to": {"ref": new.label, "blake3": new.blake3},
        "algorithm": algorithm,
        "engine": diffs.engine_name(),
        "change_class": result.change_class,
        "stats": result.stats,
        "coarse": result.coarse,
        "ops": diffs.compact_ops(result.ops),
    }


class ContextLines(click.ParamType):
    """--context: unchanged lines around each change, a whole number or `all`."""

    name = "N|all"

    def convert(self, value, param, ctx) -> int | None:
        if value is None or isinstance(value, int):
            return value
        if value == "all":
            return None
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
        self.fail(f"{value!r} is not a number of lines or all", param, ctx)


def _one_line(label: str) -> str:
    return shown(label)


@click.command("diff")
@click.argument("a")
@click.argument("b", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="terminal",
    show_default=True,
    help="terminal: word diff; json: ops and stats; html: <ins>/<del>; patch: unified diff.",
)
@click.option("--side-by-side", is_flag=True, help="With --format html: two columns.")
@click.option(
    "--color/--no-color", default=None, help="Colour the terminal diff [when stdout is a tty]."
)
@click.option(
    "--context",
    default="3",
    show_default=True,
    type=ContextLines(),
    help="Unchanged lines shown around each change (terminal and html); all: the whole text.",
)
@db_option
@friendly
def diff(
    a: str,
    b: str | None,
    fmt: str,
    side_by_side: bool,
    color: bool | None,
    context: int | None,
    db: str,
) -> None:
    """Show how B differs from A; with A alone, version A against the one before it.

    A and B are versions (<document>@<n>), BLAKE3/SHA-256 prefixes or files on disk, of
    any documents. Exit status 2 when a reference names nothing, 1 for binary content.
    """
    with Store(db, create=False) as store:
        if b is None:
            old, new = previous_side(store, a)
        else:
            old, new = resolve_side(store, a), resolve_side(store, b)
        result, algorithm = diff_sides(store, old, new)
    if fmt == "json":
        emit_json(as_json(old, new, result, algorithm))
    elif fmt == "html":
        click.echo(render_html(result.ops, side_by_side=side_by_side, context=context))
    elif fmt == "patch":
        out = render_patch(
            old.text, new.text, "a/" + _one_line(old.label), "b/" + _one_line(new.label)
        )
        sys.stdout.buffer.write(out.encode("utf-8", "surrogateescape"))
        sys.stdout.buffer.flush()
    elif fmt == "stat":
        click.echo(render_stat(result))
    else:
        use_color = sys.stdout.isatty() if color is None else color
        click.echo(f"diff {_one_line(old.label)} {_one_line(new.label)}")
        click.echo(render_terminal(result.ops, color=use_color, context=context), color=use_color)
