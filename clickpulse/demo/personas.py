"""Shopper personas: what each kind of visitor does on the demo shop, as a list of visits.

A visit is a list of steps (page views, product views, cart actions, purchase). Seeded, so the
same seed gives the same traffic; the ground truth (persona, purchase) comes with it.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

from clickpulse.demo.catalog import CATALOG, Item

BROWSER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
BOT_AGENTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)
REFERRERS = (
    "",
    "",
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://www.facebook.com/",
    "https://news.ycombinator.com/",
    "https://newsletter.example/",
)
CAMPAIGN_QUERIES = ("", "", "", "?utm_source=newsletter&utm_medium=email&utm_campaign=winter", "?gclid=abc123")
# Where shoppers are, as a CDN in front of ingest reports it (Cloudflare's CF-IPCountry): a European shop's mix.
COUNTRIES = ("DE", "DE", "DE", "FR", "FR", "GB", "GB", "NL", "AT", "ES", "IT", "PL", "SE", "US", "US", "CH")
PERSONA_WEIGHTS = {"buyer": 0.18, "researcher": 0.27, "bouncer": 0.3, "cart_abandoner": 0.17, "bot": 0.08}


@dataclass(slots=True)
class Step:
    type: str  # an event type of clickpulse.records.EVENT_TYPES
    path: str
    item: Item | None = None
    dwell_s: float = 5.0
    props: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class Shopper:
    visitor_id: str
    persona: str
    user_agent: str
    referrer: str
    visits: list[list[Step]]  # earlier visits first; all but the last are replayed days back
    purchases: bool = False
    customer_id: str = ""

    @property
    def country(self) -> str:
        # From the visitor id, not the seeded draws: those shape the traffic that intent quality is measured on.
        return COUNTRIES[zlib.crc32(self.visitor_id.encode()) % len(COUNTRIES)]


def _product_steps(rng: random.Random, items: list[Item], dwell: tuple[float, float]) -> list[Step]:
    steps = []
    for item in items:
        steps.append(Step("pageview", f"/product/{item.product_id}.html", dwell_s=rng.uniform(*dwell)))
        steps.append(Step("product_view", f"/product/{item.product_id}.html", item, dwell_s=0))
    return steps


def make_shopper(rng: random.Random, n: int) -> Shopper:
    persona = rng.choices(list(PERSONA_WEIGHTS), weights=list(PERSONA_WEIGHTS.values()))[0]
    visitor = f"v_demo_{n:05d}_{rng.randrange(16**6):06x}"
    agent = rng.choice(BOT_AGENTS if persona == "bot" else BROWSER_AGENTS)
    landing = "/" + rng.choice(CAMPAIGN_QUERIES)
    home = Step("pageview", landing, dwell_s=rng.uniform(3, 20))
    shopper = Shopper(visitor, persona, agent, rng.choice(REFERRERS), visits=[])
    if persona == "bouncer":
        shopper.visits = [[Step("pageview", landing, dwell_s=rng.uniform(1, 6))]]
    elif persona == "bot":
        crawl = ("/", "/product/p1.html", "/product/p2.html", "/cart.html")
        shopper.visits = [[Step("pageview", p, dwell_s=0.2) for p in crawl]]
    elif persona == "researcher":
        picks = rng.sample(CATALOG, k=rng.randint(2, 4))
        visit = [home, Step("search", "/?q=" + picks[0].category, props={"query": picks[0].category}, dwell_s=2)]
        visit += _product_steps(rng, picks, (20, 90))
        earlier = _product_steps(rng, picks[:2], (10, 40))
        shopper.visits = [[home, *earlier], visit] if rng.random() < 0.6 else [visit]
        if rng.random() < 0.15:  # some researchers decide after all
            shopper.visits[-1] += [Step("add_to_cart", "/cart.html", picks[0], 3), *_checkout(rng, [picks[0]])]
            shopper.purchases = True
    elif persona == "cart_abandoner":
        picks = rng.sample(CATALOG, k=rng.randint(1, 3))
        visit = [home, *_product_steps(rng, picks, (15, 60))]
        visit += [Step("add_to_cart", "/cart.html", item, dwell_s=4) for item in picks]
        visit.append(Step("pageview", "/cart.html", dwell_s=rng.uniform(5, 30)))
        if rng.random() < 0.5:
            visit.append(Step("checkout_start", "/checkout.html", dwell_s=rng.uniform(5, 40)))
        shopper.visits = [visit]
        if rng.random() < 0.25:  # some come back days later and buy after all
            shopper.visits.append([home, Step("pageview", "/cart.html", dwell_s=5), *_checkout(rng, picks)])
            shopper.purchases = True
    else:  # buyer
        picks = rng.sample(CATALOG, k=rng.randint(1, 3))
        # Buyers come back to what they want: the same product, viewed closely, more than once.
        earlier = [home, *_product_steps(rng, picks[:1], (30, 90)), *_product_steps(rng, picks[:1], (20, 60))]
        visit = [home, *_product_steps(rng, picks, (15, 60))]
        visit += [Step("add_to_cart", "/cart.html", item, dwell_s=3) for item in picks]
        visit.append(Step("pageview", "/cart.html", dwell_s=rng.uniform(5, 20)))
        if rng.random() < 0.5:
            shopper.customer_id = f"crm-{n:05d}"
            visit.append(Step("identify", "/checkout.html", props={"customer_id": shopper.customer_id}, dwell_s=0))
        visit += _checkout(rng, picks)
        shopper.visits = [earlier, visit] if rng.random() < 0.5 else [visit]
        shopper.purchases = True
    return shopper


def _checkout(rng: random.Random, items: list[Item]) -> list[Step]:
    revenue = round(sum(i.price for i in items), 2)
    # The cart's lines, as the shop's checkout sends them: the warehouse counts each product's purchases from them.
    lines = [{"product_id": i.product_id, "name": i.name, "price": i.price, "quantity": 1} for i in items]
    cart = {"currency": "EUR", "items": lines}
    return [
        Step("pageview", "/checkout.html", dwell_s=rng.uniform(10, 40)),
        Step("checkout_start", "/checkout.html", dwell_s=0, props={"value": revenue, **cart}),
        Step("purchase", "/checkout.html", dwell_s=2, props={"revenue": revenue, **cart}),
    ]
