"""``importws``: the importWS web service call (seeds 000 and 001, schemas/importws.json).

One event is one ``importWS(orgidentity, usertype, user, pwdtype, password, modeltype, model_id, source,
context, …, changepackage)`` call: the 21 parameters as a JSON object, or the URL-encoded
``EVENT=Import&orgidentity=…`` string exactly as seed 001 shows it. The caller must be a user of the
tenant ``orgidentity`` (plaintext or MD5 password); ``model_id`` names the campaign; ``source=data``
imports the one customer in ``context`` (importws_record.py); ``source=http|ftp`` starts an import job
for the CSV file ``context`` names (importws_file.py). The native response is the seed's string,
``|Retuen|1|Retuen|Success`` (``|Retuen|1|Retuen|<job id>`` for a file import) or
``|Retuen|2|Retuen|<reason>`` ("Retuen" as the seeds spell it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.catalog.model import Catalog
from service.dialects import importws_file, importws_params, importws_record
from service.errors import ErrorDetail
from service.model.envelope import Envelope
from service.model.outcome import Outcome, Status
from service.model.records import AUTH_FAILED, Login, Parsed, Rejected, record_scope
from service.schemas import definition, load_validator

SUCCESS = "|Retuen|1|Retuen|Success"
ACCEPTED = "|Retuen|1|Retuen|{job_id}"  # source=http|ftp: the import job's id (seed 000)
FAILURE = "|Retuen|2|Retuen|{reason}"


class ImportWS:
    name = "importws"
    aliases: tuple[str, ...] = ("contact-import.importws.v1",)
    accepts_text = True
    records_at: str | None = None

    def __init__(self, schema_dir: Path) -> None:
        self._params = definition(load_validator(schema_dir, self.name), "params")

    def parse(self, envelope: Envelope, catalog: Catalog) -> list[Parsed]:
        """One record per event (``source=data`` is "one data at a time")."""
        return [self._one(envelope, catalog)]

    def rows_reader(
        self, tenant: str, campaign: str, options: dict[str, Any], catalog: Catalog
    ) -> importws_file.RowReader | ErrorDetail:
        """How a file job's rows become customers (base.FileImports)."""
        return importws_file.rows_reader(tenant, campaign, options, catalog)

    def native(self, outcome: Outcome) -> Any:
        if outcome.status is Status.ACCEPTED:
            return ACCEPTED.format(job_id=outcome.details["job_id"])
        if outcome.status is not Status.FAILED:
            return SUCCESS
        reason = outcome.errors[0].message if outcome.errors else "import failed"
        return FAILURE.format(reason=" ".join(reason.replace("|", "/").split()))

    def _one(self, envelope: Envelope, catalog: Catalog) -> Parsed:
        read = importws_params.read(envelope.data, self._params)
        params = read.values
        tenant, campaign_id = params.get("orgidentity"), params.get("model_id")

        def rejected(*errors: ErrorDetail, login: Login | None = None) -> Parsed:
            return Parsed(Rejected(list(errors), tenant, campaign_id), read.warnings, login=login)

        if read.shape_errors:
            return rejected(*read.shape_errors)
        assert tenant is not None and campaign_id is not None
        denied, login = _access(envelope, catalog, params, tuple(read.warnings))
        if denied is not None:
            return rejected(denied, login=login)
        if read.value_errors:
            return rejected(*read.value_errors, login=login)
        campaign = catalog.campaign(tenant, campaign_id)
        if campaign is None:
            message = f"campaign {campaign_id[:64]!r} not found"
            return rejected(_err("campaign_not_found", "/model_id", message), login=login)
        zone = catalog.zone(tenant, campaign_id)  # local times: exetime, dialtime
        if params["source"].lower() != "data":
            parsed = importws_file.request(tenant, campaign, params, read.warnings, zone=zone)
        else:
            parsed = importws_record.build(
                tenant, campaign, params, read.warnings, record_scope(envelope, 0), zone=zone
            )
        parsed.login = login
        return parsed


def _access(
    envelope: Envelope, catalog: Catalog, params: dict[str, str], warnings: tuple[ErrorDetail, ...]
) -> tuple[ErrorDetail | None, Login | None]:
    """The tenant, and the caller's credentials for it; a wrong login never says which part is wrong.

    Unknown user, wrong user type and wrong password take the same time (a dummy hash is checked for
    an unknown user) and give the same error; the login attempt is returned for the throttle.
    """
    tenant = params["orgidentity"]
    if envelope.tenant is not None and envelope.tenant != tenant:
        return _err("tenant_mismatch", "/orgidentity", "orgidentity differs from the event's tenant attribute"), None
    if tenant not in catalog.tenants:
        return _err("tenant_unknown", "/orgidentity", f"orgidentity {tenant[:64]!r} not found"), None
    user = params["user"]
    verdict = catalog.login(tenant, params["usertype"], user, params["password"], params["pwdtype"])
    stored = catalog.password_hash(tenant, params["usertype"], user) if verdict.rehash else None
    login = Login(tenant, user, verdict.ok, stored, verdict.rehash if stored else None, warnings)
    return (None if verdict.ok else AUTH_FAILED), login


def _err(code: str, path: str, message: str) -> ErrorDetail:
    return ErrorDetail(f"importws.{code}", path, message)
