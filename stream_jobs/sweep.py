"""What the worker's sweep timer does to one visitor, and when it next has something to do. Pure logic, no Faust.

The sweep closes the sessions of visitors gone silent and signals carts left behind. Each visitor has a time from
which it has something to do (sweep_due): for the half hour a visitor's session stays open, it has nothing. So
the worker sweeps only the visitors whose time has come (plus all of them after a rebalance).
"""

from __future__ import annotations

from clickpulse.records import IntentSignal, Session
from stream_jobs import intent
from stream_jobs.sessionizer import VisitorState, Windowing, close_idle, idle_from, intent_visitor


def sweep_due(state: VisitorState, w: Windowing, tuning: intent.IntentSettings) -> int | None:
    """The wall-clock time (ms) from which sweep_visitor has something to do: close the sessions, silent by then
    for gap + grace, or signal a cart left behind; None if there is nothing to wait for."""
    if any(not s.closed for s in state.sessions):
        return idle_from(state, w)
    if intent.abandonment_pending(state.intent, intent_visitor(state, state.sessions_started)):
        return intent.abandoned_from(state.intent, tuning)
    return None


def sweep_visitor(
    state: VisitorState, w: Windowing, tuning: intent.IntentSettings, wall_ms: int
) -> tuple[list[Session], list[IntentSignal]]:
    """Close the visitor's sessions if they have been silent for gap + grace, and signal their cart if it was
    abandoned: the session records and signals to emit."""
    closed = close_idle(state, w, wall_ms)
    if closed:
        intent.session_ended(state.intent, wall_ms)
    abandoned = intent.check_abandoned(state.intent, intent_visitor(state, state.sessions_started), wall_ms, tuning)
    return closed, [abandoned] if abandoned else []
