"""Benchmark of the intent model's quality on simulated shoppers with ground truth: ROC AUC of the score
before any purchase, and the precision of abandoned-cart signals. A unit test holds it to a floor.

Run:  .venv/bin/python bench/intent_quality.py [shoppers]     (prints figures, writes bench/results/intent_quality.json)
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clickpulse.demo.personas import make_shopper
from clickpulse.records import EnrichedEvent, Product
from clickpulse.settings import REPO_ROOT
from stream_jobs import intent
from stream_jobs.intent import DAY_MS, IntentSettings, IntentState

RESULTS = REPO_ROOT / "bench" / "results"


def shopper_events(rng: random.Random, n: int, start_ms: int) -> tuple[str, bool, list[list[EnrichedEvent]]]:
    """One simulated shopper as (persona, buys, visits of enriched events)."""
    shopper = make_shopper(rng, n)
    visits = []
    clock = start_ms
    for visit in shopper.visits:
        events = []
        for step in visit:
            products = (
                [Product(step.item.product_id, step.item.name, step.item.category, step.item.price)]
                if step.item
                else []
            )
            events.append(
                EnrichedEvent(
                    event_id=str(uuid.UUID(int=rng.getrandbits(128))),
                    site_id="s",
                    visitor_id=shopper.visitor_id,
                    type=step.type,
                    ts=clock,
                    received_at=clock,
                    path=step.path,
                    products=products,
                    customer_id=str(step.props.get("customer_id", "")),
                    revenue=float(step.props.get("revenue", 0.0)),  # type: ignore[arg-type]
                    is_bot=shopper.persona == "bot",
                )
            )
            clock += int(step.dwell_s * 1000)
            if step.type == "pageview" and step.dwell_s > 1:
                events.append(
                    EnrichedEvent(
                        event_id=str(uuid.UUID(int=rng.getrandbits(128))), site_id="s", type="page_leave",
                        visitor_id=shopper.visitor_id, ts=clock, received_at=clock, path=step.path,
                        engaged_ms=int(step.dwell_s * 1000),
                    )
                )  # fmt: skip
        visits.append(events)
        clock += rng.randint(1, 3) * DAY_MS
    return shopper.persona, shopper.purchases, visits


def roc_auc(scores: list[float], labels: list[bool]) -> float:
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def evaluate(shoppers: int = 1000, seed: int = 11, settings: IntentSettings | None = None) -> dict[str, float]:
    """Two rankings: the score just before any purchase (or at the end), and the score at the end of
    the first visit of visitors who come back (a true forecast: the purchase is days away)."""
    s = settings or IntentSettings()
    rng = random.Random(seed)
    scores, labels, first_visit_scores, first_visit_labels = [], [], [], []
    signals = true_signals = 0
    for n in range(shoppers):
        persona, buys, visits = shopper_events(rng, n, 1_790_000_000_000)
        if persona == "bot":
            continue
        state = IntentState()
        customer = ""
        score_before_purchase = None
        signalled_at_visit = 0
        bought_at_visit = 0
        for index, events in enumerate(visits, start=1):
            for event in events:
                if event.type == "purchase":
                    bought_at_visit = bought_at_visit or index
                    if score_before_purchase is None:
                        score_before_purchase = state.score
                customer = event.customer_id or customer
                intent.observe(state, event, intent.Visitor("s", event.visitor_id, customer, index), s)
            if index == 1 and len(visits) > 1:
                first_visit_scores.append(state.score)
                first_visit_labels.append(buys)
            intent.session_ended(state, wall_ms=index)
            visitor = intent.Visitor("s", "v", customer, index)
            if not signalled_at_visit and intent.check_abandoned(state, visitor, index + s.abandon_after_ms, s):
                signalled_at_visit = index
        if signalled_at_visit:
            signals += 1
            true_signals += not (bought_at_visit and bought_at_visit > signalled_at_visit)
        scores.append(state.score if score_before_purchase is None else score_before_purchase)
        labels.append(buys)
    return {
        "visitors": len(scores),
        "buyers": sum(labels),
        "roc_auc_before_purchase": round(roc_auc(scores, labels), 4),
        "returning_visitors": len(first_visit_scores),
        "roc_auc_first_visit_of_returning": round(roc_auc(first_visit_scores, first_visit_labels), 4),
        "abandoned_cart_signals": signals,
        "abandoned_cart_precision": round(true_signals / signals, 4) if signals else float("nan"),
    }


if __name__ == "__main__":
    figures = evaluate(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
    print(json.dumps(figures, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "intent_quality.json").write_text(json.dumps(figures, indent=2))
