"""Where a visitor is: country, region and city from a MaxMind-format database, else a trusted CDN's country header."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

import maxminddb

from clickpulse.settings import Settings


class Location(NamedTuple):
    country: str = ""  # ISO 3166-1 alpha-2
    region: str = ""  # ISO 3166-2, e.g. GB-ENG
    city: str = ""  # English name


def location_from_record(record: Any) -> Location:
    if not isinstance(record, dict):
        return Location()
    country = str((record.get("country") or record.get("registered_country") or {}).get("iso_code") or "")
    subdivisions = record.get("subdivisions") or []
    region_code = subdivisions[0].get("iso_code") if subdivisions else ""
    city = (record.get("city") or {}).get("names", {}).get("en", "")
    return Location(country, f"{country}-{region_code}" if country and region_code else "", str(city)[:100])


class GeoLocator:
    def __init__(self, settings: Settings) -> None:
        path = settings.geo_database_path
        # MODE_AUTO: the C reader with the file memory-mapped, so a look-up costs microseconds and no copy.
        self._reader = maxminddb.open_database(str(path)) if path else None
        self._country_header = settings.cdn_country_header.lower()
        self._locate = lru_cache(maxsize=16384)(self._from_database)

    def _from_database(self, ip: str) -> Location:
        assert self._reader is not None
        try:
            return location_from_record(self._reader.get(ip))
        except ValueError:  # not an IP address
            return Location()

    def locate(self, ip: str, headers: Mapping[str, str]) -> Location:
        """The database when one is configured and knows the address, else the CDN's country header."""
        if self._reader is not None and ip:
            found = self._locate(ip)
            if found.country:
                return found
        if self._country_header:
            country = headers.get(self._country_header, "")[:2].upper()
            if country.isalpha() and country not in ("XX", "T1"):  # Cloudflare's unknown and Tor
                return Location(country)
        return Location()
