"""What the worker's sweep timer does to one visitor, and whether a visitor still needs it. Pure logic, no Faust.

The sweep closes the sessions of visitors gone silent and signals carts left behind. A visitor whose sessions
are all closed and who has no cart waiting for that signal gives it nothing to do until their next event, so
the worker sweeps only the visitors for which needs_sweep holds (plus all of them after a rebalance).
"""

from __future__ import annotations

from clickpulse.records import IntentSignal, Session
from stream_jobs import intent
from stream_jobs.sessionizer import VisitorState, Windowing, close_idle, intent_visitor


def needs_sweep(state: VisitorState) -> bool:
    """A session still open, or a cart whose abandonment may still be signalled."""
    if any(not s.closed for s in state.sessions):
        return True
    return intent.abandonment_pending(state.intent, intent_visitor(state, state.sessions_started))


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
