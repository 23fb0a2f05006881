"""Counters and a produce-latency histogram, rendered in the Prometheus text format."""

from __future__ import annotations

from collections import Counter

from clickpulse.prometheus_text import exposition, family

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.left_out: Counter[str] = Counter()
        self._latency = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0

    def inc(self, name: str, by: int = 1) -> None:
        self.counters[name] += by

    def reject(self, reason: str) -> None:
        self.rejected[reason.split(":", 1)[0]] += 1

    def leave_out(self, reason: str) -> None:
        """An event a site rule left out on purpose (sampling, allow-list): counted, but not as an error."""
        self.left_out[reason] += 1

    def observe_produce(self, seconds: float) -> None:
        self._latency_sum += seconds
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self._latency[i] += 1
                return
        self._latency[-1] += 1

    def render(self, gauges: dict[str, float]) -> str:
        lines = family("clickpulse_ingest_total", "counter", "requests and events by kind", self.counters, "what")
        lines += family("clickpulse_ingest_rejected_total", "counter", "events rejected", self.rejected, "reason")
        lines += family(
            "clickpulse_ingest_left_out_total", "counter", "events a site rule left out", self.left_out, "reason"
        )
        for name, value in sorted(gauges.items()):
            lines += family(f"clickpulse_ingest_{name}", "gauge", "", value)
        lines.append("# TYPE clickpulse_ingest_produce_seconds histogram")
        cumulative = 0
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self._latency, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else f"{bound}"
            lines.append(f'clickpulse_ingest_produce_seconds_bucket{{le="{le}"}} {cumulative}')
        lines.append(f"clickpulse_ingest_produce_seconds_sum {self._latency_sum}")
        lines.append(f"clickpulse_ingest_produce_seconds_count {cumulative}")
        return exposition(lines)
