"""Serves the static demo shop (demo_shop/) with a generated config.js that points at our ingest."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from clickpulse.settings import REPO_ROOT

SHOP_DIR = REPO_ROOT / "demo_shop"


class _ShopHandler(SimpleHTTPRequestHandler):
    config_js: bytes = b""

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/config.js":
            self.send_response(200)
            self.send_header("Content-Type", "application/javascript")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(self.config_js)))
            self.end_headers()
            self.wfile.write(self.config_js)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_shop(host: str, port: int, write_key: str, ingest_url: str) -> ThreadingHTTPServer:
    """Start the shop in a daemon thread; call .shutdown() on the result to stop it."""
    config = json.dumps({"key": write_key, "api": ingest_url})
    handler = type("ShopHandler", (_ShopHandler,), {"config_js": f"window.CLICKPULSE_DEMO = {config};\n".encode()})
    server = ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(SHOP_DIR)))
    threading.Thread(target=server.serve_forever, name="demo-shop", daemon=True).start()
    return server
