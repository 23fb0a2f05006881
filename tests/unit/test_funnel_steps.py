"""A funnel's steps and window as a client writes them, read into conditions and seconds."""

from __future__ import annotations

import pytest

from api.errors import ApiError
from api.funnels import step_condition, window_seconds


def test_a_window_is_seconds_or_a_number_with_a_unit() -> None:
    assert [window_seconds(w) for w in ("3600", "90s", "30m", "12h", "7d", "90d")] == [3600, 90, 1800, 43200,
                                                                                      604800, 7776000]  # fmt: skip


@pytest.mark.parametrize("window", ["", "0", "91d", "1w", "-5m", "1.5h", "1d; DROP", "99999999"])
def test_a_window_of_no_unit_we_know_or_out_of_range_is_refused(window: str) -> None:
    with pytest.raises(ApiError) as refused:
        window_seconds(window)
    assert (refused.value.status, refused.value.error) == (400, "bad_window")


def test_a_step_is_an_exact_path_a_path_prefix_or_an_event_type_its_text_always_a_parameter() -> None:
    assert step_condition(0, "/cart") == "type = 'pageview' AND path = {step0:String}"
    assert step_condition(1, "/product/*") == "type = 'pageview' AND startsWith(path, {step1:String})"
    assert step_condition(2, "purchase") == "type = {step2:String}"
    with pytest.raises(ApiError) as refused:
        step_condition(3, "purchase' OR 1=1 --")
    assert refused.value.error == "bad_step"
