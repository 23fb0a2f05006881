"""Geo from MaxMind's published test database (GeoIP2-City-Test.mmdb, fetched by setup.sh), else the CDN header."""

from __future__ import annotations

import pytest

from clickpulse.settings import REPO_ROOT, Settings
from ingest.geo import GeoLocator, Location

TEST_DB = REPO_ROOT / ".local" / "geo" / "GeoIP2-City-Test.mmdb"


@pytest.fixture(scope="module")
def locator() -> GeoLocator:
    assert TEST_DB.exists(), "run scripts/setup.sh: it fetches MaxMind's test database"
    return GeoLocator(Settings(geo_database_path=TEST_DB))


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("81.2.69.142", Location("GB", "GB-ENG", "London")),
        ("89.160.20.112", Location("SE", "SE-E", "Linköping")),
        ("216.160.83.56", Location("US", "US-WA", "Milton")),
        ("2001:218::1", Location("JP", "", "")),
    ],
)
def test_country_region_and_city_come_from_the_database(locator: GeoLocator, ip: str, expected: Location) -> None:
    assert locator.locate(ip, {}) == expected


def test_an_address_the_database_does_not_know_falls_back_to_the_cdn_country(locator: GeoLocator) -> None:
    assert locator.locate("10.1.2.3", {"cf-ipcountry": "fr"}) == Location("FR")
    assert locator.locate("not-an-ip", {}) == Location()


def test_without_a_database_the_configured_cdn_header_alone_gives_the_country() -> None:
    fastly = GeoLocator(Settings(cdn_country_header="Fastly-Geo-Country"))
    assert fastly.locate("81.2.69.142", {"fastly-geo-country": "DE", "cf-ipcountry": "FR"}) == Location("DE")
    assert fastly.locate("81.2.69.142", {"fastly-geo-country": "XX"}) == Location()
    untrusted = GeoLocator(Settings(cdn_country_header=""))
    assert untrusted.locate("81.2.69.142", {"cf-ipcountry": "FR"}) == Location()
