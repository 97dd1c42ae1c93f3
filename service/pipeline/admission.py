"""What a file-import request is refused for when it arrives, before a job is stored.

A request naming a file server (the iSales ``serverId``) is refused at once when no such server is
registered for the tenant (``import.server_not_found``), or when the server's host is on an address
or behind a scheme the fetch would refuse (``source.forbidden_address``, ``source.scheme_not_allowed``:
the same checks as ``egress.resolve``). The lookup runs in the consuming transaction: a host name is
resolved within ``ARRIVAL_TIMEOUT_S``; a name that cannot be resolved now is left to the job, which
tries again when it runs. Every other failure (login, missing file, content) is the job's.
"""

from __future__ import annotations

import asyncpg

from service.config import Settings
from service.errors import ErrorDetail
from service.model.job import ImportRequest
from service.runtime.egress import Budget, FetchLimits, SourceError, resolve
from service.store.file_servers import file_server_address

ARRIVAL_TIMEOUT_S = 5.0
REFUSED = frozenset({"source.forbidden_address", "source.scheme_not_allowed"})


async def refusal(conn: asyncpg.Connection, settings: Settings, req: ImportRequest) -> ErrorDetail | None:
    """Why ``req`` cannot be run, when that can be told now; ``None`` when its job may be stored."""
    if req.server_id is None:
        return None
    address = await file_server_address(conn, req.tenant, req.server_id)
    if address is None:
        detail = f"No file server '{req.server_id}' is registered for this tenant."
        return ErrorDetail("import.server_not_found", "/serverId", detail)
    host, port = address
    netloc = f"[{host}]" if ":" in host else host
    limits = FetchLimits.from_settings(settings)
    try:
        await resolve(f"sftp://{netloc}:{port}/", limits, Budget(min(settings.import_timeout_s, ARRIVAL_TIMEOUT_S)))
    except SourceError as exc:
        if exc.code not in REFUSED:
            return None  # not resolvable now: the job tries when it runs
        why = "an address" if exc.code == "source.forbidden_address" else "a scheme (sftp)"
        detail = f"The file server '{req.server_id}' is at {why} this service may not fetch from."
        return ErrorDetail(exc.code, "/serverId", detail)
    return None
