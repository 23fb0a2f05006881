"""Enrichment steps: clock skew, visitor identity, IP anonymisation, agents, referrers, commerce."""

from __future__ import annotations

import re

import msgspec
import pytest

from clickpulse.records import EnrichedEvent, event_encoder
from clickpulse.settings import Settings
from clickpulse.sites import Site
from ingest.client_ip import anonymise_ip, client_ip
from ingest.enrichment import MAX_PAST_MS, MAX_QUANTITY, MAX_TITLE, MAX_URL, Drop, Pipeline
from ingest.geo import Location
from ingest.incoming import IncomingEvent
from ingest.native_batch import decode_native
from ingest.referrers import ReferrerTable
from ingest.request_context import build_context, with_relayed_ip
from ingest.segment_api import decode_segment

SITE = Site(site_id="s1", name="t", write_key="wk", read_key_sha256="x", created_at=0)
REFERRERS = ReferrerTable.load(Settings().referrer_data_path)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def incoming(**kw: object) -> IncomingEvent:
    base: dict[str, object] = {
        "id": "e1",
        "type": "pageview",
        "url": "https://Shop.TEST/a?x=1#/route",
        "visitor_id": "v",
    }
    return msgspec.convert({**base, **kw}, IncomingEvent)


BROWSER_HEADERS = {"accept-language": "en-GB,en;q=0.9"}


def enrich(
    event: IncomingEvent,
    *,
    received: int = 1_000_000_000,
    ua: str = CHROME,
    salt: str = "salt",
    headers: dict[str, str] = BROWSER_HEADERS,
) -> EnrichedEvent | Drop:
    return Pipeline(REFERRERS).run(
        event, build_context(SITE, received, "203.0.113.77", ua, Location("DE"), salt, headers)
    )


def test_event_time_is_corrected_by_the_clients_clock_skew() -> None:
    # The client clock is 1 hour behind: it stamped ts and sent_at an hour early.
    out = enrich(incoming(ts=1_000_000_000 - 3_600_000 - 5000, sent_at=1_000_000_000 - 3_600_000))
    assert out.ts == 1_000_000_000 - 5000


def test_absurd_times_are_clamped_and_flagged() -> None:
    future = enrich(incoming(ts=2_000_000_000))
    assert future.ts == 1_000_000_000 and future.props["$time_clamped"] is True
    ancient = enrich(incoming(ts=1))
    assert ancient.ts == 1_000_000_000 - MAX_PAST_MS


def test_cookieless_visitor_is_a_salted_hash_that_rotates_with_the_salt() -> None:
    a = enrich(incoming(visitor_id=None), salt="day1")
    b = enrich(incoming(visitor_id=None), salt="day1")
    c = enrich(incoming(visitor_id=None), salt="day2")
    assert a.visitor_id == b.visitor_id != c.visitor_id
    assert "203.0.113" not in a.visitor_id


def test_user_agent_is_parsed_and_crawlers_are_flagged_not_dropped() -> None:
    human = enrich(incoming())
    assert (human.browser, human.os, human.device, human.is_bot) == ("Chrome", "Windows", "desktop", False)
    bot = enrich(incoming(), ua="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    assert bot.is_bot and bot.bot_reason == "known_crawler"


def test_headless_browsers_and_browser_agents_without_accept_language_are_flagged() -> None:
    headless = CHROME.replace("Chrome/", "HeadlessChrome/")
    assert enrich(incoming(), ua=headless).is_bot
    hinted = enrich(incoming(), headers={**BROWSER_HEADERS, "sec-ch-ua": '"HeadlessChrome";v="131"'})
    assert hinted.bot_reason == "headless_browser"
    scripted = enrich(incoming(), headers={})
    assert (scripted.is_bot, scripted.bot_reason, scripted.browser) == (True, "no_accept_language", "Chrome")


def test_server_side_sdk_agent_does_not_make_events_look_like_bots() -> None:
    out = enrich(incoming(), ua="analytics-python/2.4.0", headers={})
    assert out.is_bot is False
    with_visitor_ua = enrich(incoming(user_agent=CHROME), ua="analytics-python/2.4.0")
    assert with_visitor_ua.browser == "Chrome"


def test_url_host_is_lowercased_and_hash_routes_kept_in_path() -> None:
    out = enrich(incoming())
    assert (out.host, out.path, out.url) == ("shop.test", "/a#/route", "https://shop.test/a?x=1#/route")


@pytest.mark.parametrize(
    "address",
    ["javascript:alert(document.domain)//", "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>",
     "about:blank", "mailto:jane@mail.example"],
)  # fmt: skip
def test_an_address_that_names_no_page_is_refused_as_a_url_and_never_stored_as_a_referrer(address: str) -> None:
    # Stored as it came, a javascript: address ran in any tool that made a link of the url or referrer column.
    assert enrich(incoming(url=address)) == Drop("invalid_url")
    out = enrich(incoming(referrer=address))
    assert not isinstance(out, Drop) and out.referrer == ""
    for kept in ("file:///home/jane/page.html", "app://screen/Home", "/relative/path"):
        assert not isinstance(enrich(incoming(url=kept)), Drop), kept


def test_e_mail_addresses_and_credentials_in_addresses_are_never_stored() -> None:
    out = enrich(
        incoming(
            url="https://jane:secret@Shop.test:8443/u/jane@mail.example/confirm?email=jane.doe%40mail.example&x=1",
            referrer="https://bob:hunter2@Webmail.example/inbox?to=bob@example.org",
        )
    )
    assert not isinstance(out, Drop)
    assert out.url == "https://shop.test:8443/u/(email)/confirm?email=(email)&x=1"
    assert (out.host, out.path) == ("shop.test", "/u/(email)/confirm")
    assert out.referrer == "https://webmail.example/inbox?to=(email)"
    stored = event_encoder.encode(out).decode()
    assert not {"jane", "secret", "bob", "hunter2"} & set(re.findall(r"\w+", stored))


def test_a_segment_pages_address_is_stored_only_as_its_cleaned_page_fields() -> None:
    # analytics.js sends a page's address in properties: a raw copy in the stored props kept what the page
    # fields leave out.
    properties = {
        "url": "https://jane:secret@shop.test/confirm?email=jane.doe%40mail.example&token=t0k3n",
        "path": "/confirm",
        "search": "?email=jane.doe%40mail.example&token=t0k3n",
        "referrer": "https://webmail.example/inbox?to=bob@example.org",
        "title": "Confirm",
        "plan": "pro",
    }
    page = {"type": "page", "messageId": "m1", "anonymousId": "a1", "properties": properties}
    (event,), bad = decode_segment({"batch": [page]}, None, max_events=10)
    assert bad == []
    out = enrich_for(with_rules(strip_params=["token"]), event)
    assert not isinstance(out, Drop)
    assert (out.url, out.referrer, out.title) == (
        "https://shop.test/confirm?email=(email)",
        "https://webmail.example/inbox?to=(email)",
        "Confirm",
    )
    assert out.props == {"plan": "pro"}
    stored = event_encoder.encode(out).decode()
    assert not {"jane", "secret", "bob", "t0k3n"} & set(re.findall(r"\w+", stored))


@pytest.mark.parametrize(
    ("href", "stored"),
    [
        ("https://jane:secret@shop.test/confirm?email=jane.doe%40mail.example&token=t0k3n&x=1",
         "https://shop.test/confirm?email=(email)&x=1"),
        ("mailto:jane.doe@mail.example", "mailto:(email)"),
    ],
)  # fmt: skip
def test_a_clicked_links_address_is_stored_without_credentials_e_mail_addresses_or_stripped_parameters(
    href: str, stored: str
) -> None:
    click = incoming(type="click", props={"tag": "a", "text": "Confirm", "href": href})
    out = enrich_for(with_rules(strip_params=["token"]), click)
    assert not isinstance(out, Drop)
    assert out.props == {"tag": "a", "text": "Confirm", "href": stored}


def test_secret_parameters_values_in_addresses_referrers_and_links_are_never_stored() -> None:
    secrets = "token=t0k3n&password=hunter2&sid=S1D&api-key=K3Y&x=1"
    event = incoming(
        url=f"https://shop.test/reset;jsessionid=J5E55?{secrets}#/done?access_token=Acc3ss",
        referrer=f"https://mail.example/open?{secrets}",
    )
    out = enrich(event)
    assert not isinstance(out, Drop)
    cleaned = "token=(secret)&password=(secret)&sid=(secret)&api-key=(secret)&x=1"
    assert out.url == f"https://shop.test/reset;jsessionid=(secret)?{cleaned}#/done?access_token=(secret)"
    assert out.referrer == f"https://mail.example/open?{cleaned}"
    click = enrich(incoming(type="click", props={"tag": "a", "href": f"https://shop.test/login?{secrets}"}))
    assert not isinstance(click, Drop) and click.props["href"] == f"https://shop.test/login?{cleaned}"
    stored = event_encoder.encode(out).decode() + event_encoder.encode(click).decode()
    assert not {"t0k3n", "hunter2", "S1D", "K3Y", "J5E55", "Acc3ss"} & set(re.findall(r"\w+", stored))


def test_campaign_tags_naming_a_mailings_recipient_are_stored_without_the_address() -> None:
    tagged = "https://shop.test/?utm_source=jane@mail.example&utm_medium=email&utm_campaign=spring%20bob%40example.org"
    out = enrich(incoming(url=tagged))
    assert not isinstance(out, Drop)
    assert (out.source, out.medium, out.campaign, out.channel) == ("(email)", "email", "spring (email)", "Email")
    segment_context = enrich(incoming(url="https://shop.test/", campaign={"source": "news", "name": "x@mail.example"}))
    assert not isinstance(segment_context, Drop) and "@" not in event_encoder.encode(segment_context).decode()


def test_parameters_that_only_look_like_secrets_are_kept() -> None:
    url = "https://shop.test/?author=ann&side=left&oauth=1&passenger=2&tokens=3"
    out = enrich(incoming(url=url))
    assert not isinstance(out, Drop) and out.url == url


def test_e_mail_addresses_in_a_page_title_are_never_stored() -> None:
    out = enrich(incoming(title="Welcome back, jane.doe@mail.example | Shop"))
    assert not isinstance(out, Drop) and out.title == "Welcome back, (email) | Shop"
    (page,), _ = decode_segment(
        {"batch": [{"type": "page", "messageId": "m1", "anonymousId": "a1",
                    "properties": {"url": "https://shop.test/", "title": "Order for bob@example.org"}}]},
        None,
        max_events=10,
    )  # fmt: skip
    segment_page = enrich(page)
    assert not isinstance(segment_page, Drop) and segment_page.title == "Order for (email)"


def test_a_submitted_forms_address_a_clicks_caption_and_a_searchs_query_keep_no_e_mail_address_or_secret() -> None:
    form = enrich(incoming(type="form_submit", props={"id": "login", "action": "/login?user=jane@mail.example&pw=x1"}))
    assert not isinstance(form, Drop) and form.props == {"id": "login", "action": "/login?user=(email)&pw=(secret)"}
    search = enrich(incoming(type="search", props={"query": "order for jane@mail.example"}))
    assert not isinstance(search, Drop) and search.props == {"query": "order for (email)"}
    click = enrich(incoming(type="click", props={"tag": "button", "text": "Log out jane@mail.example"}))
    assert not isinstance(click, Drop) and click.props == {"tag": "button", "text": "Log out (email)"}
    # A custom event's own "action" is the site's word, not an address.
    custom = enrich(incoming(type="custom", name="cta", props={"action": "Sign up?pwd=1"}))
    assert not isinstance(custom, Drop) and custom.props == {"action": "Sign up?pwd=1"}


def test_a_long_address_title_and_referrer_are_clipped_not_refused() -> None:
    long_url = "https://shop.test/search?" + "facet=red&" * 600
    payload = {"write_key": "wk", "visitor_id": "v1", "events": [
        {"id": "a", "type": "add_to_cart", "url": long_url, "title": "T" * 3000, "referrer": long_url,
         "props": {"product_id": "sku-1"}},
    ]}  # fmt: skip
    _, (event,), bad = decode_native(msgspec.json.encode(payload), max_events=10)
    assert bad == []
    out = enrich(event)
    assert not isinstance(out, Drop) and out.type == "add_to_cart"
    assert out.url == long_url[:MAX_URL] and out.referrer == long_url[:MAX_URL]
    assert out.title == "T" * MAX_TITLE and out.host == "shop.test"


def test_unknown_types_and_pageviews_without_url_are_dropped_with_reasons() -> None:
    assert enrich(incoming(type="teleport")) == Drop("unknown_event_type")
    assert enrich(incoming(url="")) == Drop("pageview_without_url")
    assert enrich(incoming(type="custom")) == Drop("custom_event_without_name")


def test_commerce_fields_are_extracted() -> None:
    view = enrich(incoming(type="product_view", props={"product_id": "p1", "price": 9.5, "currency": "eur"}))
    assert view.products[0].product_id == "p1" and view.currency == "EUR"
    purchase = enrich(
        incoming(
            type="purchase", props={"order_id": "o1", "revenue": 42, "items": [{"product_id": "p1", "quantity": 2}]}
        )
    )
    assert (purchase.revenue, purchase.order_id, purchase.products[0].quantity) == (42.0, "o1", 2)
    assert enrich(incoming(type="add_to_cart", props={})) == Drop("add_to_cart_without_product_id")


def test_prices_revenue_and_quantities_sent_as_numeric_strings_count_and_nonsense_does_not() -> None:
    items = [
        {"product_id": "p1", "price": "12.50", "quantity": "2"},
        {"product_id": "p2", "price": "twelve", "quantity": "0"},
        {"product_id": "p3", "price": "inf", "quantity": 1e9},
        {"product_id": "p4", "price": True, "quantity": 2.5},
    ]
    purchase = enrich(incoming(type="purchase", props={"revenue": "25.00", "items": items}))
    assert purchase.revenue == 25.0
    assert [(p.price, p.quantity) for p in purchase.products] == [(12.5, 2), (0.0, 1), (0.0, MAX_QUANTITY), (0.0, 1)]


@pytest.mark.parametrize(
    ("url", "referrer", "expected"),
    [
        ("https://s.test/", "", ("", "", "Direct")),
        ("https://s.test/", "https://www.google.com/", ("Google", "organic", "Organic Search")),
        ("https://s.test/", "https://t.co/x", ("Twitter", "social", "Organic Social")),
        ("https://s.test/?utm_source=news&utm_medium=email", "", ("news", "email", "Email")),
        ("https://s.test/?gclid=123", "https://www.google.com/", ("Google Ads", "cpc", "Paid Search")),
        ("https://s.test/", "https://blog.example/post", ("blog.example", "referral", "Referral")),
        # From the maintained data set: country domains, subdomains, host/path entries, email, paid
        ("https://s.test/", "https://www.google.co.uk/", ("Google", "organic", "Organic Search")),
        ("https://s.test/", "https://l.facebook.com/l.php", ("Facebook", "social", "Organic Social")),
        ("https://s.test/", "https://mail.google.com/mail/u/0/", ("Gmail", "email", "Email")),
        ("https://s.test/", "https://news.ycombinator.com/item", ("Hacker News", "social", "Organic Social")),
        ("https://s.test/", "https://adroll.com/x", ("AdRoll", "cpc", "Paid Other")),
        ("https://s.test/?utm_source=bing&utm_medium=cpc", "", ("bing", "cpc", "Paid Search")),
        ("https://s.test/?utm_source=facebook.com&utm_medium=paid", "", ("facebook.com", "paid", "Paid Social")),
        ("https://s.test/", "https://s.test/other", ("", "", "Internal")),
        ("https://s.test/", "http://[not-an-address/x", ("", "", "Direct")),  # a referrer that is no URL
    ],
)
def test_referrer_and_utm_attribution(url: str, referrer: str, expected: tuple[str, str, str]) -> None:
    a = REFERRERS.attribute(url, referrer)
    assert (a.source, a.medium, a.channel) == expected


def test_ip_is_anonymised_to_24_and_48_bits() -> None:
    assert anonymise_ip("203.0.113.77") == "203.0.113.0"
    assert anonymise_ip("2001:db8:abcd:12:1:2:3:4") == "2001:db8:abcd::"
    assert anonymise_ip("not an ip") == ""


def test_an_ipv4_address_inside_an_ipv6_one_is_anonymised_as_ipv4() -> None:
    assert anonymise_ip("::ffff:203.0.113.77") == "203.0.113.0"
    # 6to4: 2002:cb00:714d::/48 is 2002: followed by all of 203.0.113.77
    assert anonymise_ip("2002:cb00:714d:1::5") == "203.0.113.0"


def test_forwarded_for_is_trusted_only_from_configured_proxies() -> None:
    headers = {"x-forwarded-for": "198.51.100.1, 10.0.0.2"}
    assert client_ip("10.0.0.2", headers, frozenset({"10.0.0.2"})) == "198.51.100.1"
    assert client_ip("192.0.2.50", headers, frozenset({"10.0.0.2"})) == "192.0.2.50"


def with_rules(**rules: object) -> Site:
    return msgspec.convert({**msgspec.to_builtins(SITE), **rules}, Site)


def enrich_for(site: Site, event: IncomingEvent) -> EnrichedEvent | Drop:
    return Pipeline(REFERRERS).run(
        event, build_context(site, 1_000_000_000, "203.0.113.77", CHROME, Location(), "s", BROWSER_HEADERS)
    )


def test_sampling_keeps_or_leaves_out_a_visitors_whole_journey_at_about_the_configured_share() -> None:
    site = with_rules(sample_rate=0.3)
    kept = 0
    for n in range(2000):
        outcomes = {
            isinstance(enrich_for(site, incoming(id=f"e{n}-{step}", visitor_id=f"v{n}")), Drop) for step in range(3)
        }
        assert len(outcomes) == 1  # every event of one visitor shares the decision
        kept += not outcomes.pop()
    assert 0.25 < kept / 2000 < 0.35
    dropped = [enrich_for(site, incoming(visitor_id=f"v{n}")) for n in range(50)]
    assert Drop("sampled_out", rejected=False) in dropped


def test_event_types_outside_a_sites_allow_list_are_left_out_without_being_errors() -> None:
    site = with_rules(event_types=["pageview", "purchase"])
    assert enrich_for(site, incoming()).type == "pageview"
    assert enrich_for(site, incoming(type="click")) == Drop("event_type_not_allowed", rejected=False)


def test_configured_query_parameters_are_stripped_from_stored_urls_but_still_attribute() -> None:
    site = with_rules(strip_params=["token", "email"])
    out = enrich_for(site, incoming(url="https://S.test/p?token=secret&q=shoes&email=a%40b.c&utm_source=news#/x"))
    assert out.url == "https://s.test/p?q=shoes&utm_source=news#/x"
    assert out.source == "news"


def test_only_the_anonymised_network_of_the_client_ip_leaves_ingest_in_the_enriched_record() -> None:
    visitor = enrich(incoming(visitor_id=None))
    record = event_encoder.encode(visitor)
    assert visitor.ip == "203.0.113.0"
    assert record.count(b"203.0.113") == 1 and b"203.0.113.77" not in record and b"203-0-113" not in record


SDK_AGENT = "analytics-node-next/latest"


def test_a_server_side_sdk_event_is_located_and_hashed_by_the_visitor_ip_it_relays() -> None:
    server = build_context(SITE, 1_000_000_000, "192.0.2.1", SDK_AGENT, Location("US"), "salt", {})
    relayed = with_relayed_ip(server, "81.2.69.142", Location("GB", "GB-ENG", "London"))
    out = Pipeline(REFERRERS).run(incoming(visitor_id=None, ip="81.2.69.142"), relayed)
    assert (out.country, out.region, out.city, out.ip) == ("GB", "GB-ENG", "London", "81.2.69.0")
    from_server = Pipeline(REFERRERS).run(incoming(visitor_id=None), server)
    assert out.visitor_id != from_server.visitor_id  # the cookieless hash is the visitor's, not the server's
