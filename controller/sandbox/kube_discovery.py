"""API discovery: the group list and each group version's resource list, from the types
the store serves (kubectl and every client discover before they act)."""

from __future__ import annotations

from typing import Any

from controller.sandbox import kube_scale
from controller.sandbox.kube_store import Store

VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0",
    "gitCommit": "relctl-sandbox",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22",
    "compiler": "gc",
    "platform": "linux/amd64",
}
"""`GET /version`."""


def api_versions(url: str) -> dict[str, Any]:
    """`GET /api`: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": url.split("://", 1)[-1]}
        ],
    }


def group_list(store: Store) -> dict[str, Any]:
    """`GET /apis`: every API group the store serves."""
    groups: dict[str, list[str]] = {}
    for t in store.types.values():
        if t.group:
            groups.setdefault(t.group, [])
            if t.version not in groups[t.group]:
                groups[t.group].append(t.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": name,
                "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
                "preferredVersion": {
                    "groupVersion": f"{name}/{versions[0]}",
                    "version": versions[0],
                },
            }
            for name, versions in sorted(groups.items())
        ],
    }


def resource_list(store: Store, group: str, version: str) -> dict[str, Any]:
    """`GET /apis/GROUP/VERSION` (or `/api/v1`): the resources of one group version."""
    resources = []
    for t in store.types.values():
        if (t.group, t.version) != (group, version):
            continue
        resources.append(
            {
                "name": t.plural,
                "singularName": t.singular or t.kind.lower(),
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": list(t.verbs),
                "shortNames": list(t.short_names),
            }
        )
        if (t.group, t.kind) == ("apps", "Deployment"):
            resources.append({"name": f"{t.plural}/scale", **kube_scale.SUBRESOURCE})
        if t.status:
            resources.append(
                {
                    "name": f"{t.plural}/status",
                    "singularName": "",
                    "namespaced": t.namespaced,
                    "kind": t.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


MINIMAL_FEATUREFLAG_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "featureflags.core.openfeature.dev"},
    "spec": {
        "group": "core.openfeature.dev",
        "names": {
            "kind": "FeatureFlag",
            "listKind": "FeatureFlagList",
            "plural": "featureflags",
            "singular": "featureflag",
        },
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}
"""Used when the OpenFeature Operator's published CRD is not at hand."""
