"""Phone normalisation and time zones (libphonenumber), worldwide."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import timezone as pn_timezone

from service.catalog.model import Campaign, Catalog, PhonePolicy
from service.model.contact import Contact, ContactRecord, Phone
from service.model.phones import normalise, region_code
from service.model.records import Parsed, Rejected
from service.pipeline.phones import normalise_all


@pytest.mark.parametrize(
    ("number", "region", "e164", "zones"),
    [
        ("+44 20 7946 0001", None, "+442079460001", ("Europe/London",)),
        ("+61 2 9123 4567", None, "+61291234567", ("Australia/Sydney",)),
        ("+1 212 555 0100", None, "+12125550100", ("America/New_York",)),
        ("+91 98765 43210", None, "+919876543210", ("Asia/Calcutta",)),
        ("+55 11 98765-4321", None, "+5511987654321", ("America/Sao_Paulo",)),  # a Brazilian mobile
        ("030 1234567", "DE", "+49301234567", ("Europe/Berlin",)),  # national form, the campaign's region
        ("0044 20 7946 0001", "DE", "+442079460001", ("Europe/London",)),  # international prefix of DE
    ],
)
def test_valid_numbers_become_e164_with_their_time_zones(
    number: str, region: str | None, e164: str, zones: tuple[str, ...]
) -> None:
    n = normalise(number, region)
    assert (n.valid, n.e164, n.time_zones) == (True, e164, zones)


@pytest.mark.parametrize(
    ("number", "region"),
    [("+1 555 123 0000", None), ("PhoneNumber1", "DE"), ("12", "GB"), ("030 1234567", None), ("+44 20 79", None)],
)
def test_invalid_numbers_are_not_valid(number: str, region: str | None) -> None:
    assert normalise(number, region).valid is False


def test_region_codes() -> None:
    assert (region_code("de"), region_code("XX"), region_code(None)) == ("DE", None, None)


def _record(*numbers: str, campaign: str = "c1") -> Parsed:
    phones = [Phone(number=n, path=f"/contacts/0/phones/{i}/number") for i, n in enumerate(numbers)]
    return Parsed(ContactRecord(tenant="t", campaign=campaign, contact=Contact(user_data="U", phones=phones)))


def test_an_undialable_number_is_a_warning_flagged_and_never_fails_its_record() -> None:
    catalog = Catalog(campaigns={("t", "c1"): Campaign("t", "c1", "C1", default_region="GB")})
    [mixed, none] = normalise_all([_record("020 7946 0001", "12345"), _record("12345", "999")], catalog, "DE")
    assert isinstance(mixed.record, ContactRecord)
    phones = mixed.record.contact.phones
    assert (phones[0].number, phones[0].raw, phones[0].time_zones) == (
        "+442079460001",
        "020 7946 0001",
        ("Europe/London",),
    )
    assert (phones[1].number, phones[1].invalid) == ("12345", True)
    assert [(w.code, w.path) for w in mixed.warnings] == [("phone.invalid", "/contacts/0/phones/1/number")]
    assert isinstance(none.record, ContactRecord)
    assert [(p.number, p.invalid) for p in none.record.contact.phones] == [("12345", True), ("999", True)]
    assert [w.code for w in none.warnings] == ["phone.invalid", "phone.invalid"]


def test_a_campaign_that_rejects_fails_a_record_without_any_dialable_number() -> None:
    strict = Campaign("t", "c1", "C1", default_region="GB", phone_policy=PhonePolicy.REJECT)
    catalog = Catalog(campaigns={("t", "c1"): strict})
    [mixed, none] = normalise_all([_record("020 7946 0001", "12345"), _record("12345", "999")], catalog, None)
    assert isinstance(mixed.record, ContactRecord) and [w.code for w in mixed.warnings] == ["phone.invalid"]
    assert isinstance(none.record, Rejected)
    assert [(e.code, e.path) for e in none.record.errors] == [("phone.none_valid", "/contacts/0/phones/0/number")]
    assert len(none.warnings) == 2


def test_a_national_number_without_a_region_is_kept_as_given_dialable_without_a_time_zone() -> None:
    [p] = normalise_all([_record("1234566", "030 1234567", "+44 20 7946 0001", "PhoneNumber1")], Catalog(), None)
    assert isinstance(p.record, ContactRecord)
    got = [(ph.number, ph.invalid, ph.time_zones) for ph in p.record.contact.phones]
    assert got == [
        ("1234566", None, None),
        ("030 1234567", None, None),
        ("+442079460001", None, ("Europe/London",)),
        ("PhoneNumber1", True, None),  # letters: not a number in any region
    ]
    assert [(w.code, w.path) for w in p.warnings] == [
        ("phone.no_region", "/contacts/0/phones/0/number"),
        ("phone.no_region", "/contacts/0/phones/1/number"),
        ("phone.invalid", "/contacts/0/phones/3/number"),
    ]


@pytest.mark.parametrize(
    ("given", "region", "number", "post_dial"),
    [
        ("02079460001*123", "GB", "+442079460001", "*123"),  # extension after a star
        ("02079460001#9*1", "GB", "+442079460001", "#9*1"),  # from the first * or #
        ("1234566#", None, "1234566", "#"),  # no region: the number as given, still split
    ],
)
def test_digits_after_star_or_hash_are_post_dial_and_the_number_before_is_read(
    given: str, region: str | None, number: str, post_dial: str
) -> None:
    [p] = normalise_all([_record(given)], Catalog(), region)
    assert isinstance(p.record, ContactRecord)
    [phone] = p.record.contact.phones
    assert (phone.number, phone.post_dial, phone.raw, phone.invalid) == (number, post_dial, given, None)


def test_a_number_that_is_only_post_dial_digits_is_flagged() -> None:
    [p] = normalise_all([_record("*123#")], Catalog(), "GB")
    assert isinstance(p.record, ContactRecord) and p.record.contact.phones[0].invalid is True


def test_campaign_not_in_the_catalog_uses_the_fallback_region() -> None:
    [p] = normalise_all([_record("030 1234567", campaign="unknown")], Catalog(), "DE")
    assert isinstance(p.record, ContactRecord) and p.record.contact.phones[0].number == "+49301234567"


def _library_reading(number: str) -> tuple[bool, tuple[str, ...]]:
    """What the library's public calls say of ``number``: is_valid_number and time_zones_for_number."""
    parsed = phonenumbers.parse(number, None)
    if not phonenumbers.is_valid_number(parsed):
        return False, ()
    return True, tuple(z for z in pn_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown")


def test_one_type_match_reads_every_region_and_type_as_the_librarys_public_calls() -> None:
    """normalise matches a number's type once; the verdict and zones equal is_valid_number and
    time_zones_for_number for the example number of every region and type, and for near misses."""
    numbers: set[str] = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in range(12):  # every PhoneNumberType but UNKNOWN (99)
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                numbers.update({e164, e164[:-1], e164 + "9"})
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            numbers.add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    assert len(numbers) > 2_000
    geographical = non_geographical = 0
    for number in sorted(numbers):
        got = normalise.__wrapped__(number, None)
        assert (got.valid, got.time_zones) == _library_reading(number), number
        if got.valid:
            parsed = phonenumbers.parse(number)
            if phonenumbers.is_number_type_geographical(phonenumbers.number_type(parsed), parsed.country_code or 0):
                geographical += 1
            else:
                non_geographical += 1
    assert geographical > 200 and non_geographical > 200  # both branches are exercised
