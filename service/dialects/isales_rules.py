"""iSales validation rules: the seed's error codes, schema violations mapped onto them, and the
template row mapped onto the canonical contact.

Codes (seed 003, Table 8): a violated JSON Schema keyword gives its default code below unless the
subschema names another in ``x-isales-code`` (schemas/isales.json). Messages start with the seed's own
description and name the parameter by its JSON pointer; they never repeat the value (phones are personal).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from jsonschema.exceptions import ValidationError as SchemaError

from service.catalog.model import Campaign
from service.dialects.base import contact_key
from service.errors import ErrorDetail
from service.model.contact import Contact, Phone
from service.model.job import FileFormat
from service.model.localtime import LocalTime, read_local
from service.schemas import Schema, pointer

SUCCESS = "0200000"
GENERIC = "0200001"
EMPTY = "02000001"
INVALID_CHARACTERS = "02000002"
TOO_LONG = "02000003"
TOO_SHORT = "02000004"
LENGTH_RANGE = "02000005"
WRONG_TYPE = "02000006"
WRONG_VALUE = "02000007"
CONVERSION = "02000008"
COMBINATION = "02000009"
HOUR_AND_MINUTE = "02000010"
TOO_MANY = "02000011"

SEED_TEXT = {
    GENERIC: "Parameter error.",
    EMPTY: "Empty parameter.",
    INVALID_CHARACTERS: "The parameter contains invalid characters.",
    TOO_LONG: "The parameter length cannot exceed the maximum length.",
    TOO_SHORT: "The parameter length cannot be less than the minimum length.",
    LENGTH_RANGE: "The parameter length must be within the specified range.",
    WRONG_TYPE: "Incorrect parameter type.",
    WRONG_VALUE: "Incorrect parameter value.",
    CONVERSION: "Parameter conversion error. Check the request parameters.",
    COMBINATION: "Incorrect parameter combination. Check the request parameters.",
    HOUR_AND_MINUTE: "The hour and minute parameters must be set at the same time.",
    TOO_MANY: "The number of parameters cannot exceed the specified number.",
}
SEED_CODE = re.compile(r"^0200(001|0\d{3})$")  # 0200001 and 02000001..02000011, never the success code

MAX_ROWS = 500_000
TEMPLATE_FIELDS = ("caller", "callData", "customField", "recycleTime")  # kept in Contact.fields as named
RECYCLE_FORMAT = "%Y-%m-%d %H:%M:%S"

_DEFAULT_CODES = {
    "required": EMPTY,
    "type": WRONG_TYPE,
    "maxLength": TOO_LONG,
    "minLength": TOO_SHORT,
    "pattern": INVALID_CHARACTERS,
    "minimum": WRONG_VALUE,
    "maximum": WRONG_VALUE,
    "enum": WRONG_VALUE,
    "const": WRONG_VALUE,
    "minItems": TOO_SHORT,
    "maxItems": TOO_MANY,
    "dependentRequired": HOUR_AND_MINUTE,
    "additionalProperties": GENERIC,
}
_PATTERN_HINTS = {
    "filePath": "must be a folder relative to the file server's default path, such as /isales/20220310 "
    "(no '..', no backslash)",
    "fileName": "must be a file name without folders, such as demo.xlsx",
    "hour": "must be an hour from 0 to 23",
    "minute": "must be a minute from 00 to 59",
    "recycleTime": "must be a time in yyyy-mm-dd hh:mm:ss format",
    "calledNo": "may hold only digits, * and #",
    "delayTime": "must be a number of seconds from 0 to 7200",
}


FILE_FORMATS: dict[str, FileFormat] = {"xlsx": "xlsx", "xls": "xls", "csv": "csv"}  # by the name's extension
_PLAIN_NAME = re.compile(r"[^/\\.\x00-\x1f]+(\.[^/\\.\x00-\x1f]+)*\Z")  # fileName's pattern less the extension
UNSUPPORTED_TYPE = "is not a file type that can be imported: .xlsx, .xls or .csv, such as demo.xlsx"


def file_format(name: str) -> FileFormat:
    """The format of a schema-valid ``fileName``, told by its extension."""
    return FILE_FORMATS[name.rsplit(".", 1)[-1].lower()]


def error(code: str, path: str, detail: str) -> ErrorDetail:
    """An error whose message starts with the seed's description of ``code``."""
    return ErrorDetail(code, path, f"{SEED_TEXT[code]} {detail}")


def _name(path: str) -> str:
    return f"'{path[1:]}'" if path != "/" else "the event data"


def check(validator: Schema, instance: Any, base: tuple[Any, ...] = ()) -> list[ErrorDetail]:
    """Every schema violation of ``instance`` as seed-coded errors, ordered by path; empty when valid."""
    return [d for e in validator.errors(instance) for d in _details(e, base)]


def _details(err: SchemaError, base: tuple[Any, ...]) -> list[ErrorDetail]:
    keyword = str(err.validator)
    schema = err.schema if isinstance(err.schema, dict) else {}
    parts = [*base, *err.absolute_path]
    if keyword == "additionalProperties" and isinstance(err.instance, dict):
        known = schema.get("properties", {})
        extra = sorted(k for k in err.instance if k not in known)
        return [
            error(GENERIC, p, f"{_name(p)} is not a parameter of this request.")
            for p in (pointer([*parts, k]) for k in extra)
        ]
    if keyword in ("required", "dependentRequired"):
        missing = err.message.split("'")[1] if err.message.startswith("'") else ""
        path = pointer([*parts, missing] if missing else parts)
        if keyword == "required":
            return [error(EMPTY, path, f"{_name(path)} is mandatory.")]
        return [error(HOUR_AND_MINUTE, path, f"{_name(path)} is missing.")]
    path = pointer(parts)
    if keyword == "pattern" and parts[-1:] == ["fileName"] and _PLAIN_NAME.match(str(err.instance)):
        return [error(WRONG_VALUE, path, f"'fileName' {UNSUPPORTED_TYPE}.")]  # a plain name, another type
    code = schema.get("x-isales-code", {}).get(keyword) or _DEFAULT_CODES.get(keyword, GENERIC)
    if keyword in ("minLength", "minItems") and not err.instance:
        return [error(EMPTY, path, f"{_name(path)} must not be empty.")]
    return [error(code, path, f"{_name(path)} {_detail(keyword, err.validator_value, schema, parts)}.")]


def _detail(keyword: str, value: Any, schema: dict[str, Any], parts: list[Any]) -> str:
    field = next((str(p) for p in reversed(parts) if isinstance(p, str)), "")
    if keyword == "type":
        types = value if isinstance(value, list) else [value]
        return "must be " + " or ".join(types)
    if keyword == "maxLength":
        return f"may hold at most {value} characters"
    if keyword == "minLength":
        return f"must hold at least {value} characters"
    if keyword == "maxItems":
        return f"may hold at most {value:,} items"
    if keyword == "minItems":
        return f"must hold at least {value} items"
    if keyword in ("minimum", "maximum"):
        return f"must be from {schema.get('minimum', '-∞')} to {schema.get('maximum', '∞')}"
    if keyword == "pattern":
        return _PATTERN_HINTS.get(field, "has an invalid format")
    return "is invalid"


def rows_shape(rows: Any) -> list[ErrorDetail]:
    """The event-level rules of ``rows``: a non-empty array of at most 500,000 rows."""
    if not isinstance(rows, list):
        return [error(WRONG_TYPE, "/rows", "'rows' must be array.")]
    if not rows:
        return [error(EMPTY, "/rows", "'rows' must not be empty.")]
    if len(rows) > MAX_ROWS:
        return [error(TOO_MANY, "/rows", f"At most {MAX_ROWS:,} records can be imported at a time.")]
    return []


def decode_called(text: str) -> Any:
    """The value a ``called`` string holds: JSON, or the template's single-quoted Python-style form
    ``[{'calledNo':1234566}]`` read as literals only (``ast.literal_eval``, never ``eval``).
    Raises ``ValueError`` when it is neither."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    stripped = text.strip()
    if not (stripped.startswith("[") and stripped.endswith("]")):
        raise ValueError("not a JSON array")
    try:
        return ast.literal_eval(stripped)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError("not a JSON array") from exc


def called_errors(
    validator: Schema, value: Any, base: tuple[Any, ...]
) -> tuple[list[dict[str, Any]], list[ErrorDetail]]:
    """A schema-valid ``called`` value as its list of numbers, decoding a string first."""
    path = (*base, "called")
    if isinstance(value, list):
        return value, []
    try:
        decoded = decode_called(value)
    except ValueError:
        at = pointer(path)
        return [], [error(CONVERSION, at, f'{_name(at)} must hold a JSON array such as [{{"calledNo": "123"}}].')]
    errors = check(validator, decoded, path)
    return (decoded if not errors else []), errors


def recycle_time_errors(row: dict[str, Any], base: tuple[Any, ...]) -> list[ErrorDetail]:
    """A schema-valid ``recycleTime`` must also be a date that exists (no 30 February)."""
    value = row.get("recycleTime")
    if not value:
        return []
    try:
        datetime.strptime(value, RECYCLE_FORMAT)
    except ValueError:
        at = pointer((*base, "recycleTime"))
        return [error(CONVERSION, at, f"{_name(at)} is not a valid time.")]
    return []


def recycle_time(row: dict[str, Any], base: tuple[Any, ...], zone: str) -> LocalTime | None:
    """A valid ``recycleTime`` (``yyyy-mm-dd hh:mm:ss``) as a local time in ``zone``; ``None`` when not given."""
    value = row.get("recycleTime")
    if not value:
        return None
    return read_local(datetime.strptime(value, RECYCLE_FORMAT), zone, pointer((*base, "recycleTime")))


def _given(value: Any) -> Any:
    """An empty cell (null or empty string) is a value not given."""
    return None if value is None or value == "" else value


def _phone(number: dict[str, Any], path: str) -> Phone:
    delay = _given(number.get("delayTime"))
    return Phone(
        number=str(number["calledNo"]),
        type=_given(number.get("type")),
        delay_s=int(delay) if delay is not None else 0,  # the seed's default delayTime is 0
        path=path,
    )


def contact(
    row: dict[str, Any], called: list[dict[str, Any]], campaign: Campaign | None = None, base: tuple[Any, ...] = ()
) -> Contact:
    """A validated template row as the canonical contact: keyed by sessionId, else the first calledNo
    (or, for a campaign matching on the phone, the customer holding one of its numbers). ``base``: the
    row's pointer, for the phones' warnings."""
    phones = [_phone(n, pointer((*base, "called", j, "calledNo"))) for j, n in enumerate(called)]
    fields = {k: v for k in TEMPLATE_FIELDS if (v := _given(row.get(k))) is not None}
    return Contact(user_data=contact_key(_given(row.get("sessionId")), phones, campaign), phones=phones, fields=fields)


def guess_key(rows: Any, index: int) -> str | None:
    """The UserData a rejected row would have had, when it can be told (for the outcome's key)."""
    row = rows[index] if isinstance(rows, list) and index < len(rows) else None
    if not isinstance(row, dict):
        return None
    session = row.get("sessionId")
    if isinstance(session, str) and 0 < len(session) <= 32:
        return session
    called = row.get("called")
    if isinstance(called, str) and len(called) <= 8192:
        try:
            called = decode_called(called)
        except ValueError:
            return None
    return _first_number(called if isinstance(called, list) else ())


def _first_number(called: Iterable[Any]) -> str | None:
    for item in called:
        number = item.get("calledNo") if isinstance(item, dict) else None
        if isinstance(number, str) and re.fullmatch(r"[0-9*#]{1,24}", number):
            return number
        if type(number) is int and 0 <= number <= 9_999_999_999_999_999_999:
            return str(number)
        return None
    return None
