"""The demo shop's products, shared by the shop pages' generator and the simulator."""

from __future__ import annotations

from typing import NamedTuple


class Item(NamedTuple):
    product_id: str
    name: str
    category: str
    price: float


CATALOG: tuple[Item, ...] = (
    Item("p1", "Trail running shoes", "shoes", 129.0),
    Item("p2", "Merino base layer", "apparel", 79.0),
    Item("p3", "Ultralight tent", "camping", 349.0),
    Item("p4", "Headlamp 400lm", "gear", 39.0),
)
