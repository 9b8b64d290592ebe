"""The Helm chart, rendered and linted by the real Helm engine (helm-python-sdk, strict
lint) with default and non-default values. Its RBAC is exactly what the code declares
it needs (`controller.adapters.rbac`, which the end-to-end tests check every request
against), and the pods run restricted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from controller.adapters import rbac
from tests.support.rbac import granted

CHART = Path(__file__).resolve().parents[2] / "charts" / "relctl"
BASE = {"repository": {"url": "https://git.example/shop/releases.git", "branch": "main"}}
CUSTOM = {
    **BASE,
    "replicaCount": 3,
    "image": {"repository": "registry.example/relctl", "digest": "sha256:" + "a" * 64},
    "controller": {
        "interval": "30s",
        "logLevel": "debug",
        "port": 9090,
        "leaderElection": {"enabled": True, "leaseDuration": 20, "retryPeriod": 3},
        "extraArgs": ["--log-level=debug"],
    },
    "jira": {"url": "https://shop.atlassian.net"},
    "prometheus": {"url": "http://prometheus-operated.monitoring.svc:9090"},
    "secrets": {
        "jira": {"existingSecret": "relctl-jira"},
        "prometheus": {"existingSecret": "relctl-prometheus"},
        "git": {"existingSecret": "relctl-git"},
        "webhook": {"existingSecret": "relctl-webhook"},
    },
    "rbac": {"create": True, "configMapNamespaces": ["payments", "shop"]},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
    "extraEnv": [{"name": "KUBECONFIG", "value": "/etc/relctl/kube/config"}],
    "extraVolumes": [{"name": "kube", "secret": {"secretName": "relctl-kubeconfig"}}],
    "extraVolumeMounts": [{"name": "kube", "mountPath": "/etc/relctl/kube", "readOnly": True}],
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    chart = helm_python.Chart.load(CHART)
    try:
        chart.validate_schema(values)
        files = chart.render(values, name="relctl", namespace="relctl", is_install=True)
    finally:
        chart.close()
    objects = []
    for path, text in sorted(files.items()):
        if path.endswith(".yaml"):
            objects += [o for o in yaml.safe_load_all(text) if o]
    return objects


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def rules_of(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


PRODUCTION = yaml.safe_load((CHART / "ci" / "production-values.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "values", [BASE, CUSTOM, PRODUCTION], ids=["default", "custom", "ci/production-values"]
)
def test_strict_lint_passes(values: dict[str, Any]) -> None:
    report = helm_python.lint(CHART, values, strict=True, namespace="relctl")
    assert report["errors"] == [], report
    assert [m for m in report["messages"] if m["severity"] >= 2] == [], report


def test_default_render() -> None:
    objects = render(BASE)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "Deployment",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
        ]
    )
    (deployment,) = by_kind(objects, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    (container,) = spec["containers"]
    assert "--leader-elect" in container["args"] and "--lease-in-cluster" in container["args"]
    assert container["image"] == "relctl/relctl:0.1.0"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    names = {e["name"] for e in container["env"]}
    assert not names & {"RELCTL_JIRA_TOKEN", "RELCTL_WEBHOOK_SECRET", "GIT_CONFIG_COUNT"}
    (config,) = by_kind(objects, "ConfigMap")
    assert config["data"]["RELCTL_REPOSITORY"] == BASE["repository"]["url"]
    assert container["envFrom"] == [{"configMapRef": {"name": "relctl"}}]


def test_rbac_is_exactly_what_the_code_uses() -> None:
    objects = render(CUSTOM)
    (cluster_role,) = by_kind(objects, "ClusterRole")
    assert rules_of(cluster_role) == granted(rbac.CLUSTER)
    roles = {
        (r["metadata"]["namespace"], r["metadata"]["name"]): r for r in by_kind(objects, "Role")
    }
    assert set(roles) == {
        ("relctl", "relctl-leader-election"),
        ("payments", "relctl-flags"),
        ("shop", "relctl-flags"),
    }
    assert rules_of(roles[("relctl", "relctl-leader-election")]) == granted(rbac.LEADER_ELECTION)
    assert rules_of(roles[("payments", "relctl-flags")]) == granted(rbac.FLAG_CONFIGMAPS)
    # Nothing anywhere grants a wildcard, secrets, or anything to delete.
    for role in [cluster_role, *roles.values()]:
        for group, resource, verb in rules_of(role):
            assert "*" not in (group, resource, verb)
            assert resource != "secrets" and verb not in ("delete", "deletecollection", "escalate")
    for binding in by_kind(objects, "RoleBinding") + by_kind(objects, "ClusterRoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "relctl", "namespace": "relctl"}
        ]


def test_custom_values_render() -> None:
    objects = render(CUSTOM)
    (deployment,) = by_kind(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/relctl@sha256:" + "a" * 64
    assert "--interval=$(RELCTL_INTERVAL)" in container["args"]
    assert container["ports"][0]["containerPort"] == 9090
    env = {e["name"]: e for e in container["env"]}
    assert env["RELCTL_JIRA_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "relctl-jira",
        "key": "token",
    }
    assert env["RELCTL_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "relctl-webhook"
    assert env["RELCTL_JIRA_URL"]["value"] == "https://shop.atlassian.net"  # the chart's, only
    assert env["RELCTL_PROMETHEUS_URL"]["value"] == "http://prometheus-operated.monitoring.svc:9090"
    assert env["RELCTL_PROMETHEUS_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "relctl-prometheus",
        "key": "token",
    }
    assert env["GIT_CONFIG_VALUE_0"]["value"] == "store --file=/etc/relctl/git/.git-credentials"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["git-credentials"]["readOnly"] is True
    assert mounts["kube"]["mountPath"] == "/etc/relctl/kube"
    assert env["KUBECONFIG"]["value"] == "/etc/relctl/kube/config"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["kube"]["secret"]["secretName"] == "relctl-kubeconfig"
    (monitor,) = by_kind(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]


def test_an_ingress_routes_only_the_webhook_unless_told_more() -> None:
    """Off by default; on, it routes POST /webhook (what a git host must reach) to the
    service, over TLS when a certificate Secret is named; /metrics is never routed."""
    assert not by_kind(render(BASE), "Ingress")
    values = {**BASE, "ingress": {"enabled": True, "className": "nginx",
                                  "host": "relctl.shop.example",
                                  "tls": {"secretName": "relctl-tls"}}}  # fmt: skip
    (ingress,) = by_kind(render(values), "Ingress")
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["relctl.shop.example"], "secretName": "relctl-tls"}]
    (rule,) = spec["rules"]
    assert rule["host"] == "relctl.shop.example"
    assert [(p["path"], p["pathType"]) for p in rule["http"]["paths"]] == [("/webhook", "Exact")]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "relctl", "port": {"name": "http"}}
    more = {**values, "ingress": {**values["ingress"], "paths": ["/webhook", "/calendar.ics"]}}
    (ingress,) = by_kind(render(more), "Ingress")
    assert [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]] == [
        "/webhook", "/calendar.ics",
    ]  # fmt: skip
    report = helm_python.lint(CHART, values, strict=True, namespace="relctl")
    assert report["errors"] == [], report


def test_production_values_render() -> None:
    objects = render(PRODUCTION)
    (deployment,) = by_kind(objects, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["affinity"]["podAntiAffinity"]
    assert spec["containers"][0]["image"].startswith("registry.example.com/platform/relctl@sha256:")
    assert [r["metadata"]["namespace"] for r in by_kind(objects, "Role")] == ["relctl", "payments"]


def test_without_leader_election_or_rbac() -> None:
    values = {
        **BASE,
        "replicaCount": 1,
        "controller": {"leaderElection": {"enabled": False}},
        "rbac": {"create": False},
        "serviceAccount": {"create": False, "name": "existing"},
        "podDisruptionBudget": {"enabled": False},
    }
    objects = render(values)
    assert not by_kind(objects, "Role") and not by_kind(objects, "ClusterRole")
    assert not by_kind(objects, "ServiceAccount") and not by_kind(objects, "PodDisruptionBudget")
    (deployment,) = by_kind(objects, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "existing"
    assert "--leader-elect" not in spec["containers"][0]["args"]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({**BASE, "replicas": 2}, "replicas"),
        ({**BASE, "replicaCount": -1}, "replicaCount"),
        ({"repository": {"url": "git@git.example:shop/releases.git"}}, "url"),
        ({"repository": {"url": "http://git.example/shop/releases.git"}}, "url"),
        ({**BASE, "image": {"repository": "r", "digest": "latest"}}, "digest"),
        ({**BASE, "rbac": {"configMapNamespaces": ["Not_A_Namespace"]}}, "configMapNamespaces"),
        ({**BASE, "controller": {"interval": "soon"}}, "interval"),
        (
            {**BASE, "ingress": {"enabled": True, "host": "r.example", "paths": ["/metrics"]}},
            "paths",
        ),
    ],
)
def test_values_schema_rejects(values: dict[str, Any], named: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=named):
        render(values)


def test_repository_url_is_required() -> None:
    with pytest.raises(helm_python.HelmError, match=r"repository\.url is required"):
        render({"repository": {"url": "", "branch": "main"}})


def test_the_dashboard_is_routed_only_when_asked_and_guarded_by_its_secret() -> None:
    """`dashboard` in ingress.paths routes the pages' folders (never /metrics or the
    probes); its basic-auth credentials come from a Secret; disabled, the flag says so."""
    values = {
        **BASE,
        "ingress": {
            "enabled": True,
            "host": "relctl.shop.example",
            "paths": ["/webhook", "dashboard"],
        },
        "dashboard": {
            "auth": {"existingSecret": "relctl-dashboard"},
            "commitUrl": "https://git.example/shop/commit/{sha}",
        },
    }
    objects = render(values)
    (ingress,) = by_kind(objects, "Ingress")
    routes = [(p["path"], p["pathType"]) for p in ingress["spec"]["rules"][0]["http"]["paths"]]
    assert routes[:2] == [("/webhook", "Exact"), ("/", "Exact")]
    assert ("/releases/", "Prefix") in routes and ("/static/", "Prefix") in routes
    assert not any(p.startswith(("/metrics", "/healthz", "/readyz")) for p, _ in routes)
    (deployment,) = by_kind(objects, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["RELCTL_DASHBOARD_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "relctl-dashboard", "key": "password",
    }  # fmt: skip
    assert "--commit-url=https://git.example/shop/commit/{sha}" in container["args"]
    off = render({**BASE, "dashboard": {"enabled": False}})
    (deployment,) = by_kind(off, "Deployment")
    assert "--no-dashboard" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    with pytest.raises(helm_python.HelmValuesError, match="commitUrl"):
        render({**BASE, "dashboard": {"commitUrl": "javascript:alert(1)"}})
    report = helm_python.lint(CHART, values, strict=True, namespace="relctl")
    assert report["errors"] == [], report


def test_the_chart_readme_is_generated_from_the_schema_and_values() -> None:
    """charts/relctl/README.md lists every value (scripts/chart-readme writes it)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(CHART.parents[1] / "scripts" / "chart-readme"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = (CHART / "README.md").read_text(encoding="utf-8")
    for key in ("`dashboard.auth.existingSecret`", "`ingress.paths`", "`replicaCount`"):
        assert key in text
