"""importWS ``source=http|ftp``: the CSV file named by ``context`` becomes an import job.

The request (seeds 000, 001): ``context`` is the file's URL, ``source_user``/``source_pwd`` the file
server's login (sealed, never stored as given), ``exetime`` when to run (empty, ``NULL`` or
``0000-00-00 00:00:00``: now; else ``yyyy-mm-dd hh:mm:ss``, a local time in the campaign's time zone, else
the tenant's, else ``CIS_IMPORT_TIMEZONE``: service/model/localtime.py), ``delrow`` how
many leading lines to skip. The native response carries the job id.

The file: row 1 names the columns, each a field name or the campaign's display name for it, exactly
like the names of ``context`` (unknown names become custom attributes); ``delrow`` counts the lines
skipped from the top *including* that title line, so 0 and 1 both start the data at row 2. Each data
row is one customer, read like ``source=data`` with the same duplicate options (importws_record.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import SecretStr

from service.catalog.model import Campaign, Catalog
from service.dialects import importws_params, importws_record
from service.errors import ErrorDetail
from service.model.contact import ContactRecord
from service.model.job import FileFormat, ImportRequest, Schedule, SourceKind
from service.model.localtime import read_local
from service.model.records import Parsed, Rejected

ROW_OPTIONS = importws_params.PARAMETERS[importws_params.PARAMETERS.index("phone_field") :]  # the record options
KINDS: dict[str, SourceKind] = {"http": "http", "https": "http", "ftp": "ftp", "ftps": "ftp", "sftp": "sftp"}
# The file's type by its name (the seeds: "csv only"; a name without a suffix is read as CSV)
FORMATS: dict[str, FileFormat] = {"": "csv", ".csv": "csv", ".txt": "csv", ".xlsx": "xlsx"}


def request(
    tenant: str, campaign: Campaign, params: Mapping[str, str], warnings: list[ErrorDetail], *, zone: str
) -> Parsed:
    """The import job for ``source=http|ftp`` (``context`` already checked to be a URL); ``exetime`` is a
    local time in ``zone``."""
    try:
        url = urlsplit(params["context"].strip())
    except ValueError:  # e.g. an unbalanced [ in the host
        message = "context must be the URL of the CSV file (http://… or ftp://…) when source is http or ftp"
        return Parsed(Rejected([_err("bad_value", "/context", message)], tenant, campaign.campaign), warnings)
    suffix = PurePosixPath(unquote(url.path)).suffix.lower()
    if suffix not in FORMATS:
        message = f"unsupported file type {suffix[:16]}: the file must be a .csv (or .xlsx)"
        return Parsed(Rejected([_err_import("unsupported_format", message)], tenant, campaign.campaign), warnings)
    username, password = params["source_user"] or None, params["source_pwd"] or None
    if url.username is not None and username is None:  # http://user:pwd@host/… works too
        username, password = unquote(url.username), unquote(url.password or "") or None
    bare = urlunsplit((url.scheme, url.netloc.rpartition("@")[2], url.path, url.query, ""))
    exetime = params["exetime"].strip()
    at = None
    if exetime.lower() not in importws_record.NO_DIALTIME:
        try:
            local = read_local(datetime.strptime(exetime, importws_record.DIALTIME_FORMAT), zone, "/exetime")
        except ValueError:
            message = "exetime must be empty, NULL, 0000-00-00 00:00:00 or a time yyyy-mm-dd hh:mm:ss"
            return Parsed(Rejected([_err("bad_value", "/exetime", message)], tenant, campaign.campaign), warnings)
        at, warnings = local.at, [*warnings, *local.warnings]
    fmt = FORMATS[suffix]
    req = ImportRequest(
        tenant=tenant,
        campaign=campaign.campaign,
        source_kind=KINDS[url.scheme.lower()],
        format=fmt,
        url=bare,
        username=username,
        password=SecretStr(password) if password else None,
        schedule=Schedule(at=at, zone=zone),
        options={"delrow": int(params["delrow"] or 0), **{k: params[k] for k in ROW_OPTIONS}},
        url_pointer="/context",
    )
    return Parsed(req, warnings)


@dataclasses.dataclass(frozen=True, slots=True)
class RowReader:
    """Data rows of one job's file, as importWS customers."""

    tenant: str
    campaign: Campaign
    options: Mapping[str, Any]
    zone: str = "UTC"  # the campaign's time zone when the job runs (Catalog.zone): dial times are read in it

    @property
    def header_rows(self) -> int:
        return max(int(self.options.get("delrow", 0)), 1)

    def parse(self, header: list[str], number: int, cells: list[str]) -> Parsed:
        values = importws_record.Values()
        for name, value in zip(header, cells, strict=False):
            if name.strip():
                importws_record.put(self.campaign, values, name.strip(), value.strip())
        params = {k: str(self.options.get(k, "")) for k in ROW_OPTIONS}
        scope = f"job\x1f{self.options.get('job_id', '')}\x1f{number}"
        parsed = importws_record.from_values(self.tenant, self.campaign, values, params, [], scope, zone=self.zone)
        return _located(parsed, f"/rows/{number}")

    def too_many_rows(self, limit: int) -> ErrorDetail:
        return ErrorDetail("import.too_many_rows", "/context", f"the file holds more than {limit:,} data rows")


def rows_reader(tenant: str, campaign_id: str, options: Mapping[str, Any], catalog: Catalog) -> RowReader | ErrorDetail:
    campaign = catalog.campaign(tenant, campaign_id)
    if campaign is None:
        return _err("campaign_not_found", "/model_id", f"campaign {campaign_id[:64]!r} not found")
    return RowReader(tenant, campaign, options, catalog.zone(tenant, campaign_id))


def _located(parsed: Parsed, path: str) -> Parsed:
    """Errors and warnings about the row point at the row, not at ``context``."""

    def moved(details: list[ErrorDetail]) -> list[ErrorDetail]:
        return [dataclasses.replace(d, path=path) if d.path == "/context" else d for d in details]

    rec = parsed.record
    if isinstance(rec, Rejected):
        rec = Rejected(moved(rec.errors), rec.tenant, rec.campaign, rec.user_data)
    elif isinstance(rec, ContactRecord) and any(p.path == "/context" for p in rec.contact.phones):
        phones = [p.model_copy(update={"path": path}) if p.path == "/context" else p for p in rec.contact.phones]
        rec = rec.model_copy(update={"contact": rec.contact.model_copy(update={"phones": phones})})
    return Parsed(rec, moved(parsed.warnings))


def _err(code: str, path: str, message: str) -> ErrorDetail:
    return ErrorDetail(f"importws.{code}", path, message)


def _err_import(code: str, message: str) -> ErrorDetail:
    return ErrorDetail(f"import.{code}", "/context", message)
