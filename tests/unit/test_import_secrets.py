"""Sealed credentials: authenticated encryption under CIS_IMPORT_SECRET_KEY, with key rotation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from service.config import Settings
from service.sealing import SealError, dev_key, new_key, seal, unseal


def keyed(key: str | None) -> Settings:
    return Settings(import_secret_key=SecretStr(key) if key is not None else None)


def test_seal_and_unseal() -> None:
    settings = keyed(new_key())
    sealed = seal("pässwörd", settings)
    assert b"p\xc3\xa4ssw" not in sealed and b"ssw" not in sealed
    assert sealed != seal("pässwörd", settings)  # a fresh IV each time
    assert unseal(sealed, settings) == "pässwörd"


def test_another_key_does_not_open_a_token() -> None:
    sealed = seal("secret", keyed(new_key()))
    with pytest.raises(SealError):
        unseal(sealed, keyed(new_key()))


def test_a_tampered_token_is_refused() -> None:
    settings = keyed(new_key())
    sealed = bytearray(seal("secret", settings))
    sealed[-5] ^= 1
    with pytest.raises(SealError):
        unseal(bytes(sealed), settings)


def test_rotation_keeps_old_tokens_readable() -> None:
    old, new = new_key(), new_key()
    sealed_old = seal("secret", keyed(old))
    rotated = keyed(f"{new}, {old}")
    assert unseal(sealed_old, rotated) == "secret"
    assert unseal(seal("other", rotated), keyed(new)) == "other"  # the first key seals


@pytest.mark.parametrize("key", [None, "not-a-fernet-key"])
def test_without_a_usable_key_nothing_is_sealed(key: str | None) -> None:
    with pytest.raises(SealError):
        seal("secret", keyed(key))


def test_the_development_key_is_kept_private(tmp_path: Path) -> None:
    key = dev_key(tmp_path / "state")
    assert dev_key(tmp_path / "state") == key
    assert (tmp_path / "state" / "import-secret.key").stat().st_mode & 0o077 == 0
    assert unseal(seal("x", keyed(key)), keyed(key)) == "x"
