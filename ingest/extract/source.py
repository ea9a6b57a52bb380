"""What the caller already knows (media type, encoding) and identifiers in the file name."""

from __future__ import annotations

from ..sidecar import filename_identifiers
from .base import Context, Partial


def extract_source(text: str, ctx: Context) -> Partial:
    ids = filename_identifiers(ctx.path)
    return Partial(
        {
            "media_type": ctx.media_type,
            "encoding": ctx.encoding,
            "corpus_number": ids.get("corpus_number"),
            "identifier": ids.get("identifier"),
        }
    )
