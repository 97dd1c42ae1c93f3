"""What an importWS login check costs, per way it can fail: ``.venv/bin/python -m bench.logins``.

Each check uses a fresh secret, so the verdict cache never answers. An unknown user or user type is
checked against a dummy argon2id hash and should cost what a wrong password costs; a legacy scrypt
hash costs a scrypt plus the argon2id re-hash, once per user.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable

from service.catalog import passwords
from service.catalog.model import Catalog, User
from tests.unit.test_passwords import legacy_scrypt_hash

RUNS = 30


def _timed(check: Callable[[], object]) -> str:
    ms = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        check()
        ms.append((time.perf_counter() - t0) * 1000)
    return f"median {statistics.median(ms):6.1f} ms   p90 {sorted(ms)[int(RUNS * 0.9)]:6.1f} ms"


def main() -> None:
    known = passwords.hash_password("right")
    catalog = Catalog(tenants={"t"}, users={("t", "agent", "8001"): User("t", "agent", "8001", known)})
    legacy = legacy_scrypt_hash("right")

    def login(usertype: str, user: str, suffix: str = "", kind: str = "plaintext") -> Callable[[], object]:
        return lambda: catalog.login("t", usertype, user, uuid.uuid4().hex + suffix, kind)

    rows = {
        "hash a password (argon2id)": lambda: passwords.hash_password("pw"),
        "known user, wrong password": login("agent", "8001"),
        "unknown user": login("agent", "nobody"),
        "known user, wrong user type": login("account", "8001"),
        "known user, malformed MD5": login("agent", "8001", "zz", "md5"),
        "legacy scrypt hash, right password (+ re-hash)": lambda: passwords.verify(legacy, "right", "plaintext"),
    }
    for name, check in rows.items():
        print(f"{name:48} {_timed(check)}")


if __name__ == "__main__":
    main()
