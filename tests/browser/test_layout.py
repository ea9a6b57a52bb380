"""Every archive page fits the screen: no sideways scrolling at 1280 px nor at 390 px (a phone),
whatever the text (an unbroken 3,000-character word, long URLs, code, right-to-left text, long
file names). Long lines wrap; tables and diffs scroll inside their own box. A screenshot of each
page at each width goes to test-output/screenshots/."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.browser.archive_builder import LONG_WORD

WIDTHS = (1280, 390)


def archive_pages(ids: dict) -> dict[str, str]:
    """A name (for the screenshot) and a URL for every kind of page the archive serves."""
    wide = f"from={ids['wide_v1']}&to={ids['wide_v2']}"
    return {
        "home": "/",
        "changes": "/-/archive/changes",
        "changes-older": "/-/archive/changes?before=5",
        "history": f"/-/archive/document/{ids['doc']}",
        "history-wide": f"/-/archive/document/{ids['wide_doc']}",
        "history-long-name": f"/-/archive/document/{ids['long_name_doc']}",
        "version": f"/-/archive/version/{ids['v2']}",
        "version-wide": f"/-/archive/version/{ids['wide_v2']}",
        "version-binary": f"/-/archive/version/{ids['binary']}",
        "diff": f"/-/archive/diff?from={ids['v1']}&to={ids['v2']}",
        "diff-wide": f"/-/archive/diff?{wide}",
        "diff-wide-side": f"/-/archive/diff?{wide}&view=side",
        "diff-wide-whole": f"/-/archive/diff?{wide}&context=all",
        "blame-wide": f"/-/archive/version/{ids['wide_v2']}/blame",
        "trace": "/-/archive/trace?q=Opening+clause",
        "trace-long-word": "/-/archive/trace?q=" + urllib.parse.quote(LONG_WORD[:200]),
        "search": "/-/archive/search?q=clause",
        "search-long-query": "/-/archive/search?q=" + LONG_WORD[:300],
        "verify": "/-/archive/verify",
        "verify-missing": "/-/archive/verify?blake3=" + "0" * 64,
        "verify-pasted": "/-/archive/verify?hash=" + "0" * 64,
        "trace-page-2": "/-/archive/trace?q=the&page=2",
        "database": "/archive",
        "documents-table": "/archive/documents",
        "versions-table": "/archive/versions",
        "passages-table": "/archive/passages",
        "canned-query": "/archive/recent_changes",
        "not-found": "/-/archive/version/999999999",
        "not-found-table": "/archive/no_such_table",
    }


def sideways_overflow(page) -> int:
    """How far the page scrolls sideways, in CSS pixels (0: it fits)."""
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways(server, browser, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    too_wide = {}
    try:
        for name, path in archive_pages(server.ids).items():
            page.goto(server.url(path), wait_until="load")
            over = sideways_overflow(page)
            if over > 0:
                too_wide[name] = over
            from tests.browser.conftest import SCREENSHOTS

            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=False)
    finally:
        context.close()
    assert too_wide == {}, f"pages wider than {width} px (overflow in px): {too_wide}"
