"""The plugin's SQL functions, bounded: they run inside a query, where Datasette's time limit
cannot stop them, on arguments anyone with SQL access chooses.

`archive_passage_ids(blob_passages.ids)` inflates at most MAX_IDS ids from at most
MAX_PACKED bytes (else NULL); `archive_words_query(:q)` reads at most MAX_QUERY_CHARS
characters and keeps at most MAX_WORDS words. So one call costs milliseconds and a few MiB,
whatever it is given.
"""

from __future__ import annotations

import array
import json
import re
import sys
import zlib
from itertools import accumulate

MAX_PACKED = 1 << 20  # bytes of a packed passage list
MAX_IDS = 1 << 20  # passages in one list (4 MiB inflated)
MAX_QUERY_CHARS = 4096
MAX_WORDS = 64
_WORD = re.compile(r"\w+")


def bounded_ids(packed: bytes, max_ids: int = MAX_IDS) -> list[int] | None:
    """A packed passage list (zlib of little-endian int32 deltas) inflated with a bound;
    None when it is too big, corrupt, or not one."""
    if len(packed) > MAX_PACKED:
        return None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(packed, 4 * max_ids + 1)
    except zlib.error:
        return None
    if len(raw) > 4 * max_ids or not inflater.eof or inflater.unused_data or len(raw) % 4:
        return None
    deltas = array.array("i")
    deltas.frombytes(raw)
    if sys.byteorder == "big":
        deltas.byteswap()
    return list(accumulate(deltas))


def passage_ids_json(ids: object) -> str | None:
    """SQL archive_passage_ids(blob_passages.ids): the packed passage list as a JSON array,
    so canned queries can join passages to the contents (and versions) that carry them."""
    if not isinstance(ids, bytes):
        return None
    found = bounded_ids(ids)
    return None if found is None else json.dumps(found)


def words_query(text: object) -> str:
    """SQL archive_words_query(:q): an FTS5 query for all the words of a user's text (the
    first MAX_WORDS of its first MAX_QUERY_CHARS characters); FTS syntax in it is only words,
    and no words gives a query that matches nothing rather than an error."""
    if not isinstance(text, str):
        return '""'
    words = _WORD.findall(text[:MAX_QUERY_CHARS])[:MAX_WORDS]
    return " AND ".join('"' + w + '"' for w in words) if words else '""'
