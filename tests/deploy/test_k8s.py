"""Kubernetes manifests, validated offline: built-in kinds against the Kubernetes JSON schemas that the
kubernetes-validate package ships (strict: unknown fields are errors), the KEDA ScaledObject against a
minimal schema of its own, and the cross-references between them checked one by one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from service.config import Settings
from tests.deploy import dockerfile, kustomize
from tests.deploy.common import DEPLOY, load_yaml, load_yaml_all, settings_env_names, settings_from

K8S = kustomize.K8S
KUBERNETES_VERSION = "1.29"
NAME = "contact-import"

# KEDA v2 ScaledObject (keda.sh/v1alpha1), the fields this repository uses, strictly.
SCALED_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "labels": {"type": "object"}},
        },
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string"},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": {"type": "object"},
                "advanced": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"name": {"type": "string"}, "behavior": {"type": "object"}},
                        },
                        "scalingModifiers": {"type": "object"},
                    },
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                            "authenticationRef": {"type": "object", "required": ["name"]},
                            # KEDA reads every trigger metadata value as a string
                            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                        },
                        "if": {"properties": {"type": {"const": "kafka"}}},
                        "then": {
                            "properties": {
                                "metadata": {
                                    "required": ["bootstrapServers", "consumerGroup", "topic", "lagThreshold"],
                                    "properties": {
                                        "lagThreshold": {"pattern": "^[1-9][0-9]*$"},
                                        "activationLagThreshold": {"pattern": "^[0-9]+$"},
                                        "offsetResetPolicy": {"enum": ["earliest", "latest"]},
                                        "allowIdleConsumers": {"enum": ["true", "false"]},
                                    },
                                }
                            }
                        },
                    },
                },
            },
        },
    },
}


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, Any]]:
    return kustomize.documents()


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _config(docs: dict[str, dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = docs["ConfigMap"]["data"]
    return data


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == present, f"not listed: {present - listed}; missing: {listed - present}"
    images = {i["name"] for i in kustomization.get("images", [])}
    assert images <= {
        _container(d)["image"].split(":")[0]
        for d in kustomize.documents().values()
        if d["kind"] in ("Deployment", "Job")
    }


def test_the_required_kinds_are_there(docs: dict[str, dict[str, Any]]) -> None:
    assert {"Deployment", "PodDisruptionBudget", "Service", "ConfigMap", "Secret", "ScaledObject", "Job"} <= set(docs)


@pytest.mark.parametrize("kind", ["Deployment", "PodDisruptionBudget", "Service", "ConfigMap", "Secret", "Job"])
def test_builtin_kinds_match_the_kubernetes_schema(kind: str, docs: dict[str, dict[str, Any]]) -> None:
    try:
        kubernetes_validate.validate(docs[kind], KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{kind} does not match the Kubernetes {KUBERNETES_VERSION} schema at {path}: {exc.message}")


def test_scaled_object_matches_its_schema(docs: dict[str, dict[str, Any]]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCALED_OBJECT_SCHEMA)
    errors = list(jsonschema.Draft202012Validator(SCALED_OBJECT_SCHEMA).iter_errors(docs["ScaledObject"]))
    assert not errors, [f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_probes_and_ports(docs: dict[str, dict[str, Any]]) -> None:
    container = _container(docs["Deployment"])
    http_port = int(_config(docs).get("CIS_HTTP_PORT", "8080"))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": http_port}, "one named port, CIS_HTTP_PORT"

    def probe_port(probe: dict[str, Any]) -> int:
        port = probe["httpGet"]["port"]
        return ports[port] if isinstance(port, str) else int(port)

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container.get("startupProbe", {}).get("httpGet", {}).get("path", "/healthz") == "/healthz"
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        if kind in container:
            assert probe_port(container[kind]) == http_port, f"{kind} probes CIS_HTTP_PORT"

    service_ports = docs["Service"]["spec"]["ports"]
    assert len(service_ports) == 1
    target = service_ports[0]["targetPort"]
    assert (ports[target] if isinstance(target, str) else target) == http_port
    annotations = docs["Deployment"]["spec"]["template"]["metadata"].get("annotations", {})
    if "prometheus.io/port" in annotations:
        assert int(annotations["prometheus.io/port"]) == http_port


def test_labels_and_selectors_agree(docs: dict[str, dict[str, Any]]) -> None:
    deployment = docs["Deployment"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert _selects(selector, pod_labels), "the Deployment selects its own pods"
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    assert _selects(docs["Service"]["spec"]["selector"], pod_labels)
    job_labels = docs["Job"]["spec"]["template"]["metadata"]["labels"]
    for kind, sel in (("Deployment", selector), ("Service", docs["Service"]["spec"]["selector"])):
        assert not _selects(sel, job_labels), f"the migration Job's pod must not be selected by the {kind}"
    target = docs["ScaledObject"]["spec"]["scaleTargetRef"]
    assert (target.get("kind", "Deployment"), target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert target.get("apiVersion", "apps/v1") == "apps/v1"


def test_deployment_is_production_ready(docs: dict[str, dict[str, Any]]) -> None:
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    container = _container(docs["Deployment"])
    assert pod["terminationGracePeriodSeconds"] >= 45, "commit the batch and drain the outbox on SIGTERM"
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    resources = container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys() and "memory" in resources["limits"]
    image = container["image"]
    assert ":" in image and not image.endswith(":latest"), "pin the image tag"
    assert container.get("args", ["run"]) == ["run"]
    # the image's USER (deploy/Dockerfile) is the UID the pod runs as
    runtime = dockerfile.read(DEPLOY / "Dockerfile")[1][-1]
    user = runtime.last("USER")
    assert user is not None and str(pod["securityContext"]["runAsUser"]) == user.args.split(":")[0]
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    assert "/tmp" in mounts, "a writable /tmp next to the read-only root filesystem"


def test_configuration_comes_from_the_configmap_and_secret(
    docs: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, secret = docs["ConfigMap"], docs["Secret"]
    secrets = kustomize.secret_values(secret)
    env = {**config["data"], **secrets}
    unknown = set(env) - settings_env_names()
    assert not unknown, f"{sorted(unknown)} are not fields of service.config.Settings"
    assert not set(config["data"]) & set(secrets), "a setting lives in one place"
    secret_fields = {f"CIS_{n.upper()}" for n, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)}
    assert secret_fields <= set(secrets), f"secret settings missing from the Secret: {secret_fields - set(secrets)}"
    assert not secret_fields & set(config["data"]), "secrets stay in the Secret"
    settings_from(env, monkeypatch)  # the service accepts every value
    for kind in ("Deployment", "Job"):
        refs = _container(docs[kind])["envFrom"]
        assert {"configMapRef": {"name": config["metadata"]["name"]}} in refs, kind
        assert {"secretRef": {"name": secret["metadata"]["name"]}} in refs, kind


def test_scaling_is_bounded_by_partitions(docs: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from({**docs["ConfigMap"]["data"]}, monkeypatch)
    spec = docs["ScaledObject"]["spec"]
    assert 1 <= spec.get("minReplicaCount", 0) <= spec["maxReplicaCount"] <= settings.topic_partitions, (
        "a replica beyond the partition count gets no partition"
    )
    kafka = [t for t in spec["triggers"] if t["type"] == "kafka"]
    assert len(kafka) == 1
    meta = kafka[0]["metadata"]
    assert meta["bootstrapServers"] == settings.kafka_bootstrap
    assert meta["consumerGroup"] == settings.group_id
    assert meta["topic"] == settings.input_topic
    assert (
        docs["PodDisruptionBudget"]["spec"].get("maxUnavailable", 0) == 1
        or "minAvailable" in (docs["PodDisruptionBudget"]["spec"])
    )


def test_migration_job(docs: dict[str, dict[str, Any]]) -> None:
    job = docs["Job"]
    container = _container(job)
    assert container.get("command", ["contact-import"]) == ["contact-import"]
    assert container["args"] == ["migrate"]
    assert container["image"] == _container(docs["Deployment"])["image"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}
    assert job["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_manifest_files_are_plain_yaml() -> None:
    for path in sorted(Path(K8S).glob("*.yaml")):
        for doc in load_yaml_all(path):
            assert isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc, path.name
