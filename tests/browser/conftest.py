"""Real-browser fixtures: a real Datasette server on 127.0.0.1 and Debian's chromium.

Debian's browser only, never one downloaded by Playwright: /usr/bin/chromium. Without it the
tests fail, saying how to get it (tests.tools.missing); `make test` installs it where it can.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.archive_builder import CORPUS, LONG_NAME, ROOT, build_archive, plugin_env
from tests.tools import missing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY_DEADLINE_S = 30.0
SCREENSHOTS = ROOT / "test-output" / "screenshots"


@dataclass(frozen=True)
class Server:
    base: str
    db: Path
    ids: dict

    def url(self, path: str) -> str:
        return self.base + path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(proc: subprocess.Popen, url: str) -> None:
    """Poll until the server answers, with a bounded deadline (no fixed sleeps)."""
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"datasette exited with {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"datasette did not answer {url} within {READY_DEADLINE_S} s")


def _ids(db: Path) -> dict:
    conn = sqlite3.connect(db)
    one = lambda sql, *a: conn.execute(sql, a).fetchone()[0]  # noqa: E731
    corpus_doc = sorted(CORPUS.iterdir())[0].name
    ids = {
        "path": corpus_doc,
        "doc": one("SELECT id FROM documents WHERE path = ?", corpus_doc),
        "v1": one("SELECT id FROM versions WHERE path = ? AND seq = 1", corpus_doc),
        "v2": one("SELECT id FROM versions WHERE path = ? AND seq = 2", corpus_doc),
        "binary": one("SELECT id FROM versions WHERE path = 'image.png' AND seq = 1"),
        "wide_doc": one("SELECT id FROM documents WHERE path = 'wide-text.txt'"),
        "wide_v1": one("SELECT id FROM versions WHERE path = 'wide-text.txt' AND seq = 1"),
        "wide_v2": one("SELECT id FROM versions WHERE path = 'wide-text.txt' AND seq = 2"),
        "long_name_doc": one("SELECT id FROM documents WHERE path = ?", LONG_NAME),
        "documents": [r[0] for r in conn.execute("SELECT id FROM documents ORDER BY id")],
        "versions": [r[0] for r in conn.execute("SELECT id FROM versions ORDER BY id")],
        "diffs": conn.execute(
            "SELECT previous_version_id, id FROM versions"
            " WHERE previous_version_id IS NOT NULL ORDER BY id"
        ).fetchall(),
    }
    conn.close()
    return ids


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    """`archive serve` itself (its workers, snapshot and cache), on a fresh archive and a free
    port."""
    tmp = tmp_path_factory.mktemp("browser")
    db = build_archive(tmp)
    port = _free_port()
    args = [sys.executable, "-m", "archive", "serve", "--db", str(db), "--port", str(port)]
    args += ["--host", "127.0.0.1", "--metadata", str(ROOT / "metadata.yml")]
    proc = subprocess.Popen(
        args, env=plugin_env(tmp), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, base + "/-/versions.json")
        yield Server(base, db, _ids(db))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


# Module scope: sync_playwright runs an event loop that must be stopped before any later
# asyncio test (Datasette's test client) starts its own.
@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        missing(
            f"REAL-BROWSER TESTS: {CHROMIUM} is missing"
            " (install Debian's chromium: `make browser`)",
            "REQUIRE_BROWSER",
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Tab:
    page: object
    dialogs: list[str]

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def tab(browser) -> Iterator[Tab]:
    """A fresh page that records (and dismisses) every dialog: any dialog is an XSS."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield Tab(page, dialogs)
    context.close()
