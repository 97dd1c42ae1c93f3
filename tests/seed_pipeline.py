"""Seed examples through the whole pipeline, in process: the service's own Processor (dialect, refine,
store, outcome) against a real, freshly migrated PostgreSQL, on the shipped default settings.

A case (``tests/golden/<dialect>/<case>.pipeline.json``) names its catalog and its steps, each one
Kafka message; every step is prepared and committed in its own transaction, as the consumer does it.
What a consumer reads is what the outbox holds (the relay publishes those bytes as they are), so the
outcomes are taken from there: key, headers and the CloudEvent. Volatile values are masked (see
``MASKED``), everything else is compared with ``<case>.outcomes.json`` — run with
``GOLDEN_UPDATE=1`` to rewrite those files, then read the diff.

Inputs in a step, relative to the case's folder:

- ``"value_file": "<file>"``: the message value is the file's bytes (CloudEvents binary mode, the
  step's ``dialect``, ``id`` and ``tenant`` become ``ce_*`` headers);
- ``"data": …``: a structured CloudEvent with this data, in which the string ``"@json:<file>"`` is
  the JSON in the file, ``"@json-elided:<file>"`` the same after removing the seed's ``...``
  elisions, ``"@text:<file>"`` the file's text without its final newline, and an object member
  ``"@merge": "<file>"`` merges the file's JSON object into the object holding it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka.structs import ConsumerRecord

from service.catalog import store as catalog_store
from service.catalog.model import Campaign
from service.config import Settings
from service.dialects import default_registry
from service.model.contact import MatchOn, MatchPolicy
from service.pipeline.processor import Processor
from service.store import db, offsets
from tests.support import make_settings

MASK = "<volatile>"
# CloudEvent `time` and outcome `processed_at`: when the transaction ran; `due_at` of an accepted
# import job: the moment the request was taken (an immediate job is due then)
MASKED = {("time",), ("data", "processed_at"), ("data", "details", "due_at")}
RECEIVED_MS = 1_767_225_600_000  # every message's timestamp: 2026-01-01T00:00:00Z
ELISION = re.compile(r"\.\.\.")


def settings_for(dsn: str, **overrides: Any) -> Settings:
    """The shipped defaults; only infrastructure (addresses, topic names) differs, and ``overrides``
    (a test that needs another product setting names it and says why)."""
    base = make_settings("127.0.0.1:9", dsn, "golden")
    return Settings(**{**base.model_dump(), **overrides})


def load_case(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = orjson.loads(path.read_bytes())
    return case


def expand(value: Any, folder: Path) -> Any:
    """A step's data with its file references replaced by the files' contents."""
    if isinstance(value, str):
        kind, sep, name = value.partition(":")
        if sep and kind in ("@json", "@json-elided", "@text"):
            text = (folder / name).read_text(encoding="utf-8")
            if kind == "@text":
                return text.removesuffix("\n")
            return orjson.loads(ELISION.sub("", text) if kind == "@json-elided" else text)
        return value
    if isinstance(value, list):
        return [expand(v, folder) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        if "@merge" in value:
            out.update(orjson.loads((folder / value["@merge"]).read_bytes()))
        out.update({k: expand(v, folder) for k, v in value.items() if k != "@merge"})
        return out
    return value


def message(step: dict[str, Any], folder: Path, topic: str, offset: int) -> ConsumerRecord[bytes, bytes]:
    """The Kafka message of one step."""
    key = str(step.get("key", step.get("tenant") or "k")).encode()
    if "value_file" in step:
        value = (folder / step["value_file"]).read_bytes()
        headers = [("ce_type", step["dialect"]), ("ce_id", step["id"]), ("ce_source", "crm")]
        if step.get("tenant"):
            headers.append(("ce_tenant", step["tenant"]))
        encoded = [(k, v.encode()) for k, v in headers]
    else:
        event = {"specversion": "1.0", "id": step["id"], "source": "crm", "type": step["dialect"]}
        if step.get("tenant"):
            event["tenant"] = step["tenant"]
        event["data"] = expand(step["data"], folder)
        value, encoded = orjson.dumps(event), []
    return ConsumerRecord(topic, 0, offset, RECEIVED_MS, 0, key, value, None, len(key), len(value), encoded)


async def setup_catalog(conn: asyncpg.Connection, catalog: dict[str, Any]) -> None:
    for tenant in catalog.get("tenants", []):
        await catalog_store.add_tenant(conn, tenant)
    for u in catalog.get("users", []):
        await catalog_store.add_user(conn, u["tenant"], u["usertype"], u["login"], u["password"])
    for c in catalog.get("campaigns", []):
        match = MatchPolicy(on=MatchOn(c.get("match_on", "user_data")))
        campaign = Campaign(
            c["tenant"],
            c["campaign"],
            c["name"],
            key_field=c.get("key_field", "UserData"),
            fields=c.get("fields", {}),
            uses_main_table=c.get("main_table", False),
            default_region=c.get("region"),
            match=match,
        )
        await catalog_store.add_campaign(conn, campaign)
        for s in c.get("statuses", []):
            await catalog_store.add_status(conn, c["tenant"], c["campaign"], s["id"], s["name"], s.get("system"))


async def run_steps(
    dsn: str, catalog: dict[str, Any], steps: list[dict[str, Any]], folder: Path, **overrides: Any
) -> list[Any]:
    """Every step through the pipeline, one transaction each; the results-topic messages of the
    steps not marked ``setup``, in the order a consumer reads them (masked)."""
    settings = settings_for(dsn, **overrides)
    processor = Processor(settings, default_registry(settings.schema_dir))
    conn = await db.connect(dsn)
    try:
        await setup_catalog(conn, catalog)
        first_seq = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM outbox")
        watched: set[str] = set()
        stored = (await offsets.stored(conn, settings.group_id, settings.input_topic, [0])).get(0)
        for offset, step in enumerate(steps, start=stored or 0):
            if not step.get("setup"):
                watched.add(step["id"])
            loaded = await catalog_store.load(conn)
            prepared, dead = processor.prepare([message(step, folder, settings.input_topic, offset)], loaded)
            await processor.commit(conn, prepared, dead, {(settings.input_topic, 0): (stored, offset + 1)})
            stored = offset + 1
        rows = await conn.fetch(
            "SELECT msg_key, payload, headers FROM outbox WHERE topic = $1 AND seq > $2 ORDER BY seq",
            settings.results_topic,
            first_seq,
        )
    finally:
        await conn.close()
    out = []
    for r in rows:
        value = orjson.loads(r["payload"])
        if value["data"]["event_id"] in watched:
            out.append({"key": bytes(r["msg_key"]).decode(), "headers": r["headers"], "value": masked(value)})
    return out


def masked(value: dict[str, Any]) -> dict[str, Any]:
    for path in MASKED:
        node: Any = value
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and path[-1] in node:
            node[path[-1]] = MASK
    return value


def pretty(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n"


def compare_golden(path: Path, got: Any) -> None:
    """``got`` must equal the golden file (``GOLDEN_UPDATE=1``: the file is rewritten instead)."""
    if os.environ.get("GOLDEN_UPDATE") == "1":
        path.write_bytes(pretty(got))
        return
    assert path.exists(), f"no golden file {path.name}; run with GOLDEN_UPDATE=1 and read the diff"
    expected = orjson.loads(path.read_bytes())
    assert got == expected, f"{path.name} differs; GOLDEN_UPDATE=1 rewrites it (then read the diff)"


def contains(got: Any, shown: Any, where: str = "") -> list[str]:
    """Where ``got`` does not show what the seed shows: objects may hold more members than the seed
    shows (its examples are shortened), every other value must be equal."""
    if isinstance(shown, dict):
        if not isinstance(got, dict):
            return [f"{where or '/'}: expected an object, got {got!r}"]
        problems = []
        for k, v in shown.items():
            if k not in got:
                problems.append(f"{where}/{k}: missing")
            else:
                problems += contains(got[k], v, f"{where}/{k}")
        return problems
    if isinstance(shown, list):
        if not isinstance(got, list) or len(got) != len(shown):
            return [f"{where or '/'}: expected {len(shown)} items, got {got!r}"]
        return [p for i, (g, s) in enumerate(zip(got, shown, strict=True)) for p in contains(g, s, f"{where}/{i}")]
    return [] if got == shown else [f"{where or '/'}: expected {shown!r}, got {got!r}"]
