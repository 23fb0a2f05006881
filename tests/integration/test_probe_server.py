"""The worker's and the loader's probe server on a real socket: /readyz answers as the service's own check says,
/metrics in the Prometheus text format, and a port already taken stops the service with the setting to change."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from clickpulse.probe_server import ProbePortTaken, ProbeServer
from tests.running_stack import TEST_PORT_BASE

pytestmark = pytest.mark.integration
PORT = TEST_PORT_BASE + 602


def test_readyz_follows_the_services_check_and_metrics_are_prometheus_text() -> None:
    state: dict[str, object] = {"ready": False, "member": False}

    async def probe() -> list[httpx.Response]:
        server = ProbeServer("127.0.0.1", PORT, lambda: dict(state), lambda: "up 1\n", "CLICKPULSE_X_PORT")
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", timeout=2) as http:
                answers = [await http.get("/healthz"), await http.get("/readyz")]
                state.update(ready=True, member=True)
                return [*answers, await http.get("/readyz"), await http.get("/metrics")]
        finally:
            await server.stop()

    healthz, unready, ready, metrics = asyncio.run(probe())
    assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})
    assert (unready.status_code, unready.json()) == (503, {"ready": False, "member": False})
    assert (ready.status_code, ready.json()) == (200, {"ready": True, "member": True})
    assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8" and metrics.text == "up 1\n"


def test_a_port_already_taken_refuses_to_start_naming_the_setting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", PORT))
        taken.listen()
        server = ProbeServer("127.0.0.1", PORT, lambda: {"ready": True}, lambda: "", "CLICKPULSE_WORKER_HTTP_PORT")
        with pytest.raises(ProbePortTaken, match=f"127.0.0.1:{PORT} .*own CLICKPULSE_WORKER_HTTP_PORT"):
            asyncio.run(server.start())
