"""Per-site intent settings: the CLI refuses out-of-range or mistyped overrides and stores them in their fields'
types; a bad value stored anyway never reaches the model, whose lookup keeps the defaults for that site."""

from __future__ import annotations

import pytest

from clickpulse.cli import build_parser, intent_overrides
from clickpulse.records import EnrichedEvent, Product
from clickpulse.sites import Site
from stream_jobs import intent
from stream_jobs.intent import IntentSettings, IntentState
from stream_jobs.site_settings import intent_settings_of


def site(site_id: str, overrides: dict[str, int | float]) -> Site:
    return Site(site_id=site_id, name=site_id, write_key="wk", read_key_sha256="", created_at=0, intent=overrides)


def test_whole_numbers_for_int_settings_are_stored_as_ints_and_merged_with_the_current_overrides() -> None:
    stored = intent_overrides({"threshold": 0.55}, ["half_life_ms=3600000", "scale=4"])
    assert stored == {"threshold": 0.55, "half_life_ms": 3600000, "scale": 4.0}
    assert type(stored["half_life_ms"]) is int and type(stored["scale"]) is float


@pytest.mark.parametrize(
    ("pairs", "says"),
    [
        (["half_life_ms=0"], "half_life_ms"),
        (["scale=0"], "scale"),
        (["threshold=1.5"], "threshold"),
        (["threshold=0"], "threshold"),
        (["abandon_after_ms=-5"], "abandon_after_ms"),
        (["half_life_ms=1.5"], "half_life_ms"),
        (["scale=abc"], "must be a number"),
        (["add_to_cart=nan"], "finite"),
        (["checkout=inf"], "finite"),
        (["bogus=1"], "unknown intent setting"),
    ],
)
def test_out_of_range_or_mistyped_overrides_are_refused_with_a_clear_message(pairs: list[str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        intent_overrides({}, pairs)


def test_a_stored_override_that_breaks_the_merged_settings_is_refused_too() -> None:
    with pytest.raises(ValueError, match="scale"):
        intent_overrides({"scale": 0.0}, ["threshold=0.5"])


def test_a_bad_stored_override_never_raises_in_the_workers_lookup_and_keeps_the_defaults() -> None:
    sites = [
        site("zero_scale", {"scale": 0.0}),
        site("zero_half_life", {"half_life_ms": 0}),
        site("fractional_ms", {"half_life_ms": 1.5}),
        site("old_float_ms", {"half_life_ms": 3600000.0, "threshold": 0.5}),
    ]
    tunings = intent_settings_of(sites)
    assert set(tunings) == {"old_float_ms"}  # the others keep the defaults
    assert tunings["old_float_ms"] == IntentSettings(half_life_ms=3600000, threshold=0.5)
    state = IntentState()
    visitor = intent.Visitor("zero_scale", "v", "", 1)
    for ts in (1_000, 2_000):
        event = EnrichedEvent(
            event_id=str(ts), site_id="zero_scale", visitor_id="v", type="product_view", ts=ts, received_at=ts,
            products=[Product("p1", "P", "c", 1.0)],
        )  # fmt: skip
        intent.observe(state, event, visitor, tunings.get("zero_scale", IntentSettings()))
    assert 0 < state.score < 1


def test_tune_intent_help_names_every_setting_it_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["site", "tune-intent", "--help"])
    words = set(capsys.readouterr().out.replace(",", " ").split())
    assert set(IntentSettings.__struct_fields__) <= words
