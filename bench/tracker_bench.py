"""Benchmark of the browser beacon: main-thread time per tracked event in headless Chromium, and the bundle's size.

A page loads the real bundle (tracker_js/dist/cp.js) from a local server that also answers its POST /collect.
In each round the page calls clickpulse('track', ...) 10,000 times, timed with performance.now() in batches of
100 calls; every 10th call flushes a batch synchronously (JSON, request), so its cost is in the figures. Two
cases: flushes stubbed (fetch and sendBeacon replaced by no-ops: the tracker's own work) and real (requests to
the local server). A third case clicks a link 2,000 times to time autocapture (click handler, CSS path, masking).

Run:  .venv/bin/python bench/tracker_bench.py [events]    (prints figures, writes bench/results/tracker.json)
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "tracker_js" / "dist" / "cp.js"
RESULTS = ROOT / "bench" / "results"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
ROUNDS = 5
PAGE = """<!doctype html><html><head><title>bench</title>
<script>window.clickpulse=window.clickpulse||function(){(clickpulse.q=clickpulse.q||[]).push(arguments)};</script>
<script async src="/cp.js" data-key="wk_bench"></script></head>
<body><main id="content"><div class="card"><p><a id="link" class="btn primary" href="#/x" data-cp-plan="pro"
onclick="return false">Buy the trail shoes now</a></p></div></main></body></html>"""
STUB_SENDS = """window.fetch = () => Promise.resolve(new Response(null, {status: 202}));
navigator.sendBeacon = () => true;"""
# Times n calls of body(i) in samples of 100 calls, then the task right after them, where the tracker sends
# the full batches (serialization, requests). Returns [samples' durations, that task's duration] in ms.
TIMED = """async ([n, body]) => {
  const call = new Function("i", body);
  const samples = [];
  for (let i = 0; i < n; i += 100) {
    const start = performance.now();
    for (let j = i; j < i + 100; j++) call(j);
    samples.push(performance.now() - start);
  }
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve));
  return [samples, performance.now() - start];
}"""
TRACK = "clickpulse('track', 'bench_event', {i, plan: 'pro', price: 129.5})"
CLICK = "document.getElementById('link').click()"


class Collector(BaseHTTPRequestHandler):
    """Serves the page and the bundle, and answers the beacon like ingest does (202, no body to read)."""

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/cp.js":
            body, kind = BUNDLE.read_bytes(), "application/javascript"
        else:
            body, kind = PAGE.encode(), "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    received: dict[str, int] = {"requests": 0, "events": 0}  # events: the benchmark's own
    lock = threading.Lock()

    def do_POST(self) -> None:
        batch = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        with self.lock:
            self.received["requests"] += 1
            self.received["events"] += sum(e.get("name") == "bench_event" for e in batch["events"])
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def sizes() -> dict[str, int]:
    """As tracker_js/scripts/size.js counts them (node's zlib, level 9), which is what the build checks."""
    raw = BUNDLE.read_bytes()
    node = "process.stdout.write(String(require('zlib').gzipSync(require('fs').readFileSync(0), {level: 9}).length))"
    gzipped = subprocess.run(["node", "-e", node], input=raw, capture_output=True, check=True).stdout
    return {"minified_bytes": len(raw), "gzipped_bytes": int(gzipped), "budget_bytes": 4096}


def measure(page: Page, n: int, body: str) -> dict[str, float]:
    """Rounds of n calls; the figures are per call, calls and sending together, from the median round
    (and the p99 of the 100-call samples, sending left out)."""
    page.evaluate(TIMED, [1000, body])  # warm up: JIT, first flushes
    calls, sends = [], []
    for _ in range(ROUNDS):
        samples, send_ms = page.evaluate(TIMED, [n, body])
        calls.append(samples)
        sends.append(send_ms)
        page.wait_for_timeout(300)  # let the responses of the real requests come back between rounds
    totals = sorted(sum(samples) + send_ms for samples, send_ms in zip(calls, sends, strict=True))
    per_call = [s / 100 for samples in calls for s in samples]
    return {
        "calls": n,
        "rounds": ROUNDS,
        "total_ms_median": round(statistics.median(totals), 2),
        "send_task_ms_median": round(statistics.median(sends), 2),
        "per_call_ms_median_round": round(statistics.median(totals) / n, 5),
        "per_call_ms_best_round": round(totals[0] / n, 5),
        "per_call_ms_p99_of_100_call_samples": round(statistics.quantiles(per_call, n=100)[98], 5),
    }


def open_page(browser: Any, origin: str, stub_sends: bool) -> Page:
    context = browser.new_context()
    if stub_sends:
        context.add_init_script(STUB_SENDS)
    page = context.new_page()
    page.goto(f"{origin}/index.html", wait_until="load")
    page.wait_for_function("() => window.clickpulse && window.clickpulse.loaded")
    return page


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    if not BUNDLE.exists():
        subprocess.run(["npm", "run", "-s", "build"], cwd=ROOT / "tracker_js", check=True)
    ThreadingHTTPServer.request_queue_size = 1024  # a burst of requests must not be refused by a short backlog
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    results: dict[str, Any] = {"bundle": sizes()}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            results["machine"] = {
                "cores": os.cpu_count(),
                "cpu": cpu_model(),
                "python": platform.python_version(),
                "chromium": browser.version,
            }
            page = open_page(browser, origin, stub_sends=True)
            results["track_flush_stubbed"] = measure(page, n, TRACK)
            results["click_autocapture_flush_stubbed"] = measure(page, n // 5, CLICK)
            page.context.close()
            page = open_page(browser, origin, stub_sends=False)
            before = dict(Collector.received)
            results["track_real_requests"] = measure(page, n, TRACK)
            page.evaluate("clickpulse('flush')")
            last = -1
            while last != Collector.received["events"]:  # until the requests still on their way are in
                last = Collector.received["events"]
                page.wait_for_timeout(1000)
            results["track_real_requests"]["events_tracked"] = ROUNDS * n + 1000
            results["track_real_requests"]["events_delivered"] = last - before["events"]
            results["track_real_requests"]["requests"] = Collector.received["requests"] - before["requests"]
            waiting = page.evaluate("JSON.parse(localStorage.cp_retry || '[]').length")
            results["track_real_requests"]["events_waiting_for_retry"] = waiting
            page.context.close()
            browser.close()
    finally:
        server.shutdown()

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tracker.json").write_text(json.dumps(results, indent=2) + "\n")
    b = results["bundle"]
    print(f"bundle: {b['minified_bytes']} bytes minified, {b['gzipped_bytes']} bytes gzipped (budget 4096)")
    for case in ("track_flush_stubbed", "track_real_requests", "click_autocapture_flush_stubbed"):
        r = results[case]
        print(
            f"{case}: {r['per_call_ms_median_round']:.4f} ms per call (median of {r['rounds']} rounds of "
            f"{r['calls']}; best {r['per_call_ms_best_round']:.4f}; p99 of 100-call samples "
            f"{r['per_call_ms_p99_of_100_call_samples']:.4f})"
        )
    print(f"machine: {results['machine']}; written to {RESULTS / 'tracker.json'}")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
