"""Serve the report page from the process that holds the store (chdb: one process per data directory)."""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipeline.config import Targets
from pipeline.store import Store

log = logging.getLogger("cx.page")
REFRESH_S = 30


class PageServer:
    """http://127.0.0.1:PORT/ -> the report page, re-rendered at most every REFRESH_S seconds."""

    def __init__(self, store: Store, targets: Targets, port: int = 0, host: str = "127.0.0.1"):
        self._store, self._targets = store, targets
        self._page: tuple[float, bytes] | None = None
        self._guard = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.split("?")[0] not in ("/", "/index.html"):
                    self.send_error(404)
                    return
                try:
                    body, status = server.page(), 200
                except Exception as exc:  # the worker must not die because a page failed
                    log.exception("report page failed")
                    body, status = f"report page failed: {exc}".encode(), 500
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._http = ThreadingHTTPServer((host, port), Handler)
        self._http.daemon_threads = True
        self.url = f"http://{host}:{self._http.server_address[1]}/"
        self._thread = threading.Thread(target=self._http.serve_forever, name="cx-page", daemon=True)

    def page(self) -> bytes:
        """The page, rendered again when the last one is older than REFRESH_S."""
        from pipeline.page.render import render_page

        with self._guard:
            if self._page is None or time.monotonic() - self._page[0] > REFRESH_S:
                self._page = (time.monotonic(), render_page(self._store, self._targets, refresh_s=REFRESH_S).encode("utf-8"))
            return self._page[1]

    def start(self) -> PageServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._http.shutdown()
        self._http.server_close()
