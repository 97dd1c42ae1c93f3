"""Where an import file comes from: http(s), ftp or SFTP, streamed in chunks under limits.

``open_source`` checks the URL's scheme against an allowlist and every address its host resolves to
(loopback, link-local, private, multicast and unspecified addresses are refused unless the settings
allow private networks), connects to the address it checked (no second lookup), enforces a byte limit
as the chunks arrive and a time budget on everything spent waiting for the source. Each protocol's
exceptions are translated once, here, into ``SourceError`` with a stable ``code``.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import TypeVar
from urllib.parse import urlsplit

from service.runtime.egress import Budget, FetchLimits, SourceError, SourceSpec

T = TypeVar("T")
CHUNK_BYTES = 64 * 1024


@contextmanager
def translated(translate: dict[type[BaseException], str], what: str) -> Iterator[None]:
    """Turn a protocol library's exceptions into ``SourceError``: the first matching class gives the code."""
    try:
        yield
    except SourceError:
        raise
    except tuple(translate) as exc:
        code = next(c for cls, c in translate.items() if isinstance(exc, cls))
        raise SourceError(code, f"{what}: {type(exc).__name__}: {exc}") from None


async def limited(chunks: AsyncIterator[bytes], limits: FetchLimits, budget: Budget) -> AsyncIterator[bytes]:
    """``chunks`` while they stay within the byte limit and the time budget."""
    total = 0
    while True:
        try:
            chunk = await budget.run(anext(chunks))
        except StopAsyncIteration:
            return
        total += len(chunk)
        if total > limits.max_bytes:
            raise SourceError("source.too_large", f"the file is larger than the limit of {limits.max_bytes} bytes")
        if chunk:
            yield chunk


def check_size(size: int | None, limits: FetchLimits) -> None:
    """Refuse before reading when the source announces a size over the limit."""
    if size is not None and size > limits.max_bytes:
        raise SourceError("source.too_large", f"the file has {size} bytes, the limit is {limits.max_bytes}")


_SCHEMES = {"http": ("http", "https"), "ftp": ("ftp",), "sftp": ("sftp",)}
Fetcher = Callable[[SourceSpec, FetchLimits, Budget], AbstractAsyncContextManager[AsyncIterator[bytes]]]


@asynccontextmanager
async def _open(spec: SourceSpec, limits: FetchLimits) -> AsyncIterator[AsyncIterator[bytes]]:
    spec = spec.normalized()
    budget = Budget(limits.timeout_s)
    scheme = urlsplit(spec.url).scheme.lower()
    if scheme not in limits.allowed_schemes:
        raise SourceError("source.scheme_not_allowed", f"scheme {scheme or '(none)'!r} is not allowed")
    if scheme not in _SCHEMES.get(spec.kind, ()):
        raise SourceError("source.invalid_url", f"a {spec.kind} source needs a {spec.kind} URL")
    # Imported on use: a service that never fetches over SFTP never loads asyncssh.
    fetch: Fetcher = importlib.import_module(f"service.imports.fetch_{spec.kind}").fetch
    async with fetch(spec, limits, budget) as chunks:
        yield limited(chunks, limits, budget)


def open_source(spec: SourceSpec, limits: FetchLimits) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
    """``async with open_source(spec, limits) as chunks: async for chunk in chunks: ...``"""
    return _open(spec, limits)
