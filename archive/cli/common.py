"""What every `archive` command shares: the --db and --json options and error handling.

Commands live in modules by area (archive/cli/<area>.py) and are registered in the
COMMANDS table of archive/cli/__init__.py.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import click

from archive.refs import RefError
from archive.store import ArchiveError

DEFAULT_DB = "archive.db"


def db_option(f: Callable) -> Callable:
    return click.option(
        "--db",
        default=DEFAULT_DB,
        show_default=True,
        type=click.Path(dir_okay=False),
        help="The archive file.",
    )(f)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)


def friendly(f: Callable) -> Callable:
    """Turn archive errors into one-line messages: 2 for a bad reference, 1 otherwise."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except RefError as e:
            raise click.UsageError(str(e)) from None
        except ArchiveError as e:
            raise click.ClickException(str(e)) from None

    return wrapper


def emit_json(obj: object) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))
