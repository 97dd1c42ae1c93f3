"""Password hashes for API users.

The importWS dialect sends a password either in plaintext or as its MD5 (``pwdtype``). To check
both forms without ever storing either, the stored hash is an argon2id hash (argon2-cffi) of the
password's lower-case MD5 hex: a plaintext password is MD5-ed first, an MD5 is used as given.

Hashes written before argon2 were ``scrypt$N$salt$digest`` of the same MD5 hex. They still verify;
a successful login with one yields the argon2id hash to store instead (:attr:`Verdict.rehash`), so
the catalog moves to argon2 user by user without anyone resetting a password.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): ~30-50 ms per check here.
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_N, _R, _P = 2**14, 8, 1  # the legacy scrypt parameters
_PLACEHOLDER = "0" * 32  # checked instead of an unusable secret, so a bad one costs the same time


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    rehash: str | None = None  # the argon2id hash to store in place of a legacy or weaker one


def md5_hex(password: str) -> str:
    return hashlib.md5(password.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return HASHER.hash(md5_hex(password))


def candidate(secret: str, pwdtype: str) -> str | None:
    """The MD5 hex a credential stands for: ``secret`` MD5-ed (plaintext) or as given (md5, any case)."""
    kind = pwdtype.strip().lower()
    if kind == "md5":
        value = secret.strip().lower()
    elif kind == "plaintext":
        value = md5_hex(secret)
    else:
        return None
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        return None
    return value


def verify(stored: str, secret: str, pwdtype: str) -> Verdict:
    """Check ``secret`` (plaintext, or an MD5 hex when ``pwdtype`` is md5) against a stored hash.

    The hash is always computed, also for an unusable secret, so the time taken does not tell a
    malformed credential from a wrong one.
    """
    value = candidate(secret, pwdtype)
    checked = value if value is not None else _PLACEHOLDER
    if stored.startswith("scrypt$"):
        ok = _scrypt_ok(stored, checked)
        return Verdict(ok and value is not None, HASHER.hash(checked) if ok and value is not None else None)
    try:
        HASHER.verify(stored, checked)
    except (VerificationError, InvalidHashError):
        return Verdict(False)
    if value is None:
        return Verdict(False)
    return Verdict(True, HASHER.hash(value) if HASHER.check_needs_rehash(stored) else None)


@cache
def dummy_hash() -> str:
    """A hash no credential matches: an unknown user is checked against it, in the same time."""
    return HASHER.hash(os.urandom(16).hex())


def _scrypt_ok(stored: str, value: str) -> bool:
    try:
        _, n, salt, digest = stored.split("$")
        if int(n) != _N:
            return False
        derived = hashlib.scrypt(value.encode("ascii"), salt=bytes.fromhex(salt), n=_N, r=_R, p=_P, dklen=32)
    except ValueError:
        return False
    return hmac.compare_digest(derived.hex(), digest)
