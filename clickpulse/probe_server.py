"""The worker's and the loader's HTTP probes: /healthz (the process runs its event loop), /readyz (200 or 503 with
why, from the service's own check) and /metrics (Prometheus text). Nothing else: Faust's own web server stays off,
since its default views show table contents (visitor state)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from clickpulse.prometheus_text import CONTENT_TYPE

# A probe answers at once; a stop need not wait for a scraper's slow connection.
SHUTDOWN_TIMEOUT_S = 1.0

Readiness = Callable[[], dict[str, object]]


class ProbePortTaken(RuntimeError):
    pass


class ProbeServer:
    def __init__(
        self, host: str, port: int, readiness: Readiness, metrics: Callable[[], str], port_setting: str
    ) -> None:
        self.host = host
        self.port = port
        self.port_setting = port_setting
        self._readiness = readiness
        self._metrics = metrics
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)

    async def start(self) -> None:
        """Raises ProbePortTaken when it cannot listen: a worker or loader nobody can probe must not run unnoticed."""
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ProbePortTaken(
                f"cannot serve /healthz, /readyz and /metrics on {self.host}:{self.port} ({exc.strerror}): give this "
                f"process its own {self.port_setting} (0: none)"
            ) from None

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        state = self._readiness()
        return web.json_response(state, status=200 if state["ready"] else 503)

    async def _metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self._metrics().encode(), headers={"Content-Type": CONTENT_TYPE})
