"""ftp import sources against a real FTP server on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from service.runtime.egress import FetchLimits, SourceSpec
from tests.servers import Served, fetch_bytes, fetch_error, ftp_server


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "ftp"
    (root / "in").mkdir(parents=True)
    (root / "in" / "contacts.csv").write_bytes(b"name,phone\nAnna,123\n")
    (root / "big.bin").write_bytes(os.urandom(1_000_000))
    return root


@pytest.fixture
def ftp(files: Path) -> Iterator[Served]:
    with ftp_server(files, username="ftpuser", password="ftp-secret") as served:
        yield served


def spec(url: str, user: str | None = "ftpuser", pwd: str | None = "ftp-secret") -> SourceSpec:
    return SourceSpec("ftp", url, user, SecretStr(pwd) if pwd is not None else None)


async def test_a_file_is_downloaded_with_credentials(ftp: Served, files: Path) -> None:
    assert await fetch_bytes(spec(ftp.url("in/contacts.csv"))) == b"name,phone\nAnna,123\n"
    assert await fetch_bytes(spec(ftp.url("big.bin"))) == (files / "big.bin").read_bytes()


async def test_credentials_in_the_url(ftp: Served) -> None:
    url = ftp.url("in/contacts.csv").replace("ftp://", "ftp://ftpuser:ftp-secret@")
    assert await fetch_bytes(spec(url, None, None)) == b"name,phone\nAnna,123\n"


@pytest.mark.parametrize(("user", "pwd"), [("ftpuser", "wrong"), ("nobody", "ftp-secret"), (None, None)])
async def test_wrong_credentials(ftp: Served, user: str | None, pwd: str | None) -> None:
    err = await fetch_error(spec(ftp.url("in/contacts.csv"), user, pwd))
    assert err.code == "source.auth_failed"
    assert "wrong" not in str(err) and "ftp-secret" not in str(err)


async def test_a_missing_file(ftp: Served) -> None:
    assert (await fetch_error(spec(ftp.url("in/missing.csv")))).code == "source.not_found"


async def test_over_max_bytes(ftp: Served) -> None:
    limits = FetchLimits(max_bytes=100_000, timeout_s=30, allow_private_networks=True)
    assert (await fetch_error(spec(ftp.url("big.bin")), limits)).code == "source.too_large"


async def test_a_private_ftp_server_is_refused_unless_allowed(ftp: Served) -> None:
    limits = FetchLimits(max_bytes=100_000, timeout_s=30, allow_private_networks=False)
    assert (await fetch_error(spec(ftp.url("in/contacts.csv")), limits)).code == "source.forbidden_address"


async def test_an_ftp_url_needs_the_ftp_scheme_in_the_allowlist(ftp: Served) -> None:
    limits = FetchLimits(1000, 30, True, frozenset({"https", "sftp"}))
    assert (await fetch_error(spec(ftp.url("in/contacts.csv")), limits)).code == "source.scheme_not_allowed"
