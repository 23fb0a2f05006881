"""The purchase-intent feed for CRMs, paged with a cursor that never repeats or skips a signal.

The cursor is, per partition of the `intent` topic, the last Kafka offset handed out, and the site it is for. The loader
writes each partition as a contiguous prefix in offset order, so "every row after the cursor's
offset, per partition" is exactly what a client has not seen, however many signals arrive meanwhile.
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from api.cursors import NOT_HANDED_OUT, BadCursor, seal, unseal
from api.intent_partition_ends import PartitionEnds
from api.time_range import epoch_ms, utc_iso_ms
from clickpulse.records import IntentSignal

MAX_LIMIT = 1000  # signals per page
# Kafka's own bounds: partitions are int32, offsets int64 (a larger forged number would fail the query or the encode).
MAX_PARTITION = 2**31 - 1
MAX_OFFSET = 2**63 - 1
# Far more partitions than an intent topic has: a cursor is a client's to send back, and each position costs work.
MAX_POSITIONS = 10_000


def encode_cursor(site_id: str, positions: dict[int, int]) -> str:
    return seal({"site": site_id, "after": {str(p): o for p, o in sorted(positions.items())}})


def decode_cursor(cursor: str | None, site_id: str) -> dict[int, int]:
    """The positions a cursor of this site's feed holds. Offsets are per partition of one topic that every site
    shares, so another site's cursor would skip this site's signals: it is refused, like a forged one."""
    if not cursor:
        return {}
    raw = unseal(cursor)
    try:
        site, after = raw["site"], raw["after"]
        positions = {int(p): o for p, o in after.items()}
    except (ValueError, TypeError, AttributeError, KeyError):
        raise BadCursor(NOT_HANDED_OUT) from None
    if len(positions) > MAX_POSITIONS:
        raise BadCursor(NOT_HANDED_OUT)
    # type(), not isinstance(): a bool is an int, and 1.5 or true is no offset this API hands out.
    if any(type(o) is not int or not 0 <= p <= MAX_PARTITION or not 0 <= o <= MAX_OFFSET for p, o in positions.items()):
        raise BadCursor(NOT_HANDED_OUT)
    if site != site_id:
        raise BadCursor("cursor is another site's: each site's feed has cursors of its own")
    return positions


class IntentFeed:
    def __init__(self, client: Client, database: str, partition_ends: PartitionEnds) -> None:
        self.client = client
        self.db = database
        self.partition_ends = partition_ends

    def end_cursor(self, site_id: str) -> str:
        """A cursor past every signal the site has now: its next page holds only signals that arrive later."""
        rows = self.client.query(
            f"SELECT kafka_partition, max(kafka_offset) FROM {self.db}.intent_signals "
            "WHERE site_id = {site:String} GROUP BY kafka_partition",
            parameters={"site": site_id},
        ).result_rows
        return encode_cursor(site_id, {int(partition): int(offset) for partition, offset in rows})

    def page(self, site_id: str, cursor: str | None, limit: int) -> dict[str, object]:
        positions = decode_cursor(cursor, site_id)
        # A cursor's offset is the last one handed out, so below its partition's end, unless the topic was reset (its
        # offsets start again) or the cursor made by hand: waiting for the offset would skip every signal up to it.
        # Such a partition is read again from its start, as a Kafka consumer with auto.offset.reset=earliest does,
        # and the page says so: a signal may come again, with its id.
        reset = self.partition_ends.past_the_end(positions)
        for partition in reset:
            del positions[partition]
        # The positions are bound as two arrays: formatted into the SQL as one OR term each, a forged cursor of a few
        # thousand partitions (57 KB) took the embedded engine a minute to parse, and every other query waited.
        rows = self.client.query(
            f"""
            SELECT id, kind, visitor_id, customer_id, score, reasons, products, at, kafka_partition, kafka_offset
            FROM {self.db}.intent_signals FINAL
            WHERE site_id = {{site:String}}
              AND (indexOf({{partitions:Array(UInt32)}}, kafka_partition) = 0
                   OR kafka_offset > {{offsets:Array(UInt64)}}[indexOf({{partitions:Array(UInt32)}}, kafka_partition)])
            ORDER BY kafka_partition, kafka_offset
            LIMIT {int(limit)}
            """,
            parameters={"site": site_id, "partitions": list(positions), "offsets": list(positions.values())},
        ).result_rows
        signals = []
        for sid, kind, visitor, customer, score, reasons, products, at, partition, offset in rows:
            positions[int(partition)] = int(offset)
            signal = IntentSignal(
                id=sid,
                site_id=site_id,
                kind=kind,
                visitor_id=visitor,
                customer_id=customer,
                score=float(score),
                at=epoch_ms(at),
                reasons=list(reasons),
                products=list(products),
            )
            signals.append(signal_answer(signal))
        return {"signals": signals, "next_cursor": encode_cursor(site_id, positions), "cursor_reset": bool(reset)}


def signal_answer(signal: IntentSignal) -> dict[str, object]:
    """A signal as the API answers it, in the feed and in the live snapshot alike."""
    return {
        "id": signal.id,
        "kind": signal.kind,
        "visitor_id": signal.visitor_id,
        "customer_id": signal.customer_id or None,
        "score": round(signal.score, 4),
        "reasons": signal.reasons,
        "products": signal.products,
        "at": utc_iso_ms(signal.at),
    }
