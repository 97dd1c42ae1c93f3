"""deploy/k8s as ``kubectl apply -k`` would build it, read offline: the manifests the kustomization
lists, and the Secrets its secretGenerator makes from env files. Those files hold real secrets and are
not in the repository; each has a documented template, ``<file>.example``, which is read instead."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tests.deploy.common import DEPLOY, load_yaml, load_yaml_all

K8S = DEPLOY / "k8s"


def kustomization() -> dict[str, Any]:
    doc: dict[str, Any] = load_yaml(K8S / "kustomization.yaml")
    return doc


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as kustomize reads them (blank lines and # comments skipped, values as is)."""
    pairs: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            assert key.strip() not in pairs, f"{path.name}: {key} twice"
            pairs[key.strip()] = value
    return pairs


def generated_secrets() -> list[dict[str, Any]]:
    """The secretGenerator's Secrets, built from the templates of their env files."""
    secrets = []
    for gen in kustomization().get("secretGenerator", []):
        data: dict[str, str] = {}
        for env in gen.get("envs", []):
            data |= read_env_file(K8S / f"{env}.example")
        secrets.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": gen["name"], "labels": gen.get("options", {}).get("labels", {})},
                "type": gen.get("type", "Opaque"),
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            }
        )
    return secrets


def documents() -> dict[str, dict[str, Any]]:
    """Every manifest the kustomization lists or generates, by kind (one of each kind here)."""
    by_kind: dict[str, dict[str, Any]] = {}
    listed = [doc for resource in kustomization()["resources"] for doc in load_yaml_all(K8S / resource)]
    for doc in listed + generated_secrets():
        assert doc["kind"] not in by_kind, f"two {doc['kind']} manifests"
        by_kind[doc["kind"]] = doc
    return by_kind


def secret_values(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
