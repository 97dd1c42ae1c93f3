"""Source credentials are sealed before they are stored: Fernet (AES-128-CBC + HMAC-SHA256) tokens.

The key is ``CIS_IMPORT_SECRET_KEY``: one or more Fernet keys, comma separated. The first seals; every
one unseals, so a key is rotated by putting a new key first and keeping the old one until the stored
tokens are re-sealed. ``contact-import secret-key`` prints a new key.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from service.config import Settings
from service.errors import ServiceError


class SealError(ServiceError):
    """No usable key, or a token that none of the keys opens."""


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def dev_key(folder: Path) -> str:
    """The development key kept in ``folder`` (created, readable by its owner only, on first use)."""
    path = folder / "import-secret.key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(new_key() + "\n", encoding="ascii")
    return path.read_text(encoding="ascii").strip()


def _fernet(settings: Settings) -> MultiFernet:
    if settings.import_secret_key is None:
        raise SealError("CIS_IMPORT_SECRET_KEY is not set: source credentials cannot be sealed or unsealed")
    keys = [k.strip() for k in settings.import_secret_key.get_secret_value().split(",") if k.strip()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise SealError("CIS_IMPORT_SECRET_KEY must hold Fernet keys (32 url-safe base64-encoded bytes)") from None


def seal(plaintext: str, settings: Settings) -> bytes:
    return _fernet(settings).encrypt(plaintext.encode("utf-8"))


def unseal(sealed: bytes, settings: Settings) -> str:
    try:
        return _fernet(settings).decrypt(bytes(sealed)).decode("utf-8")
    except InvalidToken:
        raise SealError("a sealed credential does not open with CIS_IMPORT_SECRET_KEY (wrong or rotated key)") from None
