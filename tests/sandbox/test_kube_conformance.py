"""The Kubernetes API emulator against what a real API server does, driven by the
official client, kubectl and raw HTTP. Each test names the behaviour it checks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from controller.sandbox.kube import KubeSandbox


class Ticks:
    """The rollout simulator's clock, moved by the test alone."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def deployment(name: str, image: str = "shop/web:1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
            **spec,
        },
    }


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[tuple[KubeSandbox, client.AppsV1Api, Ticks]]:
    with KubeSandbox() as sandbox:
        ticks = Ticks()
        sandbox.rollouts.clock = ticks
        sandbox.rollouts.step = 1.0
        sandbox.ensure_namespace("shop")
        sandbox.apply(deployment("web"))
        sandbox.apply(deployment("api"))
        path = sandbox.kubeconfig(tmp_path / "kubeconfig")
        api = config.new_client_from_config(str(path), context="sandbox")
        yield sandbox, client.AppsV1Api(api), ticks
        api.close()


def settle(sandbox: KubeSandbox, ticks: Ticks, seconds: float = 10.0) -> None:
    """The simulator sees what changed, then `seconds` pass."""
    sandbox.rollouts.tick()
    ticks.now += seconds
    sandbox.rollouts.tick()


def image(apps: client.AppsV1Api, name: str) -> str:
    return str(apps.read_namespaced_deployment(name, "shop").spec.template.spec.containers[0].image)


def run_kubectl(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """kubectl with the kubeconfig at `tmp_path/kubeconfig` (a later `--kubeconfig` wins)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed (.ci/run installs it)"
    return subprocess.run(
        [kubectl, "--kubeconfig", str(tmp_path / "kubeconfig"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def test_a_server_side_dry_run_changes_nothing(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    """dryRun=All: the answer is the object as it would be; nothing is stored."""
    _, apps, _ = kube
    before = apps.read_namespaced_deployment("web", "shop")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "w:2"}]}}}}
    answered = apps.patch_namespaced_deployment("web", "shop", patch, dry_run="All")
    assert answered.spec.template.spec.containers[0].image == "w:2"
    after = apps.read_namespaced_deployment("web", "shop")
    assert image(apps, "web") == "shop/web:1"
    assert after.metadata.resource_version == before.metadata.resource_version
    assert after.metadata.generation == before.metadata.generation
    apps.create_namespaced_deployment("shop", deployment("new"), dry_run="All")
    apps.delete_namespaced_deployment("api", "shop", dry_run="All")
    names = {d.metadata.name for d in apps.list_namespaced_deployment("shop").items}
    assert names == {"web", "api"}


def test_kubectl_apply_dry_run_server_leaves_the_live_object(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    _, apps, _ = kube
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: web, image: 'shop/web:9'}]}\n"
    )
    done = run_kubectl(tmp_path, "apply", "-f", str(manifest), "--dry-run=server")
    assert done.returncode == 0, done.stderr
    assert "(server dry run)" in done.stdout
    assert image(apps, "web") == "shop/web:1"


def test_a_body_that_is_not_json_gets_a_400_status(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    """The API server answers malformed bodies with a Status, not a dropped connection."""
    sandbox, _, _ = kube
    answer = httpx.post(
        f"{sandbox.url}/apis/apps/v1/namespaces/shop/deployments",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["kind"] == "Status" and answer.json()["reason"] == "BadRequest"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {**deployment("nosel"), "spec": {**deployment("nosel")["spec"], "selector": None}},
            422,
            "spec.selector: Required value",
        ),
        (deployment("Bad_Name!"), 422, "a lowercase RFC 1123 subdomain"),
        (
            {**deployment("elsewhere"), "metadata": {"name": "elsewhere", "namespace": "other"}},
            400,
            "does not match the namespace",
        ),
        (
            deployment("two", replicas="two"),
            400,
            'Deployment in version "v1" cannot be handled as a Deployment: json: cannot '
            "unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            {
                **deployment("envs"),
                "spec": {
                    **deployment("envs")["spec"],
                    "template": {
                        "metadata": {"labels": {"app": "envs"}},
                        "spec": {
                            "containers": [
                                {"name": "w", "image": "i", "env": [{"name": "N", "value": 1}]}
                            ]
                        },
                    },
                },
            },
            400,
            "cannot unmarshal number into Go struct field "
            "EnvVar.spec.template.spec.containers.env.value of type string",
        ),
        (
            deployment("mismatch", selector={"matchLabels": {"app": "other"}}),
            422,
            "`selector` does not match template `labels`",
        ),
    ],
)
def test_invalid_objects_are_refused(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], body: Any, code: int, message: str
) -> None:
    """Raw HTTP: the official client refuses to send most of these itself."""
    sandbox, _, _ = kube
    answer = httpx.post(f"{sandbox.url}/apis/apps/v1/namespaces/shop/deployments", json=body)
    assert answer.status_code == code, answer.text
    assert answer.json()["kind"] == "Status" and message in answer.json()["message"]


FEATUREFLAG_CRD = (
    Path(__file__).parents[2].parent / "shared/flagd/core.openfeature.dev_featureflags.yaml"
)


def test_custom_resources_are_checked_against_their_crds_schema(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    """A FeatureFlag against the OpenFeature CRD's openAPIV3Schema: a wrong type, a value
    outside an enum, a missing required field are a 422 naming the field; an unknown field
    is pruned, or a 400 with fieldValidation=Strict."""
    sandbox, _, _ = kube
    sandbox.apply(yaml.safe_load(FEATUREFLAG_CRD.read_text()))
    url = f"{sandbox.url}/apis/core.openfeature.dev/v1beta1/namespaces/shop/featureflags"

    def flag(name: str, **spec: Any) -> dict[str, Any]:
        flags = {"f": {"state": "ENABLED", "defaultVariant": "on", "variants": {"on": True}}}
        return {
            "apiVersion": "core.openfeature.dev/v1beta1",
            "kind": "FeatureFlag",
            "metadata": {"name": name, "labels": {"team": "pay"}},
            "spec": {"flagSpec": {"flags": flags}, **spec},
        }

    wrong = flag("wrong")
    wrong["spec"]["flagSpec"]["flags"] = "all of them"
    answer = httpx.post(url, json=wrong)
    assert answer.status_code == 422, answer.text
    assert answer.json()["message"] == (
        'FeatureFlag.core.openfeature.dev "wrong" is invalid: spec.flagSpec.flags: '
        'Invalid value: "string": spec.flagSpec.flags in body must be of type object: "string"'
    )
    state = flag("state")
    state["spec"]["flagSpec"]["flags"]["f"]["state"] = "ON"
    del state["spec"]["flagSpec"]["flags"]["f"]["variants"]
    answer = httpx.post(url, json=state)
    assert answer.status_code == 422, answer.text
    message = answer.json()["message"]
    assert 'spec.flagSpec.flags.f.state: Unsupported value: "ON": supported values: ' in message
    assert "spec.flagSpec.flags.f.variants: Required value" in message
    extra = flag("extra", colour="red")
    strict = httpx.post(url, json=extra, params={"fieldValidation": "Strict"})
    assert strict.status_code == 400, strict.text
    assert 'strict decoding error: unknown field "spec.colour"' in strict.json()["message"]
    pruned = httpx.post(url, json=extra)
    assert pruned.status_code == 201, pruned.text
    stored = httpx.get(f"{url}/extra").json()
    assert "colour" not in stored["spec"] and stored["spec"]["flagSpec"]["flags"]["f"]
    assert stored["metadata"]["labels"] == {"team": "pay"}


def test_a_bad_patch_is_refused_and_every_other_rollout_goes_on(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    """`kubectl patch deploy web --type merge -p '{"spec":{"replicas":"two"}}'` is a 400
    (the patched object does not decode); it used to crash the rollout simulator, and
    every later rollout hung."""
    sandbox, apps, ticks = kube
    refused = httpx.patch(
        f"{sandbox.url}/apis/apps/v1/namespaces/shop/deployments/web",
        json={"spec": {"replicas": "two"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert refused.status_code == 400, refused.text
    assert "Go struct field DeploymentSpec.spec.replicas of type int32" in refused.text
    assert apps.read_namespaced_deployment("web", "shop").spec.replicas == 2
    # Even an object no API server would store (written straight into the store) stalls
    # only itself.
    store = sandbox.store
    kind = store.find_type("apps", "v1", "deployments")
    broken = store.get(kind, "shop", "web")
    broken["spec"]["replicas"] = "two"
    store.update(kind, "shop", "web", broken)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "a:2"}]}}}}
    apps.patch_namespaced_deployment("api", "shop", patch)
    settle(sandbox, ticks)
    status = apps.read_namespaced_deployment_status("api", "shop").status
    assert status.updated_replicas == 2 and status.available_replicas == 2
    assert (
        status.observed_generation
        == apps.read_namespaced_deployment("api", "shop").metadata.generation
    )


def test_relctl_sandbox_kube_serves_featureflags_without_a_seed(tmp_path: Path) -> None:
    """relctl's flag targets are there from the start, as the README says."""
    kubeconfig = tmp_path / "kubeconfig"
    relctl = Path(sys.executable).parent / "relctl"
    process = subprocess.Popen(
        [str(relctl), "sandbox", "kube", "--port", "0", "--kubeconfig", str(kubeconfig)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        process.stderr.readline()  # the banner: written once the kubeconfig is
        listed = run_kubectl(tmp_path, "get", "featureflags", "-A")
        assert listed.returncode == 0, listed.stderr
        crds = run_kubectl(tmp_path, "get", "crd", "-o", "name")
        assert "featureflags.core.openfeature.dev" in crds.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)


# --- the rollout simulator -----------------------------------------------------------------


def progressing(apps: client.AppsV1Api, name: str) -> tuple[str, str]:
    status = apps.read_namespaced_deployment_status(name, "shop").status
    found = next(c for c in status.conditions if c.type == "Progressing")
    return found.status, found.reason


def new_image(apps: client.AppsV1Api, name: str, image: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
    apps.patch_namespaced_deployment(name, "shop", patch)


def test_a_paused_deployment_does_not_roll_out_until_resumed(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    """spec.paused: the controller observes the new template but starts no new replicas,
    and the time paused does not count towards the progress deadline."""
    sandbox, apps, ticks = kube
    settle(sandbox, ticks)
    apps.patch_namespaced_deployment("web", "shop", {"spec": {"paused": True}})
    new_image(apps, "web", "shop/web:2")
    settle(sandbox, ticks, 3600)
    status = apps.read_namespaced_deployment_status("web", "shop").status
    assert (
        status.observed_generation
        == apps.read_namespaced_deployment("web", "shop").metadata.generation
    )
    assert status.updated_replicas == 0
    assert progressing(apps, "web") == ("Unknown", "DeploymentPaused")
    apps.patch_namespaced_deployment("web", "shop", {"spec": {"paused": False}})
    settle(sandbox, ticks)
    status = apps.read_namespaced_deployment_status("web", "shop").status
    assert status.updated_replicas == status.available_replicas == 2
    assert progressing(apps, "web") == ("True", "NewReplicaSetAvailable")


def test_the_progress_deadline_is_the_deployments_own(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    """progressDeadlineSeconds decides when a stuck rollout is ProgressDeadlineExceeded."""
    sandbox, apps, ticks = kube
    sandbox.rollouts.deadline = 5.0  # the emulator's own, for Deployments that say none
    sandbox.rollouts.mark_bad("shop/web:bad")
    apps.patch_namespaced_deployment("web", "shop", {"spec": {"progressDeadlineSeconds": 60}})
    settle(sandbox, ticks)
    new_image(apps, "web", "shop/web:bad")
    settle(sandbox, ticks, 30)
    assert progressing(apps, "web") == ("True", "ReplicaSetUpdated")
    settle(sandbox, ticks, 31)
    assert progressing(apps, "web") == ("False", "ProgressDeadlineExceeded")


def test_scaling_alone_is_not_a_rollout(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    """A new replica count reaches the status at once; no new ReplicaSet progresses."""
    sandbox, apps, ticks = kube
    settle(sandbox, ticks)
    apps.patch_namespaced_deployment("web", "shop", {"spec": {"replicas": 4}})
    sandbox.rollouts.tick()  # observed, no simulated time passing
    status = apps.read_namespaced_deployment_status("web", "shop").status
    assert (status.replicas, status.updated_replicas, status.available_replicas) == (4, 4, 4)
    assert progressing(apps, "web") == ("True", "NewReplicaSetAvailable")


def test_a_rolling_update_surges_and_keeps_availability_as_its_strategy_says(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    """maxSurge 2, maxUnavailable 1 on 4 replicas: 6 pods at most, 3 available at least."""
    sandbox, apps, ticks = kube
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}
    apps.patch_namespaced_deployment("web", "shop", {"spec": {"replicas": 4, "strategy": strategy}})
    settle(sandbox, ticks)
    new_image(apps, "web", "shop/web:2")
    settle(sandbox, ticks, 1.5)  # one new replica ready of four
    status = apps.read_namespaced_deployment_status("web", "shop").status
    assert (status.replicas, status.updated_replicas, status.available_replicas) == (6, 1, 3)


# --- the API surface -----------------------------------------------------------------------


def test_kubectl_scale_uses_the_scale_subresource(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    sandbox, apps, ticks = kube
    done = run_kubectl(tmp_path, "scale", "deployment/web", "-n", "shop", "--replicas=5")
    assert done.returncode == 0, done.stderr
    assert "scaled" in done.stdout
    assert apps.read_namespaced_deployment("web", "shop").spec.replicas == 5
    scale = apps.read_namespaced_deployment_scale("web", "shop")
    assert (scale.spec.replicas, scale.status.selector) == (5, "app=web")
    refused = httpx.patch(
        f"{sandbox.url}/apis/apps/v1/namespaces/shop/deployments/web/scale",
        json={"spec": {"replicas": -1}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert refused.status_code == 422
    settle(sandbox, ticks)
    assert apps.read_namespaced_deployment_status("web", "shop").status.available_replicas == 5


@pytest.mark.parametrize("selector", ["app in (web", "app=we b", "=web", "app==(x)"])
def test_a_selector_that_does_not_parse_is_a_400(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], selector: str
) -> None:
    """Not an empty list: the API server says it cannot parse the requirement."""
    sandbox, _, _ = kube
    url = f"{sandbox.url}/apis/apps/v1/namespaces/shop/deployments"
    answer = httpx.get(url, params={"labelSelector": selector})
    assert answer.status_code == 400 and answer.json()["reason"] == "BadRequest"
    good = httpx.get(url, params={"labelSelector": "app in (web, api),!canary"})
    assert good.status_code == 200


def test_lists_are_paged_by_limit_and_continue(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    sandbox, apps, _ = kube
    for n in range(3):
        sandbox.apply(deployment(f"extra-{n}"))
    names: list[str] = []
    token = None
    pages = 0
    while True:
        found = apps.list_namespaced_deployment("shop", limit=2, _continue=token)
        names += [d.metadata.name for d in found.items]
        pages += 1
        token = found.metadata._continue
        if not token:
            break
        assert found.metadata.remaining_item_count == 5 - len(names)
    assert pages == 3 and sorted(names) == sorted(["web", "api", "extra-0", "extra-1", "extra-2"])


def test_a_watch_from_a_future_resource_version_is_refused(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    """Not a silent, empty stream."""
    sandbox, _, _ = kube
    answer = httpx.get(
        f"{sandbox.url}/apis/apps/v1/namespaces/shop/deployments",
        params={"watch": "true", "resourceVersion": "999999999", "timeoutSeconds": "1"},
    )
    assert answer.status_code == 504 and "Too large resource version" in answer.json()["message"]


def test_deleting_a_namespace_deletes_what_is_in_it(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    sandbox, apps, _ = kube
    sandbox.ensure_namespace("other")
    sandbox.apply({**deployment("there"), "metadata": {"name": "there", "namespace": "other"}})
    client.CoreV1Api(apps.api_client).delete_namespace("other")
    with pytest.raises(ApiException) as gone:
        apps.read_namespaced_deployment("there", "other")
    assert gone.value.status == 404
    assert {d.metadata.name for d in apps.list_namespaced_deployment("shop").items} == {
        "web",
        "api",
    }


def test_an_event_written_through_core_v1_is_read_through_events_k8s_io(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    """One list of Events behind both APIs: relctl writes core/v1 Events; `kubectl
    events` reads events.k8s.io/v1."""
    from controller.adapters.kube import KubeCluster
    from controller.manifests.config import ClusterConfig

    _, apps, _ = kube
    settings = ClusterConfig(context="sandbox", kubeconfig=str(tmp_path / "kubeconfig"))
    cluster = KubeCluster.connect("sandbox", settings)
    try:
        cluster.event(cluster.get("shop", "web"), "RelctlRollout", "roll out web 2 (r1)")
    finally:
        cluster.close()
    listed = client.EventsV1Api(apps.api_client).list_namespaced_event("shop").items
    assert [(e.reason, e.note, e.regarding.name) for e in listed] == [
        ("RelctlRollout", "roll out web 2 (r1)", "web")
    ]
    assert listed[0].reporting_controller == "relctl"
    done = run_kubectl(tmp_path, "events", "-n", "shop")
    assert done.returncode == 0, done.stderr
    assert "RelctlRollout" in done.stdout and "roll out web 2 (r1)" in done.stdout


def test_kubectl_get_prints_the_servers_columns(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    """`kubectl get` asks for a Table: READY, UP-TO-DATE, AVAILABLE and AGE for
    Deployments (and the containers, images and selector with -o wide), not NAME alone."""
    sandbox, _, ticks = kube
    settle(sandbox, ticks)
    done = run_kubectl(tmp_path, "get", "deployments", "-n", "shop")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert sorted(r.split()[:4] for r in rows) == [
        ["api", "2/2", "2", "2"],
        ["web", "2/2", "2", "2"],
    ]
    wide = run_kubectl(tmp_path, "get", "deployment", "web", "-n", "shop", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    assert wide.stdout.split()[5:8] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert "shop/web:1" in wide.stdout and "app=web" in wide.stdout
    namespaces = run_kubectl(tmp_path, "get", "namespaces")
    assert namespaces.stdout.split()[:3] == ["NAME", "STATUS", "AGE"]


MANIFEST = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cart, namespace: shop}\n"
    "spec:\n  replicas: 1\n  selector: {matchLabels: {app: cart}}\n  template:\n"
    "    metadata: {labels: {app: cart}}\n"
    "    spec: {containers: [{name: cart, image: 'shop/cart:IMAGE'}]}\n"
)


def test_kubectl_writes_with_its_default_validation(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    """With /openapi/v3 served, kubectl's create, apply, replace, diff and edit work
    without --validate=false; its fieldValidation=Strict refuses an unknown field."""
    _, apps, _ = kube
    manifest = tmp_path / "cart.yaml"
    manifest.write_text(MANIFEST.replace("IMAGE", "1"))
    created = run_kubectl(tmp_path, "create", "-f", str(manifest))
    assert created.returncode == 0, created.stderr
    manifest.write_text(MANIFEST.replace("IMAGE", "2"))
    differs = run_kubectl(tmp_path, "diff", "-f", str(manifest))
    assert differs.returncode == 1, differs.stderr  # 1: there are differences
    assert "shop/cart:2" in differs.stdout and image(apps, "cart") == "shop/cart:1"
    applied = run_kubectl(tmp_path, "apply", "-f", str(manifest))
    assert applied.returncode == 0, applied.stderr
    assert image(apps, "cart") == "shop/cart:2"
    manifest.write_text(MANIFEST.replace("IMAGE", "3"))
    replaced = run_kubectl(tmp_path, "replace", "-f", str(manifest))
    assert replaced.returncode == 0, replaced.stderr
    assert image(apps, "cart") == "shop/cart:3"
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's#shop/cart:3#shop/cart:4#' \"$1\"\n")
    editor.chmod(0o755)
    edited = run_kubectl(
        tmp_path,
        "edit",
        "deploy/cart",
        "-n",
        "shop",
        env={**os.environ, "KUBE_EDITOR": str(editor)},
    )
    assert edited.returncode == 0, edited.stderr
    assert image(apps, "cart") == "shop/cart:4"
    manifest.write_text(
        MANIFEST.replace("IMAGE", "5").replace("replicas: 1", "replicas: 1\n  colour: red")
    )
    unknown = run_kubectl(tmp_path, "apply", "-f", str(manifest))
    assert unknown.returncode != 0
    assert 'unknown field "spec.colour"' in unknown.stderr
    assert image(apps, "cart") == "shop/cart:4"


# --- RBAC ----------------------------------------------------------------------------------


def test_rbac_allows_what_is_granted_and_refuses_the_rest_as_the_api_server_does(
    tmp_path: Path,
) -> None:
    """A ServiceAccount's token may do what its Roles grant: the rest is a 403 with the API
    server's message; a SelfSubjectAccessReview (what `kubectl auth can-i` asks) answers
    from the same rules (`kubectl auth can-i`); no token is a 401; a TokenRequest issues
    one (`kubectl create token`). With RBAC the emulator serves HTTPS: kubectl sends a
    token over TLS only."""
    from controller.sandbox.world import rbac_objects

    with KubeSandbox(rbac=True) as sandbox:
        sandbox.ensure_namespace("shop")
        sandbox.apply(deployment("web"))
        for document in rbac_objects(["shop"]):
            sandbox.apply(document)
        admin = config.new_client_from_config(
            str(sandbox.kubeconfig(tmp_path / "admin")), context="sandbox"
        )
        issued = client.CoreV1Api(admin).create_namespaced_service_account_token(
            "relctl", "relctl", {"spec": {"audiences": []}}
        )
        admin.close()
        sandbox.kubeconfig(tmp_path / "kubeconfig", token=issued.status.token)
        api = config.new_client_from_config(str(tmp_path / "kubeconfig"), context="sandbox")
        try:
            apps = client.AppsV1Api(api)
            assert apps.read_namespaced_deployment("web", "shop").metadata.name == "web"
            with pytest.raises(ApiException) as refused:
                apps.delete_namespaced_deployment("web", "shop")
            assert refused.value.status == 403
            assert (
                'deployments.apps \\"web\\" is forbidden: User '
                '\\"system:serviceaccount:relctl:relctl\\" cannot delete resource '
                '\\"deployments\\" in API group \\"apps\\" in the namespace \\"shop\\"'
            ) in str(refused.value.body)
            reviews = client.AuthorizationV1Api(api)

            def can(verb: str, resource: str, group: str, namespace: str) -> bool:
                attributes = {"verb": verb, "resource": resource, "group": group}
                asked = {"spec": {"resourceAttributes": {**attributes, "namespace": namespace}}}
                return bool(reviews.create_self_subject_access_review(asked).status.allowed)

            assert can("patch", "deployments", "apps", "shop")
            assert not can("delete", "deployments", "apps", "shop")
            assert can("create", "leases", "coordination.k8s.io", "relctl")
            assert not can("create", "leases", "coordination.k8s.io", "shop")
            assert can("create", "configmaps", "", "shop")
            assert not can("create", "configmaps", "", "default")
        finally:
            api.close()
        assert sandbox.url.startswith("https://")  # kubectl sends tokens over TLS only
        assert httpx.get(f"{sandbox.url}/apis/apps/v1/deployments", verify=False).status_code == 401
        for verb, expected in (("patch", "yes"), ("delete", "no"), ("list", "yes")):
            asked = run_kubectl(tmp_path, "auth", "can-i", verb, "deployments", "-n", "shop")
            assert asked.stdout.strip() == expected, (verb, asked.stdout, asked.stderr)
        made = run_kubectl(tmp_path, "--kubeconfig", str(tmp_path / "admin"), "create", "token")
        assert made.returncode != 0  # kubectl needs the ServiceAccount's name
        made = run_kubectl(
            tmp_path, "--kubeconfig", str(tmp_path / "admin"), "create", "token", "relctl",
            "-n", "relctl",
        )  # fmt: skip
        assert made.returncode == 0 and made.stdout.strip(), made.stderr


# --- ReplicaSets and Pods ------------------------------------------------------------------


def test_replicasets_pods_history_undo_logs_and_wait_with_kubectl(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    """A Deployment owns a ReplicaSet per template and a Pod per replica: `kubectl get
    pods`, `rollout history`, `rollout undo`, `logs` and `wait` work as on a cluster."""
    sandbox, apps, ticks = kube
    settle(sandbox, ticks)
    new_image(apps, "web", "shop/web:2")
    settle(sandbox, ticks)
    pods = run_kubectl(tmp_path, "get", "pods", "-n", "shop", "-l", "app=web")
    assert pods.returncode == 0, pods.stderr
    rows = [line.split() for line in pods.stdout.splitlines()[1:]]
    assert len(rows) == 2 and all(r[1:3] == ["1/1", "Running"] for r in rows), pods.stdout
    sets = run_kubectl(tmp_path, "get", "rs", "-n", "shop", "-l", "app=web", "-o", "name")
    assert len(sets.stdout.split()) == 2  # one per template
    history = run_kubectl(tmp_path, "rollout", "history", "deployment/web", "-n", "shop")
    assert history.returncode == 0, history.stderr
    assert [line.split()[0] for line in history.stdout.splitlines()[2:] if line.strip()] == [
        "1",
        "2",
    ]
    undone = run_kubectl(tmp_path, "rollout", "undo", "deployment/web", "-n", "shop")
    assert undone.returncode == 0, undone.stderr
    assert image(apps, "web") == "shop/web:1"
    settle(sandbox, ticks)
    history = run_kubectl(tmp_path, "rollout", "history", "deployment/web", "-n", "shop")
    assert [line.split()[0] for line in history.stdout.splitlines()[2:] if line.strip()] == [
        "2",
        "3",
    ]  # the first template's ReplicaSet, under a new revision
    logs = run_kubectl(tmp_path, "logs", "deployment/web", "-n", "shop")
    assert logs.returncode == 0, logs.stderr
    assert "started from shop/web:1" in logs.stdout
    waited = run_kubectl(
        tmp_path, "wait", "deployment/web", "-n", "shop", "--for=condition=Available",
        "--timeout=10s",
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr
    apps.delete_namespaced_deployment("web", "shop")
    left = run_kubectl(tmp_path, "get", "pods,rs", "-n", "shop", "-l", "app=web", "-o", "name")
    assert left.stdout.strip() == ""  # what it owned went with it


def test_kubectl_apply_server_side_creates_and_updates(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    """application/apply-patch+yaml: creates a missing object, merges into an existing
    one; a field manager is required."""
    sandbox, apps, _ = kube
    manifest = tmp_path / "cart.yaml"
    for tag in ("1", "2"):
        manifest.write_text(MANIFEST.replace("IMAGE", tag))
        applied = run_kubectl(tmp_path, "apply", "--server-side", "-f", str(manifest))
        assert applied.returncode == 0, applied.stderr
        assert "serverside-applied" in applied.stdout
        assert image(apps, "cart") == f"shop/cart:{tag}"
    nameless = httpx.patch(
        f"{sandbox.url}/apis/apps/v1/namespaces/shop/deployments/cart",
        content=MANIFEST.replace("IMAGE", "3"),
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert nameless.status_code == 400 and "fieldManager" in nameless.json()["message"]


def test_server_side_apply_owns_fields_refuses_conflicts_and_removes_what_it_stops_applying(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    """managedFields: a field another manager changed is a 409 conflict for an apply with
    another value (naming the manager and the field), taken over with --force-conflicts;
    the same value is shared, not a conflict; a field the applier stops applying goes."""
    _, apps, _ = kube
    manifest = tmp_path / "cart.yaml"
    labelled = MANIFEST.replace("IMAGE", "1").replace(
        "namespace: shop}", "namespace: shop, labels: {team: pay}}"
    )
    manifest.write_text(labelled)
    assert run_kubectl(tmp_path, "apply", "--server-side", "-f", str(manifest)).returncode == 0
    patched = run_kubectl(
        tmp_path, "patch", "deploy/cart", "-n", "shop", "-p", '{"spec":{"replicas":3}}'
    )
    assert patched.returncode == 0, patched.stderr
    refused = run_kubectl(tmp_path, "apply", "--server-side", "-f", str(manifest))
    assert refused.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl-patch"' in refused.stderr
    assert ".spec.replicas" in refused.stderr
    assert apps.read_namespaced_deployment("cart", "shop").spec.replicas == 3
    forced = run_kubectl(
        tmp_path, "apply", "--server-side", "--force-conflicts", "-f", str(manifest)
    )
    assert forced.returncode == 0, forced.stderr
    live = apps.read_namespaced_deployment("cart", "shop")
    assert live.spec.replicas == 1
    owners = {m.manager: m.fields_v1 for m in live.metadata.managed_fields}
    assert "f:replicas" in owners["kubectl"]["f:spec"]
    assert "kubectl-patch" not in owners  # it owned replicas alone, and lost it
    # Another manager applying the live value shares the field: no conflict.
    shared = MANIFEST.replace("IMAGE", "1")
    other = tmp_path / "other.yaml"
    other.write_text(shared)
    both = run_kubectl(tmp_path, "apply", "--server-side", "--field-manager=ops", "-f", str(other))
    assert both.returncode == 0, both.stderr
    # The label was applied by kubectl alone: applying without it removes it.
    manifest.write_text(shared)
    assert run_kubectl(tmp_path, "apply", "--server-side", "-f", str(manifest)).returncode == 0
    assert not (apps.read_namespaced_deployment("cart", "shop").metadata.labels or {})


def test_an_empty_map_applied_then_filled_is_kept_and_filled(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    """An applier that owned an empty map (`flags: {}`) and then applies entries in it
    keeps the map: the field it applied before is now their parent, not a field it
    stopped applying. (The CRD requires `flags`: dropping it is a 422.)"""
    sandbox, _, _ = kube
    sandbox.apply(yaml.safe_load(FEATUREFLAG_CRD.read_text()))
    manifest = tmp_path / "flags.yaml"
    empty = (
        "apiVersion: core.openfeature.dev/v1beta1\nkind: FeatureFlag\n"
        "metadata: {name: shop-flags, namespace: shop}\nspec:\n  flagSpec:\n    flags: {}\n"
    )
    manifest.write_text(empty)
    applied = run_kubectl(tmp_path, "apply", "--server-side", "-f", str(manifest))
    assert applied.returncode == 0, applied.stderr
    flag = "{f: {state: ENABLED, defaultVariant: 'on', variants: {'on': true}}}"
    manifest.write_text(empty.replace("flags: {}", f"flags: {flag}"))
    filled = run_kubectl(tmp_path, "apply", "--server-side", "-f", str(manifest))
    assert filled.returncode == 0, filled.stderr
    url = f"{sandbox.url}/apis/core.openfeature.dev/v1beta1/namespaces/shop/featureflags"
    assert list(httpx.get(f"{url}/shop-flags").json()["spec"]["flagSpec"]["flags"]) == ["f"]
    manifest.write_text(empty)  # and emptied again: its entry goes, the map stays
    emptied = run_kubectl(tmp_path, "apply", "--server-side", "-f", str(manifest))
    assert emptied.returncode == 0, emptied.stderr
    assert httpx.get(f"{url}/shop-flags").json()["spec"]["flagSpec"]["flags"] == {}


def test_jobs_run_to_completion_or_fail_past_their_backoff_limit(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    """`kubectl create job`, `wait --for=condition=complete`, `logs job/NAME`; a Job whose
    image never works fails once more than backoffLimit attempts failed."""
    sandbox, _, ticks = kube
    sandbox.rollouts.mark_bad("shop/migrate:bad")
    for name, image_ in (("migrate", "shop/migrate:1"), ("broken", "shop/migrate:bad")):
        made = run_kubectl(tmp_path, "create", "job", name, f"--image={image_}", "-n", "shop")
        assert made.returncode == 0, made.stderr
    settle(sandbox, ticks, 1.5)
    done = run_kubectl(
        tmp_path, "wait", "job/migrate", "-n", "shop", "--for=condition=complete",
        "--timeout=10s",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    logs = run_kubectl(tmp_path, "logs", "job/migrate", "-n", "shop")
    assert logs.returncode == 0 and "started from shop/migrate:1" in logs.stdout, logs.stderr
    jobs = client.BatchV1Api(kube[1].api_client)
    broken = jobs.read_namespaced_job_status("broken", "shop").status
    assert broken.failed == 1 and not broken.conditions  # still trying
    settle(sandbox, ticks, 10)
    failed = run_kubectl(
        tmp_path, "wait", "job/broken", "-n", "shop", "--for=condition=failed", "--timeout=10s"
    )
    assert failed.returncode == 0, failed.stderr
    broken = jobs.read_namespaced_job_status("broken", "shop").status
    assert broken.failed == 7 and broken.conditions[0].reason == "BackoffLimitExceeded"
    listed = run_kubectl(tmp_path, "get", "jobs", "-n", "shop")
    assert listed.stdout.split()[:4] == ["NAME", "STATUS", "COMPLETIONS", "AGE"]


def test_a_job_ends_with_its_marked_exit_code_and_log_or_at_its_deadline(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    """A Job whose image is marked exits with the marked code and prints the marked log
    (`kubectl logs job/NAME --tail`); one that hangs fails at `activeDeadlineSeconds`
    (DeadlineExceeded, its Pod killed), `FailureTarget` set before `Failed`, as 1.31 does."""
    sandbox, apps, ticks = kube
    rollouts = sandbox.rollouts
    rollouts.mark_job("shop/migrate:2", exit_code=3, log="applying 0042\nerror: lock timeout")
    rollouts.mark_job("shop/migrate:3", hang=True)
    jobs = client.BatchV1Api(apps.api_client)
    for name, image_ in (("exits", "shop/migrate:2"), ("hangs", "shop/migrate:3")):
        body = {
            "metadata": {"name": name},
            "spec": {
                "backoffLimit": 0,
                "activeDeadlineSeconds": 2,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "step", "image": image_}],
                    }
                },
            },
        }
        jobs.create_namespaced_job("shop", body)
    settle(sandbox, ticks, 3)
    for name, reason in (("exits", "BackoffLimitExceeded"), ("hangs", "DeadlineExceeded")):
        failed = run_kubectl(
            tmp_path, "wait", f"job/{name}", "-n", "shop", "--for=condition=failed",
            "--timeout=10s",
        )  # fmt: skip
        assert failed.returncode == 0, failed.stderr
        conditions = jobs.read_namespaced_job_status(name, "shop").status.conditions
        assert [(c.type, c.status, c.reason) for c in conditions] == [
            ("FailureTarget", "True", reason),
            ("Failed", "True", reason),
        ]
    logs = run_kubectl(tmp_path, "logs", "job/exits", "-n", "shop", "--tail=1")
    assert logs.returncode == 0 and logs.stdout == "error: lock timeout\n", logs.stderr
    core = client.CoreV1Api(apps.api_client)
    codes = {
        pod.metadata.labels["job-name"]: pod.status.container_statuses[0].state.terminated.exit_code
        for pod in core.list_namespaced_pod("shop", label_selector="job-name").items
    }
    assert codes == {"exits": 3, "hangs": 137}
    listed = run_kubectl(tmp_path, "get", "jobs", "-n", "shop", "--no-headers")
    assert [line.split()[1] for line in listed.stdout.splitlines()] == ["Failed", "Failed"]


def test_finalizers_hold_a_deletion_and_preconditions_guard_it(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks],
) -> None:
    """An object with finalizers is only marked (deletionTimestamp) until an update
    removes the last one; a DELETE whose preconditions do not hold is a 409."""
    _, apps, _ = kube
    core = client.CoreV1Api(apps.api_client)
    core.create_namespaced_config_map(
        "shop", {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}}
    )
    uid = core.read_namespaced_config_map("held", "shop").metadata.uid
    with pytest.raises(ApiException) as refused:
        core.delete_namespaced_config_map(
            "held", "shop", body={"preconditions": {"uid": "not-" + uid}}
        )
    assert refused.value.status == 409 and "Precondition failed: UID" in str(refused.value.body)
    core.delete_namespaced_config_map("held", "shop", body={"preconditions": {"uid": uid}})
    held = core.read_namespaced_config_map("held", "shop")
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", "shop", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("held", "shop")
    assert gone.value.status == 404


def test_kubectl_explain_reads_the_served_schemas_of_built_in_and_custom_kinds(
    kube: tuple[KubeSandbox, client.AppsV1Api, Ticks], tmp_path: Path
) -> None:
    """/openapi/v3 carries every field's schema (the API server's own definitions, and a
    CRD's openAPIV3Schema), so `kubectl explain` answers; /openapi/v2 is the same in one
    Swagger document, served as JSON (a protobuf-only Accept is a 406)."""
    sandbox, _, _ = kube
    sandbox.apply(yaml.safe_load(FEATUREFLAG_CRD.read_text()))
    replicas = run_kubectl(tmp_path, "explain", "deployment.spec.replicas")
    assert replicas.returncode == 0, replicas.stderr
    assert "FIELD: replicas <integer>" in replicas.stdout
    assert "Number of desired pods" in replicas.stdout
    flags = run_kubectl(tmp_path, "explain", "featureflags.spec.flagSpec")
    assert flags.returncode == 0, flags.stderr
    assert "flags\t<map[string]Object> -required-" in flags.stdout
    v2 = httpx.get(f"{sandbox.url}/openapi/v2", headers={"Accept": "application/json"})
    assert v2.status_code == 200 and v2.json()["swagger"] == "2.0"
    spec = v2.json()["definitions"]["io.k8s.api.apps.v1.DeploymentSpec"]
    assert spec["properties"]["template"] == {
        "$ref": "#/definitions/io.k8s.api.core.v1.PodTemplateSpec",
        "description": spec["properties"]["template"]["description"],
    }
    protobuf = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    assert httpx.get(f"{sandbox.url}/openapi/v2", headers={"Accept": protobuf}).status_code == 406
