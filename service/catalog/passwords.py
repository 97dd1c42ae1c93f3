"""Password hashes for API users.

The importWS dialect sends a password either in plaintext or as its MD5 (``pwdtype``). To check
both forms without ever storing either, the stored hash is a slow, salted scrypt of the password's
lower-case MD5 hex: a plaintext password is MD5-ed first, an MD5 is used as given.
"""

from __future__ import annotations

import hashlib
import hmac
import os

_N, _R, _P = 2**14, 8, 1


def md5_hex(password: str) -> str:
    return hashlib.md5(password.encode("utf-8")).hexdigest()


def _scrypt(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode("ascii"), salt=salt, n=_N, r=_R, p=_P, dklen=32)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    return f"scrypt${_N}${salt.hex()}${_scrypt(md5_hex(password), salt).hex()}"


def verify(stored: str, secret: str, pwdtype: str) -> bool:
    """Check ``secret`` (plaintext, or an MD5 hex when ``pwdtype`` is md5, any case)."""
    try:
        scheme, n, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt" or int(n) != _N:
        return False
    kind = pwdtype.strip().lower()
    if kind == "md5":
        candidate = secret.strip().lower()
    elif kind == "plaintext":
        candidate = md5_hex(secret)
    else:
        return False
    if len(candidate) != 32 or any(c not in "0123456789abcdef" for c in candidate):
        return False
    return hmac.compare_digest(_scrypt(candidate, bytes.fromhex(salt)).hex(), digest)
