"""What `clickpulse up` prints about where its parts are: never a password."""

from __future__ import annotations

import pytest

from clickpulse.local_stack.stack import without_password


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("http://default:s3cret@clickhouse:8123", "http://default:***@clickhouse:8123"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("chdb:///var/lib/clickpulse/clickhouse", "chdb:///var/lib/clickpulse/clickhouse"),
    ],
)
def test_a_password_in_a_printed_url_is_masked_and_the_rest_kept(url: str, shown: str) -> None:
    assert without_password(url) == shown
