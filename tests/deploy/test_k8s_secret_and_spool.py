"""deploy/k8s: no placeholder Secret is ever applied (the Secret is generated from a file that is not
in the repository, documented by its template), and /tmp holds the spool of the largest file import."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings
from tests.deploy import kustomize
from tests.deploy.common import REPO, load_yaml_all, run_tool, settings_from

K8S = kustomize.K8S
_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity_bytes(quantity: str) -> int:
    """A Kubernetes storage quantity (``2Gi``, ``500M``, ``1073741824``) in bytes."""
    match = re.fullmatch(r"(\d+)([kMGT]i?)?", quantity)
    assert match, f"not a storage quantity: {quantity!r}"
    return int(match.group(1)) * _UNITS[match.group(2) or ""]


def test_quantities_read_as_kubernetes_reads_them() -> None:
    assert [quantity_bytes(q) for q in ("64Mi", "2Gi", "500M", "1024")] == [64 * 2**20, 2 * 2**30, 500 * 10**6, 1024]


def test_no_placeholder_secret_is_applied() -> None:
    for resource in kustomize.kustomization()["resources"]:
        assert "CHANGE_ME" not in (K8S / resource).read_text(encoding="utf-8"), resource
        kinds = {doc["kind"] for doc in load_yaml_all(K8S / resource)}
        assert "Secret" not in kinds, f"{resource}: secrets are generated from secrets.env, not kept here"
    generators = kustomize.kustomization()["secretGenerator"]
    assert generators and all(not gen.get("literals") and not gen.get("files") for gen in generators)
    ignored = (K8S / ".gitignore").read_text(encoding="utf-8").split()
    tracked = run_tool(["git", "ls-files", "deploy/k8s"], cwd=REPO)
    assert tracked.returncode == 0, tracked.stderr
    for env in (env for gen in generators for env in gen["envs"]):
        assert env in ignored, f"{env} holds the real secrets: deploy/k8s/.gitignore must list it"
        assert f"deploy/k8s/{env}" not in tracked.stdout.split(), f"{env} must not be committed"
        assert (K8S / f"{env}.example").is_file(), f"{env} needs a documented template {env}.example"


def test_the_secret_template_holds_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    (secret,) = kustomize.generated_secrets()
    values = kustomize.secret_values(secret)
    assert {"CIS_DATABASE_URL", "CIS_IMPORT_SECRET_KEY", "CIS_KAFKA_SASL_PASSWORD"} <= set(values)
    assert values["CIS_IMPORT_SECRET_KEY"] == "" and values["CIS_KAFKA_SASL_PASSWORD"] == ""
    dsn = settings_from(values, monkeypatch).database_url.get_secret_value()
    assert re.fullmatch(r"postgresql://[^:@/]+:PASSWORD@[^/]+/\w+", dsn), "the DSN's password is a placeholder"


def _tmp_volume(pod: dict[str, Any], folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The container's mount holding ``folder``, and its volume."""
    (container,) = pod["containers"]
    mounts = [m for m in container["volumeMounts"] if folder.is_relative_to(m["mountPath"])]
    assert mounts, f"no volume is mounted at {folder} (the root filesystem is read-only)"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    return container, volume


def test_tmp_holds_the_import_spool(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = kustomize.documents()
    settings: Settings = settings_from(docs["ConfigMap"]["data"], monkeypatch)
    # unset, the spool is the temporary folder of the image: say where it is
    assert settings.import_spool_dir is not None, "the ConfigMap names CIS_IMPORT_SPOOL_DIR"
    container, volume = _tmp_volume(docs["Deployment"]["spec"]["template"]["spec"], settings.import_spool_dir)
    assert "emptyDir" in volume and volume["emptyDir"].get("medium", "") == "", "on disk, not in memory"
    size = quantity_bytes(volume["emptyDir"]["sizeLimit"])
    # the download itself (at most CIS_IMPORT_MAX_BYTES) and the workbook's shared strings, unpacked
    assert size >= 2 * settings.import_max_bytes, f"/tmp ({size} bytes) is too small for a spooled import"
    requested = container["resources"]["requests"].get("ephemeral-storage")
    assert requested and quantity_bytes(requested) >= size, "request the ephemeral storage /tmp may use"
