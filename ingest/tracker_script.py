"""Serves the built beacon: /cp.js (short cache, revalidated) and /cp/<hash>.js (immutable)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from clickpulse.settings import REPO_ROOT

BUNDLE = REPO_ROOT / "tracker_js" / "dist" / "cp.js"


class TrackerScript:
    def __init__(self, path: Path = BUNDLE) -> None:
        self.path = path
        self.body = b""
        self.version = ""
        self.load()

    def load(self) -> None:
        if self.path.exists():
            self.body = self.path.read_bytes()
            self.version = hashlib.sha256(self.body).hexdigest()[:12]

    def _response(self, request: Request, cache_control: str) -> Response:
        if not self.body:
            return Response(
                "tracker not built: run scripts/setup.sh (or: cd tracker_js && npm run build)\n", status_code=404
            )
        etag = f'"{self.version}"'
        headers = {"Cache-Control": cache_control, "ETag": etag, "Access-Control-Allow-Origin": "*"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type="application/javascript", headers=headers)

    async def latest(self, request: Request) -> Response:
        return self._response(request, "public, max-age=300")

    async def pinned(self, request: Request) -> Response:
        if request.path_params.get("version") != self.version:
            return Response(status_code=404)
        return self._response(request, "public, max-age=31536000, immutable")
