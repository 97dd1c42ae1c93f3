"""ftp sources with aioftp: login (anonymous without credentials), passive mode, streamed RETR.

The data connection goes to the control connection's address, never to an address in the server's
PASV answer (aioftp's default), so a server cannot point the client at another host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import aioftp

from service.imports.sources import CHUNK_BYTES, check_size, translated
from service.runtime.egress import Budget, FetchLimits, SourceError, SourceSpec, redacted, resolve

_ERRORS: dict[type[BaseException], str] = {
    aioftp.AIOFTPException: "source.unreachable",
    OSError: "source.unreachable",
    ValueError: "source.unreachable",
}


def _status(exc: aioftp.StatusCodeError, what: str) -> SourceError:
    codes = {str(c) for c in exc.received_codes}
    if codes & {"530", "331", "332", "430"}:
        return SourceError("source.auth_failed", f"{what}: the server refused the login")
    if codes & {"550", "450", "553"}:
        return SourceError("source.not_found", f"{what}: no such file")
    return SourceError("source.unreachable", f"{what}: the server answered {sorted(codes)}")


@asynccontextmanager
async def fetch(spec: SourceSpec, limits: FetchLimits, budget: Budget) -> AsyncIterator[AsyncIterator[bytes]]:
    target = await resolve(spec.url, limits, budget)
    what = f"ftp {redacted(spec.url)}"
    client = aioftp.Client(socket_timeout=min(limits.timeout_s, 60.0), encoding="utf-8")
    try:
        with translated(_ERRORS, what):
            try:
                await budget.run(client.connect(target.address, target.port))
                user = spec.username or "anonymous"
                pwd = spec.password.get_secret_value() if spec.password else "anonymous@"
                await budget.run(client.login(user, pwd))
                with suppress(aioftp.StatusCodeError):  # SIZE/MLST is optional: the byte count still stops it
                    info = await budget.run(client.stat(target.path))
                    size = info.get("size")
                    check_size(int(size) if isinstance(size, str) and size.isdigit() else None, limits)
                stream = await budget.run(client.download_stream(target.path))
            except aioftp.StatusCodeError as exc:
                raise _status(exc, what) from None
        try:
            yield _chunks(stream, what)
        finally:
            stream.close()
    finally:
        client.close()


async def _chunks(stream: aioftp.DataConnectionThrottleStreamIO, what: str) -> AsyncIterator[bytes]:
    with translated(_ERRORS, what):
        try:
            async for block in stream.iter_by_block(CHUNK_BYTES):
                yield block
            await stream.finish()
        except aioftp.StatusCodeError as exc:
            raise _status(exc, what) from None
