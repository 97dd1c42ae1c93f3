"""What the service may fetch, and from where: a URL's scheme against an allowlist, every address its
host resolves to against the private-network rule (loopback, link-local, private, multicast and
unspecified addresses are refused unless the settings allow them), and one time budget for the waits.
Import requests are checked with it when they arrive, and fetches again when they run."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import SecretStr

from service.config import Settings
from service.errors import ServiceError

T = TypeVar("T")

DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "sftp": 22}


class SourceError(ServiceError):
    """A file could not be fetched; ``code`` is machine-readable (``source.*``), ``message`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SourceSpec:
    """What to fetch. Credentials in the URL (``user:pwd@``) are moved out of it by ``normalized``."""

    kind: Literal["http", "ftp", "sftp"]
    url: str
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    known_host_key: str | None = None  # sftp: the server's expected host key (OpenSSH public-key line)

    def normalized(self) -> SourceSpec:
        """This spec with any ``user:password@`` of the URL moved into ``username``/``password``."""
        parts = urlsplit(self.url)
        if parts.username is None and parts.password is None:
            return self
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port is not None:
            netloc += f":{parts.port}"
        user = self.username or (unquote(parts.username) if parts.username else None)
        pwd = self.password or (SecretStr(unquote(parts.password)) if parts.password else None)
        url = urlunsplit(parts._replace(netloc=netloc))
        return replace(self, url=url, username=user, password=pwd)


def redacted(url: str) -> str:
    """``url`` without user information, for logs and error messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    timeout_s: float
    allow_private_networks: bool
    allowed_schemes: frozenset[str] = frozenset({"http", "https", "ftp", "sftp"})
    # Networks allowed even when private networks are not, e.g. an internal file server's "10.1.2.0/24".
    allowed_networks: frozenset[str] = frozenset()
    ca_file: str | None = None  # https: the CA bundle certificates are verified against (default: certifi's)

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        return cls(
            settings.import_max_bytes,
            settings.import_timeout_s,
            settings.import_allow_private_networks,
            frozenset(s.lower() for s in _items(settings.import_allowed_schemes)),
            frozenset(_items(settings.import_allowed_networks or "")),
            str(settings.import_ca_file) if settings.import_ca_file else None,
        )

    def permits(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if self.allow_private_networks or _public(ip):
            return True
        return any(ip in ipaddress.ip_network(n, strict=False) for n in self.allowed_networks)


def _items(csv: str) -> list[str]:
    return [s.strip() for s in csv.split(",") if s.strip()]


class Budget:
    """The time an import may spend waiting on its source, shared by every wait of one fetch."""

    def __init__(self, seconds: float) -> None:
        self.remaining = seconds

    async def run(self, awaitable: Awaitable[T]) -> T:
        if self.remaining <= 0:
            raise SourceError("source.timeout", "the source took longer than the import time limit")
        start = time.monotonic()
        try:
            async with asyncio.timeout(self.remaining):
                return await awaitable
        except TimeoutError:
            raise SourceError("source.timeout", "the source took longer than the import time limit") from None
        finally:
            self.remaining -= time.monotonic() - start


@dataclass(frozen=True)
class Target:
    """A URL taken apart, its host resolved to one address that passed the checks."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(url: str, limits: FetchLimits, budget: Budget) -> Target:
    """Check ``url``'s scheme, resolve its host and check every address it resolves to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in limits.allowed_schemes:
        raise SourceError("source.scheme_not_allowed", f"scheme {scheme or '(none)'!r} is not allowed")
    host = parts.hostname
    if not host:
        raise SourceError("source.invalid_url", f"no host in {redacted(url)}")
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        raise SourceError("source.invalid_url", f"bad port in {redacted(url)}") from None
    loop = asyncio.get_running_loop()
    try:
        infos = await budget.run(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except OSError:
        raise SourceError("source.unreachable", f"cannot resolve host {host}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not limits.permits(ip):
            raise SourceError(
                "source.forbidden_address", f"host {host} resolves to {ip}, which is not a public address"
            )
    return Target(scheme, host, port, unquote(parts.path) or "/", addresses[0])


_UNDECIDED = frozenset({"source.unreachable", "source.timeout", "source.invalid_url"})


async def precheck(url: str, limits: FetchLimits, resolve_s: float) -> SourceError | None:
    """What can be told of ``url`` when a request names it, before any job: a scheme the settings
    refuse, or a host that is, or resolves within ``resolve_s`` to, an address they refuse. A host that
    does not resolve in time is not refused here; the fetch checks every address again when it runs
    (the name may point elsewhere by then) and connects only to one it checked."""
    host = urlsplit(url).hostname or ""
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None and urlsplit(url).scheme.lower() in limits.allowed_schemes and not limits.permits(literal):
        return SourceError("source.forbidden_address", f"{literal} is not a public address")
    try:
        await resolve(url, limits, Budget(resolve_s))
    except SourceError as exc:
        if exc.code in _UNDECIDED:
            return None
        return exc
    return None
