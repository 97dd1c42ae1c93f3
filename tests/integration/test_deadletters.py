"""Dead letters keep the payload (passwords stripped) and can be replayed after a fix."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import orjson

from service.cli.deadletters import replay
from service.config import Settings
from tests.support import ROOT, ServiceProcess, cloudevent, contact, contacts_event, outcomes, produce, read_topic
from tests.support import settings_env as env_of

QUERY = (
    "EVENT=Import&orgidentity=team1&usertype=agent&user=8001&pwdtype=plaintext&password=s3cret&modeltype=Campaign"
    "&model_id=C1&source=data&context=UserData%3DU1&source_user=&source_pwd=ftp-secret&exetime=&delrow="
)


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "dead-letters", "replay", "--idle", "2", *args],
        cwd=ROOT,
        env={**env_of(settings), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


async def test_dead_letters_are_redacted_and_replayed_after_a_fix(
    settings: Settings, spawn: Callable[..., ServiceProcess]
) -> None:
    small = settings.model_copy(update={"max_message_bytes": 1500})
    svc = spawn(small, "small")
    svc.wait_log("partitions assigned")
    big = contacts_event(
        "acme", [contact("BIG", name="x" * 200, attributes={"pad1": "y" * 800, "pad2": "z" * 800})], event_id="big-1"
    )
    # a structured CloudEvent without ``source``: dead-lettered, and it carries importWS credentials
    creds = {k: v for k, v in cloudevent(QUERY, dialect="importws").items() if k != "source"}
    json_creds = {"specversion": "1.0", "id": "j", "type": "importws", "data": {"password": "pw1", "user": "u"}}
    await produce(settings, [big, creds, json_creds, b"\xff not json"], key=b"k", headers=[("trace", b"t-1")])
    dead = await read_topic(settings.kafka_bootstrap, settings.dead_letter_topic, expect=4)
    by_reason = {dict(m.headers)["dlq_reason"].decode(): m for m in dead}
    assert sorted(by_reason) == ["bad_envelope", "not_json", "too_large"]
    # the payload is kept for replay, byte for byte when it holds no password ...
    assert orjson.loads(by_reason["too_large"].value) == big
    assert "dlq_redacted" not in dict(by_reason["too_large"].headers)
    # ... and with passwords replaced by *** (query string and JSON member) when it does
    redacted = [m for m in dead if dict(m.headers).get("dlq_redacted") == b"password"]
    assert len(redacted) == 2
    for m in redacted:
        assert b"s3cret" not in m.value and b"ftp-secret" not in m.value and b"pw1" not in m.value
        assert b"***" in m.value
    assert b"password=***" in redacted[0].value and b"source_pwd=***" in redacted[0].value
    assert orjson.loads(redacted[1].value)["data"] == {"password": "***", "user": "u"}
    svc.terminate()

    # dry run: lists, publishes nothing
    dry = _cli(settings, "--reason", "too_large", "--dry-run")
    listed = [orjson.loads(line) for line in dry.stdout.splitlines()]
    assert [x["reason"] for x in listed] == ["too_large"] and listed[0]["dry_run"] is True
    assert "would replay 1" in dry.stderr
    before = len(await read_topic(settings.kafka_bootstrap, settings.input_topic, expect=4, idle_s=1))
    assert before == 4

    # the fix: a larger limit; the replay re-publishes only the too-large event, without dlq_* headers
    done = _cli(settings, "--reason", "too_large", "--max", "5")
    assert "replayed 1 dead letter(s) (too_large: 1)" in done.stderr
    inputs = await read_topic(settings.kafka_bootstrap, settings.input_topic, expect=5, idle_s=1)
    assert len(inputs) == 5
    again = inputs[-1]  # the same key, so the same partition, after the four originals
    assert orjson.loads(again.value) == big and again.key == b"k"
    assert [(k, v) for k, v in again.headers] == [("trace", b"t-1")]

    svc = spawn(settings, "fixed")
    got = await outcomes(settings, expect=1)
    assert [(o["event_id"], o["user_data"], o["status"]) for o in got] == [("big-1", "BIG", "ADDED")]

    # without a reason filter, redacted messages are skipped by default and counted
    report = await replay(settings, dry_run=True, idle_s=2)
    assert report.skipped_redacted == 2 and report.by_reason == {"too_large": 1, "not_json": 1}
    report = await replay(settings, dry_run=True, include_redacted=True, limit=2, idle_s=2)
    assert report.replayed == 2
