"""The order in which the worker's rows' changelog records leave (stream_jobs.app.RowHandOffs): a hand-off's rows go
only once Kafka has its outputs and after every earlier hand-off's, whichever outputs Kafka acknowledges first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from stream_jobs.app import RowHandOffs


def test_rows_go_after_their_outputs_and_after_every_earlier_hand_off_whatever_order_kafka_acks_in() -> None:
    async def run() -> list[str]:
        loop = asyncio.get_running_loop()
        sent: list[str] = []
        hand_offs = RowHandOffs()
        first_output, second_output = loop.create_future(), loop.create_future()

        def rows(name: str) -> Callable[[], Awaitable[None]]:
            async def send() -> None:
                sent.append(name)

            return send

        first = hand_offs.after([first_output], rows("first"))
        second = hand_offs.after([second_output], rows("second"))
        third = hand_offs.after([], rows("third"))  # an erasure: no outputs, still in line
        second_output.set_result(None)
        await asyncio.sleep(0.01)
        assert sent == [] and not hand_offs.settled()  # the first batch's outputs are not in Kafka yet
        first_output.set_result(None)
        await asyncio.gather(first, second, third)
        assert hand_offs.settled()
        return sent

    assert asyncio.run(run()) == ["first", "second", "third"]


def test_a_hand_off_whose_outputs_failed_leaves_it_and_every_later_one_unsettled() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        sent: list[str] = []
        hand_offs = RowHandOffs()
        failed = loop.create_future()

        async def send() -> None:
            sent.append("rows")

        first = hand_offs.after([failed], send)
        later = hand_offs.after([], send)
        failed.set_exception(ConnectionError("Kafka went away"))
        for hand_off in (first, later):
            with pytest.raises(ConnectionError):
                await hand_off
        assert sent == [] and not hand_offs.settled()  # a clean stop must not vouch for these rows

    asyncio.run(run())
