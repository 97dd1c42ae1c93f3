"""http(s) sources with httpx: optional basic auth, redirects followed by hand so each hop is checked."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from service.imports.sources import CHUNK_BYTES, check_size, translated
from service.runtime.egress import Budget, FetchLimits, SourceError, SourceSpec, Target, redacted, resolve

MAX_REDIRECTS = 5
_ERRORS: dict[type[BaseException], str] = {
    httpx.TimeoutException: "source.timeout",
    httpx.HTTPError: "source.unreachable",
    OSError: "source.unreachable",
}
_STATUS = {401: "source.auth_failed", 403: "source.auth_failed", 404: "source.not_found", 410: "source.not_found"}


def _request(client: httpx.AsyncClient, url: httpx.URL, target: Target) -> httpx.Request:
    """A request to the checked address (no second lookup), naming the host in Host and TLS SNI."""
    pinned = url.copy_with(host=target.address)
    request = client.build_request("GET", pinned, headers={"Host": url.netloc.decode("ascii")})
    if target.scheme == "https":
        request.extensions["sni_hostname"] = target.host
    return request


@asynccontextmanager
async def fetch(spec: SourceSpec, limits: FetchLimits, budget: Budget) -> AsyncIterator[AsyncIterator[bytes]]:
    url = httpx.URL(spec.url)
    origin = (url.scheme, url.host, url.port)
    auth = None
    if spec.username:
        auth = httpx.BasicAuth(spec.username, spec.password.get_secret_value() if spec.password else "")
    timeout = httpx.Timeout(min(limits.timeout_s, 60.0))
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=limits.ca_file) if limits.ca_file else True
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=timeout, verify=verify) as client:
        for _ in range(MAX_REDIRECTS + 1):
            target = await resolve(str(url), limits, budget)
            if target.scheme not in ("http", "https"):
                raise SourceError("source.scheme_not_allowed", f"redirect to scheme {target.scheme!r}")
            same_origin = (url.scheme, url.host, url.port) == origin
            request = _request(client, url, target)
            with translated(_ERRORS, f"GET {redacted(str(url))}"):
                response = await budget.run(client.send(request, auth=auth if same_origin else None, stream=True))
            try:
                if response.is_redirect and "location" in response.headers:
                    url = url.join(response.headers["location"])
                    continue
                _check(response, url, limits)
                yield _chunks(response)
                return
            finally:
                await response.aclose()
        raise SourceError("source.unreachable", f"more than {MAX_REDIRECTS} redirects from {redacted(spec.url)}")


def _check(response: httpx.Response, url: httpx.URL, limits: FetchLimits) -> None:
    status = response.status_code
    if status >= 400:
        code = _STATUS.get(status, "source.unreachable")
        raise SourceError(code, f"GET {redacted(str(url))} answered HTTP {status}")
    length = response.headers.get("content-length")
    if length and length.isdigit():
        check_size(int(length), limits)


async def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    with translated(_ERRORS, "reading the response"):
        async for chunk in response.aiter_bytes(CHUNK_BYTES):
            yield chunk
