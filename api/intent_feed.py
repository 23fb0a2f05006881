"""The purchase-intent feed for CRMs, paged with a cursor that never repeats or skips a signal.

The cursor is, per partition of the `intent` topic, the last Kafka offset handed out, and the site it is for. The loader
writes each partition as a contiguous prefix in offset order, so "every row after the cursor's
offset, per partition" is exactly what a client has not seen, however many signals arrive meanwhile.
"""

from __future__ import annotations

import base64

import orjson
from clickhouse_connect.driver.client import Client

from api.time_range import utc_iso

MAX_LIMIT = 1000  # signals per page
# Kafka's own bounds: partitions are int32, offsets int64 (a larger forged number would fail the query or the encode).
MAX_PARTITION = 2**31 - 1
MAX_OFFSET = 2**63 - 1


class BadCursor(ValueError):
    pass


def encode_cursor(site_id: str, positions: dict[int, int]) -> str:
    raw = {"site": site_id, "after": {str(p): o for p, o in sorted(positions.items())}}
    return base64.urlsafe_b64encode(orjson.dumps(raw)).decode().rstrip("=")


def decode_cursor(cursor: str | None, site_id: str) -> dict[int, int]:
    """The positions a cursor of this site's feed holds. Offsets are per partition of one topic that every site
    shares, so another site's cursor would skip this site's signals: it is refused, like a forged one."""
    if not cursor:
        return {}
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        site, after = raw["site"], raw["after"]
        positions = {int(p): o for p, o in after.items()}
    except (ValueError, TypeError, AttributeError, KeyError, orjson.JSONDecodeError):
        raise BadCursor("cursor is not one this API handed out") from None
    # type(), not isinstance(): a bool is an int, and 1.5 or true is no offset this API hands out.
    if any(type(o) is not int or not 0 <= p <= MAX_PARTITION or not 0 <= o <= MAX_OFFSET for p, o in positions.items()):
        raise BadCursor("cursor is not one this API handed out")
    if site != site_id:
        raise BadCursor("cursor is another site's: each site's feed has cursors of its own")
    return positions


class IntentFeed:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.db = database

    def page(self, site_id: str, cursor: str | None, limit: int) -> dict[str, object]:
        positions = decode_cursor(cursor, site_id)
        after = " OR ".join(f"(kafka_partition = {p} AND kafka_offset > {o})" for p, o in positions.items())
        seen = ",".join(str(p) for p in positions)
        unseen = f"kafka_partition NOT IN ({seen})" if positions else "1"
        rows = self.client.query(
            f"""
            SELECT id, kind, visitor_id, customer_id, score, reasons, products, at, kafka_partition, kafka_offset
            FROM {self.db}.intent_signals FINAL
            WHERE site_id = {{site:String}} AND ({after + " OR " if after else ""}{unseen})
            ORDER BY kafka_partition, kafka_offset
            LIMIT {limit}
            """,
            parameters={"site": site_id},
        ).result_rows
        signals = []
        for sid, kind, visitor, customer, score, reasons, products, at, partition, offset in rows:
            positions[int(partition)] = int(offset)
            signals.append(
                {
                    "id": sid,
                    "kind": kind,
                    "visitor_id": visitor,
                    "customer_id": customer or None,
                    "score": round(float(score), 4),
                    "reasons": list(reasons),
                    "products": list(products),
                    "at": utc_iso(at),
                }
            )
        return {"signals": signals, "next_cursor": encode_cursor(site_id, positions)}
