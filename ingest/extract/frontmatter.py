"""YAML front matter of Markdown/text: provenance fields, its title and tags, all keys as rows."""

from __future__ import annotations

import json

from ..sidecar import front_matter
from .base import Context, Partial, rows

PROVENANCE = ("source_url", "publisher", "retrieved_at", "author", "licence", "notes")


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def extract_front_matter(text: str, ctx: Context) -> Partial:
    """Raises SidecarError on malformed front matter (the runner records it as a problem)."""
    if ctx.media_type not in ("text/markdown", "text/plain"):
        return Partial()
    meta, _offset = front_matter(text)
    if not meta:
        return Partial()
    fields: dict[str, str | int | None] = {k: _scalar(meta[k]) for k in PROVENANCE if k in meta}
    if isinstance(meta.get("title"), str):
        fields["fm_title"] = meta["title"]
    items = rows("front_matter", [(f"{k}={_scalar(v)}", None) for k, v in sorted(meta.items())])
    tags = meta.get("tags") or meta.get("keywords")
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    if isinstance(tags, list):
        items += rows("tag", [(str(t), None) for t in tags if str(t).strip()])
    return Partial(fields, items)
