"""Which addresses an import may reach, and the limits read from the settings."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import ValidationError

from service.config import Settings
from service.runtime.egress import FetchLimits, SourceSpec, redacted

CLOSED = FetchLimits(1000, 5, allow_private_networks=False)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"])
def test_public_addresses_are_permitted(address: str) -> None:
    assert CLOSED.permits(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.1.2.3", "::1", "169.254.169.254", "fe80::1", "10.0.0.1", "172.16.5.4", "192.168.0.1",
     "fd12::1", "100.64.0.1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "240.0.0.1", "::ffff:127.0.0.1",
     "::ffff:10.0.0.1", "192.0.2.1"],
)  # fmt: skip
def test_non_public_addresses_are_refused_unless_allowed(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert not CLOSED.permits(ip)
    assert FetchLimits(1000, 5, allow_private_networks=True).permits(ip)


def test_allowed_networks_open_only_themselves() -> None:
    limits = FetchLimits(1000, 5, False, allowed_networks=frozenset({"10.1.2.0/24", "fd00::/8"}))
    assert limits.permits(ipaddress.ip_address("10.1.2.200"))
    assert limits.permits(ipaddress.ip_address("fd00::5"))
    assert not limits.permits(ipaddress.ip_address("10.1.3.1"))
    assert not limits.permits(ipaddress.ip_address("127.0.0.1"))


def test_limits_come_from_the_settings() -> None:
    settings = Settings(
        import_max_bytes=123,
        import_timeout_s=4.5,
        import_allowed_networks="10.1.2.0/24, fd00::/8",
        import_allowed_schemes="HTTPS,sftp",
    )
    limits = FetchLimits.from_settings(settings)
    assert (limits.max_bytes, limits.timeout_s, limits.allow_private_networks) == (123, 4.5, False)
    assert limits.allowed_networks == {"10.1.2.0/24", "fd00::/8"}
    assert limits.allowed_schemes == {"https", "sftp"}
    assert FetchLimits.from_settings(Settings()).allowed_schemes == {"http", "https", "ftp", "sftp"}


def test_a_bad_network_is_refused_when_the_settings_are_read() -> None:
    with pytest.raises(ValidationError, match="not-a-network"):
        Settings(import_allowed_networks="10.1.2.0/24,not-a-network")


def test_credentials_in_a_url_are_moved_out_of_it() -> None:
    spec = SourceSpec("ftp", "ftp://us%40er:p%3Ass@files.example.com:2121/in/a.csv").normalized()
    assert spec.url == "ftp://files.example.com:2121/in/a.csv"
    assert spec.username == "us@er" and spec.password is not None and spec.password.get_secret_value() == "p:ss"
    assert redacted("http://u:secret@h.example/x") == "http://h.example/x"
    assert "secret" not in repr(SourceSpec("http", "http://h/x", "u", spec.password))
