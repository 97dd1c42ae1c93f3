"""Phone numbers: E.164 normalisation and time zones, with Google's libphonenumber (``phonenumbers``).

A number is read with the campaign's default region (ISO 3166 alpha-2) when it is written
nationally (``030 1234567`` in ``DE``); international forms (``+44 20 …``, ``0044 20 …`` from a
region that dials ``00``) need none. A number is *valid* when libphonenumber knows it as an
assigned number of its region (``is_valid_number``); its time zones are the ones the library
lists for it (a country's zones when the number does not narrow them down, nothing when unknown).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as pn_timezone

UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True, slots=True)
class Normalised:
    """One number read: ``e164`` when it parsed, ``valid`` when it is dialable, its time zones."""

    e164: str | None
    valid: bool
    time_zones: tuple[str, ...] = ()
    region: str | None = None  # the region the number belongs to (from the number, not the default)


def region_code(value: str | None) -> str | None:
    """``value`` as an ISO 3166 alpha-2 region libphonenumber knows (upper case), else ``None``."""
    if not value:
        return None
    code = value.strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


@lru_cache(maxsize=65_536)
def normalise(number: str, region: str | None) -> Normalised:
    """Read ``number`` (as given) with ``region`` as the default for national forms. Cached: an
    import repeats the same numbers (updates, several campaigns) and parsing is the costly part."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return Normalised(None, False)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    # One type match, not three: is_valid_number and time_zones_for_number each match the number
    # against its region's patterns again, and that is most of the cost.
    kind = phonenumbers.number_type(parsed)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        return Normalised(e164, False)
    zones = tuple(z for z in _time_zones(parsed, kind) if z != UNKNOWN_ZONE)
    return Normalised(e164, True, zones, phonenumbers.region_code_for_number(parsed))


_country_zones = getattr(pn_timezone, "_country_level_time_zones_for_number", None)


def _time_zones(parsed: phonenumbers.PhoneNumber, kind: int) -> list[str]:
    """``time_zones_for_number(parsed)`` for a valid number whose type is already known."""
    if phonenumbers.is_number_type_geographical(kind, parsed.country_code or 0):
        return list(pn_timezone.time_zones_for_geographical_number(parsed))
    if _country_zones is None:  # a library version without the helper: the public call, one more match
        return list(pn_timezone.time_zones_for_number(parsed))
    return list(_country_zones(parsed))
