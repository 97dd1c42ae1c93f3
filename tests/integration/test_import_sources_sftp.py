"""SFTP import sources against a real SFTP server on loopback: password login and host-key check."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest
from pydantic import SecretStr

from service.runtime.egress import FetchLimits, SourceSpec
from tests.servers import Served, fetch_bytes, fetch_error, sftp_server


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "sftp"
    (root / "isales" / "upload").mkdir(parents=True)
    (root / "isales" / "upload" / "demo.csv").write_bytes(b"sessionId,called\ns1,\"[{'calledNo':'123'}]\"\n")
    (root / "big.bin").write_bytes(os.urandom(1_000_000))
    return root


@pytest.fixture
def sftp(files: Path) -> Iterator[Served]:
    with sftp_server(files, username="isales", password="sftp-pw") as served:
        yield served


def spec(served: Served, name: str, *, user: str = "isales", pwd: str = "sftp-pw", key: str | None = "") -> SourceSpec:
    host_key = served.host_key if key == "" else key
    return SourceSpec("sftp", served.url(name), user, SecretStr(pwd), host_key)


async def test_a_file_is_downloaded_with_the_host_key_checked(sftp: Served, files: Path) -> None:
    assert await fetch_bytes(spec(sftp, "isales/upload/demo.csv")) == (files / "isales/upload/demo.csv").read_bytes()
    assert await fetch_bytes(spec(sftp, "big.bin")) == (files / "big.bin").read_bytes()


async def test_without_a_known_host_key_the_key_is_not_checked(sftp: Served) -> None:
    assert (await fetch_bytes(spec(sftp, "isales/upload/demo.csv", key=None))).startswith(b"sessionId")


async def test_another_host_key_is_refused(sftp: Served) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    err = await fetch_error(spec(sftp, "isales/upload/demo.csv", key=other))
    assert err.code == "source.host_key_mismatch"


async def test_a_malformed_host_key(sftp: Served) -> None:
    err = await fetch_error(spec(sftp, "isales/upload/demo.csv", key="ssh-ed25519 not-base64"))
    assert err.code == "source.invalid_host_key"


@pytest.mark.parametrize(("user", "pwd"), [("isales", "wrong"), ("nobody", "sftp-pw")])
async def test_wrong_credentials(sftp: Served, user: str, pwd: str) -> None:
    err = await fetch_error(spec(sftp, "isales/upload/demo.csv", user=user, pwd=pwd))
    assert err.code == "source.auth_failed"
    assert "wrong" not in str(err) and "sftp-pw" not in str(err)


@pytest.mark.parametrize("name", ["isales/upload/missing.xlsx", "isales/upload", "nope/demo.csv"])
async def test_a_missing_file(sftp: Served, name: str) -> None:
    assert (await fetch_error(spec(sftp, name))).code == "source.not_found"


async def test_over_max_bytes(sftp: Served) -> None:
    limits = FetchLimits(max_bytes=100_000, timeout_s=30, allow_private_networks=True)
    assert (await fetch_error(spec(sftp, "big.bin"), limits)).code == "source.too_large"


async def test_a_private_sftp_server_is_refused_unless_allowed(sftp: Served) -> None:
    limits = FetchLimits(max_bytes=100_000, timeout_s=30, allow_private_networks=False)
    assert (await fetch_error(spec(sftp, "big.bin"), limits)).code == "source.forbidden_address"
