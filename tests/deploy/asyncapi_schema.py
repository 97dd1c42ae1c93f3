"""A minimal JSON Schema of an AsyncAPI 3.0.0 document: the fixed fields of the objects this
repository uses, each object closed to unknown fields (``x-`` extensions allowed), references as
``{"$ref": …}`` only. Written from the AsyncAPI 3.0.0 specification because no PyPI package ships
the official JSON Schema; the schemas inside messages are left to the JSON Schema checks."""

from __future__ import annotations

from typing import Any

_EXT: dict[str, Any] = {"^x-[\\w\\d\\.\\x2d_]+$": {}}
_KEY = "^[A-Za-z0-9\\.\\-_]+$"


def _obj(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "patternProperties": _EXT,
        "additionalProperties": False,
    }


def _map(of: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "propertyNames": {"pattern": _KEY}, "additionalProperties": of}


def _or_ref(name: str) -> dict[str, Any]:
    return {"oneOf": [{"$ref": "#/$defs/Reference"}, {"$ref": f"#/$defs/{name}"}]}


_TEXT = {"type": "string"}
_TAGS = {"type": "array", "items": _or_ref("Tag")}
_DOCS = _or_ref("ExternalDocs")
_BINDINGS = {"anyOf": [{"$ref": "#/$defs/Reference"}, {"type": "object"}]}
_SCHEMA = {"anyOf": [{"$ref": "#/$defs/Reference"}, {"type": ["object", "boolean"]}]}

ASYNCAPI_3_0_0: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    **_obj(
        ["asyncapi", "info"],
        {
            "asyncapi": {"const": "3.0.0"},
            "id": {"type": "string", "format": "uri"},
            "info": {"$ref": "#/$defs/Info"},
            "servers": _map(_or_ref("Server")),
            "defaultContentType": _TEXT,
            "channels": {"type": "object", "additionalProperties": _or_ref("Channel")},
            "operations": {"type": "object", "additionalProperties": _or_ref("Operation")},
            "components": {"$ref": "#/$defs/Components"},
        },
    ),
    "$defs": {
        "Reference": {
            "type": "object",
            "required": ["$ref"],
            "properties": {"$ref": {"type": "string", "format": "uri-reference"}},
            "additionalProperties": False,
        },
        "Info": _obj(
            ["title", "version"],
            {
                "title": _TEXT,
                "version": _TEXT,
                "description": _TEXT,
                "termsOfService": _TEXT,
                "contact": {"type": "object"},
                "license": _obj(["name"], {"name": _TEXT, "url": _TEXT}),
                "tags": _TAGS,
                "externalDocs": _DOCS,
            },
        ),
        "Tag": _obj(["name"], {"name": _TEXT, "description": _TEXT, "externalDocs": _DOCS}),
        "ExternalDocs": _obj(["url"], {"url": _TEXT, "description": _TEXT}),
        "Server": _obj(
            ["host", "protocol"],
            {
                "host": _TEXT,
                "protocol": _TEXT,
                "protocolVersion": _TEXT,
                "pathname": _TEXT,
                "description": _TEXT,
                "title": _TEXT,
                "summary": _TEXT,
                "variables": {"type": "object"},
                "security": {"type": "array"},
                "tags": _TAGS,
                "externalDocs": _DOCS,
                "bindings": _BINDINGS,
            },
        ),
        "Channel": _obj(
            [],
            {
                "address": {"type": ["string", "null"]},
                "messages": _map(_or_ref("Message")),
                "title": _TEXT,
                "summary": _TEXT,
                "description": _TEXT,
                "servers": {"type": "array", "items": {"$ref": "#/$defs/Reference"}},
                "parameters": {"type": "object"},
                "tags": _TAGS,
                "externalDocs": _DOCS,
                "bindings": _BINDINGS,
            },
        ),
        "Operation": _obj(
            ["action", "channel"],
            {
                "action": {"enum": ["send", "receive"]},
                "channel": {"$ref": "#/$defs/Reference"},
                "messages": {"type": "array", "items": {"$ref": "#/$defs/Reference"}},
                "title": _TEXT,
                "summary": _TEXT,
                "description": _TEXT,
                "security": {"type": "array"},
                "tags": _TAGS,
                "externalDocs": _DOCS,
                "bindings": _BINDINGS,
                "traits": {"type": "array"},
                "reply": {"type": "object"},
            },
        ),
        "Message": _obj(
            [],
            {
                "headers": _SCHEMA,
                "payload": _SCHEMA,
                "correlationId": {"type": "object"},
                "contentType": _TEXT,
                "name": _TEXT,
                "title": _TEXT,
                "summary": _TEXT,
                "description": _TEXT,
                "tags": _TAGS,
                "externalDocs": _DOCS,
                "bindings": _BINDINGS,
                "examples": {"type": "array", "items": {"type": "object"}},
                "traits": {"type": "array"},
            },
        ),
        "Components": _obj(
            [],
            {
                "schemas": _map(_SCHEMA),
                "servers": _map(_or_ref("Server")),
                "channels": _map(_or_ref("Channel")),
                "operations": _map(_or_ref("Operation")),
                "messages": _map(_or_ref("Message")),
                "securitySchemes": _map({"type": "object"}),
                "serverVariables": _map({"type": "object"}),
                "parameters": _map({"type": "object"}),
                "correlationIds": _map({"type": "object"}),
                "replies": _map({"type": "object"}),
                "replyAddresses": _map({"type": "object"}),
                "externalDocs": _map(_or_ref("ExternalDocs")),
                "tags": _map(_or_ref("Tag")),
                "operationTraits": _map({"type": "object"}),
                "messageTraits": _map({"type": "object"}),
                "serverBindings": _map({"type": "object"}),
                "channelBindings": _map({"type": "object"}),
                "operationBindings": _map({"type": "object"}),
                "messageBindings": _map({"type": "object"}),
            },
        ),
    },
}
