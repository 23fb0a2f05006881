"""Starts processes in order, waits until each is healthy, restarts those that crash, and stops
them all (in reverse order) on Ctrl-C or SIGTERM, so no process is left and every port is free."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 20.0
# A service that crashes this often within a minute is not coming back by itself: stop and say so.
MAX_RESTARTS_PER_MINUTE = 5


class StopRequested(Exception):
    """Ctrl-C or SIGTERM came while a service was starting: start nothing more."""


# Loaded here, not in the child: between fork and exec, with other threads running (the demo's), a child
# should only make plain system calls.
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)


def _die_with_parent() -> None:
    """Children get SIGTERM if the supervisor itself is killed, even by SIGKILL."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Service:
    name: str
    command: list[str]
    healthy: Callable[[], bool]
    start_timeout_s: float = 90.0
    restart: bool = True
    # (host, port) it listens on: one already taken would pass its health check while the service cannot bind.
    listens_on: tuple[tuple[str, int], ...] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    restarted_at: list[float] = field(default_factory=list, repr=False)


class Supervisor:
    def __init__(self, log_dir: Path, state_file: Path, env: dict[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.state_file = state_file
        self.env = {**os.environ, **(env or {})}
        self.services: list[Service] = []
        self._stopping = False
        log_dir.mkdir(parents=True, exist_ok=True)

    def _spawn(self, service: Service) -> None:
        log = open(self.log_dir / f"{service.name}.log", "ab")  # noqa: SIM115 - the child owns it
        service.process = subprocess.Popen(
            service.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()
        self._write_state()

    def start(self, service: Service) -> None:
        if self._stopping:
            raise StopRequested
        for host, port in service.listens_on:
            if port_open(host, port):
                raise RuntimeError(
                    f"{service.name}: port {port} is already in use (another stack, or a system service?); stop "
                    "that or choose other ports (CLICKPULSE_*_PORT, CLICKPULSE_REDIS_URL, CLICKPULSE_KAFKA_BOOTSTRAP)"
                )
        self.services.append(service)
        self._spawn(service)
        deadline = time.monotonic() + service.start_timeout_s
        while not service.healthy():
            if self._stopping:
                raise StopRequested
            assert service.process is not None
            if service.process.poll() is not None:
                raise RuntimeError(
                    f"{service.name} exited with {service.process.returncode}; see {self.log_dir / service.name}.log"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service.name} not healthy after {service.start_timeout_s:.0f} s; see its log")
            time.sleep(0.2)

    def _write_state(self) -> None:
        state = {
            "supervisor_pid": os.getpid(),
            "services": {s.name: s.process.pid for s in self.services if s.process is not None},
        }
        self.state_file.write_text(json.dumps(state, indent=2))

    def watch(self, tick: Callable[[], None] | None = None) -> None:
        """Block until asked to stop; restart crashed services meanwhile."""
        while not self._stopping:
            for service in self.services:
                process = service.process
                if process is not None and process.poll() is not None and not self._stopping:
                    print(f"! {service.name} exited with {process.returncode}; restarting", file=sys.stderr, flush=True)
                    if not service.restart:
                        raise RuntimeError(f"{service.name} stopped")
                    now = time.monotonic()
                    service.restarted_at = [t for t in service.restarted_at if now - t < 60] + [now]
                    if len(service.restarted_at) > MAX_RESTARTS_PER_MINUTE:
                        raise RuntimeError(f"{service.name} keeps exiting; see {self.log_dir / service.name}.log")
                    self._spawn(service)
            if tick:
                tick()
            time.sleep(0.5)

    def request_stop(self, *_: object) -> None:
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop_all(self) -> None:
        self._stopping = True
        for service in reversed(self.services):
            process = service.process
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            # Anything the service started in its own session goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)
