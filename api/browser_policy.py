"""What browsers may do with the API's answers: none is sniffed as another type, framed by another site
(clickjacking) or named in a Referer, and the dashboard runs only the script and style it ships. The dashboard shows
visitor-sent text (page paths, product ids) and writes it as text; its policy is the second line, should a change
ever write such text as markup."""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EVERY_ANSWER = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
INLINE = {tag: re.compile(rf"<{tag}>(.*?)</{tag}>", re.DOTALL) for tag in ("script", "style")}


def _hashes(html: str, tag: str) -> str:
    found = INLINE[tag].findall(html)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'" for body in found)


def page_policy(html: str) -> str:
    """A Content-Security-Policy for a page whose script and style are inline: those blocks by their hashes,
    requests to its own origin only, no plugin, base, form target or framing."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + (_hashes(html, "script") or "'none'"),
            "style-src " + (_hashes(html, "style") or "'none'"),
            "img-src data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


class EveryAnswerHeaders:
    """ASGI middleware: EVERY_ANSWER on each response, streamed ones (/live) included, unless a route set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERY_ANSWER.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
