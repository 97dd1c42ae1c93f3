"""JSON Schema and pydantic validation, reported as :class:`ErrorDetail` lists with JSON-pointer paths."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import ValidationError

from service.errors import ErrorDetail

_CODES = {
    "required": "missing",
    "type": "wrong_type",
    "maxLength": "too_long",
    "minLength": "too_short",
    "pattern": "bad_format",
    "enum": "not_allowed",
    "const": "not_allowed",
    "additionalProperties": "unknown_field",
    "maxItems": "too_many",
    "minItems": "too_few",
    "maximum": "out_of_range",
    "minimum": "out_of_range",
    "maxProperties": "too_many",
    "anyOf": "invalid",
    "oneOf": "invalid",
}


def pointer(parts: Iterable[Any]) -> str:
    """A JSON pointer (RFC 6901) for a path of keys and indexes."""
    out = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return out or "/"


@cache
def _ecma(pattern: str) -> re.Pattern[str]:
    """JSON Schema patterns are ECMA-262: a final ``$`` is the end of the string, while Python's
    ``$`` also matches before a final newline (``"123\\n"`` would pass as a number)."""
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[SchemaError]:
    if validator.is_type(instance, "string") and not _ecma(pattern).search(instance):
        yield SchemaError(f"does not match {pattern!r}")


# Draft 2020-12 with ECMA-262 end-of-string semantics for ``pattern``.
Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})


class Schema:
    """A compiled JSON Schema (draft 2020-12).

    ``jsonschema_rs`` (Rust) decides whether an instance is valid, in about 1 µs for a contact;
    the pure-Python ``jsonschema`` is asked only for an invalid instance, to say why (keyword,
    JSON pointer, message). Both read the same schema; a test keeps their verdicts equal.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._fast = jsonschema_rs.validator_for(schema)
        self._explain: Draft202012Validator = Validator(schema)

    def is_valid(self, instance: Any) -> bool:
        valid: bool = self._fast.is_valid(instance)
        return valid

    def errors(self, instance: Any) -> list[SchemaError]:
        """Every violation, ordered by path; empty when valid."""
        if self._fast.is_valid(instance):
            return []
        found = sorted(self._explain.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
        if found:
            return found
        # the validators disagree: never accept what either rejects
        return [SchemaError("is not valid under the schema", validator="invalid", instance=instance)]


@cache
def load_validator(schema_dir: Path, name: str) -> Schema:
    """Load and check a schema once; the compiled validator is reused for every record."""
    schema = orjson.loads((schema_dir / f"{name}.json").read_bytes())
    Draft202012Validator.check_schema(schema)
    return Schema(schema)


def definition(validator: Schema, name: str) -> Schema:
    """A validator for one ``$defs`` entry of a loaded schema (its ``$ref``s still resolve)."""
    sub = {"$ref": f"#/$defs/{name}", "$defs": validator.schema["$defs"]}
    if "$schema" in validator.schema:
        sub["$schema"] = validator.schema["$schema"]
    return Schema(sub)


def without_property(validator: Schema, name: str) -> Schema:
    """The schema of an object with property ``name`` left out: an event's head, whose records are
    checked one by one. The head then passes the fast check instead of always failing ``required``
    and being explained by the slow validator."""
    schema = dict(validator.schema)
    schema["properties"] = {k: v for k, v in schema.get("properties", {}).items() if k != name}
    if "required" in schema:
        schema["required"] = [r for r in schema["required"] if r != name]
    return Schema(schema)


def _detail(err: SchemaError, base: tuple[Any, ...]) -> ErrorDetail:
    path = [*base, *err.absolute_path]
    if err.validator == "required" and isinstance(err.message, str):
        # "'name' is a required property": point at the missing property itself
        missing = err.message.split("'")[1] if err.message.startswith("'") else ""
        if missing:
            path.append(missing)
    if err.validator == "additionalProperties":
        extra = err.message.split("'")[1] if "'" in err.message else ""
        if extra:
            path.append(extra)
    code = _CODES.get(str(err.validator), "invalid")
    return ErrorDetail(f"schema.{code}", pointer(path), err.message[:300])


def schema_errors(validator: Schema, instance: Any, base: tuple[Any, ...] = ()) -> list[ErrorDetail]:
    """Every schema violation of ``instance``, ordered by path; empty when valid."""
    return [_detail(e, base) for e in validator.errors(instance)]


def model_errors(exc: ValidationError, base: tuple[Any, ...] = ()) -> list[ErrorDetail]:
    """pydantic errors in the same shape as schema errors."""
    return [ErrorDetail(f"model.{e['type']}", pointer([*base, *e["loc"]]), e["msg"][:300]) for e in exc.errors()]


def too_deep(data: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels (the value itself is level 0)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth >= limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def nul_pointer(data: Any) -> str | None:
    """The JSON pointer of the first string (or member name) holding ``\\u0000``, or ``None``.

    PostgreSQL refuses NUL in text and jsonb, so such input is rejected before any dialect sees it.
    """
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return pointer(path)
        elif isinstance(node, dict):
            for k, v in reversed(node.items()):
                if "\x00" in k:
                    return pointer((*path, k))
                stack.append((v, (*path, k)))
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in reversed(list(enumerate(node))))
    return None
