"""The Kubernetes API emulator's patch types: merge, JSON and strategic merge."""

from __future__ import annotations

import pytest

from controller.sandbox.kube_patch import PatchError, json_patch, merge_patch, strategic_merge_patch

DEPLOYMENT = {
    "spec": {
        "replicas": 3,
        "template": {
            "spec": {
                "containers": [
                    {"name": "app", "image": "shop/app:1.0", "ports": [{"containerPort": 8080}]},
                    {"name": "sidecar", "image": "envoy:1.30", "ports": [{"containerPort": 9901}]},
                ]
            }
        },
    }
}


def test_strategic_merge_sets_one_image_and_keeps_the_sidecar_and_ports() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                    "containers": [{"name": "app", "image": "shop/app:1.1"}],
                }
            }
        }
    }
    result = strategic_merge_patch(DEPLOYMENT, patch)
    app, sidecar = result["spec"]["template"]["spec"]["containers"]
    assert app == {"name": "app", "image": "shop/app:1.1", "ports": [{"containerPort": 8080}]}
    assert sidecar == DEPLOYMENT["spec"]["template"]["spec"]["containers"][1]
    assert "$setElementOrder/containers" not in result["spec"]["template"]["spec"]
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/app:1.0"


def test_strategic_directives() -> None:
    delete = {
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}
    }
    assert [
        c["name"]
        for c in strategic_merge_patch(DEPLOYMENT, delete)["spec"]["template"]["spec"]["containers"]
    ] == ["app"]
    order = {
        "spec": {
            "template": {
                "spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}
            }
        }
    }
    assert [
        c["name"]
        for c in strategic_merge_patch(DEPLOYMENT, order)["spec"]["template"]["spec"]["containers"]
    ] == ["sidecar", "app"]
    replace = {"spec": {"$patch": "replace", "replicas": 1}}
    assert strategic_merge_patch(DEPLOYMENT, replace)["spec"] == {"replicas": 1}
    assert strategic_merge_patch(DEPLOYMENT, {"spec": {"replicas": None}})["spec"].keys() == {
        "template"
    }


def test_merge_patch_replaces_lists() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x"}]}}}}
    assert merge_patch(DEPLOYMENT, patch)["spec"]["template"]["spec"]["containers"] == [
        {"name": "app", "image": "x"}
    ]
    assert merge_patch({"a": 1, "b": 2}, {"a": None}) == {"b": 2}


def test_json_patch() -> None:
    ops = [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "y"},
        {"op": "add", "path": "/metadata", "value": {"labels": {"a/b": "c"}}},
        {"op": "test", "path": "/metadata/labels/a~1b", "value": "c"},
        {"op": "remove", "path": "/spec/replicas"},
    ]
    result = json_patch(DEPLOYMENT, ops)
    assert result["spec"]["template"]["spec"]["containers"][0]["image"] == "y"
    assert "replicas" not in result["spec"] and result["metadata"]["labels"] == {"a/b": "c"}
    with pytest.raises(PatchError):
        json_patch(DEPLOYMENT, [{"op": "test", "path": "/spec/replicas", "value": 4}])
    with pytest.raises(PatchError):
        json_patch(DEPLOYMENT, [{"op": "remove", "path": "/spec/nope"}])
