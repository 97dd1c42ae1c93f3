"""``isales``: Huawei CC-iSales outbound call data (seed 003, schemas/isales.json).

Two event shapes, told apart by their keys:

* the file-import request ``{vdnId, campaignId, serverId, filePath, fileName, hour, minute}``: validated
  with the seed's error codes, then an import job for the file on the tenant's SFTP file server
  ``serverId`` (at the next ``hour:minute`` when given, else now); its outcome is ACCEPTED with the job id
  as ``importTaskId``, and each row of the file (the same template columns, row 1 naming them) is
  then a record like an event row, at most 500,000 per file (more: the job fails with ``02000011``);
* template rows ``{vdnId, campaignId, rows: [{sessionId, called, caller, callData, customField,
  recycleTime}]}``: one record per row, keyed by ``sessionId``, else the first ``calledNo``, upserted.

The tenant is the CloudEvents ``tenant`` attribute; ``campaignId`` must be a campaign of that tenant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from service.catalog.model import Campaign, Catalog
from service.dialects import isales_rules as rules
from service.errors import ErrorDetail
from service.model.contact import ContactRecord, DialListMode, Policy, WriteMode
from service.model.envelope import Envelope
from service.model.job import ImportRequest, Schedule
from service.model.outcome import Outcome, Status
from service.model.records import Parsed, Rejected
from service.schemas import definition, load_validator, pointer

FILE_KEYS = frozenset({"serverId", "filePath", "fileName", "hour", "minute"})
POLICY = Policy(mode=WriteMode.UPDATE, dial_list=DialListMode.MIRROR)

TENANT_MISSING = ErrorDetail(
    "isales.tenant_missing",
    "/",
    "The CloudEvents attribute 'tenant' is required: it names the tenant that owns the campaign.",
)
TEMPLATE = ("sessionId", "called", "caller", "callData", "customField", "recycleTime")
_TEMPLATE_NAMES = {name.lower(): name for name in TEMPLATE}
EMPTY_CELLS = frozenset({"", "-"})  # the template shows optional columns left out as "-"
# The seed's Table 1 heads its columns "sessionId (Optional)", "called (Mandatory)", …
_MARK = re.compile(r"\s*[(\uff08]\s*(optional|mandatory)\s*[)\uff09]\Z", re.IGNORECASE)
UNKNOWN_COLUMN = "isales.unknown_column"
_UNKNOWN_TEXT = (
    "not a column of the outbound call data template (sessionId, called, caller, callData, customField, "
    "recycleTime); its value is not imported"
)
# Answers to a file-import request refused when it arrives (service/pipeline/admission.py), in the seed's codes
ARRIVAL_CODES = {
    "import.server_not_found": rules.WRONG_VALUE,
    "source.forbidden_address": rules.GENERIC,
    "source.scheme_not_allowed": rules.GENERIC,
}
NOT_AN_OBJECT = rules.error(rules.WRONG_TYPE, "/", "The event data must be a JSON object.")
COMBINED = rules.error(
    rules.COMBINATION,
    "/",
    "An event holds either 'rows' or a file to import (serverId, filePath, fileName, hour, minute), not both.",
)
SUCCESS_TEXT = {
    Status.ADDED: "The outbound call data was imported.",
    Status.UPDATED: "The outbound call data was updated.",
    Status.UNCHANGED: "The outbound call data is unchanged.",
    Status.ACCEPTED: "Exporting data... View details in Import Result.",  # the seed's response example
}


class ISales:
    name = "isales"
    aliases: tuple[str, ...] = ("contact-import.isales.v1",)
    accepts_text = False
    records_at: str | None = "rows"

    def __init__(self, schema_dir: Path) -> None:
        validator = load_validator(schema_dir, self.name)
        self._file = definition(validator, "fileImport")
        self._head = definition(validator, "templateRows")
        self._row = definition(validator, "row")
        self._called = definition(validator, "calledList")

    def parse(self, envelope: Envelope, catalog: Catalog) -> list[Parsed]:
        data = envelope.data
        if not isinstance(data, dict):
            return [Parsed(Rejected([NOT_AN_OBJECT], envelope.tenant))]
        if "rows" in data:
            return self._rows(envelope.tenant, data, catalog)
        return [self._file_request(envelope.tenant, data, catalog)]

    def _file_request(self, tenant: str | None, data: dict[str, Any], catalog: Catalog) -> Parsed:
        errors = self._context(tenant, data, catalog, rules.check(self._file, data))
        campaign = _campaign(data)
        if errors:
            return Parsed(Rejected(errors, tenant, campaign))
        assert tenant is not None and campaign is not None
        name: str = data["fileName"]
        at = (int(data["hour"]), int(data["minute"])) if data.get("hour") is not None else None
        zone = catalog.zone(tenant, campaign)  # hour and minute are the campaign's (else tenant's) local time
        request = ImportRequest(
            tenant=tenant,
            campaign=campaign,
            source_kind="sftp",
            format=rules.file_format(name),
            server_id=data["serverId"],
            file_path=data.get("filePath") or None,
            file_name=name,
            schedule=Schedule(hour_minute=at, zone=zone),
            max_rows=rules.MAX_ROWS,
        )
        return Parsed(request)

    def rows_reader(
        self, tenant: str, campaign: str, options: dict[str, Any], catalog: Catalog
    ) -> RowReader | ErrorDetail:
        """How a file job's rows become records (base.FileImports)."""
        found = catalog.campaign(tenant, campaign)
        if found is None:
            detail = f"The campaign '{campaign}' does not exist for tenant '{tenant}'."
            return rules.error(rules.WRONG_VALUE, "/campaignId", detail)
        return RowReader(self, tenant, campaign, found, zone=catalog.zone(tenant, campaign))

    def _rows(self, tenant: str | None, data: dict[str, Any], catalog: Catalog) -> list[Parsed]:
        rows = data["rows"]
        head = {k: v for k, v in data.items() if k != "rows" and k not in FILE_KEYS}
        errors = [COMBINED] if FILE_KEYS & data.keys() else []
        errors += [e for e in rules.check(self._head, head) if e.path != "/rows"]
        errors = self._context(tenant, data, catalog, errors + rules.rows_shape(rows))
        campaign = _campaign(data)
        if errors:
            count = len(rows) if isinstance(rows, list) and rows else 1
            return [Parsed(Rejected(errors, tenant, campaign, rules.guess_key(rows, i))) for i in range(count)]
        assert tenant is not None and campaign is not None
        found, zone = catalog.campaign(tenant, campaign), catalog.zone(tenant, campaign)
        return [self.row(tenant, campaign, i, row, found, zone=zone) for i, row in enumerate(rows)]

    def _context(
        self, tenant: str | None, data: dict[str, Any], catalog: Catalog, errors: list[ErrorDetail]
    ) -> list[ErrorDetail]:
        """The event's own errors, then the tenant and the campaign it names."""
        out = list(errors)
        if not tenant:
            return [*out, TENANT_MISSING]
        campaign = _campaign(data)
        if (
            campaign is None
            or any(e.path == "/campaignId" for e in out)
            or catalog.campaign(tenant, campaign) is not None
        ):
            return out
        detail = f"The campaign '{campaign}' does not exist for tenant '{tenant}'."
        return [*out, rules.error(rules.WRONG_VALUE, "/campaignId", detail)]

    def row(self, tenant: str, campaign: str, index: int, raw: Any, found: Campaign | None, *, zone: str) -> Parsed:
        """One template row (``index``: its place in ``rows``, or its row number in a file); ``found``:
        the campaign in the catalog, whose match policy decides the key of a row without one; ``zone``:
        the time zone its recycleTime is read in."""
        base = ("rows", index)
        errors = rules.check(self._row, raw, base)
        if not isinstance(raw, dict):
            return Parsed(Rejected(errors, tenant, campaign))
        bad = {e.path.split("/")[3] for e in errors if e.path.count("/") >= 3}
        called: list[dict[str, Any]] = []
        if "called" not in bad and "called" in raw:
            called, more = rules.called_errors(self._called, raw["called"], base)
            errors += more
        if "recycleTime" not in bad:
            errors += rules.recycle_time_errors(raw, base)
        if errors:
            return Parsed(Rejected(errors, tenant, campaign, rules.guess_key([raw], 0)))
        recycle = rules.recycle_time(raw, base, zone)
        contact = rules.contact(raw, called, found, base)
        if recycle is not None:
            contact = contact.model_copy(update={"recycle_at": recycle.at, "recycle_zone": recycle.zone})
        record = ContactRecord(tenant=tenant, campaign=campaign, contact=contact, policy=POLICY)
        return Parsed(record, list(recycle.warnings) if recycle is not None else [])

    def native(self, outcome: Outcome) -> Any:
        """The seed's response body: resultCode/resultDesc, importTaskId, returnCode/returnDesc."""
        if outcome.status is Status.FAILED:
            first = outcome.errors[0] if outcome.errors else None
            code = first.code if first is not None and rules.SEED_CODE.match(first.code) else rules.GENERIC
            desc = first.message if first is not None else rules.SEED_TEXT[rules.GENERIC]
            if first is not None and first.code in ARRIVAL_CODES:
                code = ARRIVAL_CODES[first.code]
                desc = f"{rules.SEED_TEXT[code]} {first.message}"
        else:
            code, desc = rules.SUCCESS, SUCCESS_TEXT.get(outcome.status, "Success.")
        # importTaskId names the file-import task: the request's and its rows' outcomes carry it
        task = outcome.details.get("job_id")
        return {"resultCode": code, "resultDesc": desc, "importTaskId": task, "returnCode": code, "returnDesc": desc}


@dataclass(frozen=True, slots=True)
class RowReader:
    """The rows of a job's .xlsx/.xls/.csv file: row 1 names the template columns (any case, with or
    without the seed's ``(Optional)``/``(Mandatory)``), one record per further row. An empty cell (or
    the template's ``-``) is a value not given; a value in any other column is a warning, not imported."""

    isales: ISales
    tenant: str
    campaign: str
    found: Campaign
    header_rows: int = 1
    zone: str = "UTC"  # the campaign's time zone when the job runs (Catalog.zone)

    def parse(self, header: list[str], number: int, cells: list[str]) -> Parsed:
        columns = _columns(tuple(header))
        raw: dict[str, str] = {}
        unknown: list[ErrorDetail] = []
        for i, cell in enumerate(cells):
            if cell.strip() in EMPTY_CELLS:
                continue
            name = columns[i] if i < len(columns) else None
            if name is not None:
                raw[name] = cell
            else:
                label = header[i].strip() if i < len(header) else ""
                unknown.append(ErrorDetail(UNKNOWN_COLUMN, pointer(("rows", number, label or i)), _UNKNOWN_TEXT))
        parsed = self.isales.row(self.tenant, self.campaign, number, raw, self.found, zone=self.zone)
        return Parsed(parsed.record, [*parsed.warnings, *unknown]) if unknown else parsed

    def too_many_rows(self, limit: int) -> ErrorDetail:
        return rules.error(
            rules.TOO_MANY, "/fileName", f"A maximum of {limit:,} records can be imported using a file at a time."
        )


@lru_cache(maxsize=16)
def _columns(header: tuple[str, ...]) -> tuple[str | None, ...]:
    """The template column each header cell names (``None``: no template column)."""
    return tuple(_TEMPLATE_NAMES.get(_MARK.sub("", cell.strip()).lower()) for cell in header)


def _campaign(data: dict[str, Any]) -> str | None:
    value = data.get("campaignId")
    return value if isinstance(value, str) and value else None
