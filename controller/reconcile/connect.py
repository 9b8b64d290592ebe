"""The adapters a pass uses, built from the ControllerConfig and the environment (where
secrets come from). Nothing connects until a pass needs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.adapters.jira import JiraClient, settings_from
from controller.adapters.kube import KubeCluster, KubeError
from controller.adapters.prometheus import Prometheus
from controller.manifests.config import ControllerConfig


@dataclass
class Adapters:
    jira: JiraClient | None
    clusters: dict[str, KubeCluster] = field(default_factory=dict)
    prometheus: Prometheus | None = None
    """The deployment's Prometheus ($RELCTL_PROMETHEUS_URL), which analyses query."""

    def cluster(self, name: str) -> KubeCluster:
        if name not in self.clusters:
            raise KubeError(f"cluster {name!r} is not declared in relctl.yaml's clusters")
        return self.clusters[name]

    def requests(self) -> tuple[int, int]:
        """(Jira requests, Kubernetes requests) so far."""
        return (
            self.jira.requests if self.jira is not None else 0,
            sum(c.requests for c in self.clusters.values()),
        )

    def errors(self) -> tuple[int, int]:
        """(failed Jira requests, failed Kubernetes requests) so far."""
        return (
            self.jira.errors if self.jira is not None else 0,
            sum(c.errors for c in self.clusters.values()),
        )

    def close(self) -> None:
        if self.jira is not None:
            self.jira.close()
        for cluster in self.clusters.values():
            cluster.close()
        if self.prometheus is not None:
            self.prometheus.close()


def connect(config: ControllerConfig, env: Mapping[str, str]) -> Adapters:
    spec = config.spec
    jira = JiraClient(settings_from(spec.jira, env)) if spec.jira is not None else None
    clusters = {
        name: KubeCluster.connect(name, c, env) for name, c in sorted(spec.clusters.items())
    }
    timeout = spec.prometheus.timeout.total_seconds()
    return Adapters(jira, clusters, Prometheus.from_env(env, timeout))
