"""The vendors' endpoints: each turns its request into the dialect's event data (what a Kafka client
publishes today) and answers the dialect's native response."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.frontdoor.engine import Answer
from service.frontdoor.guard import Caller, Refused
from service.frontdoor.routes import Door, native_map, native_single


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
