"""Password hashes: argon2id of the MD5 (both importWS forms), legacy scrypt hashes still verify and
are re-hashed, and an unknown user costs a hash check like a known one."""

from __future__ import annotations

import hashlib
import os

import pytest
from argon2 import PasswordHasher

from service.catalog import passwords
from service.catalog.model import Catalog, User


def legacy_scrypt_hash(password: str) -> str:
    """A hash as the catalog stored it before argon2: scrypt of the MD5 hex, per-user salt."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(passwords.md5_hex(password).encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${2**14}${salt.hex()}${digest.hex()}"


def test_argon2id_of_the_md5_takes_plaintext_and_md5_in_any_case() -> None:
    stored = passwords.hash_password("s3cret")
    assert stored.startswith("$argon2id$") and "s3cret" not in stored
    md5 = hashlib.md5(b"s3cret").hexdigest()
    assert passwords.verify(stored, "s3cret", "plaintext") == passwords.Verdict(True)
    assert passwords.verify(stored, md5.upper(), " MD5 ") == passwords.Verdict(True)
    for secret, kind in [("s3cret!", "plaintext"), (md5, "plaintext"), ("s3cret", "md5"), ("s3cret", "sha1")]:
        assert passwords.verify(stored, secret, kind) == passwords.Verdict(False)


def test_a_legacy_scrypt_hash_verifies_and_comes_with_its_argon2_replacement() -> None:
    legacy = legacy_scrypt_hash("old-pw")
    verdict = passwords.verify(legacy, "old-pw", "plaintext")
    assert verdict.ok and verdict.rehash is not None and verdict.rehash.startswith("$argon2id$")
    assert passwords.verify(verdict.rehash, passwords.md5_hex("old-pw"), "md5").ok
    assert passwords.verify(legacy, "wrong", "plaintext") == passwords.Verdict(False)
    assert passwords.verify("scrypt$1$zz$00", "old-pw", "plaintext") == passwords.Verdict(False)
    assert passwords.verify("garbage", "old-pw", "plaintext") == passwords.Verdict(False)


def test_a_weaker_argon2_hash_is_rehashed_on_login() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(passwords.md5_hex("pw"))
    verdict = passwords.verify(weak, "pw", "plaintext")
    assert verdict.ok and verdict.rehash is not None
    assert passwords.verify(passwords.hash_password("pw"), "pw", "plaintext").rehash is None


@pytest.mark.parametrize(("usertype", "login"), [("agent", "nobody"), ("account", "8001"), ("agent", "8001")])
def test_unknown_user_wrong_type_and_wrong_password_all_check_a_hash(
    monkeypatch: pytest.MonkeyPatch, usertype: str, login: str
) -> None:
    """Every way of failing costs one hash check: an unknown user is checked against a dummy hash."""
    real = passwords.hash_password("right")
    catalog = Catalog(tenants={"t"}, users={("t", "agent", "8001"): User("t", "agent", "8001", real)})
    checked: list[str] = []

    def recording(stored: str, secret: str, pwdtype: str) -> passwords.Verdict:
        checked.append(stored)
        return passwords.Verdict(stored == real and secret == "right")

    monkeypatch.setattr(passwords, "verify", recording)
    secret = f"wrong-{usertype}-{login}"  # not in the verdict cache of other tests
    assert catalog.login("t", usertype, login, secret, "plaintext") == passwords.Verdict(False)
    assert checked == [real if (usertype, login) == ("agent", "8001") else passwords.dummy_hash()]
    assert not passwords.verify(passwords.dummy_hash(), secret, "plaintext").ok
