"""The customer history's cursor: the place of the last session a page listed, bound to its site and customer,
refused when forged or another's."""

from __future__ import annotations

import base64
import json

import pytest

from api.cursors import BadCursor
from api.queries import decode_history_cursor, encode_history_cursor

SITE, CUSTOMER = "s_0123abcd", "crm/42"


def forge(raw: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def test_a_history_cursor_round_trips_the_place_of_a_session() -> None:
    place = (1_764_000_000_123, "sess-1")
    assert decode_history_cursor(encode_history_cursor(SITE, CUSTOMER, place), SITE, CUSTOMER) == place
    assert decode_history_cursor(None, SITE, CUSTOMER) is None and decode_history_cursor("", SITE, CUSTOMER) is None


@pytest.mark.parametrize(("site", "customer"), [("s_other", CUSTOMER), (SITE, "crm/43")])
def test_another_sites_or_customers_history_cursor_is_refused(site: str, customer: str) -> None:
    with pytest.raises(BadCursor, match="another customer"):
        decode_history_cursor(encode_history_cursor(site, customer, (1, "sess-1")), SITE, CUSTOMER)


@pytest.mark.parametrize(
    "forged",
    [
        "not-base64!",
        "W10",  # []
        forge({"site": SITE, "customer": CUSTOMER}),
        forge({"site": SITE, "customer": CUSTOMER, "before": [1, "s", 3]}),
        forge({"site": SITE, "customer": CUSTOMER, "before": [1.5, "s"]}),
        forge({"site": SITE, "customer": CUSTOMER, "before": [True, "s"]}),
        forge({"site": SITE, "customer": CUSTOMER, "before": [-1, "s"]}),
        forge({"site": SITE, "customer": CUSTOMER, "before": [10**25, "s"]}),
        forge({"site": SITE, "customer": CUSTOMER, "before": [1, 7]}),
        forge({"after": {"0": 12}, "site": SITE}),  # the intent feed's
    ],
)
def test_forged_history_cursors_are_refused(forged: str) -> None:
    with pytest.raises(BadCursor):
        decode_history_cursor(forged, SITE, CUSTOMER)
