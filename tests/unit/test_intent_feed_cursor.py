"""The intent feed's cursor: per-partition offsets, opaque to clients, refused when forged."""

from __future__ import annotations

import pytest

from api.intent_feed import BadCursor, decode_cursor, encode_cursor


def test_cursor_round_trips_partition_offsets() -> None:
    assert decode_cursor(encode_cursor({0: 41, 3: 7})) == {0: 41, 3: 7}
    assert decode_cursor(None) == {} and decode_cursor("") == {}


def test_an_empty_cursor_starts_from_the_beginning() -> None:
    assert decode_cursor("e30") == {}  # base64 of {}


@pytest.mark.parametrize(
    "forged",
    [
        "not-base64!",
        "W10",
        "eyIwIjogLTF9",  # {"0": -1}
        "eyIwIjo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5fQ",  # {"0": 10**25 - 1}: was a 500 (the next cursor's encode)
        encode_cursor({0: 2**63}),  # beyond Kafka's int64 offsets
        encode_cursor({2**31: 0}),  # beyond Kafka's int32 partitions
    ],
)
def test_forged_cursors_are_refused(forged: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(forged)
