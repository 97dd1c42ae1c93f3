"""File servers: filePath and fileName are joined under the server's base path, never outside it."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from service.runtime.egress import SourceError
from service.store.file_servers import FileServer

SERVER = FileServer("acme", "srv1", "files.example.com", 2222, "isales", "/data/outbound")


@pytest.mark.parametrize(
    ("file_path", "file_name", "path"),
    [
        ("/isales/upload", "demo.xlsx", "/data/outbound/isales/upload/demo.xlsx"),
        ("isales/upload/", "demo.xlsx", "/data/outbound/isales/upload/demo.xlsx"),
        ("", "demo.xlsx", "/data/outbound/demo.xlsx"),
        ("./a//b", "x y.csv", "/data/outbound/a/b/x y.csv"),
    ],
)
def test_a_file_path_is_joined_under_the_base_path(file_path: str, file_name: str, path: str) -> None:
    assert SERVER.path(file_path, file_name) == path


def test_the_spec_names_the_server_and_its_login() -> None:
    spec = FileServer("acme", "s", "::1", 22, "u", "/", SecretStr("pw"), "ssh-ed25519 AAAA").spec("in", "a b.csv")
    assert spec.kind == "sftp" and spec.url == "sftp://[::1]:22/in/a%20b.csv"
    assert spec.username == "u" and spec.password is not None and spec.password.get_secret_value() == "pw"
    assert spec.known_host_key == "ssh-ed25519 AAAA"
    assert "pw" not in repr(SERVER) and "pw" not in repr(spec)


@pytest.mark.parametrize(
    ("file_path", "file_name"),
    [("../etc", "passwd"), ("a/../../b", "x.csv"), ("a", "../x.csv"), ("a", "b/x.csv"), ("a", ".."), ("a", ""),
     ("a\\..\\..", "x.csv"), ("a", "x\x00.csv")],
)  # fmt: skip
def test_a_path_that_climbs_out_is_refused(file_path: str, file_name: str) -> None:
    with pytest.raises(SourceError) as err:
        SERVER.path(file_path, file_name)
    assert err.value.code == "source.invalid_path"
