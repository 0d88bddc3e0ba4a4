"""Offline checks of deploy/kubernetes/ and compose.yaml: Kubernetes kinds with
kubernetes-validate (strict), KEDA kinds against KEDA's CRD schemas (unknown fields
refused, as the API server's pruning would silently drop them), compose with
podman-compose."""

import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
# KEDA's CRD files (Apache-2.0, LICENSE beside them).
CRDS = Path(__file__).resolve().parent / "keda"
BIN = Path(sys.executable).parent


def documents():
    for f in sorted(DEPLOY.glob("*.yaml")):
        if f.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(f.read_text()):
            if doc:
                yield f, doc


def strict(schema):
    """Refuses properties a schema does not name, unless it keeps unknown fields."""
    if isinstance(schema, dict):
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema.setdefault("additionalProperties", False)
        for v in schema.values():
            strict(v)
    elif isinstance(schema, list):
        for v in schema:
            strict(v)
    return schema


def crd_schema(kind, version):
    for f in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(f.read_text())
        if crd["spec"]["names"]["kind"] == kind:
            for v in crd["spec"]["versions"]:
                if v["name"] == version:
                    return strict(v["schema"]["openAPIV3Schema"])
    raise AssertionError(f"no CRD schema for {kind} {version} in {CRDS}")


def test_every_manifest_file_is_listed_in_the_kustomization():
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    files = sorted(f.name for f in DEPLOY.glob("*.yaml") if f.name != "kustomization.yaml")
    assert sorted(listed) == files


def test_kubernetes_kinds_validate_strictly():
    files = sorted({str(f) for f, d in documents() if not d["apiVersion"].startswith("keda.sh/")})
    assert files, "no Kubernetes manifests"
    r = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", *files], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "passed" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("kind", ["ScaledObject", "TriggerAuthentication"])
def test_keda_kinds_validate_against_the_crds(kind):
    docs = [d for _, d in documents() if d["kind"] == kind]
    assert docs, f"no {kind}"
    for d in docs:
        jsonschema.validate(d, crd_schema(kind, d["apiVersion"].split("/")[1]))


def test_the_strict_crd_check_can_fail():
    d = next(d for _, d in documents() if d["kind"] == "ScaledObject")
    bad = {**d, "spec": {**d["spec"], "minReplicas": 0}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, crd_schema("ScaledObject", "v1alpha1"))


def test_the_scaler_counts_unacked_jobs_and_the_grace_period_covers_the_drain():
    so = next(d for _, d in documents() if d["kind"] == "ScaledObject")
    trigger = so["spec"]["triggers"][0]
    assert trigger["type"] == "rabbitmq" and trigger["metadata"]["protocol"] == "http"
    config = next(d for _, d in documents() if d["kind"] == "ConfigMap")["data"]
    deploy = next(d for _, d in documents() if d["kind"] == "Deployment")
    grace = deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert int(config["DASHPACK_SHUTDOWN_TIMEOUT"]) < grace
    assert trigger["metadata"]["value"] == config["CONCURRENCY_WORKERS"]
    assert trigger["metadata"]["queueName"] == config["RABBITMQ_CONSUMER_QUEUE_NAME"]


def test_compose_file_parses():
    r = subprocess.run([str(BIN / "podman-compose"), "-f", str(ROOT / "compose.yaml"), "config"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    services = yaml.safe_load(r.stdout)["services"]
    assert set(services) == {"rabbitmq", "gcs", "worker"}
    assert services["worker"]["build"]["dockerfile"] == "Containerfile"
