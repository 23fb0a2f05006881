"""Runs the real `clickpulse up` in a subprocess for end-to-end tests, on ports of its own."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import msgspec
import redis.asyncio as aioredis

from clickpulse.local_stack.ports import ports_env
from clickpulse.settings import REPO_ROOT, Settings
from clickpulse.sites import SiteRegistry

READY_LINE = "Ctrl-C stops everything."
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
# What a browser's beacon sends: ingest flags a browser agent without Accept-Language as a script.
BROWSER_HEADERS = {"Content-Type": "text/plain", "User-Agent": BROWSER_UA, "Accept-Language": "en"}


# Every stack a test starts sits at TEST_PORT_BASE + an offset of its own (0, 100, 200, ...), so parallel
# test runs on one machine (two checkouts, say) pick distinct bases and never share a port.
TEST_PORT_BASE = int(os.environ.get("CLICKPULSE_TEST_PORT_BASE", "18000"))


def stack_env(base: int) -> dict[str, str]:
    """A test stack's settings: its ports derived from one base, and timers short enough for tests."""
    timers = {"CLICKPULSE_SESSION_SWEEP_S": "1", "CLICKPULSE_HEAD_TIMEOUT_S": "2", "CLICKPULSE_BODY_TIMEOUT_S": "2",
              "CLICKPULSE_API_KEY_CACHE_S": "2"}  # fmt: skip
    return {**ports_env(base), **timers}


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is as good as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


class RunningStack:
    def __init__(self, data_dir: Path, port_base: int) -> None:
        self.data_dir = data_dir
        self.env = {**os.environ, **stack_env(port_base), "CLICKPULSE_DATA_DIR": str(data_dir)}
        self.settings = Settings(**{k.removeprefix("CLICKPULSE_").lower(): v for k, v in self.env.items()
                                    if k.startswith("CLICKPULSE_")})  # fmt: skip
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.last_pids: dict[str, int] = {}

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.settings.api_port}"

    @property
    def ingest(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingest_port}"

    def ports(self) -> list[int]:
        s = self.settings
        return [s.api_port, s.ingest_port, int(s.kafka_bootstrap.rsplit(":", 1)[1]), s.kafka_controller_port,
                int(s.redis_url.rsplit(":", 1)[1].split("/")[0])]  # fmt: skip

    def start(self, timeout_s: float = 240, args: list[str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clickpulse.cli", "up", *(args or [])],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        ready = threading.Event()

        def pump(stream: Any) -> None:
            for line in stream:
                self.output.append(line.rstrip())
                if READY_LINE in line:
                    ready.set()

        threading.Thread(target=pump, args=(self.process.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not ready.wait(0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("clickpulse up did not come up:\n" + "\n".join(self.output[-40:]))
        self.last_pids = self.pids()

    def pids(self) -> dict[str, int]:
        state = json.loads((self.data_dir / "stack.json").read_text())
        return {"supervisor": state["supervisor_pid"], **state["services"]}

    def stop(self, sig: int = signal.SIGINT) -> None:
        """What Ctrl-C does; waits for `up` to exit."""
        if self.process is None or self.process.poll() is not None:
            return
        with_pids = (self.data_dir / "stack.json").exists()
        if with_pids:
            self.last_pids = self.pids()
        self.process.send_signal(sig)
        try:
            self.process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise

    def clickpulse(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "clickpulse.cli", *args], env=self.env, cwd=REPO_ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def create_site(self, name: str, *origins: str) -> dict[str, str]:
        """What `clickpulse site create` prints, made in this process: the command's start-up took a second of CPU,
        about a hundred times a run (its own path is tested in tests/integration/test_site_registry.py)."""

        async def create() -> dict[str, str]:
            redis = aioredis.Redis.from_url(self.settings.redis_url)
            try:
                created = await SiteRegistry(redis).create(name, list(origins))
            finally:
                await redis.aclose()
            return msgspec.to_builtins(created)

        # On a thread of its own: under Playwright's sync API, its event loop counts as running on this one.
        with ThreadPoolExecutor(max_workers=1) as apart:
            return apart.submit(asyncio.run, create()).result()

    def wait_for_stats(
        self, site: dict[str, str], expected: dict[str, Any], timeout_s: float = 90, **params: str
    ) -> dict[str, Any]:
        """Poll /stats (asked with params) until the expected figures show up; return the last answer either way."""
        last: dict[str, Any] = {}

        def check() -> bool:
            nonlocal last
            last = self.stats(site, **params)
            return all(last.get(k) == v for k, v in expected.items())

        wait_until(check, timeout_s)
        return last

    def stats(self, site: dict[str, str], **params: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.api}/v1/sites/{site['site_id']}/stats",
            params=params,
            headers={"Authorization": f"Bearer {site['read_key']}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


def wait_until(check: Callable[[], Any], timeout_s: float = 90, every_s: float = 0.25) -> Any:
    """Poll until check() returns a truthy value; return it, or the last value on timeout."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(every_s)
    return value


def send_batch(
    ingest: str,
    site: dict[str, str],
    visitor: str,
    events: list[dict[str, Any]],
    retry_s: float = 300,
    headers: dict[str, str] | None = None,
) -> int:
    """POST like the beacon, retrying the same event ids on connection errors and 5xx, as its retry queue does.
    headers replace or add to a desktop browser's (another agent, a CDN's country header)."""
    body = json.dumps(
        {"write_key": site["write_key"], "visitor_id": visitor, "sent_at": int(time.time() * 1000), "events": events}
    )
    deadline = time.monotonic() + retry_s
    while True:
        try:
            response = httpx.post(
                f"{ingest}/collect", content=body, headers={**BROWSER_HEADERS, **(headers or {})}, timeout=10,
            )  # fmt: skip
            if response.status_code < 500:
                return response.status_code
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("ingest did not accept the batch")
        time.sleep(0.5)
