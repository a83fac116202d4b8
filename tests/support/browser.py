"""Browser tests' parts: a headless chromium (as the features launch it) and a
static site on another loopback port, the stand-in for a web page the user opens."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from simulator import browser


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, for a module's tests (skipped where it is not installed)."""
    if not browser.executable().exists():
        pytest.skip("chromium is not installed (scripts/setup.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = browser.launch(playwright)
        try:
            yield launched
        finally:
            launched.close()


class StaticSite:
    """The files of ``root`` on 127.0.0.1 (a port of its own), with ``csp`` as their
    Content-Security-Policy; a context manager."""

    def __init__(self, root: Path, csp: str = "default-src 'self'"):
        site = self
        self.csp = csp

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self.extensions_map = {**self.extensions_map, ".js": "text/javascript"}
                super().__init__(*args, directory=str(root), **kwargs)

            def end_headers(self) -> None:
                self.send_header("Content-Security-Policy", site.csp)
                self.send_header("Cache-Control", "no-store")
                super().end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StaticSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
