"""`archive diff`: the word diff between two versions, contents or files, on demand.

Either side is a version (`<document>@<n>`), a BLAKE3/SHA-256 prefix, or a file on disk, so
any two versions (even of different documents) and any two files can be compared; two files
need no archive at all (like `git diff --no-index`). One file on disk alone is compared with
its document's latest archived version. A pair the archive already holds a diff for uses the
stored one; anything else is computed.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field

import click

from archive import diffs
from archive.cli.common import db_option, emit_json, friendly, shown
from archive.diffs import DiffResult
from archive.diffs.render import render_patch, render_stat, render_terminal
from archive.diffs.stored import result_of
from archive.refs import HEX, RefError, resolve_blob, resolve_document, resolve_version
from archive.store import ArchiveError, Store
from ingest.decode import decode

FORMATS = ("terminal", "json", "html", "patch", "stat")


@dataclass(frozen=True)
class Side:
    """One side of a diff: what the user named, its content key (None for a file), its text."""

    label: str
    blake3: str | None
    text: str
    info: dict = field(default_factory=dict)  # what a header says about it (html page)
    path: str | None = None  # the path it had (a version), for "renamed" notes


def _blob_side(store: Store, label: str, blake3: str, info: dict | None = None) -> Side:
    text = store.read_text(blake3)
    if text is None:
        raise ArchiveError(f"{label} is binary: there is no text to diff")
    blob = store.blob(blake3) or {}
    info = {"label": label, "blake3": blake3, "sha256": blob.get("sha256"), **(info or {})}
    info["size"] = f"{blob['size']:,} bytes" if blob.get("size") is not None else None
    return Side(label, blake3, text, info, (info or {}).get("path"))


def _version_side(store: Store, ref: str) -> Side:
    found = resolve_version(store, ref)
    doc, v = found.document, found.version
    label = f"{doc['path']}@{v['seq']}"
    if v["blob"] is None:
        raise ArchiveError(f"{label} is a deletion: it has no content")
    run = store.run(v["run_id"])
    info = {
        "document": f"{doc['source']}:{doc['path']}",
        "version": f"{v['seq']} ({v['kind']}, as {v['path']})",
        "observed_at": v["observed_at"],
        "source": f"{doc['source']} ({doc['location']})",
        "run": f"{v['run_id']}: {run.get('command') or ''}".rstrip(": "),
        "commit": v.get("commit"),
        "path": v["path"],
    }
    return _blob_side(store, label, v["blob"], info)


def _file_side(path: str) -> Side:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ArchiveError(f"cannot read {path}: {e.strerror}") from None
    decoded = decode(data)
    if not decoded.is_text or decoded.text is None:
        raise ArchiveError(f"{path} is binary: there is no text to diff")
    info = {
        "label": path,
        "document": f"{path} (a file on disk)",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": f"{len(data):,} bytes",
    }
    return Side(path, None, decoded.text, info)


def is_file_ref(ref: str) -> bool:
    """A side that is a file on disk (never a version `name@n`, unless such a file exists)."""
    return os.path.isfile(ref)


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


def disk_and_latest(store: Store, path: str) -> tuple[Side, Side]:
    """A file on disk and its document's latest archived version (old: archived, new: disk)."""
    doc = resolve_document(store, path)
    latest = [v for v in store.versions(doc["id"]) if v["blob"] is not None]
    if not latest:
        raise RefError(f"{doc['source']}:{doc['path']} has no archived content")
    archived = _version_side(store, f"#{doc['id']}@{latest[-1]['seq']}")
    disk = _file_side(path)
    return archived, Side(f"{path} (on disk)", None, disk.text, disk.info)


def previous_side(store: Store, ref: str) -> tuple[Side, Side]:
    """A version and the document's last version with content before it."""
    found = resolve_version(store, ref)
    seq = found.version["seq"]
    earlier = [
        v for v in store.versions(found.document["id"]) if v["seq"] < seq and v["blob"] is not None
    ]
    if not earlier:
        raise RefError(f"{found.document['path']}@{seq} has no earlier version with content")
    doc = f"#{found.document['id']}"
    return _version_side(store, f"{doc}@{earlier[-1]['seq']}"), _version_side(store, f"{doc}@{seq}")


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
    if b is not None and is_file_ref(a) and is_file_ref(b):  # two files: no archive needed
        old, new = _file_side(a), _file_side(b)
        result, algorithm = diffs.diff_texts(old.text, new.text), diffs.ALGORITHM
    else:
        with Store(db, create=False) as store:
            if b is None and is_file_ref(a):
                old, new = disk_and_latest(store, a)
            elif b is None:
                old, new = previous_side(store, a)
            else:
                old, new = resolve_side(store, a), resolve_side(store, b)
            result, algorithm = diff_sides(store, old, new)
    same = no_text_change(old, new, result)
    if fmt == "json":
        emit_json({**as_json(old, new, result, algorithm), "same_text": same})
    elif fmt == "html":
        from archive.cli.diff_page import render_html_page

        page = render_html_page(result, old.info, new.info, side_by_side, context, note=same)
        click.echo(page, nl=False)
    elif fmt == "patch":
        out = render_patch(result.ops, "a/" + _one_line(old.label), "b/" + _one_line(new.label))
        sys.stdout.buffer.write(out.encode("utf-8", "surrogateescape"))
        sys.stdout.buffer.flush()
    elif fmt == "stat":
        click.echo(render_stat(result) + (f" ({same})" if same else ""))
    else:
        use_color = sys.stdout.isatty() if color is None else color
        click.echo(f"diff {_one_line(old.label)} {_one_line(new.label)}")
        if same:
            click.echo(same)
        else:
            click.echo(
                render_terminal(result.ops, color=use_color, context=context), color=use_color
            )


def no_text_change(old: Side, new: Side, result: DiffResult) -> str | None:
    """What to say when the texts are the same (the diff has no body), else None: the same
    content (maybe renamed), or different bytes with the same text."""
    if any(op != diffs.EQUAL for op, _ in result.ops):
        return None
    renamed = (
        f"renamed from {_one_line(old.path)} to {_one_line(new.path)}, "
        if old.path and new.path and old.path != new.path
        else ""
    )
    if old.blake3 is not None and old.blake3 == new.blake3:
        return f"No change in the text: {renamed}same content ({old.blake3[:12]})."
    if old.blake3 is None or new.blake3 is None:
        return f"No change in the text: same as {_one_line(old.label)}."
    return (
        f"No change in the text: {renamed}the bytes differ (line endings, encoding or markup)"
        " but the text is the same."
    )
