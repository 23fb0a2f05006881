"""The API's instants: from/to read as the instants they name (never a 500), warehouse times written in UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from api.errors import ApiError
from api.time_range import EARLIEST, LATEST, time_range, utc_iso


def test_a_time_with_an_offset_is_the_instant_it_names_in_utc() -> None:
    frm, to = time_range("2026-11-01T00:00:00+02:00", "2026-11-01T12:00:00-05:00")
    assert frm == dt.datetime(2026, 10, 31, 22, 0, tzinfo=dt.UTC)
    assert to == dt.datetime(2026, 11, 1, 17, 0, tzinfo=dt.UTC)


def test_a_date_covers_the_whole_utc_day() -> None:
    frm, to = time_range("2026-11-01", "2026-11-01")
    assert frm == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert to.date() == dt.date(2026, 11, 1) and to.hour == 23


def test_without_from_the_range_is_the_week_before_to() -> None:
    frm, to = time_range(None, "1700000000000")
    assert to - frm == dt.timedelta(days=7)


def test_a_date_before_the_warehouse_begins_is_clamped_not_a_crash() -> None:
    assert time_range(None, "0001-01-01") == (EARLIEST, EARLIEST)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+02:00", "9999-12-31T23:59:59-05:00"])
def test_a_time_whose_utc_instant_leaves_the_calendar_is_refused_as_bad_time(value: str) -> None:
    with pytest.raises(ApiError) as refused:
        time_range(value, None)
    assert (refused.value.status, refused.value.error) == (400, "bad_time")


def test_times_beyond_what_the_warehouse_holds_are_clamped_to_it() -> None:
    frm, to = time_range("1900-01-01", "2999-01-01")
    assert (frm, to) == (EARLIEST, LATEST)


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01", "99999999999999999999999"])
def test_unreadable_times_are_refused_as_bad_time(value: str) -> None:
    with pytest.raises(ApiError) as refused:
        time_range(value, None)
    assert (refused.value.status, refused.value.error) == (400, "bad_time")


def test_from_after_to_is_refused_as_bad_range() -> None:
    with pytest.raises(ApiError) as refused:
        time_range("2026-11-02", "2026-11-01")
    assert (refused.value.status, refused.value.error) == (400, "bad_range")


def test_a_warehouse_time_is_written_in_utc_with_a_z_to_the_millisecond() -> None:
    # The warehouse client hands back its UTC columns without a zone: written so, a reader would take them as local.
    assert utc_iso(dt.datetime(2026, 11, 24, 5, 32, 17, 113000)) == "2026-11-24T05:32:17.113Z"
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert utc_iso(dt.datetime(2026, 11, 24, 7, 32, 17, 113000, tzinfo=plus_two)) == "2026-11-24T05:32:17.113Z"


def test_an_offset_whose_plus_the_url_turned_into_a_space_is_refused_with_the_way_to_write_it() -> None:
    with pytest.raises(ApiError) as refused:
        time_range("2026-11-24T10:00:00 01:00", None)  # what ?from=2026-11-24T10:00:00+01:00 arrives as
    assert refused.value.error == "bad_time" and "%2B" in refused.value.detail


def test_a_from_in_the_future_without_to_says_that_to_is_now() -> None:
    with pytest.raises(ApiError) as refused:
        time_range("2999-01-01", None)
    assert refused.value.error == "bad_range" and "now" in refused.value.detail
