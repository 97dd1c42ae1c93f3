"""The 21 importWS parameters, from a JSON object or the ``EVENT=Import&…`` query string (seeds 000, 001).

Both forms become one ``{name: value}`` map of strings. Parameter names are matched without surrounding
spaces and in any case (seed 001's second example writes ``& model_id=…``); names the seeds do not
define are ignored with a warning. The map is checked against ``schemas/importws.json`` in two
groups: *shape* errors (a parameter missing, not a string, too long, or ``EVENT`` not ``Import``)
reject the event before the credentials are checked; *value* errors (``dupway=maybe``) only after
them, so an unauthenticated caller learns nothing but "authentication failed".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from service.errors import ErrorDetail
from service.schemas import Schema, schema_errors

EVENT = "EVENT"
PARAMETERS = (
    "orgidentity",
    "usertype",
    "user",
    "pwdtype",
    "password",
    "modeltype",
    "model_id",
    "source",
    "context",
    "source_user",
    "source_pwd",
    "exetime",
    "delrow",
    "phone_field",
    "priority_field",
    "dialtime_field",
    "emptyagent",
    "resetstatus",
    "dupway",
    "dupdiallist",
    "changepackage",
)
_ORDER = {name: i for i, name in enumerate((EVENT, *PARAMETERS))}
_CANONICAL = {name.lower(): name for name in _ORDER}
MAX_FIELDS = 100  # a query string with more pairs than this is not an importWS call

# What the seeds write for "no value" (source_user=\u201c\u201d and source_pwd=\u201c\u201c in 001, two single
# typographic quotes for the empty phone_field, priority_field and dialtime_field in 000's note): one or
# two quote marks are read as empty in these parameters
QUOTED_EMPTY = ("source_user", "source_pwd", "phone_field", "priority_field", "dialtime_field")
QUOTES = frozenset("\"'\u201c\u201d\u2018\u2019\u201e\u201a")

_SHAPE_CODES = {"schema.missing", "schema.wrong_type", "schema.too_long"}
_VALUE_MESSAGES = {
    EVENT: "EVENT must be Import",
    "modeltype": "modeltype must be Campaign",
    "source": "source must be data, http or ftp",
    "context": "context must be the URL of the CSV file (http://… or ftp://…) when source is http or ftp",
    "exetime": "exetime must be empty, NULL, 0000-00-00 00:00:00 or a time yyyy-mm-dd hh:mm:ss",
    "delrow": "delrow must be a whole number of lines",
    "emptyagent": "emptyagent must be yes or no",
    "resetstatus": "resetstatus must be yes or no",
    "dupway": "dupway must be update or skip",
    "dupdiallist": "dupdiallist must be ignoreDuplicate, all or ignoreSuccess",
    "changepackage": "changepackage must be skip, unassignToCurrent or reassignToCurrent",
}


@dataclass(slots=True)
class Read:
    """The parameters of one event: the string values, and what is wrong with them."""

    values: dict[str, str] = field(default_factory=dict)
    shape_errors: list[ErrorDetail] = field(default_factory=list)  # reported before authentication
    value_errors: list[ErrorDetail] = field(default_factory=list)  # reported after it
    warnings: list[ErrorDetail] = field(default_factory=list)


def read(data: Any, validator: Schema) -> Read:
    """The event's parameters from either form, checked against the ``params`` schema."""
    if isinstance(data, str):
        pairs, errors = decode_query(data)
    elif isinstance(data, dict):
        pairs, errors = list(data.items()), []
    else:
        message = "data must be a JSON object of the importWS parameters or the EVENT=Import&… query string"
        return Read(shape_errors=[_err("bad_event", "/", message)])
    if errors:
        return Read(shape_errors=errors)
    params, errors, warnings = canonical(pairs)
    values = {k: unquoted(v) if k in QUOTED_EMPTY else v for k, v in params.items() if isinstance(v, str)}
    shape, value = _checked(schema_errors(validator, params))
    return Read(values, errors + shape, value, warnings)


def unquoted(value: str) -> str:
    """``value``, or empty when it is the seeds' way of writing no value (one or two quote marks)."""
    text = value.strip()
    return "" if 0 < len(text) <= 2 and all(c in QUOTES for c in text) else value


def decode_query(text: str) -> tuple[list[tuple[str, Any]], list[ErrorDetail]]:
    """``EVENT=Import&orgidentity=…``: URL-decoded pairs, blank values kept, in order."""
    try:
        pairs = parse_qsl(text.strip().removeprefix("?"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        return [], [_err("bad_event", "/", f"the query string holds more than {MAX_FIELDS} parameters")]
    return [(name, value) for name, value in pairs], []


def canonical(pairs: Iterable[tuple[Any, Any]]) -> tuple[dict[str, Any], list[ErrorDetail], list[ErrorDetail]]:
    """Known parameter names in their documented spelling; a repeated one is an error, others warnings."""
    params: dict[str, Any] = {}
    errors: list[ErrorDetail] = []
    warnings: list[ErrorDetail] = []
    for raw, value in pairs:
        name = _CANONICAL.get(str(raw).strip().lower())
        if name is None:
            shown = str(raw).strip()[:64]
            warnings.append(
                _err("unknown_parameter", "/", f"parameter {shown!r} is not an importWS parameter; ignored")
            )
        elif name in params:
            errors.append(_err("duplicate_parameter", f"/{name}", f"parameter {name} is given more than once"))
        else:
            params[name] = value
    return params, errors, warnings


def _checked(details: list[ErrorDetail]) -> tuple[list[ErrorDetail], list[ErrorDetail]]:
    """Schema errors in parameter order, as (shape errors, value errors) with the dialect's codes."""
    shape: list[ErrorDetail] = []
    value: list[ErrorDetail] = []
    seen: set[str] = set()
    for d in sorted(details, key=lambda d: _ORDER.get(_name(d.path), len(_ORDER))):
        name = _name(d.path)
        if name in seen:
            continue  # one error per parameter
        seen.add(name)
        if d.code in _SHAPE_CODES:
            shape.append(_shape_error(d.code, name))
        elif name == EVENT:
            shape.append(_err("unsupported_event", "/EVENT", _VALUE_MESSAGES[EVENT]))
        else:
            value.append(_err("bad_value", d.path, _VALUE_MESSAGES.get(name, d.message)))
    return shape, value


def _shape_error(code: str, name: str) -> ErrorDetail:
    if code == "schema.missing":
        message = f"parameter {name} is missing (send an empty string for no value)"
        return _err("missing_parameter", f"/{name}", message)
    if code == "schema.wrong_type":
        return _err("wrong_type", f"/{name}", f"parameter {name} must be a string")
    return _err("too_long", f"/{name}", f"parameter {name} is too long")


def _name(path: str) -> str:
    return path.split("/")[1] if path.count("/") >= 1 else ""


def _err(code: str, path: str, message: str) -> ErrorDetail:
    return ErrorDetail(f"importws.{code}", path, message)
