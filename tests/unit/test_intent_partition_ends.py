"""When the intent feed asks Kafka where partitions end: only when the ends it knows are old or do not settle a
cursor, so that a poller's every page costs no question to Kafka."""

from __future__ import annotations

import pytest

from api import intent_partition_ends
from api.intent_partition_ends import PartitionEnds


class CountedEnds(PartitionEnds):
    """Kafka's answers given, and counted (the real asking is tested against Kafka in tests/e2e)."""

    def __init__(self, *answers: dict[int, int]) -> None:
        super().__init__("kafka.invalid:9092", "intent")
        self.answers = list(answers)
        self.asked = 0

    def _ask(self) -> dict[int, int]:
        self.asked += 1
        return self.answers.pop(0)


def test_offsets_below_known_ends_are_settled_without_asking_again() -> None:
    ends = CountedEnds({0: 10, 1: 5})
    assert ends.past_the_end({0: 9, 1: 4}) == [] and ends.asked == 1
    assert ends.past_the_end({0: 3}) == [] and ends.asked == 1


def test_an_offset_at_or_past_a_known_end_asks_again_since_the_partition_may_have_grown() -> None:
    ends = CountedEnds({0: 10, 1: 5}, {0: 12, 1: 5}, {0: 12, 1: 5})
    ends.past_the_end({0: 9})
    assert ends.past_the_end({0: 11}) == [] and ends.asked == 2  # partition 0 grew
    assert ends.past_the_end({0: 9, 1: 5}) == [1] and ends.asked == 3  # partition 1 did not


def test_a_partition_the_topic_lacks_is_past_its_end() -> None:
    assert CountedEnds({0: 10}, {0: 10}).past_the_end({0: 2, 7: 0}) == [7]


def test_known_ends_are_asked_again_once_old_so_that_a_reset_topic_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(intent_partition_ends.time, "monotonic", lambda: now[0])
    ends = CountedEnds({0: 500}, {0: 3})  # then the topic was recreated: its offsets start again
    assert ends.past_the_end({0: 400}) == []
    now[0] += intent_partition_ends.KNOWN_FOR_S + 1
    assert ends.past_the_end({0: 400}) == [0] and ends.asked == 2


def test_no_cursor_asks_nothing() -> None:
    ends = CountedEnds()
    assert ends.past_the_end({}) == [] and ends.asked == 0
