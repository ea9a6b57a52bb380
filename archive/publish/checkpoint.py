"""The published checkpoint: its signed note, its time-stamp token, who vouches for a tree.

So anyone can fetch and keep what they need to check the archive later without trusting
the server: `/-/archive/checkpoint` (the note, text/plain), `/-/archive/checkpoint.tsr`
(the RFC 3161 token) and, on each version page, the signers, witnesses and trusted time of
the checkpoint its proof leads to.
"""

from __future__ import annotations

import sqlite3

from datasette.utils.asgi import NotFound, Response

from archive.ledger import evidence
from archive.ledger.checkpoints import latest_checkpoint
from archive.store import Store


def latest_note(conn) -> tuple[str, dict | None]:
    """The latest checkpoint note (every kept signature) and its newest token row."""
    store = Store.over(conn)
    try:
        return str(evidence.latest(store).note), evidence.latest_token(store)
    except sqlite3.OperationalError:  # an archive from before the evidence tables
        return latest_checkpoint(store).text, None


def vouched(conn, tree: dict | None) -> dict | None:
    """Who signed, witnessed and time-stamped a tree: the one a version's proof leads to
    (`tree_size`, `root`) or a checkpoint row (`tree_size`, `tree_root`)."""
    if tree is None:
        return None
    root = tree.get("root") or tree.get("tree_root")
    return evidence.tree_evidence(Store.over(conn), tree["tree_size"], root)


def note_response(note: str, token: dict | None, stamped: bool) -> Response:
    if stamped:
        if token is None:
            raise NotFound("The latest checkpoint has no time-stamp token")
        note = token["note"]
    return Response.text(note)


def token_response(token: dict | None) -> Response:
    if token is None:
        raise NotFound("The latest checkpoint has no time-stamp token")
    response = Response(bytes(token["token"]), content_type="application/timestamp-reply")
    response.headers["content-disposition"] = 'attachment; filename="checkpoint.tsr"'
    return response
