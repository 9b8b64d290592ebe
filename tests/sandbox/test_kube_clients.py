"""The same operations through three Kubernetes clients — kubectl, the official Python
client and lightkube — against the emulator. Each test is one row: the operation and what
a real API server answers to it; each client must see that answer the same way."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import lightkube
import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from lightkube.resources.apps_v1 import Deployment

from controller.sandbox.kube import KubeSandbox


class Refused(Exception):
    """The API server said no: `reason` is its Status reason (NotFound, Invalid, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def deployment(name: str, image: str = "shop/web:1", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": name, **labels}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


class Driver(Protocol):
    def create(self, obj: dict[str, Any]) -> dict[str, Any]: ...
    def get(self, name: str) -> dict[str, Any]: ...
    def names(self, selector: str) -> list[str]: ...
    def set_image(self, name: str, image: str) -> dict[str, Any]: ...
    def scale(self, name: str, replicas: int) -> int: ...
    def delete(self, name: str, dry_run: bool = False) -> None: ...
    def apply(self, obj: dict[str, Any]) -> dict[str, Any]: ...


def _image_patch(image: str) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}


class Kubectl:
    def __init__(self, kubeconfig: Path, tmp: Path) -> None:
        kubectl = shutil.which("kubectl")
        assert kubectl, "kubectl is not installed (.ci/run installs it)"
        self.base = [kubectl, "--kubeconfig", str(kubeconfig), "-n", "shop"]
        self.tmp = tmp

    def _run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*self.base, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode:
            # "Error from server (NotFound): ..." / "... is invalid: ..." (reason Invalid)
            err = done.stderr
            if "Error from server (" in err:
                raise Refused(err.split("Error from server (", 1)[1].split(")", 1)[0])
            if " is invalid: " in err:
                raise Refused("Invalid")
            raise AssertionError(err)
        return done.stdout

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return dict(json.loads(self._run("create", "-o", "json", "-f", "-", stdin=json.dumps(obj))))

    def get(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self._run("get", "deployment", name, "-o", "json")))

    def names(self, selector: str) -> list[str]:
        out = self._run("get", "deployments", "-l", selector, "-o", "name")
        return sorted(line.removeprefix("deployment.apps/") for line in out.split())

    def set_image(self, name: str, image: str) -> dict[str, Any]:
        patch = json.dumps(_image_patch(image))
        return dict(json.loads(self._run("patch", "deployment", name, "-p", patch, "-o", "json")))

    def scale(self, name: str, replicas: int) -> int:
        self._run("scale", f"deployment/{name}", f"--replicas={replicas}")
        return int(self.get(name)["spec"]["replicas"])

    def delete(self, name: str, dry_run: bool = False) -> None:
        self._run("delete", "deployment", name, *(["--dry-run=server"] if dry_run else []))

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = self._run(
            "apply", "--server-side", "--field-manager=conformance", "--show-managed-fields",
            "-o", "json", "-f", "-",
            stdin=json.dumps(obj),
        )  # fmt: skip
        return dict(json.loads(out))


class Official:
    def __init__(self, kubeconfig: Path) -> None:
        self.api = config.new_client_from_config(str(kubeconfig), context="sandbox")
        self.apps = client.AppsV1Api(self.api)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ApiException as e:
            raise Refused(json.loads(e.body)["reason"]) from None

    def _dict(self, found: Any) -> dict[str, Any]:
        return dict(self.api.sanitize_for_serialization(found))

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._dict(self._call(self.apps.create_namespaced_deployment, "shop", obj))

    def get(self, name: str) -> dict[str, Any]:
        return self._dict(self._call(self.apps.read_namespaced_deployment, name, "shop"))

    def names(self, selector: str) -> list[str]:
        found = self._call(self.apps.list_namespaced_deployment, "shop", label_selector=selector)
        return sorted(d.metadata.name for d in found.items)

    def set_image(self, name: str, image: str) -> dict[str, Any]:
        patched = self._call(
            self.apps.patch_namespaced_deployment, name, "shop", _image_patch(image)
        )
        return self._dict(patched)

    def scale(self, name: str, replicas: int) -> int:
        body = {"spec": {"replicas": replicas}}
        self._call(self.apps.patch_namespaced_deployment_scale, name, "shop", body)
        scale = self._call(self.apps.read_namespaced_deployment_scale, name, "shop")
        return int(scale.spec.replicas)

    def delete(self, name: str, dry_run: bool = False) -> None:
        extra = {"dry_run": "All"} if dry_run else {}
        self._call(self.apps.delete_namespaced_deployment, name, "shop", **extra)

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        # The official client has no apply helper: its patch with the apply content type.
        request = self.api.param_serialize(
            "PATCH",
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            path_params={"namespace": "shop", "name": obj["metadata"]["name"]},
            query_params=[("fieldManager", "conformance")],
            header_params={
                "Content-Type": "application/apply-patch+yaml",
                "Accept": "application/json",
            },
            body=obj,
            auth_settings=["BearerToken"],
        )
        answer = self._call(self.api.call_api, *request)
        answer.read()
        if answer.status >= 400:
            raise Refused(json.loads(answer.data)["reason"])
        return dict(json.loads(answer.data))


class Lightkube:
    def __init__(self, kubeconfig: Path) -> None:
        self.client = lightkube.Client(
            config=lightkube.KubeConfig.from_file(str(kubeconfig)), field_manager="conformance"
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except lightkube.ApiError as e:
            raise Refused(str(e.status.reason)) from None

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call(self.client.create, Deployment.from_dict(obj)).to_dict())

    def get(self, name: str) -> dict[str, Any]:
        return dict(self._call(self.client.get, Deployment, name, namespace="shop").to_dict())

    def names(self, selector: str) -> list[str]:
        # lightkube takes a selector as a mapping; the rows below use `key=value` only
        # (and one that does not parse, passed through as it is).
        key, _, value = selector.partition("=")
        found = self._call(
            lambda: list(self.client.list(Deployment, namespace="shop", labels={key: value}))
        )
        return sorted(d.metadata.name for d in found)

    def set_image(self, name: str, image: str) -> dict[str, Any]:
        patched = self._call(
            self.client.patch, Deployment, name, _image_patch(image), namespace="shop"
        )
        return dict(patched.to_dict())

    def scale(self, name: str, replicas: int) -> int:
        body = {"spec": {"replicas": replicas}}
        self._call(self.client.patch, Deployment.Scale, name, body, namespace="shop")
        return int(
            self._call(self.client.get, Deployment.Scale, name, namespace="shop").spec.replicas
        )

    def delete(self, name: str, dry_run: bool = False) -> None:
        self._call(self.client.delete, Deployment, name, namespace="shop", dry_run=dry_run)

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call(self.client.apply, Deployment.from_dict(obj)).to_dict())


CLIENTS = ["kubectl", "official", "lightkube"]


@pytest.fixture(params=CLIENTS)
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Driver]:
    with KubeSandbox() as sandbox:
        sandbox.ensure_namespace("shop")
        sandbox.apply(deployment("web", tier="front"))
        sandbox.apply(deployment("api", tier="back"))
        kubeconfig = sandbox.kubeconfig(tmp_path / "kubeconfig")
        if request.param == "kubectl":
            yield Kubectl(kubeconfig, tmp_path)
        elif request.param == "official":
            official = Official(kubeconfig)
            yield official
            official.api.close()
        else:
            light = Lightkube(kubeconfig)
            yield light
            light.client.close()


def test_create_answers_the_stored_object_at_generation_1(driver: Driver) -> None:
    created = driver.create(deployment("cart"))
    assert created["metadata"]["generation"] == 1
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    assert driver.get("cart")["metadata"]["uid"] == created["metadata"]["uid"]


def test_creating_a_name_that_exists_is_409_already_exists(driver: Driver) -> None:
    with pytest.raises(Refused) as refused:
        driver.create(deployment("web"))
    assert refused.value.reason == "AlreadyExists"


def test_reading_a_missing_object_is_404_not_found(driver: Driver) -> None:
    with pytest.raises(Refused) as refused:
        driver.get("nothing")
    assert refused.value.reason == "NotFound"


def test_a_label_selector_chooses_by_labels(driver: Driver) -> None:
    assert driver.names("tier=front") == ["web"]
    assert driver.names("tier=none") == []


def test_a_selector_that_does_not_parse_is_400_bad_request(driver: Driver) -> None:
    with pytest.raises(Refused) as refused:
        driver.names("tier=fr ont")
    assert refused.value.reason == "BadRequest"


def test_a_changed_template_is_a_new_generation(driver: Driver) -> None:
    before = driver.get("web")["metadata"]["generation"]
    patched = driver.set_image("web", "shop/web:2")
    assert patched["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/web:2"
    assert patched["metadata"]["generation"] == before + 1


def test_an_invalid_object_is_422_invalid_and_not_stored(driver: Driver) -> None:
    # A name no client checks; the API server refuses it.
    with pytest.raises(Refused) as refused:
        driver.create(deployment("Bad_Name"))
    assert refused.value.reason == "Invalid"
    with pytest.raises(Refused):
        driver.get("Bad_Name")


def test_the_scale_subresource_sets_replicas(driver: Driver) -> None:
    assert driver.scale("web", 5) == 5
    assert driver.get("web")["spec"]["replicas"] == 5


def test_a_dry_run_delete_deletes_nothing(driver: Driver) -> None:
    driver.delete("web", dry_run=True)
    assert driver.get("web")["metadata"]["name"] == "web"
    driver.delete("web")
    with pytest.raises(Refused) as refused:
        driver.get("web")
    assert refused.value.reason == "NotFound"


def test_server_side_apply_creates_then_updates(driver: Driver) -> None:
    created = driver.apply(deployment("cart", image="shop/cart:1"))
    assert created["metadata"]["generation"] == 1
    updated = driver.apply(deployment("cart", image="shop/cart:2"))
    assert updated["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/cart:2"
    assert updated["metadata"]["generation"] == 2
    managers = {m["manager"] for m in updated["metadata"].get("managedFields") or []}
    assert "conformance" in managers
