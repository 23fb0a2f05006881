"""Metric families in the Prometheus text exposition format (version 0.0.4), for every service's /metrics: a handful
of numbers per scrape, not worth a client library's global registry."""

from __future__ import annotations

from collections.abc import Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def family(name: str, kind: str, help_text: str, samples: float | Mapping[str, float], label: str = "") -> list[str]:
    """One family: a single value, or one value per `label` value (e.g. rows per table); no help text, no HELP."""
    lines = [f"# HELP {name} {help_text}"] if help_text else []
    lines.append(f"# TYPE {name} {kind}")
    if isinstance(samples, Mapping):
        lines += [f'{name}{{{label}="{key}"}} {_number(value)}' for key, value in sorted(samples.items())]
    else:
        lines.append(f"{name} {_number(samples)}")
    return lines


def summary(name: str, help_text: str, total: float, count: int) -> list[str]:
    """A summary without quantiles: rate(_sum) / rate(_count) is the mean over any window."""
    return [f"# HELP {name} {help_text}", f"# TYPE {name} summary", f"{name}_sum {total!r}", f"{name}_count {count}"]


def exposition(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))
