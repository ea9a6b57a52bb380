"""Our pages render their templates synchronously (common.SyncTemplate), to exactly the bytes
Datasette's async Jinja environment makes of the same templates, hostile text escaped alike;
a template that calls an async function of its context still renders (the async way)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

import jinja2
import pytest

from archive.publish import common
from archive.publish.server.app import ServeConfig, build_datasette
from tests.browser.archive_builder import ROOT, build_archive


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory) -> Path:
    return build_archive(tmp_path_factory.mktemp("render"))


def page_urls(db: Path) -> list[str]:
    """A URL of every page kind with a template, over hostile and binary documents too."""
    conn = sqlite3.connect(db)
    q = lambda sql: [r[0] for r in conn.execute(sql)]  # noqa: E731
    docs = q("SELECT id FROM documents ORDER BY id")
    versions = q("SELECT id FROM versions ORDER BY id")
    pairs = conn.execute(
        "SELECT previous_version_id, id FROM versions WHERE previous_version_id IS NOT NULL"
    ).fetchall()
    conn.close()
    urls = [f"/-/archive/document/{d}" for d in docs]
    urls += [f"/-/archive/version/{v}" for v in versions]
    urls += [f"/-/archive/version/{v}/blame" for v in versions[:3]]
    for p, v in pairs:
        base = f"/-/archive/diff?from={p}&to={v}"
        urls += [base, base + "&view=side", base + "&context=all", base + "&context=0"]
    urls += [f"/-/archive/diff?from={versions[0]}&to={versions[-1]}"]  # two documents
    urls += ["/", "/-/archive/changes", "/-/archive/verify", "/-/archive/search"]
    urls += ["/-/archive/search?q=the", "/-/archive/trace?q=the", "/-/archive/trace"]
    urls += ["/-/archive/search?q=" + quote("<script>"), "/-/archive/document/999999"]
    return urls


async def datasette_for(db: Path):
    ds = build_datasette(ServeConfig(str(db), str(ROOT / "metadata.yml"), True, "test-secret"))
    await ds.invoke_startup()
    return ds


async def responses(ds, urls: list[str], headers: dict) -> dict[str, tuple[int, bytes]]:
    out = {}
    for url in urls:
        r = await ds.client.get(url, headers=headers)
        out[url] = (r.status_code, r.content)
    return out


async def test_pages_are_the_bytes_async_jinja_makes(archive_db, monkeypatch):
    ds = await datasette_for(archive_db)
    urls = page_urls(archive_db)
    anonymous = {"Cookie": "anything=1"}  # past the response cache: every page rendered
    actor = ds.sign({"a": {"id": "<b>alice</b>"}}, "actor")  # the nav menu and its log out
    first = await ds.client.get("/-/archive/verify", headers={"Cookie": f"ds_actor={actor}"})
    csrf = first.cookies["ds_csrftoken"]  # the log out form's token, the same every time
    signed_in = {"Cookie": f"ds_actor={actor}; ds_csrftoken={csrf}"}
    sync = {k: await responses(ds, urls, h) for k, h in (("a", anonymous), ("s", signed_in))}
    monkeypatch.setattr(common, "sync_template", lambda datasette, name: name)
    slow = {k: await responses(ds, urls, h) for k, h in (("a", anonymous), ("s", signed_in))}
    for who in sync:
        for url in urls:
            assert sync[who][url] == slow[who][url], (who, url)
    statuses = {status for status, _ in sync["a"].values()}
    assert statuses == {200, 404}
    bodies = b"".join(body for _, body in sync["s"].values())
    assert b"&lt;b&gt;alice&lt;/b&gt;" in bodies and b"<b>alice</b>" not in bodies
    assert b"&lt;script&gt;alert(&#39;v2&#39;)" in bodies
    assert b"<script>alert(" not in bodies


async def test_pages_skip_async_jinja(archive_db, monkeypatch):
    ds = await datasette_for(archive_db)
    rendered_async = []
    original = jinja2.Template.render_async

    async def counting(self, *args, **kwargs):
        rendered_async.append(self.name)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Template, "render_async", counting)
    for url in page_urls(archive_db)[:40]:
        assert (await ds.client.get(url, headers={"Cookie": "x=1"})).status_code == 200
    assert rendered_async == []
    assert (await ds.client.get("/archive/versions")).status_code == 200  # Datasette's own
    assert rendered_async == ["table.html"]


async def test_an_async_function_a_template_calls_is_rendered_the_async_way():
    source = "{{ menu_links()|length }} {% if flag %}{{ fetch() }}{% endif %} {{ title }}"
    loader = jinja2.DictLoader({"page.html": source})
    async_env = jinja2.Environment(loader=loader, autoescape=True, enable_async=True)
    sync_env = common.sync_overlay(async_env)

    async def menu_links():
        return [{"href": "/x", "label": "X"}]

    async def fetch():
        return "<i>fetched</i>"

    called = "1 &lt;i&gt;fetched&lt;/i&gt; &lt;t&gt;"
    for flag, expected in ((False, "1  &lt;t&gt;"), (True, called)):
        context = {"menu_links": menu_links, "fetch": fetch, "flag": flag, "title": "<t>"}
        assert await async_env.get_template("page.html").render_async(context) == expected
        assert await sync_env.get_template("page.html").render_async(context) == expected
