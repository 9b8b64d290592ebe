"""The Kubernetes API emulator with the official Python client and with kubectl:
discovery, CRUD, resourceVersion conflicts, patches, selectors, watch, CRDs and the
rollout simulator (including a failing rollout)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

from controller.sandbox.kube import KubeSandbox
from tests.conftest import REPO

CRD = REPO.parent / "shared" / "flagd" / "core.openfeature.dev_featureflags.yaml"


def deployment(name: str = "checkout", image: str = "shop/checkout:3.7.0") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": name, "image": image, "ports": [{"containerPort": 8080}]},
                        {
                            "name": "envoy",
                            "image": "envoy:1.30",
                            "ports": [{"containerPort": 9901}],
                        },
                    ]
                },
            },
        },
    }


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[tuple[KubeSandbox, client.ApiClient, Path]]:
    if not CRD.exists():
        pytest.fail(f"{CRD} is missing: CI runs with ../shared beside the repository")
    with KubeSandbox() as sandbox:
        sandbox.rollouts.step = 0.1
        sandbox.rollouts.deadline = 1.0
        sandbox.load_crd(CRD)
        sandbox.apply(deployment())
        kubeconfig = sandbox.kubeconfig(tmp_path / "kubeconfig")
        api = config.new_client_from_config(str(kubeconfig), context="sandbox")
        yield sandbox, api, kubeconfig
        api.close()


def wait_for(predicate: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_discovery_and_list(kube: tuple[KubeSandbox, client.ApiClient, Path]) -> None:
    _, api, _ = kube
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "coordination.k8s.io", "core.openfeature.dev"} <= groups
    assert client.VersionApi(api).get_code().major == "1"
    apps = client.AppsV1Api(api)
    listed = apps.list_deployment_for_all_namespaces()
    assert [d.metadata.name for d in listed.items] == ["checkout"]
    assert int(listed.metadata.resource_version) >= int(listed.items[0].metadata.resource_version)
    assert apps.list_namespaced_deployment("shop", label_selector="app in (checkout,x)").items
    assert not apps.list_namespaced_deployment("shop", label_selector="app!=checkout").items
    assert apps.list_namespaced_deployment("shop", field_selector="metadata.name=checkout").items


def test_create_with_generate_name_and_conflicts(
    kube: tuple[KubeSandbox, client.ApiClient, Path],
) -> None:
    _, api, _ = kube
    core = client.CoreV1Api(api)
    made = core.create_namespaced_config_map(
        "shop",
        client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="flags-"), data={"a": "1"}),
    )
    assert made.metadata.name.startswith("flags-") and made.metadata.uid
    stale = made.metadata.resource_version
    made.data = {"a": "2"}
    core.replace_namespaced_config_map(made.metadata.name, "shop", made)
    made.data = {"a": "3"}
    made.metadata.resource_version = stale
    with pytest.raises(client.ApiException) as conflict:
        core.replace_namespaced_config_map(made.metadata.name, "shop", made)
    assert conflict.value.status == 409
    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_config_map("nope", "shop")
    assert missing.value.status == 404


def test_strategic_merge_keeps_sidecar_and_bumps_generation(
    kube: tuple[KubeSandbox, client.ApiClient, Path],
) -> None:
    _, api, _ = kube
    apps = client.AppsV1Api(api)
    before = apps.read_namespaced_deployment("checkout", "shop")
    patched = apps.patch_namespaced_deployment(
        "checkout",
        "shop",
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "checkout", "image": "shop/checkout:3.8.0"}]}
                }
            }
        },
    )
    containers = patched.spec.template.spec.containers
    assert [(c.name, c.image) for c in containers] == [
        ("checkout", "shop/checkout:3.8.0"),
        ("envoy", "envoy:1.30"),
    ]
    assert [c.ports[0].container_port for c in containers] == [8080, 9901]
    assert patched.metadata.generation == before.metadata.generation + 1
    with pytest.raises(client.ApiException) as stale:
        apps.patch_namespaced_deployment(
            "checkout",
            "shop",
            {
                "metadata": {"resourceVersion": before.metadata.resource_version},
                "spec": {"replicas": 4},
            },
        )
    assert stale.value.status == 409


def test_rollout_simulation_and_failure(kube: tuple[KubeSandbox, client.ApiClient, Path]) -> None:
    sandbox, api, _ = kube
    apps = client.AppsV1Api(api)

    def status() -> Any:
        return apps.read_namespaced_deployment("checkout", "shop").status

    def complete() -> bool:
        current = status()
        return current is not None and (current.updated_replicas, current.available_replicas) == (
            3,
            3,
        )

    wait_for(complete)
    sandbox.rollouts.mark_bad("shop/checkout:bad")
    apps.patch_namespaced_deployment(
        "checkout",
        "shop",
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "checkout", "image": "shop/checkout:bad"}]}
                }
            }
        },
    )
    wait_for(lambda: any(c.reason == "ProgressDeadlineExceeded" for c in status().conditions or []))
    assert status().unavailable_replicas == 1


def test_watch_streams_changes(kube: tuple[KubeSandbox, client.ApiClient, Path]) -> None:
    _, api, _ = kube
    core = client.CoreV1Api(api)
    start = core.list_namespaced_config_map("shop").metadata.resource_version
    core.create_namespaced_config_map(
        "shop", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"))
    )
    events = []
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_config_map, "shop", resource_version=start, timeout_seconds=2
    ):
        events.append((event["type"], event["object"].metadata.name))
        stream.stop()
    assert events == [("ADDED", "watched")]


def test_custom_resources_from_the_crd(kube: tuple[KubeSandbox, client.ApiClient, Path]) -> None:
    _, api, _ = kube
    custom = client.CustomObjectsApi(api)
    body = {
        "apiVersion": "core.openfeature.dev/v1beta1",
        "kind": "FeatureFlag",
        "metadata": {"name": "shop-flags"},
        "spec": {"flagSpec": {"flags": {}}},
    }
    created = custom.create_namespaced_custom_object(
        "core.openfeature.dev", "v1beta1", "shop", "featureflags", body
    )
    assert created["metadata"]["generation"] == 1
    got = custom.get_namespaced_custom_object(
        "core.openfeature.dev", "v1beta1", "shop", "featureflags", "shop-flags"
    )
    assert got["spec"] == {"flagSpec": {"flags": {}}}


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("kubectl")
    assert binary, "kubectl is not installed (.ci/run installs Debian's kubernetes-client)"
    return subprocess.run(
        [binary, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_kubectl(kube: tuple[KubeSandbox, client.ApiClient, Path]) -> None:
    sandbox, _, kubeconfig = kube
    listed = kubectl(kubeconfig, "get", "deployments", "-n", "shop", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert [i["metadata"]["name"] for i in json.loads(listed.stdout)["items"]] == ["checkout"]
    assert (
        kubectl(
            kubeconfig,
            "set",
            "image",
            "deployment/checkout",
            "checkout=shop/checkout:3.8.0",
            "-n",
            "shop",
        ).returncode
        == 0
    )
    done = kubectl(
        kubeconfig, "rollout", "status", "deployment/checkout", "-n", "shop", "--timeout=20s"
    )
    assert done.returncode == 0, done.stderr
    assert 'deployment "checkout" successfully rolled out' in done.stdout
    sandbox.apply(
        {
            "apiVersion": "core.openfeature.dev/v1beta1",
            "kind": "FeatureFlag",
            "metadata": {"name": "shop-flags", "namespace": "shop"},
            "spec": {"flagSpec": {"flags": {}}},
        }
    )
    flags = kubectl(kubeconfig, "get", "featureflags", "-n", "shop")
    assert flags.returncode == 0 and "shop-flags" in flags.stdout
    sandbox.rollouts.mark_bad("shop/checkout:bad")
    kubectl(
        kubeconfig,
        "set",
        "image",
        "deployment/checkout",
        "checkout=shop/checkout:bad",
        "-n",
        "shop",
    )
    failed = kubectl(
        kubeconfig, "rollout", "status", "deployment/checkout", "-n", "shop", "--timeout=20s"
    )
    assert failed.returncode == 1
    assert 'deployment "checkout" exceeded its progress deadline' in failed.stderr
