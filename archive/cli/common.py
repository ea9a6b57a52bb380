"""What every `archive` command shares: the --db and --json options and error handling.

Commands live in modules by area (archive/cli/<area>.py) and are registered in the
COMMANDS table of archive/cli/__init__.py.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable

import click

from archive.errors import ArchiveError

DEFAULT_DB = "archive.db"
DB_ENV = "ARCHIVE_DB"
DB_HELP = f"The archive file [${DB_ENV}, else ./{DEFAULT_DB}]; before or after the command."


def _which_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    """--db after the command, else --db before it (the group's), else $ARCHIVE_DB, else
    ./archive.db: so `archive --db x proof` and `archive proof --db x` are the same."""
    if value:
        return value
    root = ctx.find_root()
    return root.params.get("db") or os.environ.get(DB_ENV) or DEFAULT_DB


# What a terminal would act on rather than show: C0 controls (ESC starts colour, title and
# hyperlink sequences), DEL, C1 controls, line/paragraph separators and bidi controls.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def shown(text: str) -> str:
    """Text safe to print on a terminal (names, snippets, messages): control and bidi
    characters escaped as `\\n`, `\\e`, `\\x07`, `\\u202e`, as git and ls do. Every
    command prints names and document text through here; `show` writes exact bytes instead."""
    return _UNSAFE.sub(_escape, text)


def _escape(m: re.Match) -> str:
    c = m.group()
    code = ord(c)
    return _NAMED.get(c) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def db_option(f: Callable) -> Callable:
    return click.option(
        "--db",
        default=None,
        callback=_which_db,
        type=click.Path(dir_okay=False),
        help=DB_HELP,
    )(f)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)


def friendly(f: Callable) -> Callable:
    """Turn archive errors into one-line messages: 2 for a bad reference, 1 otherwise."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except ArchiveError as e:
            from archive.refs import RefError  # loaded only when there is an error to show

            if isinstance(e, RefError):
                raise click.UsageError(shown(str(e))) from None
            raise click.ClickException(shown(str(e))) from None

    return wrapper


def emit_json(obj: object) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))
