"""SFTP sources with asyncssh: password login, the server's host key checked when one is known.

Nothing of the local user's SSH set-up is used: no ~/.ssh/config, keys, agent or known_hosts file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import asyncssh

from service.imports.sources import CHUNK_BYTES, check_size, translated
from service.runtime.egress import Budget, FetchLimits, SourceError, SourceSpec, redacted, resolve

_ERRORS: dict[type[BaseException], str] = {
    asyncssh.HostKeyNotVerifiable: "source.host_key_mismatch",
    asyncssh.PermissionDenied: "source.auth_failed",
    asyncssh.SFTPNoSuchFile: "source.not_found",
    asyncssh.SFTPNoSuchPath: "source.not_found",
    asyncssh.SFTPFileIsADirectory: "source.not_found",
    asyncssh.SFTPPermissionDenied: "source.auth_failed",
    asyncssh.Error: "source.unreachable",
    OSError: "source.unreachable",
}


def _known_hosts(key: str | None) -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]] | None:
    if key is None:
        return None
    try:
        return ([asyncssh.import_public_key(key)], [], [])
    except (asyncssh.KeyImportError, ValueError):
        raise SourceError("source.invalid_host_key", "the registered host key is not an OpenSSH public key") from None


@asynccontextmanager
async def fetch(spec: SourceSpec, limits: FetchLimits, budget: Budget) -> AsyncIterator[AsyncIterator[bytes]]:
    target = await resolve(spec.url, limits, budget)
    what = f"sftp {redacted(spec.url)}"
    known_hosts = _known_hosts(spec.known_host_key)
    with translated(_ERRORS, what):
        conn = await budget.run(
            asyncssh.connect(
                target.address,
                target.port,
                username=spec.username or "anonymous",
                password=spec.password.get_secret_value() if spec.password else None,
                known_hosts=known_hosts,
                client_keys=None,
                agent_path=None,
                config=None,
                preferred_auth="password,keyboard-interactive",
                connect_timeout=min(limits.timeout_s, 60.0),
            )
        )
    async with conn:
        with translated(_ERRORS, what):
            sftp = await budget.run(conn.start_sftp_client())
            if await budget.run(sftp.isdir(target.path)):
                raise SourceError("source.not_found", f"{what}: a folder, not a file")
            handle = await budget.run(sftp.open(target.path, "rb"))
        async with sftp, handle:
            with translated(_ERRORS, what):
                check_size((await budget.run(handle.stat())).size, limits)
            yield _chunks(handle, what)


async def _chunks(handle: asyncssh.SFTPClientFile, what: str) -> AsyncIterator[bytes]:
    with translated(_ERRORS, what):
        while block := await handle.read(CHUNK_BYTES):
            yield cast(bytes, block)  # opened in binary mode
