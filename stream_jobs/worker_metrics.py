"""What a stream worker counts, for its /metrics. The batch path adds a batch's totals once per batch, never per
event: the worker's hot path is a few microseconds per event (bench/stream_bench.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from clickpulse.prometheus_text import family, summary


@dataclass(slots=True)
class WorkerMetrics:
    events: int = 0
    events_applied: int = 0
    late_events: int = 0
    # Per output topic (sessions, intent, identities): by batches and by sweeps.
    emitted: dict[str, int] = field(default_factory=lambda: {"sessions": 0, "intent": 0, "identities": 0})
    dead_letters: int = 0
    erasures: int = 0
    batches: int = 0
    batch_seconds: float = 0.0
    last_batch_at: float = 0.0

    def batch_done(self, events: int, applied: int, late: int, seconds: float, at: float) -> None:
        self.events += events
        self.events_applied += applied
        self.late_events += late
        self.batches += 1
        self.batch_seconds += seconds
        self.last_batch_at = at

    def records_emitted(self, sessions: int, signals: int, links: int) -> None:
        emitted = self.emitted
        emitted["sessions"] += sessions
        emitted["intent"] += signals
        emitted["identities"] += links

    def render(self, gauges: dict[str, tuple[str, float]]) -> list[str]:
        """The counters, then the caller's gauges (name -> (help, value)) read at scrape time."""
        p = "clickpulse_worker_"
        lines = family(f"{p}events_total", "counter", "events taken from Kafka in batches", self.events)
        lines += family(
            f"{p}events_applied_total",
            "counter",
            "events the sessionizer applied (not duplicates, late or erased)",
            self.events_applied,
        )
        lines += family(f"{p}late_events_total", "counter", "events later than the session grace", self.late_events)
        lines += family(
            f"{p}records_emitted_total", "counter", "records sent per output topic", self.emitted, label="topic"
        )
        lines += family(f"{p}dead_letters_total", "counter", "records sent to the dead letters", self.dead_letters)
        lines += family(f"{p}erasures_total", "counter", "erasures applied to the visitor table", self.erasures)
        lines += family(f"{p}batches_total", "counter", "batches of events handled", self.batches)
        lines += summary(f"{p}batch_seconds", "time handling a batch, outputs sent", self.batch_seconds, self.batches)
        lines += family(
            f"{p}last_batch_timestamp_seconds", "gauge", "when the last batch was handled (epoch s)", self.last_batch_at
        )
        for name, (help_text, value) in sorted(gauges.items()):
            lines += family(f"{p}{name}", "gauge", help_text, value)
        return lines
