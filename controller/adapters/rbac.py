"""The Kubernetes permissions relctl's adapters need, as (API group, resource, verbs).
The Helm chart grants exactly these (a test renders it and compares), and the end-to-end
tests check every request the controller makes against them. Pure data."""

from __future__ import annotations

Rule = tuple[str, str, frozenset[str]]

CLUSTER: tuple[Rule, ...] = (
    ("apps", "deployments", frozenset({"get", "list", "patch"})),
    ("core.openfeature.dev", "featureflags", frozenset({"get", "list", "create", "update"})),
    ("", "events", frozenset({"create"})),
    ("batch", "jobs", frozenset({"get", "list", "create"})),
    ("", "pods", frozenset({"list"})),
    ("", "pods/log", frozenset({"get"})),
    ("argoproj.io", "applications", frozenset({"get"})),
    ("kustomize.toolkit.fluxcd.io", "kustomizations", frozenset({"get"})),
    ("helm.toolkit.fluxcd.io", "helmreleases", frozenset({"get"})),
)
"""Everywhere: workloads are observed and rolled out, FeatureFlags listed across all
namespaces in one request, rollouts recorded as Events, step Jobs created and watched (a
failed one's Pods listed and its log read), the GitOps agent's objects read (never
written: Argo CD Applications, Flux Kustomizations and HelmReleases). Never Secrets: a
step's reach them by reference, in the cluster."""

LEADER_ELECTION: tuple[Rule, ...] = (
    ("coordination.k8s.io", "leases", frozenset({"get", "create", "update", "patch"})),
)
"""In the controller's own namespace."""

FLAG_CONFIGMAPS: tuple[Rule, ...] = (
    ("", "configmaps", frozenset({"get", "list", "create", "patch"})),
)
"""In each namespace holding a ConfigMap flag target."""

ALL: tuple[Rule, ...] = CLUSTER + LEADER_ELECTION + FLAG_CONFIGMAPS
