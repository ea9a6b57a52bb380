"""Regenerate the README's screenshots (docs/screenshots/*.png) from the demo archive.

Run with `make screenshots`: ingests corpus/ and the sample git history into a temporary
archive (as `make demo` does), serves it with `archive serve`, and photographs the home page,
the busiest document's history and its latest change in Debian's chromium (never a browser
downloaded by Playwright). Nothing here is drawn by hand.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 860}


def _archive(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "archive", *args], cwd=cwd, check=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit("archive serve exited before serving")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"archive serve did not answer {url}")


def _busiest(db: Path) -> tuple[int, int, int]:
    """(document id, previous version id, latest version id) of the most-changed document."""
    conn = sqlite3.connect(db)
    doc = conn.execute(
        "SELECT document_id FROM versions WHERE blob IS NOT NULL GROUP BY document_id"
        " ORDER BY count(*) DESC, document_id LIMIT 1"
    ).fetchone()[0]
    last, prev = conn.execute(
        "SELECT id FROM versions WHERE document_id = ? AND blob IS NOT NULL"
        " ORDER BY seq DESC LIMIT 2",
        (doc,),
    ).fetchall()
    conn.close()
    return doc, prev[0], last[0]


def main() -> int:
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: `make browser` installs it", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp, "archive.db")
        _archive("ingest", str(ROOT / "corpus"), "--db", str(db), cwd=ROOT)
        _archive(
            "ingest", "--git", str(ROOT / "samples/terms-sample.bundle"), "--db", str(db), cwd=ROOT
        )
        doc, prev, last = _busiest(db)
        port = _free_port()
        serve = [sys.executable, "-m", "archive", "serve", "--db", str(db), "--port", str(port)]
        proc = subprocess.Popen(serve + ["--workers", "1"], cwd=tmp, stdout=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        shots = {
            "home": "/",
            "history": f"/-/archive/document/{doc}",
            "diff": f"/-/archive/diff?from={prev}&to={last}",
        }
        try:
            _wait(base + "/-/versions.json", proc)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless=new"])
                page = browser.new_page(viewport=VIEWPORT)
                for name, path in shots.items():
                    page.goto(base + path)
                    page.screenshot(path=str(OUT / f"{name}.png"))
                    print(OUT / f"{name}.png")
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
