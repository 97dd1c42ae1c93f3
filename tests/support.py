"""Test helpers: settings per test, the service as a real process, produce and read back."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import SecretStr

from service.cli.embedded import EMBEDDED_TOPICS, FETCH_MAX_WAIT_MS
from service.config import Settings

ROOT = Path(__file__).resolve().parent.parent


# timings of the embedded broker (infrastructure): tansu holds every group join for half the session
# timeout (5 s by default: each service start, each replica joining) and every fetch for its whole
# max wait, which `make run` shortens likewise (service.cli.embedded.FETCH_MAX_WAIT_MS)
EMBEDDED_BROKER_TIMING: dict[str, Any] = {
    "kafka_session_timeout_ms": 3000,
    "kafka_heartbeat_interval_ms": 500,
    "kafka_fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
}


def make_settings(bootstrap: str, dsn: str, tag: str, **overrides: Any) -> Settings:
    """Settings for one test: its own topics and group (named by ``tag``) and database."""
    values: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "kafka_idempotent_producer": False,
        **EMBEDDED_BROKER_TIMING,
        "group_id": f"g-{tag}",
        "input_topic": f"in-{tag}",
        "results_topic": f"out-{tag}",
        "dead_letter_topic": f"dlq-{tag}",
        "jobs_topic": f"jobs-{tag}",
        "topic_partitions": 3,
        **EMBEDDED_TOPICS,  # the test broker is one node
        "database_url": SecretStr(dsn),
        "http_host": "127.0.0.1",
        "http_port": 0,
        "retry_initial_s": 0.1,
        "retry_max_s": 1.0,
        "relay_idle_ms": 50,
    }
    return Settings(**{**values, **overrides})


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a process read ``settings``."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, dict | list):
            value = orjson.dumps(value).decode()
        env[f"CIS_{name.upper()}"] = str(value)
    return env


def run_cli(dsn: str, *args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """``contact-import ARGS`` as a subprocess against the database ``dsn``; ``ok``: it must succeed."""
    env = {**os.environ, "CIS_DATABASE_URL": dsn}
    done = subprocess.run(
        [sys.executable, "-m", "service", *args], cwd=ROOT, env=env, input=stdin,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def cloudevent(data: Any, *, dialect: str = "contact.v1", event_id: str | None = None) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id or uuid.uuid4().hex,
        "source": "tests",
        "type": dialect,
        "data": data,
    }


def contacts_event(
    tenant: str, contacts: list[dict[str, Any]], *, campaign: str = "camp", event_id: str | None = None, **policy: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {"tenant": tenant, "campaign": campaign, "contacts": contacts}
    if policy:
        data["policy"] = policy
    return cloudevent(data, event_id=event_id)


def contact(user_data: str, phone: str = "+12125550100", **fields: Any) -> dict[str, Any]:
    return {"user_data": user_data, "phones": [{"number": phone}], **fields}


async def produce(
    settings: Settings,
    values: list[Any],
    *,
    headers: list[tuple[str, bytes]] | None = None,
    key: bytes | None = None,
    keys: list[bytes] | None = None,
) -> None:
    producer = AIOKafkaProducer(**settings.kafka_common(), enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for i, v in enumerate(values):
            raw = v if isinstance(v, bytes) else orjson.dumps(v)
            k = keys[i] if keys else key
            await producer.send(settings.input_topic, raw, key=k, headers=headers or [])
        await producer.flush()
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int,
    timeout_s: float = 60,
    idle_s: float = 0.0,
    client: dict[str, object] | None = None,
) -> list[Any]:
    """Every message of ``topic`` from the beginning: waits until ``expect`` arrived (then ``idle_s`` more).
    ``client``: connection arguments (``Settings.kafka_common()``) instead of a plaintext ``bootstrap``."""
    consumer = AIOKafkaConsumer(**(client or {"bootstrap_servers": bootstrap}), enable_auto_commit=False)
    await consumer.start()
    out: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        parts: set[int] = set()
        while not parts and time.monotonic() < deadline:
            await consumer.topics()  # refreshes metadata
            parts = consumer.partitions_for_topic(topic) or set()
            if not parts:
                await asyncio.sleep(0.2)
        consumer.assign([TopicPartition(topic, p) for p in sorted(parts)])
        await consumer.seek_to_beginning()
        idle_deadline: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                out.extend(msgs)
            if len(out) >= expect:
                if idle_deadline is None:
                    idle_deadline = time.monotonic() + idle_s
                if time.monotonic() >= idle_deadline:
                    break
        return out
    finally:
        await consumer.stop()


async def outcomes(settings: Settings, *, expect: int, timeout_s: float = 60, idle_s: float = 0.0) -> list[Any]:
    msgs = await read_topic(
        settings.kafka_bootstrap,
        settings.results_topic,
        expect=expect,
        timeout_s=timeout_s,
        idle_s=idle_s,
        client=settings.kafka_common(),
    )
    return [orjson.loads(m.value)["data"] for m in msgs]


class ServiceProcess:
    """``python -m service run`` as a child process, its log in a file."""

    def __init__(self, settings: Settings, log_path: Path, **env: str) -> None:
        self.settings = settings
        self.log_path = log_path
        self._env = {**os.environ, **settings_env(settings), **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "run"],
            cwd=ROOT,
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, pattern: str, timeout_s: float = 60, count: int = 1) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.log())) >= count:
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"service exited ({self.proc.returncode}) before {pattern!r}:\n{self.log()[-3000:]}"
                )
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not logged within {timeout_s}s:\n{self.log()[-3000:]}")

    def http_port(self) -> int:
        self.wait_log(r'"http endpoint listening"')
        m = re.search(r'"port":(\d+),"event":"http endpoint listening"', self.log())
        assert m, self.log()[-2000:]
        return int(m.group(1))

    def wait_exit(self, timeout_s: float = 60) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def terminate(self, timeout_s: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
