"""HTML metadata: <meta> name/property pairs, canonical URL, <time datetime>, headings, lang."""

from __future__ import annotations

import datetime as dt

from .base import Context, Partial, rows

_HEADINGS = "h1, h2, h3, h4, h5, h6"
_PUBLISHED = ("article:published_time", "datepublished", "pubdate", "date", "dc.date")
_MAX_META = 500


def iso_datetime(value: str) -> str | None:
    """ISO 8601 form of a machine-readable date/time, or None when it is not one."""
    v = value.strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    for parse in (dt.date.fromisoformat, dt.datetime.fromisoformat):
        try:
            return parse(v).isoformat()
        except ValueError:
            continue
    return None


def _one(s: str | None) -> str:
    return " ".join((s or "").split())


def extract_html_meta(text: str, ctx: Context) -> Partial:
    tree = ctx.html
    if tree is None:
        return Partial()
    fields: dict[str, str | int | None] = {}
    metas: list[tuple[str, str]] = []
    for node in tree.css("meta")[:_MAX_META]:
        attrs = node.attributes
        name = attrs.get("name") or attrs.get("property") or attrs.get("itemprop")
        content = attrs.get("content")
        if name and content is not None:
            metas.append((_one(name).lower(), _one(content)))
    by_name: dict[str, str] = {}
    for name, content in metas:
        by_name.setdefault(name, content)
    fields["description"] = by_name.get("description") or by_name.get("og:description")
    fields["author"] = by_name.get("author") or by_name.get("article:author")
    fields["site_name"] = by_name.get("og:site_name")
    published = next((by_name[k] for k in _PUBLISHED if k in by_name), None)
    fields["published"] = iso_datetime(published) if published else None
    link = tree.css_first('link[rel="canonical"]')
    canonical = link.attributes.get("href") if link is not None else None
    fields["canonical_url"] = _one(canonical) or by_name.get("og:url")
    html = tree.css_first("html")
    fields["html_lang"] = (html.attributes.get("lang") or None) if html is not None else None
    items = rows("meta", [(f"{n}={c}", None) for n, c in metas])
    times = []
    for node in tree.css("time"):
        raw = node.attributes.get("datetime")
        if raw:
            times.append((iso_datetime(raw) or _one(raw), _one(node.text()) or None))
    items += rows("time", times)
    if fields["published"] is None and times:
        fields["published"] = times[0][0]
    heads = [(_one(n.text()), n.tag) for n in tree.css(_HEADINGS) if _one(n.text())]
    items += [("heading", i, v, d) for i, (v, d) in enumerate(heads)]
    tags = [c for n, c in metas if n in ("article:tag", "keywords")]
    split = [t.strip() for c in tags for t in c.split(",") if t.strip()]
    items += rows("tag", [(t, None) for t in split])
    return Partial(fields, items)
