"""http(s) import sources against a real HTTP server on loopback: auth, errors, limits, address checks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from service.imports.sources import open_source
from service.runtime.egress import FetchLimits, SourceError, SourceSpec
from tests.servers import LOOPBACK, Served, Tls, fetch_bytes, fetch_chunks, fetch_error, http_server, make_tls

# As if 127.0.0.1 were a public server: every other private address stays refused.
ONLY_127_0_0_1 = FetchLimits(
    max_bytes=10_000_000, timeout_s=30, allow_private_networks=False, allowed_networks=frozenset({"127.0.0.1/32"})
)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    root.mkdir()
    (root / "contacts.csv").write_bytes(b"name,phone\nAnna,123\n")
    (root / "big.bin").write_bytes(os.urandom(1_000_000))
    return root


@pytest.fixture
def web(files: Path) -> Iterator[Served]:
    with http_server(files) as served:
        yield served


@pytest.fixture
def web_auth(files: Path) -> Iterator[Served]:
    with http_server(files, username="importer", password="s3cret-pw") as served:
        yield served


def http(url: str, user: str | None = None, pwd: str | None = None) -> SourceSpec:
    return SourceSpec("http", url, user, SecretStr(pwd) if pwd is not None else None)


async def test_a_file_is_streamed_in_chunks(web: Served, files: Path) -> None:
    chunks = await fetch_chunks(http(web.url("big.bin")))
    assert len(chunks) > 1
    assert max(len(c) for c in chunks) <= 65536
    assert b"".join(chunks) == (files / "big.bin").read_bytes()


async def test_basic_auth(web_auth: Served) -> None:
    assert await fetch_bytes(http(web_auth.url("contacts.csv"), "importer", "s3cret-pw")) == (b"name,phone\nAnna,123\n")


async def test_credentials_in_the_url_are_used_and_never_shown(web_auth: Served) -> None:
    url = web_auth.url("contacts.csv").replace("http://", "http://importer:s3cret-pw@")
    assert await fetch_bytes(http(url)) == b"name,phone\nAnna,123\n"
    err = await fetch_error(http(url.replace("contacts.csv", "missing.csv")))
    assert err.code == "source.not_found"
    assert "s3cret-pw" not in str(err) and "importer" not in str(err)


@pytest.mark.parametrize(("user", "pwd"), [("importer", "wrong"), ("nobody", "s3cret-pw"), (None, None)])
async def test_wrong_or_missing_credentials(web_auth: Served, user: str | None, pwd: str | None) -> None:
    err = await fetch_error(http(web_auth.url("contacts.csv"), user, pwd))
    assert err.code == "source.auth_failed"
    assert "wrong" not in str(err)


async def test_a_missing_file(web: Served) -> None:
    assert (await fetch_error(http(web.url("nope.csv")))).code == "source.not_found"


async def test_a_redirect_on_the_same_server_is_followed(web: Served) -> None:
    url = web.url(f"redirect?to={web.url('contacts.csv')}")
    assert await fetch_bytes(http(url), ONLY_127_0_0_1) == b"name,phone\nAnna,123\n"


@pytest.mark.parametrize("target", ["http://10.0.0.1/x.csv", "http://[::1]:{port}/contacts.csv"])
async def test_a_redirect_to_a_private_address_is_refused(web: Served, target: str) -> None:
    url = web.url("redirect?to=" + target.format(port=web.port))
    assert (await fetch_error(http(url), ONLY_127_0_0_1)).code == "source.forbidden_address"


async def test_a_redirect_to_a_reachable_private_server_is_refused(web: Served, files: Path) -> None:
    with http_server(files, host="127.0.0.2") as inner:
        url = web.url("redirect?to=" + inner.url("contacts.csv"))
        assert (await fetch_error(http(url), ONLY_127_0_0_1)).code == "source.forbidden_address"
        # the same redirect, the inner network allowed: only the address check stopped it above
        both = FetchLimits(10_000, 30, False, allowed_networks=frozenset({"127.0.0.1/32", "127.0.0.2/32"}))
        assert await fetch_bytes(http(url), both) == b"name,phone\nAnna,123\n"


async def test_a_redirect_to_another_scheme_is_refused(web: Served) -> None:
    url = web.url("redirect?to=file:///etc/passwd")
    assert (await fetch_error(http(url))).code == "source.scheme_not_allowed"


async def test_credentials_are_not_sent_to_another_host_on_redirect(files: Path) -> None:
    with http_server(files, username="importer", password="s3cret-pw") as other, http_server(files) as first:
        url = first.url("redirect?to=" + other.url("contacts.csv"))  # another port: another origin
        assert (await fetch_error(http(url, "importer", "s3cret-pw"))).code == "source.auth_failed"


async def test_over_max_bytes_by_content_length(web: Served) -> None:
    limits = FetchLimits(max_bytes=100_000, timeout_s=30, allow_private_networks=True)
    assert (await fetch_error(http(web.url("big.bin")), limits)).code == "source.too_large"


async def test_over_max_bytes_while_streaming(web: Served) -> None:
    limits = FetchLimits(max_bytes=100_000, timeout_s=30, allow_private_networks=True)
    got = 0
    with pytest.raises(SourceError) as err:
        async with open_source(http(web.url("big.bin?nolength=1")), limits) as chunks:
            async for chunk in chunks:
                got += len(chunk)
    assert err.value.code == "source.too_large"
    assert got <= 100_000


async def test_a_slow_server_runs_out_of_time(web: Served) -> None:
    limits = FetchLimits(max_bytes=100_000, timeout_s=1.0, allow_private_networks=True)
    assert (await fetch_error(http(web.url("contacts.csv?slow=1")), limits)).code == "source.timeout"


async def test_an_unreachable_server(web: Served) -> None:
    from service.cli.embedded import free_port

    err = await fetch_error(http(f"http://127.0.0.1:{free_port()}/x.csv"))
    assert err.code == "source.unreachable"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://example.com/x",
        "ftp://example.com/x.csv",  # an ftp URL for an http source
        "javascript:alert(1)",
    ],
)
async def test_schemes_outside_the_allowlist_are_refused(url: str) -> None:
    err = await fetch_error(http(url), FetchLimits(1000, 5, False, frozenset({"http", "https"})))
    assert err.code == "source.scheme_not_allowed"


async def test_the_allowlist_comes_from_the_settings(web: Served) -> None:
    from tests.support import make_settings

    settings = make_settings("127.0.0.1:1", "postgresql://x@127.0.0.1/x", "t", import_allowed_schemes="https, sftp")
    limits = FetchLimits.from_settings(settings)
    assert limits.allowed_schemes == {"https", "sftp"} and not limits.allow_private_networks
    assert (await fetch_error(http(web.url("contacts.csv")), limits)).code == "source.scheme_not_allowed"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "[::1]",
        "169.254.169.254",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.10",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "[::ffff:127.0.0.1]",
        "[fe80::1]",
        "[fd00::1]",
        "localhost",
    ],
)
async def test_private_addresses_are_refused_unless_allowed(web: Served, host: str) -> None:
    limits = FetchLimits(max_bytes=1000, timeout_s=5, allow_private_networks=False)
    err = await fetch_error(http(web.url("contacts.csv", host=host)), limits)
    assert err.code == "source.forbidden_address"


async def test_localhost_is_fetched_when_private_networks_are_allowed(web: Served) -> None:
    assert await fetch_bytes(http(web.url("contacts.csv", host="localhost"))) == b"name,phone\nAnna,123\n"


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    return make_tls(tmp_path, ["localhost"])


async def test_https_verifies_the_certificate_for_the_host_name(files: Path, tls: Tls) -> None:
    # the connection goes to the checked address (127.0.0.1), the certificate is checked for "localhost"
    with http_server(files, tls=tls) as served:
        url = served.url("contacts.csv", host="localhost")
        limits = FetchLimits(10_000, 30, True, ca_file=tls.ca)
        assert await fetch_bytes(http(url), limits) == b"name,phone\nAnna,123\n"
        err = await fetch_error(http(url), LOOPBACK)  # not signed by a CA certifi knows
        assert err.code == "source.unreachable" and "CERTIFICATE_VERIFY_FAILED" in err.message


async def test_https_refuses_a_certificate_for_another_name(files: Path, tmp_path: Path) -> None:
    other = make_tls(tmp_path, ["files.example.com"])
    with http_server(files, tls=other) as served:
        limits = FetchLimits(10_000, 30, True, ca_file=other.ca)
        err = await fetch_error(http(served.url("contacts.csv", host="localhost")), limits)
        assert err.code == "source.unreachable" and "Hostname mismatch" in err.message, err.message


async def test_the_ca_file_comes_from_the_settings(tls: Tls) -> None:
    from tests.support import make_settings

    settings = make_settings("127.0.0.1:1", "postgresql://x@127.0.0.1/x", "t", import_ca_file=tls.ca)
    assert FetchLimits.from_settings(settings).ca_file == tls.ca
