"""A local HTTP server (127.0.0.1 only) whose pages a test sets and changes between captures."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    body: bytes
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "text/html")])
    chunked: bool = False
    gzip: bool = False


@dataclass
class Site:
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, user agent)
    hang: threading.Event = field(default_factory=threading.Event)
    base: str = ""


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            site.requests.append((self.path, self.headers.get("User-Agent", "")))
            if self.path == "/hang":
                site.hang.wait(10)
                return
            page = site.pages.get(self.path)
            if page is None:
                page = Page(b"no such page", 404, [("Content-Type", "text/plain")])
            body = gzip.compress(page.body, mtime=0) if page.gzip else page.body
            self.send_response(page.status)
            for name, value in page.headers:
                self.send_header(name, value)
            if page.gzip:
                self.send_header("Content-Encoding", "gzip")
            if page.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(body), 10):
                    piece = body[i : i + 10]
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

    return Handler


@contextmanager
def serve(site: Site) -> Iterator[Site]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.hang.set()
        server.shutdown()
        server.server_close()
