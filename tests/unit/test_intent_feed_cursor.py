"""The intent feed's cursor: per-partition offsets of one site's feed, opaque to clients, refused when forged or
another site's."""

from __future__ import annotations

import base64
import json

import pytest

from api.cursors import BadCursor
from api.intent_feed import MAX_POSITIONS, decode_cursor, encode_cursor

SITE = "s_0123abcd"


def forge(raw: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def test_cursor_round_trips_partition_offsets() -> None:
    assert decode_cursor(encode_cursor(SITE, {0: 41, 3: 7}), SITE) == {0: 41, 3: 7}
    assert decode_cursor(None, SITE) == {} and decode_cursor("", SITE) == {}


def test_a_cursor_without_positions_starts_from_the_beginning() -> None:
    assert decode_cursor(encode_cursor(SITE, {}), SITE) == {}


def test_another_sites_cursor_is_refused() -> None:
    # Offsets are per partition of the topic every site shares: site B's cursor on site A's feed skipped A's signals.
    with pytest.raises(BadCursor, match="another site"):
        decode_cursor(encode_cursor("s_other", {0: 12, 2: 14}), SITE)


@pytest.mark.parametrize(
    "forged",
    [
        "not-base64!",
        "W10",
        "eyIwIjoxMn0",  # {"0": 12}: no site
        forge({"site": SITE, "after": {"0": -1}}),
        forge({"site": SITE, "after": {"0": 10**25 - 1}}),  # was a 500 (the next cursor's encode)
        forge({"site": SITE, "after": {"0": 1.5}}),
        forge({"site": SITE, "after": {"0": True}}),
        forge({"site": SITE, "after": [0]}),
        encode_cursor(SITE, {0: 2**63}),  # beyond Kafka's int64 offsets
        encode_cursor(SITE, {2**31: 0}),  # beyond Kafka's int32 partitions
        encode_cursor(SITE, dict.fromkeys(range(MAX_POSITIONS + 1), 0)),  # more partitions than any topic has
    ],
)
def test_forged_cursors_are_refused(forged: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(forged, SITE)
