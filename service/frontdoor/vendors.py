"""The vendors' endpoints: each turns its request into the dialect's event data (what a Kafka client
publishes today) and answers the dialect's native response."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.frontdoor.door import Door, all_outcomes, native_map, native_single, native_text
from service.frontdoor.engine import Answer
from service.frontdoor.guard import Caller, Refused

CONTACT_V1 = "contact.v1"
STRUCTURED = "application/cloudevents+json"


async def thulium(door: Door, request: Request) -> Response:
    """``POST /api/batch/crm_outbounds/{id}/records``: the URL's campaign id is the data's ``id``."""
    caller, body = await door.basic_json(request)
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object")
    data = {**body, "id": request.path_params["id"]}
    return await door.run(request, "thulium", caller, data, native_map)


async def dialler(door: Door, request: Request) -> Response:
    """``POST /dialler/contacts/import?overwriteDuplicates=true|false``: the body is the DiallerContact."""
    caller, body = await door.basic_json(request)
    flag = request.query_params.get("overwriteDuplicates", "false").strip().lower()
    if flag not in ("true", "false"):
        raise Refused(400, "overwriteDuplicates must be true or false")
    data = {"overwriteDuplicates": flag == "true", "contact": body}
    return await door.run(request, "dialler", caller, data, native_single)


async def importws(door: Door, request: Request) -> Response:
    """Seed 001's ``EVENT=Import&orgidentity=…`` string as the query string (GET) or a form-encoded body
    (POST), published as it came: the dialect checks ``user``/``password``/``pwdtype`` against the
    tenant ``orgidentity`` (failed logins count in the throttle) and answers the ``|Retuen|…`` text."""
    raw = request.url.query.encode() if request.method == "GET" else await door.body(request)
    try:
        params = parse_qs(raw.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise Refused(400, "the request is not UTF-8") from None
    tenant, user = _first(params, "orgidentity"), _first(params, "user")
    caller = Caller(tenant, user)  # not authenticated yet: the dialect refuses a wrong login
    door.guard.rate(caller)
    return await door.run(request, "importws", caller, raw, native_text, salt=hashlib.sha256(raw).hexdigest())


def _first(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name) or [""]
    return values[0]


async def cloudevent(door: Door, request: Request) -> Response:
    """A contact.v1 CloudEvent by the HTTP binding: structured (``Content-Type:
    application/cloudevents+json``, the body the whole event) or binary (``ce-*`` headers, the body the
    data). The CloudEvent's source and id make it the same event when it is sent again."""
    caller, body = await door.basic_json(request)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == STRUCTURED:
        if not isinstance(body, dict):
            raise Refused(400, "a structured CloudEvent is a JSON object")
        attrs: dict[str, Any] = {k: v for k, v in body.items() if k != "data"}
        data = body.get("data")
    else:
        attrs = {k[3:]: v for k, v in request.headers.items() if k.startswith("ce-")}
        data = body
    for name in ("specversion", "id", "source", "type"):
        if not isinstance(attrs.get(name), str) or not attrs[name]:
            raise Refused(400, f"the CloudEvent has no {name}")
    if attrs["type"] != CONTACT_V1:
        raise Refused(400, f"this endpoint takes {CONTACT_V1} events")
    if attrs.get("tenant") not in (None, caller.tenant):
        raise Refused(403, "a caller writes only its own tenant")
    if isinstance(data, dict) and "tenant" not in data:
        data = {**data, "tenant": caller.tenant}
    key = "ce\x1f" + orjson.dumps([attrs["source"], attrs["id"]]).decode()
    return await door.run(request, CONTACT_V1, caller, data, all_outcomes, key=key)


async def event(door: Door, request: Request) -> Response:
    """``GET /events/{event_id}``: the outcomes of an accepted event once they exist (202 until then).
    Only the tenant that sent the event sees them."""
    caller: Caller = await door.guard.basic(request.headers.get("authorization"))
    door.guard.rate(caller)
    eid = request.path_params["event_id"]
    outcomes = await door.engine.outcomes(eid)
    if outcomes is None:
        return door.accepted(Answer(eid, None))
    if any(o.get("tenant") not in (None, caller.tenant) for o in outcomes):
        raise Refused(404, "no such event")
    return JSONResponse({"event_id": eid, "outcomes": outcomes})
